// The project dashboard: polls the learning API and draws the curve, the round in flight and
// the stopping rule's state. Everything from the server is set with textContent.
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("dashboard-config").textContent);
  const url = "/api/v1/projects/" + config.id + "/learning/";
  const svgNS = "http://www.w3.org/2000/svg";
  const $ = (id) => document.getElementById(id);

  const csrfToken = window.hitlCsrfToken;  // csrf.js

  function element(name, attributes, text) {
    const node = document.createElementNS(svgNS, name);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function drawCurve(points) {
    const svg = $("curve");
    svg.replaceChildren();
    const width = 640, height = 260, left = 44, bottom = 28, top = 10, right = 12;
    const maxLabels = Math.max(1, ...points.map((p) => p.labels));
    const x = (labels) => left + (width - left - right) * labels / maxLabels;
    const y = (value) => top + (height - top - bottom) * (1 - value);
    svg.append(element("line", { x1: left, y1: y(0), x2: width - right, y2: y(0), stroke: "#999" }));
    svg.append(element("line", { x1: left, y1: y(0), x2: left, y2: y(1), stroke: "#999" }));
    for (const tick of [0, 0.25, 0.5, 0.75, 1]) {
      svg.append(element("text", { x: 4, y: y(tick) + 4, "font-size": 11 }, tick.toFixed(2)));
    }
    svg.append(element("text", { x: width - right - 60, y: height - 6, "font-size": 11 }, maxLabels + " labels"));
    const series = [
      { key: "accuracy", colour: "#4c78a8", dash: "" },
      { key: "cv_accuracy", colour: "#e45756", dash: "4 3" },
    ];
    for (const { key, colour, dash } of series) {
      const shown = points.filter((p) => p[key] !== null && p[key] !== undefined);
      if (shown.length === 0) continue;
      const path = shown.map((p, i) => (i ? "L" : "M") + x(p.labels) + " " + y(p[key])).join(" ");
      svg.append(element("path", { d: path, fill: "none", stroke: colour, "stroke-dasharray": dash, "stroke-width": 2 }));
      for (const p of shown) {
        svg.append(element("circle", { cx: x(p.labels), cy: y(p[key]), r: 3, fill: colour }));
        if (key === "accuracy") {
          svg.append(element("text", { x: x(p.labels) + 4, y: y(p[key]) - 6, "font-size": 10 }, "n=" + p.eval_size));
        }
      }
    }
  }

  function fill(state) {
    $("stopping").textContent = (state.stopping.stop ? "Stop: " : "Keep labelling: ") + state.stopping.reason;
    $("summary").textContent = state.labelled + " of " + state.items + " items labelled; serving model " +
      (state.serving_version === null ? "none yet" : "v" + state.serving_version) +
      "; next round after " + state.next_round_after + " more labels.";
    const bar = $("round-bar");
    if (state.round) {
      bar.hidden = false;
      bar.max = Math.max(1, state.round.chunks_total);
      bar.value = state.round.chunks_done;
      $("round-text").textContent = "v" + state.round.version + ": " + state.round.status + ", " +
        state.round.items_scored + " items scored (" + state.round.chunks_done + " of " + state.round.chunks_total + " chunks)";
    } else {
      bar.hidden = true;
      $("round-text").textContent = "None.";
    }
    const failure = $("failure");
    failure.hidden = !state.failure;
    if (state.failure) {
      const next = state.failure.retry_after
        ? "; the next round waits until " + new Date(state.failure.retry_after).toLocaleTimeString()
        : "";
      failure.textContent = "Round v" + state.failure.version + " failed: " + state.failure.error + next + ".";
    }
    drawCurve(state.curve);
    const rows = $("versions").querySelector("tbody");
    rows.replaceChildren();
    const show = (v) => (v === null || v === undefined ? "–" : Number(v).toFixed(3));
    for (const p of state.curve) {
      const row = document.createElement("tr");
      for (const cell of ["v" + p.version, p.labels, p.eval_size, show(p.accuracy), show(p.macro_f1), show(p.cv_accuracy)]) {
        const td = document.createElement("td");
        td.textContent = String(cell);
        row.append(td);
      }
      rows.append(row);
    }
    const list = $("distribution");
    list.replaceChildren();
    for (const [name, count] of Object.entries(state.label_distribution)) {
      const li = document.createElement("li");
      li.textContent = name + ": " + count;
      list.append(li);
    }
  }

  async function refresh() {
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.ok) fill(await response.json());
    } catch (error) { /* try again on the next tick */ }
  }

  const retrain = $("retrain");
  if (retrain) {
    retrain.addEventListener("click", async () => {
      retrain.disabled = true;
      await fetch("/api/v1/projects/" + config.id + "/train/", {
        method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrfToken() },
      });
      retrain.disabled = false;
      refresh();
    });
  }
  refresh();
  setInterval(refresh, 2000);
})();
