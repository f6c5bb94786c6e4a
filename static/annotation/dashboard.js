// The project dashboard: polls the learning API and shows, first, what to do in words; then the
// stopping rule and an estimate of what is left, the round in flight, the learning curve (with
// axis ticks and each point's interval), the pace per annotator today and the cost. Everything
// from the server is set with textContent.
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("dashboard-config").textContent);
  const url = "/api/v1/projects/" + config.id + "/learning/";
  const svgNS = "http://www.w3.org/2000/svg";
  const AXIS = "#999", GRID = "#eee", EVALUATED = "#4c78a8", CROSS = "#e45756";
  const $ = (id) => document.getElementById(id);

  const csrfToken = window.hitlCsrfToken;  // csrf.js

  function element(name, attributes, text) {
    const node = document.createElementNS(svgNS, name);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // About five round steps (1, 2 or 5 times a power of ten) from 0 to at least `top`.
  function ticks(top) {
    const rough = Math.max(1, top / 5);
    const power = Math.pow(10, Math.floor(Math.log10(rough)));
    const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough);
    const values = [];
    for (let value = 0; value < top + step; value += step) values.push(value);
    return values;
  }

  const number = (value) => Number(value).toLocaleString("en");

  function drawCurve(points, minEval) {
    const svg = $("curve");
    svg.replaceChildren();
    const width = 640, height = 280, left = 48, bottom = 40, top = 12, right = 16;
    const xTicks = ticks(Math.max(1, ...points.map((p) => p.labels)));
    const maxLabels = xTicks[xTicks.length - 1];
    const x = (labels) => left + (width - left - right) * labels / maxLabels;
    const y = (value) => top + (height - top - bottom) * (1 - value);
    for (const tick of [0, 0.2, 0.4, 0.6, 0.8, 1]) {
      svg.append(element("line", { x1: left, y1: y(tick), x2: width - right, y2: y(tick), stroke: tick ? GRID : AXIS }));
      svg.append(element("text", { x: left - 6, y: y(tick) + 4, "font-size": 11, "text-anchor": "end" }, tick.toFixed(1)));
    }
    for (const tick of xTicks) {
      svg.append(element("line", { x1: x(tick), y1: y(0), x2: x(tick), y2: y(0) + 4, stroke: AXIS }));
      svg.append(element("text", { x: x(tick), y: y(0) + 16, "font-size": 11, "text-anchor": "middle" }, number(tick)));
    }
    svg.append(element("line", { x1: left, y1: y(0), x2: left, y2: y(1), stroke: AXIS }));
    svg.append(element("text", { x: (left + width - right) / 2, y: height - 4, "font-size": 12, "text-anchor": "middle" }, "labels"));
    svg.append(element("text", { x: 12, y: y(0.5), "font-size": 12, "text-anchor": "middle", transform: "rotate(-90 12 " + y(0.5) + ")" }, "accuracy"));
    const evaluated = points.filter((p) => p.accuracy !== null && p.eval_size >= minEval);
    const crossed = points.filter((p) => p.cv_accuracy !== null && p.cv_accuracy !== undefined);
    const line = (shown, key) => shown.map((p, i) => (i ? "L" : "M") + x(p.labels) + " " + y(p[key])).join(" ");
    if (crossed.length) {
      svg.append(element("path", { d: line(crossed, "cv_accuracy"), fill: "none", stroke: CROSS, "stroke-dasharray": "4 3", "stroke-width": 2 }));
      for (const p of crossed) svg.append(element("circle", { class: "cv", cx: x(p.labels), cy: y(p.cv_accuracy), r: 3, fill: CROSS }));
    }
    if (evaluated.length) {
      svg.append(element("path", { d: line(evaluated, "accuracy"), fill: "none", stroke: EVALUATED, "stroke-width": 2 }));
      for (const p of evaluated) {
        if (p.accuracy_interval) {
          const [low, high] = p.accuracy_interval;
          svg.append(element("line", { class: "interval", x1: x(p.labels), y1: y(low), x2: x(p.labels), y2: y(high), stroke: EVALUATED, "stroke-opacity": 0.5, "stroke-width": 6 }));
        }
        const dot = element("circle", { class: "evaluated", cx: x(p.labels), cy: y(p.accuracy), r: 3.5, fill: EVALUATED });
        dot.append(element("title", {}, "v" + p.version + ": " + p.accuracy.toFixed(3) + " on " + p.eval_size + " evaluation items"));
        svg.append(dot);
      }
    }
    const legend = [[EVALUATED, "", "evaluation sample"], [CROSS, "4 3", "cross-validated (training labels)"]];
    legend.forEach(([colour, dash, name], i) => {
      const lx = left + 12 + i * 170;
      svg.append(element("line", { x1: lx, y1: top + 8, x2: lx + 20, y2: top + 8, stroke: colour, "stroke-width": 2, "stroke-dasharray": dash }));
      svg.append(element("text", { x: lx + 26, y: top + 12, "font-size": 11 }, name));
    });
    if (!evaluated.length && !crossed.length) {
      svg.append(element("text", { x: left + 20, y: y(0.5), "font-size": 13 }, "No point to draw yet: the evaluation sample needs " + minEval + " labelled items."));
    }
  }

  function duration(hours) {
    if (hours === null || hours === undefined) return "–";
    const minutes = Math.round(hours * 60);
    return minutes < 60 ? minutes + " min" : Math.floor(minutes / 60) + " h " + (minutes % 60) + " min";
  }

  function estimateText(state) {
    const estimate = state.estimate;
    if (state.stopping.stop) return "";
    if (estimate.labels === null) return "No estimate of the labels left yet: " + estimate.reason + ".";
    const time = estimate.hours === null ? "" : ", about " + duration(estimate.hours) + " at today's pace";
    return "Roughly " + number(estimate.labels) + " more labels to the stopping rule" + time + " (" + estimate.reason + ").";
  }

  function money(value) {
    return value === null || value === undefined ? "–" : Number(value).toLocaleString("en", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }

  function cells(row, values) {
    row.replaceChildren();
    for (const value of values) {
      const td = document.createElement("td");
      td.textContent = String(value);
      row.append(td);
    }
    return row;
  }

  function fill(state) {
    $("headline").textContent = state.headline;
    const worker = $("worker");
    const seen = state.worker;
    worker.hidden = !(seen.stale || seen.seen_at === null);
    worker.textContent = seen.seen_at === null
      ? "No worker has run yet: the model trains only once one does (scripts/run starts one)."
      : "The worker was last seen " + duration(seen.seconds_ago / 3600) + " ago: no round starts until it is back.";
    $("stopping").textContent = "Stopping rule: " + state.stopping.reason + ".";
    $("summary").textContent = number(state.labelled) + " of " + number(state.items) + " items labelled; serving model " +
      (state.serving_version === null ? "none yet" : "v" + state.serving_version) +
      "; the next round after " + state.next_round_after + " more labels.";
    $("estimate").textContent = estimateText(state);
    const bar = $("round-bar");
    if (state.round) {
      bar.hidden = false;
      bar.max = Math.max(1, state.round.chunks_total);
      bar.value = state.round.chunks_done;
      $("round-text").textContent = "v" + state.round.version + ": " + state.round.status + ", " +
        number(state.round.items_scored) + " items scored (" + state.round.chunks_done + " of " + state.round.chunks_total + " chunks).";
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
    $("min-eval").textContent = state.min_eval_size;
    drawCurve(state.curve, state.min_eval_size);
    const versions = $("versions").querySelector("tbody");
    versions.replaceChildren();
    const show = (v) => (v === null || v === undefined ? "–" : Number(v).toFixed(3));
    for (const p of state.curve) {
      const interval = p.accuracy_interval ? " (" + show(p.accuracy_interval[0]) + "–" + show(p.accuracy_interval[1]) + ")" : "";
      const accuracy = p.accuracy === null ? "–" : show(p.accuracy) + interval;
      versions.append(cells(document.createElement("tr"), ["v" + p.version, number(p.labels), p.eval_size, accuracy, show(p.macro_f1), show(p.cv_accuracy)]));
    }
    const pace = state.pace;
    $("pace-line").textContent = pace.answers_today === 0
      ? "No answers yet today."
      : number(pace.answers_today) + " answers today" +
        (pace.answers_per_hour === null ? "." : ", " + number(Math.round(pace.answers_per_hour)) + " an hour from the first to the latest.");
    const people = $("pace").querySelector("tbody");
    people.replaceChildren();
    for (const person of pace.today) {
      people.append(cells(document.createElement("tr"), [person.username, number(person.answers), duration(person.active_hours), person.items_per_hour === null ? "–" : number(Math.round(person.items_per_hour))]));
    }
    const cost = state.cost;
    $("cost-card").hidden = !cost;
    if (cost) {
      const toGo = cost.to_go === null ? "" : "; about " + money(cost.to_go) + " more to the stopping rule at the current learning rate";
      $("cost").textContent = money(cost.so_far) + " so far (" + duration(pace.active_hours) + " of active time at " + money(cost.hourly) +
        " an hour); " + money(cost.per_label) + " per labelled item" + toGo + ".";
    }
    const list = $("distribution");
    list.replaceChildren();
    for (const [name, count] of Object.entries(state.label_distribution)) {
      const li = document.createElement("li");
      li.textContent = name + ": " + number(count);
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
