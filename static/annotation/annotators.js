// The annotators page: draws, as inline SVG, speed against agreement (a named dot per
// annotator) and each annotator's trend, from the figures the page embeds (the API's shape);
// then fills agreement beyond chance from GET agreement/.
// Everything from the server is set with textContent or attributes, never as markup.
(function () {
  "use strict";

  const source = document.getElementById("annotators-data");
  if (!source) return;  // nobody has answered yet
  const report = JSON.parse(source.textContent);
  const svgNS = "http://www.w3.org/2000/svg";
  const SPEED = "#4c78a8", AGREEMENT = "#f58518", WARNED = "#c0392b", AXIS = "#999";

  function element(name, attributes, text) {
    const node = document.createElementNS(svgNS, name);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  const known = (value) => value !== null && value !== undefined;
  const percent = (value) => Math.round(value * 100) + "%";
  const warned = (person) => Boolean(person.bias || person.trend_warning);

  // A round top for an axis: 1, 2 or 5 times a power of ten, at least `value`.
  function niceMax(value) {
    if (!(value > 0)) return 1;
    const power = Math.pow(10, Math.floor(Math.log10(value)));
    for (const step of [1, 2, 5, 10]) if (value <= step * power) return step * power;
    return 10 * power;
  }

  function drawScatter() {
    const svg = document.getElementById("scatter");
    const width = 640, height = 320, left = 48, right = 16, top = 26, bottom = 40;
    const plotted = report.annotators.filter((p) => known(p.items_per_hour) && known(p.agreement));
    const maxSpeed = niceMax(Math.max(0, ...plotted.map((p) => p.items_per_hour)));
    const x = (speed) => left + (width - left - right) * speed / maxSpeed;
    const y = (agreement) => top + (height - top - bottom) * (1 - agreement);
    svg.append(element("line", { x1: left, y1: y(0), x2: width - right, y2: y(0), stroke: AXIS }));
    svg.append(element("line", { x1: left, y1: y(0), x2: left, y2: y(1), stroke: AXIS }));
    for (const tick of [0, 0.25, 0.5, 0.75, 1]) {
      svg.append(element("text", { x: 6, y: y(tick) + 4, "font-size": 11 }, percent(tick)));
    }
    for (const tick of [0, 0.5, 1]) {
      svg.append(element("text", { x: x(tick * maxSpeed) - 8, y: y(0) + 16, "font-size": 11 }, String(tick * maxSpeed)));
    }
    svg.append(element("text", { x: width / 2 - 70, y: height - 4, "font-size": 12 }, "items an hour of active time"));
    svg.append(element("text", { x: 6, y: 12, "font-size": 11 }, "agreement"));
    const placed = [];  // names already written: a name that would overlap one goes below it
    for (const person of plotted) {
      const colour = warned(person) ? WARNED : SPEED;
      const cx = x(person.items_per_hour), cy = y(person.agreement);
      let labelY = cy + 4;
      while (placed.some(([px, py]) => Math.abs(px - cx) < 60 && Math.abs(py - labelY) < 13)) labelY += 13;
      placed.push([cx, labelY]);
      const dot = element("g", { class: "dot", "data-annotator": person.username });
      dot.append(element("circle", { cx: cx, cy: cy, r: 5, fill: colour }));
      dot.append(element("text", { x: cx + 8, y: labelY, "font-size": 12, fill: colour }, person.username));
      dot.append(element("title", {}, person.username + ": " + Math.round(person.items_per_hour) +
        " items an hour, agreement " + percent(person.agreement) + " of " + person.agreement_answers));
      svg.append(dot);
    }
    const missing = report.annotators.filter((p) => !plotted.includes(p)).map((p) => p.username);
    const note = document.getElementById("not-plotted");
    note.hidden = missing.length === 0;
    note.textContent = "Not plotted, without both figures yet: " + missing.join(", ") + ".";
  }

  function drawTrend(person, maxAnswers, maxSpeed) {
    const width = 300, height = 130, left = 8, right = 8, top = 22, bottom = 16;
    const svg = element("svg", {
      viewBox: "0 0 " + width + " " + height, role: "img", class: "trend",
      "data-annotator": person.username, "aria-label": "Trend of " + person.username,
    });
    const x = (answers) => left + (width - left - right) * answers / maxAnswers;
    const y = (share) => top + (height - top - bottom) * (1 - share);
    svg.append(element("text", { x: left, y: 14, "font-size": 13, "font-weight": 600, fill: warned(person) ? WARNED : "#1f2430" }, person.username));
    svg.append(element("line", { x1: left, y1: y(0), x2: width - right, y2: y(0), stroke: AXIS }));
    svg.append(element("text", { x: width - right - 70, y: height - 3, "font-size": 10 }, person.trend.at(-1).answers + " answers"));
    const series = [
      { colour: SPEED, value: (p) => (known(p.items_per_hour) ? p.items_per_hour / maxSpeed : null) },
      { colour: AGREEMENT, value: (p) => p.agreement },
    ];
    for (const { colour, value } of series) {
      const shown = person.trend.filter((p) => known(value(p)));
      if (shown.length === 0) continue;
      const path = shown.map((p, i) => (i ? "L" : "M") + x(p.answers) + " " + y(value(p))).join(" ");
      svg.append(element("path", { d: path, fill: "none", stroke: colour, "stroke-width": 2 }));
      for (const p of shown) svg.append(element("circle", { cx: x(p.answers), cy: y(value(p)), r: 2, fill: colour }));
    }
    return svg;
  }

  function drawTrends() {
    const box = document.getElementById("trends");
    const people = report.annotators.filter((p) => p.trend.length > 0);
    const maxAnswers = Math.max(1, ...people.map((p) => p.trend.at(-1).answers));
    const speeds = people.flatMap((p) => p.trend.map((point) => point.items_per_hour)).filter(known);
    const maxSpeed = niceMax(Math.max(0, ...speeds));
    for (const person of people) {
      const figure = document.createElement("figure");
      figure.append(drawTrend(person, maxAnswers, maxSpeed));
      const caption = document.createElement("figcaption");
      caption.textContent = person.trend_warning ? person.username + " " + person.trend_warning + "." : "";
      figure.append(caption);
      box.append(figure);
    }
    const scale = document.createElement("p");
    scale.className = "hint";
    scale.textContent = "Blue reaches the top at " + maxSpeed + " items an hour.";
    box.after(scale);
  }

  // Agreement beyond chance: GET agreement/ (its bootstrap takes a second at 20,000 answers,
  // so the page asks for it after drawing instead of waiting for it).
  function cell(row, text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    row.append(td);
    return td;
  }

  const decimals = (value) => (known(value) ? value.toFixed(2) : "–");
  const interval = (alpha) => (known(alpha.low) ? alpha.low.toFixed(2) + " to " + alpha.high.toFixed(2) : "–");

  function showAgreement(agreement) {
    const words = document.getElementById("agreement-words");
    const strong = document.createElement("strong");
    strong.textContent = agreement.words;
    words.replaceChildren(strong);
    if (!known(agreement.alpha.value)) return;
    const alpha = document.createElement("strong");
    alpha.id = "alpha";
    alpha.textContent = agreement.alpha.value.toFixed(2);
    words.append(" Krippendorff's alpha ", alpha, " (95% interval " + interval(agreement.alpha) + ") over " +
      agreement.items + " items with two answers or more; raw agreement " + percent(agreement.percent_agreement) +
      " (not chance-corrected).");
    const labels = document.querySelector("#agreement-labels tbody");
    for (const row of agreement.per_label) {
      const tr = document.createElement("tr");
      tr.dataset.label = row.label;
      cell(tr, row.label);
      cell(tr, decimals(row.alpha.value));
      cell(tr, interval(row.alpha));
      cell(tr, known(row.percent_agreement) ? percent(row.percent_agreement) : "–");
      labels.append(tr);
    }
    const pairs = document.querySelector("#agreement-pairs tbody");
    for (const pair of agreement.pairs) {
      const tr = document.createElement("tr");
      tr.dataset.pair = pair.annotators.join(" ");
      const who = document.createElement("th");
      who.scope = "row";
      who.textContent = pair.annotators.join(" and ");
      tr.append(who);
      cell(tr, String(pair.shared_items));
      const shade = known(pair.kappa) ? Math.round(Math.max(pair.kappa, 0) * 4) : 0;
      cell(tr, decimals(pair.kappa), "kappa shade-" + shade);
      cell(tr, percent(pair.percent_agreement));
      pairs.append(tr);
    }
    document.getElementById("agreement-tables").hidden = false;
  }

  async function loadAgreement() {
    const box = document.getElementById("agreement");
    const response = await fetch(box.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) {
      document.getElementById("agreement-words").textContent = "Agreement could not be computed (" + response.status + ").";
      return;
    }
    showAgreement(await response.json());
  }

  drawScatter();
  drawTrends();
  loadAgreement();
})();
