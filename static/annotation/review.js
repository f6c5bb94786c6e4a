// The review page: the next item up for review (GET review/next/), why it is up, its answers,
// consensus, the model's prediction and its history; digit keys pick the final labels (the
// consensus comes pre-selected), Enter posts the verdict (POST items/{id}/review/), N passes
// on to the next item without one. Item text, answers and names are untrusted: they are only
// ever set with textContent.
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("project-config").textContent);
  const textBox = document.getElementById("item-text");
  const fields = document.getElementById("item-fields");
  const itemLink = document.getElementById("item-link");
  const reasons = document.getElementById("reasons");
  const consensus = document.getElementById("consensus");
  const prediction = document.getElementById("prediction");
  const answers = document.querySelector("#answers tbody");
  const history = document.getElementById("history");
  const comment = document.getElementById("comment");
  const message = document.getElementById("message");
  const restart = document.getElementById("restart");
  const buttons = Array.from(document.querySelectorAll(".label-button"));
  // Colours through the CSSOM: the page has no inline style for the CSP to allow.
  const colours = new Map(config.labels.map((l) => [l.name, l.color]));
  for (const button of buttons) button.style.setProperty("--label-color", colours.get(button.dataset.label) || "");
  const byShortcut = new Map(config.labels.filter((l) => l.shortcut).map((l) => [l.shortcut.toLowerCase(), l.name]));

  let sheet = null;        // what the API says of the item on screen
  let cursor = null;       // the last item passed on or reviewed: the queue goes on after it
  let selected = new Set();
  let busy = false;

  async function request(method, path, body) {
    const response = await fetch("/api/v1" + path, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": window.hitlCsrfToken() },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 204) return null;
    const data = await response.json().catch(() => ({}));
    if (response.ok) return data;
    const errors = (data.errors || []).map((e) => (e.field ? e.field + ": " : "") + e.message);
    throw new Error(errors.join("; ") || data.detail || "the server answered " + response.status);
  }

  function say(text, isError) {
    message.textContent = text || "";
    message.classList.toggle("error", Boolean(isError));
  }

  function element(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  function percent(value) {
    return Math.round(100 * value) + "%";
  }

  // The model's next most probable labels after its prediction ("; else neg 20%, neutral 5%").
  function runnersUp(top) {
    const others = Array.isArray(top) ? top.slice(1) : [];
    return others.length ? "; else " + others.map((each) => each.label + " " + percent(each.probability)).join(", ") : "";
  }

  function names(labels) {
    return labels && labels.length ? labels.join(", ") : "(none)";
  }

  function renderButtons() {
    const predicted = sheet && sheet.prediction ? sheet.prediction.predicted : [];
    for (const button of buttons) {
      const on = selected.has(button.dataset.label);
      button.classList.toggle("selected", on);
      button.classList.toggle("suggested", predicted.includes(button.dataset.label));
      button.setAttribute("aria-pressed", on ? "true" : "false");
      button.disabled = sheet === null;
    }
    document.getElementById("submit").disabled = sheet === null;
    document.getElementById("pass").disabled = sheet === null;
  }

  function showItem(item) {
    textBox.textContent = item.data && item.data.text !== undefined ? String(item.data.text) : "";
    textBox.classList.remove("done");
    textBox.dataset.itemId = String(item.id);
    fields.replaceChildren();
    for (const [name, value] of Object.entries(item.data || {})) {
      if (name === "text") continue;
      fields.append(element("dt", name), element("dd", typeof value === "string" ? value : JSON.stringify(value)));
    }
    fields.hidden = fields.childElementCount === 0;
    itemLink.hidden = false;
    itemLink.href = "/projects/" + config.id + "/items/" + item.id + "/";
    itemLink.textContent = "item " + item.id + (item.external_id ? " · " + item.external_id : "") + " · " + item.status + (item.gold ? " · gold: " + names(item.gold) : "");
  }

  function showAnswers(list) {
    answers.replaceChildren();
    for (const answer of list) {
      const row = document.createElement("tr");
      const given = answer.skipped ? "skipped" + (answer.skip_reason ? ": " + answer.skip_reason.replace("_", " ") : "") : names(answer.labels);
      const flags = [answer.ambiguous ? "ambiguous" : "", answer.needs_expert ? "needs an expert" : ""].filter(Boolean).join(", ");
      const took = answer.lead_time_ms === null ? "" : (answer.lead_time_ms / 1000).toFixed(1) + " s";
      for (const text of [answer.annotator, given, took, flags, answer.comment]) row.append(element("td", text));
      answers.append(row);
    }
    if (list.length === 0) {
      const cell = element("td", "No answers.");
      cell.colSpan = 5;
      answers.append(element("tr")).append(cell);
    }
  }

  function showHistory(events) {
    history.replaceChildren();
    for (const event of events) {
      const line = document.createElement("li");
      const at = element("time", new Date(event.at).toLocaleString());
      at.dateTime = event.at;
      line.append(at);
      if (event.who) line.append(element("strong", event.who), " ");
      line.append(event.what);
      history.append(line);
    }
  }

  function show(found) {
    sheet = found;
    comment.value = "";
    restart.hidden = true;
    reasons.replaceChildren();
    answers.replaceChildren();
    history.replaceChildren();
    consensus.textContent = "";
    prediction.textContent = "";
    if (found === null) {
      selected = new Set();
      textBox.textContent = cursor === null ? "Nothing to review: the queue is empty." : "Nothing more to review after item " + cursor + ": R goes back to the items passed on.";
      textBox.classList.add("done");
      delete textBox.dataset.itemId;
      fields.hidden = true;
      itemLink.hidden = true;
      restart.hidden = cursor === null;
      renderButtons();
      return;
    }
    for (const reason of found.reasons) {
      const line = element("li", "", "reason");
      line.dataset.code = reason.code;
      line.append(element("strong", reason.name), ": " + reason.words);
      reasons.append(line);
    }
    showItem(found.item);
    const agreed = found.consensus;
    const method = agreed === null ? "" : " (" + agreed.method.replace("_", "-") + ")";
    if (agreed === null) consensus.textContent = "No consensus: no real answers.";
    else if (agreed.labels.length === 0) consensus.textContent = "No consensus" + method + ": the answers tie, " + percent(agreed.confidence) + " each.";
    else consensus.textContent = "Consensus" + method + ": " + names(agreed.labels) + ", " + percent(agreed.confidence) + " sure.";
    prediction.textContent = found.prediction === null ? "No prediction: no model serves yet, or the item came after its round." : "The model predicts " + names(found.prediction.predicted) + ", " + percent(found.prediction.confidence) + " sure" + runnersUp(found.prediction.top) + ".";
    showAnswers(found.answers);
    showHistory(found.history);
    const preselected = agreed === null ? [] : agreed.labels;
    selected = new Set(config.multi ? preselected : preselected.slice(0, 1));
    renderButtons();
  }

  // At the end of the queue after a cursor, a look from the first item tells whether the
  // queue is empty or only items passed on (N) are left, before them.
  async function load() {
    const path = "/projects/" + config.id + "/review/next/";
    const found = await request("GET", path + (cursor === null ? "" : "?after=" + cursor));
    if (found === null && cursor !== null && (await request("GET", path)) === null) cursor = null;
    show(found);
  }

  async function guarded(work) {
    if (busy) return;
    busy = true;
    try {
      await work();
    } catch (error) {
      say(error.message, true);
    } finally {
      busy = false;
    }
  }

  function pick(name) {
    if (sheet === null) return;
    if (config.multi) {
      if (selected.has(name)) selected.delete(name); else selected.add(name);
    } else {
      selected = new Set([name]);
    }
    renderButtons();
  }

  function submit() {
    return guarded(async () => {
      if (sheet === null) return;
      if (!config.multi && selected.size !== 1) { say("Pick a label first.", true); return; }
      const labels = buttons.map((b) => b.dataset.label).filter((name) => selected.has(name));
      const body = { labels: labels };
      if (comment.value.trim()) body.comment = comment.value.trim();
      const review = await request("POST", "/items/" + sheet.item.id + "/review/", body);
      comment.blur();
      cursor = sheet.item.id;
      say("Item " + review.item_id + ": " + names(review.labels) + ".");
      await load();
    });
  }

  function pass() {
    return guarded(async () => {
      if (sheet === null) return;
      cursor = sheet.item.id;
      say("Passed on item " + cursor + ": it stays in the queue.");
      await load();
    });
  }

  function startOver() {
    return guarded(async () => {
      cursor = null;
      say("");
      await load();
    });
  }

  const PAGE_KEYS = { n: pass, r: startOver, c: () => comment.focus() };

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target.isContentEditable) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const key = event.key.toLowerCase();
    if (event.key === "Enter") { event.preventDefault(); submit(); }
    else if (byShortcut.has(key)) { event.preventDefault(); pick(byShortcut.get(key)); }
    else if (Object.hasOwn(PAGE_KEYS, key)) { event.preventDefault(); PAGE_KEYS[key](); }
  });
  // In the comment box Enter submits the verdict and Esc leaves it (the keys work again).
  comment.addEventListener("keydown", (event) => {
    if (event.key === "Enter") { event.preventDefault(); submit(); }
    else if (event.key === "Escape") { event.preventDefault(); comment.blur(); }
  });
  for (const button of buttons) button.addEventListener("click", () => pick(button.dataset.label));
  document.getElementById("submit").addEventListener("click", submit);
  document.getElementById("pass").addEventListener("click", pass);
  restart.addEventListener("click", startOver);

  guarded(load);
})();
