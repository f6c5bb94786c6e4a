// The annotation page: show an item, take labels from keys or clicks, submit, move on.
// The next item is fetched while the current one is on screen, so a submit shows the next
// text at once. Item text is untrusted: it is only ever set with textContent.
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("project-config").textContent);
  const api = "/api/v1";
  const textBox = document.getElementById("item-text");
  const message = document.getElementById("message");
  const progress = document.getElementById("progress");
  const comment = document.getElementById("comment");
  const suggestion = document.getElementById("suggestion");
  const fields = document.getElementById("item-fields");
  const itemId = document.getElementById("item-id");
  const buttons = Array.from(document.querySelectorAll(".label-button"));
  // Colours through the CSSOM: the page has no inline style for the CSP to allow.
  const colours = new Map(config.labels.map((l) => [l.name, l.color]));
  for (const button of buttons) button.style.setProperty("--label-color", colours.get(button.dataset.label) || "");
  const byShortcut = new Map(config.labels.filter((l) => l.shortcut).map((l) => [l.shortcut.toLowerCase(), l.name]));

  let current = null;      // the item on screen
  const queue = [];        // promises of the items to show next (one fetched ahead)
  let selected = new Set();
  let shownAt = 0;
  let busy = false;
  const answered = [];     // stack of {annotationId, labels} for undo

  const csrfToken = window.hitlCsrfToken;  // csrf.js

  async function call(method, path, body) {
    const response = await fetch(api + path, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(), "Accept": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 204) return null;
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const where = (data.errors || []).map((e) => (e.field ? e.field + ": " : "") + e.message).join("; ");
      throw new Error(where || data.detail || "the server answered " + response.status);
    }
    return data;
  }

  // As the page opens (a reload, a second tab) the items this person already holds come
  // first, the one on screen never as its own successor; after that, plain next calls (the
  // per-click path stays one query shorter).
  let resuming = 2;
  function fetchNext(shown) {
    const path = "/projects/" + config.id + "/next/";
    if (resuming <= 0) return call("GET", path);
    resuming -= 1;
    return call("GET", path + "?resume=true" + (shown ? "&shown=" + shown : ""));
  }

  function say(text, isError) {
    message.textContent = text || "";
    message.classList.toggle("error", Boolean(isError));
  }

  function render() {
    const prediction = suggested();
    for (const button of buttons) {
      const on = selected.has(button.dataset.label);
      button.classList.toggle("suggested", prediction !== null && prediction.labels.includes(button.dataset.label));
      button.classList.toggle("selected", on);
      button.setAttribute("aria-pressed", on ? "true" : "false");
      button.disabled = current === null;
    }
    for (const id of ["submit", "skip"]) document.getElementById(id).disabled = current === null;
  }

  // The model's suggestion, when the project shows it (never on evaluation draws): its labels
  // come pre-selected and marked, so Enter accepts them and any label key changes them (A
  // takes them back after a change). Label names are only ever set with textContent.
  function suggested() {
    return current && current.prediction && current.prediction.labels.length ? current.prediction : null;
  }

  function showSuggestion() {
    const prediction = suggested();
    suggestion.hidden = prediction === null;
    if (prediction === null) return;
    const percent = Math.round(100 * prediction.confidence);
    suggestion.textContent = "Model suggests: " + prediction.labels.join(", ") + " (" + percent + "% sure): Enter accepts, a label key changes it.";
  }

  function acceptSuggestion() {
    const prediction = suggested();
    if (prediction === null) return;
    selected = new Set(config.multi ? prediction.labels : prediction.labels.slice(0, 1));
    render();
  }

  function sameLabels(a, b) {
    return a.length === b.length && a.every((name) => b.includes(name));
  }

  // Every field of the item beside its text, as text: the data is untrusted.
  function showFields(item) {
    fields.replaceChildren();
    const data = item && item.data ? item.data : {};
    for (const [name, value] of Object.entries(data)) {
      if (name === "text") continue;
      const term = document.createElement("dt");
      term.textContent = name;
      const detail = document.createElement("dd");
      detail.textContent = typeof value === "string" ? value : JSON.stringify(value);
      fields.append(term, detail);
    }
    fields.hidden = fields.childElementCount === 0;
    itemId.textContent = item ? "item " + item.id + (item.external_id ? " · " + item.external_id : "") : "";
  }

  function show(item, labels) {
    current = item;
    const prediction = suggested();
    const preselected = prediction === null ? [] : config.multi ? prediction.labels : prediction.labels.slice(0, 1);
    selected = new Set(labels || preselected);
    comment.value = "";
    showSuggestion();
    showFields(item);
    if (item === null) {
      textBox.textContent = config.empty ? "Nothing to label yet." : "Nothing left to label here. Thank you!";
      document.getElementById("empty-project").hidden = !config.empty;
      textBox.classList.add("done");
    } else {
      textBox.textContent = item.data && item.data.text !== undefined ? String(item.data.text) : "";
      textBox.classList.remove("done");
      textBox.dataset.itemId = String(item.id);
    }
    shownAt = performance.now();
    render();
  }

  async function advance() {
    const item = await (queue.shift() || fetchNext(current && current.id));
    if (item !== null && queue.length === 0) queue.push(fetchNext(item.id));
    show(item);
  }

  async function refreshProgress() {
    try {
      const p = await call("GET", "/projects/" + config.id + "/progress/");
      progress.textContent = p.done + " / " + p.total + " done";
    } catch (error) { /* progress is a nicety: never block labelling on it */ }
  }

  function pick(name) {
    if (current === null) return;
    if (config.multi) {
      if (selected.has(name)) selected.delete(name); else selected.add(name);
    } else {
      selected = new Set([name]);
    }
    render();
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

  function submit() {
    return guarded(async () => {
      if (current === null) return;
      if (!config.multi && selected.size !== 1) { say("Pick a label first.", true); return; }
      const labels = Array.from(selected);
      const body = { labels: labels, lead_time_ms: Math.round(performance.now() - shownAt) };
      if (comment.value.trim()) body.comment = comment.value.trim();
      const prediction = suggested();
      if (prediction !== null) {
        body.prediction_shown = true;
        body.prediction_accepted = sameLabels(labels, prediction.labels);
      }
      const annotation = await call("POST", "/items/" + current.id + "/annotations/", body);
      answered.push({ annotationId: annotation.id, labels: labels });
      say("Saved.");
      await advance();
      refreshProgress();
    });
  }

  function skip() {
    return guarded(async () => {
      if (current === null) return;
      const body = { lead_time_ms: Math.round(performance.now() - shownAt) };
      const annotation = await call("POST", "/items/" + current.id + "/skip/", body);
      answered.push({ annotationId: annotation.id, labels: [] });
      say("Skipped.");
      await advance();
      refreshProgress();
    });
  }

  function undo() {
    return guarded(async () => {
      const last = answered.pop();
      if (!last) { say("Nothing to undo."); return; }
      const item = await call("DELETE", "/annotations/" + last.annotationId + "/");
      // The undone item is shown with its answer; the one that was on screen comes next.
      if (current !== null) queue.unshift(Promise.resolve(current));
      show(item, last.labels);
      say("Undone: answer again.");
      refreshProgress();
    });
  }

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target.isContentEditable) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const key = event.key.toLowerCase();
    if (event.key === "Enter") { event.preventDefault(); submit(); }
    else if (event.key === "Backspace") { event.preventDefault(); undo(); }
    else if (byShortcut.has(key)) { event.preventDefault(); pick(byShortcut.get(key)); }
    else if (key === "s") { event.preventDefault(); skip(); }
    else if (key === "a") { event.preventDefault(); acceptSuggestion(); }
  });
  // In the comment box Enter submits and Esc leaves it (the label keys work again).
  comment.addEventListener("keydown", (event) => {
    if (event.key === "Enter") { event.preventDefault(); submit(); }
    else if (event.key === "Escape") { event.preventDefault(); comment.blur(); }
  });
  for (const button of buttons) button.addEventListener("click", () => pick(button.dataset.label));
  document.getElementById("submit").addEventListener("click", submit);
  document.getElementById("skip").addEventListener("click", skip);
  document.getElementById("undo").addEventListener("click", undo);

  guarded(advance).then(refreshProgress);
})();
