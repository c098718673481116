// The staff's map (admin/_map.html): Leaflet asks the server for what is in view.
"use strict";
(function () {
  const COLOURS = {
    accepted: "#2b6cb0", needs_location: "#2b6cb0", filed: "#2b6cb0",
    dispatched: "#dd6b20", in_progress: "#dd6b20", handled: "#dd6b20", verified: "#dd6b20",
    closed: "#38a169", reopened: "#c53030", rejected: "#718096", duplicate: "#718096",
  };
  const HEAT = ["#fff5eb", "#fdd49e", "#fc8d59", "#e34a33", "#b30000"];

  function heat(n) {
    if (!n) return null;
    return HEAT[Math.min(HEAT.length - 1, Math.floor(Math.log2(n)))];
  }

  function text(tag, content, cls) {
    const el = document.createElement(tag);
    el.textContent = content;
    if (cls) el.className = cls;
    return el;
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(r.status))));
  }

  function caseLink(el, props) {
    const a = text("a", props.number, "case-link");
    a.href = el.dataset.caseUrl.replace(/_$/, encodeURIComponent(props.number));
    return a;
  }

  function bboxOf(map) {
    const b = map.getBounds().pad(0.05);  // a margin for the datum shift of the basemap
    return [b.getSouth(), b.getWest(), b.getNorth(), b.getEast()].map((v) => v.toFixed(5)).join(",");
  }

  function showCell(el, panel, props) {
    panel.hidden = false;
    panel.replaceChildren(
      text("h2", props.name || props.code),
      text("p", [props.district, props.street, props.community].filter(Boolean).join(" · ") +
        " · " + props.code, "muted"),
      text("p", "加载中… loading", "muted"));
    const url = el.dataset.cases + "?cell=" + encodeURIComponent(props.code) + "&days=" + el.dataset.days;
    getJSON(url).then((data) => {
      const list = document.createElement("ul");
      list.className = "cell-cases";
      for (const f of data.features) {
        const li = document.createElement("li");
        li.append(caseLink(el, f.properties), " ", f.properties.category, " · ",
          text("span", f.properties.status, "status " + f.properties.status));
        list.append(li);
      }
      const count = data.features.length + (data.truncated ? "+" : "");
      panel.lastChild.replaceWith(data.features.length ? list : text("p", "本期无案件 no cases", "muted"));
      panel.querySelector("h2").append(text("small", " " + count + " 件 cases"));
    });
  }

  function drawRoads(el, map) {
    getJSON(el.dataset.roads).then((data) => {
      L.geoJSON(data, {
        style: { color: "#8a8f98", weight: 3, opacity: 0.8 },
        pointToLayer: (f, latlng) => L.circleMarker(latlng, { radius: 3, color: "#4a5568", weight: 1 }),
        onEachFeature: (f, layer) => {
          const landmark = f.properties.kind !== "road";
          layer.bindTooltip(f.properties.name, landmark
            ? { permanent: true, direction: "right", className: "place-label" }
            : { sticky: true, className: "road-label" });
        },
      }).addTo(map);
    });
  }

  function init(el) {
    const panel = el.nextElementSibling;
    const map = L.map(el, { maxZoom: 19 });  // the cluster layer needs a maxZoom even without tiles
    const [s, w, n, e] = el.dataset.bounds.split(",").map(Number);
    if (el.dataset.tiles) {
      L.tileLayer(el.dataset.tiles, { attribution: el.dataset.attribution, maxZoom: 19 }).addTo(map);
    } else {
      drawRoads(el, map);
    }
    const cells = L.geoJSON(null, {
      style: (f) => ({ color: "#2c5282", weight: 1, fillColor: heat(f.properties.cases) || "#ebf8ff",
        fillOpacity: f.properties.cases ? 0.55 : 0.15 }),
      onEachFeature: (f, layer) => {
        const p = f.properties;
        layer.bindTooltip(`${p.name || p.code}<br>${p.district} ${p.street} ${p.community}<br>${p.cases} 件 cases`,
          { sticky: true });
        layer.on("click", () => showCell(el, panel, p));
      },
    }).addTo(map);
    const points = L.markerClusterGroup({ maxClusterRadius: 40 }).addTo(map);
    let pending = 0;
    function refresh() {
      const ticket = ++pending;
      const query = "?bbox=" + bboxOf(map) + "&days=" + el.dataset.days;
      getJSON(el.dataset.cells + query).then((data) => {
        if (ticket !== pending) return;
        cells.clearLayers().addData(data);
        el.dataset.tooMany = data.too_many ? "1" : "";
        el.dataset.cellsShown = String(data.features.length);
      });
      getJSON(el.dataset.cases + query).then((data) => {
        if (ticket !== pending) return;
        points.clearLayers();
        for (const f of data.features) {
          const [lon, lat] = f.geometry.coordinates;
          const colour = COLOURS[f.properties.status] || "#4a5568";
          const marker = L.circleMarker([lat, lon], { radius: 7, color: "#fff", weight: 1,
            fillColor: colour, fillOpacity: 0.9, className: "case-point" });
          const popup = document.createElement("div");
          popup.append(caseLink(el, f.properties), text("div", f.properties.category),
            text("div", f.properties.status + " · " + f.properties.created, "muted"));
          marker.bindPopup(popup);
          points.addLayer(marker);
        }
        el.dataset.casesShown = String(data.features.length);
      });
    }
    map.on("moveend", refresh);
    map.on("zoomend", () => el.classList.toggle("far", map.getZoom() < 15));  // names when close
    if (el.dataset.focus) {
      const [lat, lon] = el.dataset.focus.split(",").map(Number);
      map.setView([lat, lon], 17);
      L.marker([lat, lon], { title: "本案 this case" }).addTo(map);
    } else {
      map.fitBounds([[s, w], [n, e]]);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll(".city-map").forEach(init);
  });
})();
