// Small helpers for the admin pages; everything works without JavaScript too.
"use strict";

// Retraining runs in the background: refresh the review page when its state changes.
(function watchRetraining() {
  var box = document.getElementById("retrain");
  if (!box || box.dataset.state !== "running") return;
  var url = box.dataset.statusUrl;
  var timer = setInterval(function () {
    fetch(url, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (s) {
        var status = box.querySelector(".status");
        if (s.state === "running") {
          if (status) status.textContent = "进行中：" + s.stage;
        } else {
          clearInterval(timer);
          window.location.reload();
        }
      })
      .catch(function () { /* try again on the next tick */ });
  }, 3000);
})();

// Buttons show they are working while a slow form (evaluation) runs.
document.addEventListener("submit", function (event) {
  var button = event.submitter;
  if (button && event.target.id === "eval-form") {
    button.disabled = true;
    button.textContent = "正在评估… Running…";
  }
});

// A select marked data-autosubmit sends its form when changed (no inline handlers: the CSP
// allows only these static scripts).
document.addEventListener("change", function (event) {
  if (event.target.matches("select[data-autosubmit]")) event.target.form.submit();
});
