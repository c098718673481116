// Operator page: preview what a transcript will file as, let the operator correct it, submit.
"use strict";

const $ = (id) => document.getElementById(id);
const tokenBox = $("token");
let categories = [];
let previewTimer = null;
let previewSeq = 0;
let placeEdited = false;
let labelEdited = false;

tokenBox.value = sessionStorage.getItem("gridintake-token") || "";

// Every call starts blank: nothing of the previous caller (phone, consent, corrections) is kept;
// the operator's token and number stay.
function newCall() {
  clearTimeout(previewTimer);
  previewSeq++;
  placeEdited = false;
  labelEdited = false;
  for (const id of ["transcript", "place", "caller_phone"]) $(id).value = "";
  $("consent_sms").checked = false;
  $("label").replaceChildren();
  for (const id of ["confidence", "grid", "area", "matched", "phones", "citizen_text"]) {
    $(id).replaceChildren("—");
  }
  $("urgent").hidden = true;
  $("busy").hidden = true;
  $("submit").disabled = true;
  showError("");
  $("call_id").value = "web-" + Date.now().toString(36);
}

async function api(path, body) {
  const headers = { Authorization: "Bearer " + tokenBox.value.trim() };
  const init = { method: body === undefined ? "GET" : "POST", headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(path, init);
  const data = await resp.json().catch(() => ({ error: "HTTP " + resp.status }));
  if (!resp.ok) throw new Error(data.error || "HTTP " + resp.status);
  return data;
}

function showError(message) {
  $("error").textContent = message || "";
  $("error").hidden = !message;
}

async function loadCategories() {
  if (categories.length || !tokenBox.value.trim()) return;
  try {
    categories = await api("/api/v1/transcripts/categories");
  } catch (err) {
    showError(err.message);
  }
}

function fillLabels(top, chosen) {
  const select = $("label");
  select.replaceChildren();
  const seen = new Set();
  const add = (label, text) => {
    if (seen.has(label)) return;
    seen.add(label);
    select.append(new Option(text, label));
  };
  for (const t of top) add(t.label, `★ ${t.name}`);
  add("none", "不属于城市管理");
  for (const c of categories) add(c.label, `${c.major} / ${c.name}`);
  select.value = chosen;
}

function showPlace(place) {
  $("grid").textContent = place && place.grid_code ? place.grid_code : "未定位";
  $("area").textContent = place && place.district
    ? [place.district, place.street, place.community].filter(Boolean).join(" / ") : "—";
  $("matched").textContent = place ? place.matched || place.address || "—" : "—";
}

function showPhones(phones) {
  const box = $("phones");
  box.replaceChildren();
  if (!phones.length) { box.textContent = "—"; return; }
  for (const phone of phones) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = phone;
    button.addEventListener("click", () => { $("caller_phone").value = phone; });
    box.append(button);
  }
  if (!$("caller_phone").value) $("caller_phone").value = phones[0];
}

async function runPreview() {
  const transcript = $("transcript").value.trim();
  if (!transcript || !tokenBox.value.trim()) return;
  const seq = ++previewSeq;
  $("busy").hidden = false;
  await loadCategories();
  try {
    const place = placeEdited ? $("place").value.trim() : "";
    const data = await api("/api/v1/transcripts/preview", { transcript, place: place || null });
    if (seq !== previewSeq) return;
    showError("");
    fillLabels(data.top, labelEdited ? $("label").value : data.label);
    $("confidence").textContent = Math.round(data.confidence * 100) + "%";
    $("urgent").hidden = !data.urgent;
    if (!placeEdited) $("place").value = data.place_text || (data.place && data.place.matched) || "";
    showPlace(data.place);
    showPhones(data.phones || []);
    $("citizen_text").textContent = data.citizen_text;
    $("submit").disabled = false;
  } catch (err) {
    if (seq === previewSeq) showError(err.message);
  } finally {
    if (seq === previewSeq) $("busy").hidden = true;
  }
}

function schedulePreview() {
  clearTimeout(previewTimer);
  previewTimer = setTimeout(runPreview, 350);
}

async function submit() {
  $("submit").disabled = true;
  const body = {
    call_id: $("call_id").value.trim(),
    operator_id: $("operator_id").value.trim() || null,
    transcript: $("transcript").value,
    caller_phone: $("caller_phone").value.trim() || null,
    place: $("place").value.trim() || null,
    label: $("label").value,
    consent_sms: $("consent_sms").checked,
  };
  try {
    const data = await api("/api/v1/transcripts", body);
    const sms = data.sms_queued ? "，已短信告知来电人" : "";
    const again = data.result === "duplicate" ? "（此通话已处理）" : "";
    $("result").textContent = data.number
      ? `案件号 ${data.number}${again}${sms}`
      : `不属于城市管理，已记录为转介${again}：${data.referral}${sms}`;
    $("result").dataset.number = data.number || "";
    $("result").hidden = false;
    newCall();
  } catch (err) {
    showError(err.message);
    $("submit").disabled = false;
  }
}

tokenBox.addEventListener("change", () => {
  sessionStorage.setItem("gridintake-token", tokenBox.value.trim());
  categories = [];
  schedulePreview();
});
$("transcript").addEventListener("input", () => { $("result").hidden = true; schedulePreview(); });
$("place").addEventListener("input", () => { placeEdited = true; schedulePreview(); });
$("label").addEventListener("change", () => { labelEdited = true; });
$("submit").addEventListener("click", submit);
$("new_call").addEventListener("click", () => { $("result").hidden = true; newCall(); });
newCall();
