// The annotation page: show an item, take labels from keys or clicks, submit, move on.
// The next item is fetched while the current one is on screen, so a submit shows the next
// text at once. Item text is untrusted: it is only ever set with textContent. Beside it, the
// person's recent answers, any of which they open again to change it.
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
  const editing = document.getElementById("editing");
  const filterBox = document.getElementById("label-filter");
  const reasons = document.getElementById("skip-reasons");
  const reasonButtons = Array.from(reasons.querySelectorAll("button[data-reason]"));
  const flagButtons = Array.from(document.querySelectorAll(".flag-toggle"));
  const historyList = document.getElementById("my-answers");
  const buttons = Array.from(document.querySelectorAll(".label-button"));
  // Colours through the CSSOM: the page has no inline style for the CSP to allow.
  const colours = new Map(config.labels.map((l) => [l.name, l.color]));
  for (const button of buttons) button.style.setProperty("--label-color", colours.get(button.dataset.label) || "");
  const byShortcut = new Map(config.labels.filter((l) => l.shortcut).map((l) => [l.shortcut.toLowerCase(), l.name]));

  let current = null;      // the item on screen
  const queue = [];        // promises of the items to show next (one fetched ahead)
  let selected = new Set();
  let flags = { ambiguous: false, needs_expert: false };
  let shownAt = 0;
  let busy = false;
  const answered = [];     // stack of {annotationId, labels} for undo
  let history = [];        // the person's recent answers, newest first (my-answers)
  let changing = null;     // the history entry on screen to change, instead of a held item
  let waitingReason = "";  // "other": the skip waits for the comment box's Enter
  const HISTORY_SIZE = 20;

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
    const top = topLabels();
    for (const button of buttons) {
      const on = selected.has(button.dataset.label);
      const rank = top.findIndex((each) => each.label === button.dataset.label);
      button.classList.toggle("suggested", prediction !== null && prediction.labels.includes(button.dataset.label));
      button.classList.toggle("alternative", rank > 0);
      if (rank >= 0) button.dataset.probability = percent(top[rank].probability); else delete button.dataset.probability;
      button.classList.toggle("selected", on);
      button.setAttribute("aria-pressed", on ? "true" : "false");
      button.disabled = current === null;
    }
    for (const id of ["submit", "skip", "skip-why"]) document.getElementById(id).disabled = current === null;
    for (const button of flagButtons) {
      const on = flags[button.dataset.flag];
      button.classList.toggle("selected", on);
      button.setAttribute("aria-pressed", on ? "true" : "false");
      button.disabled = current === null;
    }
  }

  // The model's suggestion, when the project shows it (never on evaluation draws): its labels
  // come pre-selected and marked, so Enter accepts them and any label key changes them (A
  // takes them back after a change). Label names are only ever set with textContent.
  function suggested() {
    return current && current.prediction && current.prediction.labels.length ? current.prediction : null;
  }

  // A single-label project of three labels or more gets the model's three likeliest labels:
  // the first is the suggestion, the next two are marked as the alternatives, each with its
  // percent (the API's prediction.top; [] when it has none).
  function topLabels() {
    const prediction = suggested();
    return prediction !== null && !config.multi && Array.isArray(prediction.top) ? prediction.top : [];
  }

  function percent(probability) {
    return Math.round(100 * probability) + "%";
  }

  function showSuggestion() {
    const prediction = suggested();
    suggestion.hidden = prediction === null;
    if (prediction === null) return;
    const others = topLabels().slice(1).map((each) => each.label + " " + percent(each.probability));
    suggestion.textContent = "Model suggests: " + prediction.labels.join(", ") + " (" + percent(prediction.confidence) + " sure)" +
      (others.length ? "; else " + others.join(", ") : "") + ": Enter accepts, a label key changes it.";
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

  // `answer`: the person's earlier answer to the item (changing it), whose labels, flags and
  // comment come back on screen.
  function show(item, labels, answer) {
    current = item;
    const prediction = suggested();
    const preselected = prediction === null ? [] : config.multi ? prediction.labels : prediction.labels.slice(0, 1);
    selected = new Set(labels || preselected);
    flags = { ambiguous: Boolean(answer && answer.ambiguous), needs_expert: Boolean(answer && answer.needs_expert) };
    comment.value = answer ? answer.comment : "";
    waitingReason = "";
    closeReasons();
    clearFilter();
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
    renderHistory();
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

  // The time on the item; a changed answer adds it to the time the answer took at first
  // (at most a day, as the API takes it: a page left open overnight is not a refusal).
  function leadTime() {
    const spent = Math.round(performance.now() - shownAt) + (changing ? changing.lead_time_ms || 0 : 0);
    return Math.min(spent, 86400000);
  }

  // What the page showed of the model for this answer. A changed answer was given without a
  // suggestion on screen: it keeps its first one's, and moving off an accepted suggestion
  // is no longer accepting it (moving onto it cannot be told: unknown).
  function predictionFields(labels) {
    if (changing === null) {
      const prediction = suggested();
      if (prediction === null) return {};
      return { prediction_shown: true, prediction_accepted: sameLabels(labels, prediction.labels) };
    }
    if (!changing.prediction_shown) return {};
    const kept = sameLabels(labels, changing.labels);
    return { prediction_shown: true, prediction_accepted: kept ? changing.prediction_accepted : changing.prediction_accepted === true ? false : null };
  }

  // The answer just recorded goes to the top of the history, or replaces its entry there.
  function remember(annotation, item, extra) {
    const entry = Object.assign({}, annotation, extra, { item: { id: item.id, external_id: item.external_id, data: item.data } });
    const at = history.findIndex((each) => each.id === entry.id);
    if (at >= 0) history[at] = entry; else history.unshift(entry);
    history = history.slice(0, HISTORY_SIZE);
  }

  // After an answer: the held item that was on screen before a change comes back, or the next.
  async function answeredNow(text, annotation, extra) {
    remember(annotation, current, extra);
    if (changing === null) answered.push({ annotationId: annotation.id, labels: annotation.labels });
    say(changing === null ? text : "Changed.");
    changing = null;
    await advance();
    refreshProgress();
  }

  function submit() {
    return guarded(async () => {
      if (current === null) return;
      if (!config.multi && selected.size !== 1) { say("Pick a label first.", true); return; }
      const labels = Array.from(selected);
      const body = Object.assign({ labels: labels, lead_time_ms: leadTime() }, flags, predictionFields(labels));
      if (comment.value.trim()) body.comment = comment.value.trim();
      const annotation = await call("POST", "/items/" + current.id + "/annotations/", body);
      await answeredNow("Saved.", annotation, { prediction_shown: Boolean(body.prediction_shown), prediction_accepted: body.prediction_accepted === undefined ? null : body.prediction_accepted });
    });
  }

  // `reason`: one of the page's skip reasons, or "" (S: no reason given).
  function skip(reason) {
    return guarded(async () => {
      if (current === null) return;
      const body = { lead_time_ms: leadTime() };
      if (reason) body.reason = reason;
      if (comment.value.trim()) body.comment = comment.value.trim();
      waitingReason = "";
      closeReasons();
      const annotation = await call("POST", "/items/" + current.id + "/skip/", body);
      await answeredNow(reason ? "Skipped: " + reasonName(reason) + "." : "Skipped.", annotation, { prediction_shown: false, prediction_accepted: null });
    });
  }

  // --- skipping with a reason: X opens the list, 1-4 picks ----------------------------------

  function reasonName(value) {
    const button = reasonButtons.find((each) => each.dataset.reason === value);
    return button ? button.textContent.replace(/^\s*\d+\s*/, "").trim() : value;
  }

  function openReasons() {
    if (current === null) return;
    reasons.hidden = false;
    document.getElementById("skip-why").setAttribute("aria-expanded", "true");
  }

  function closeReasons() {
    reasons.hidden = true;
    document.getElementById("skip-why").setAttribute("aria-expanded", "false");
  }

  // "other" says nothing alone: without a comment, the skip waits for one (Enter in the box).
  function skipFor(reason) {
    if (reason === "other" && !comment.value.trim()) {
      closeReasons();
      waitingReason = reason;
      say("Say why in the comment box; Enter skips.");
      comment.focus();
      return;
    }
    skip(reason);
  }

  function toggleFlag(name) {
    if (current === null) return;
    flags[name] = !flags[name];
    render();
  }

  // --- finding a label by name (/): for projects with more labels than digit keys ------------

  function matches() {
    const typed = filterBox.value.trim().toLowerCase();
    if (!typed) return [];
    const named = (button) => button.dataset.label.toLowerCase();
    const starting = buttons.filter((button) => named(button).startsWith(typed));
    return starting.concat(buttons.filter((button) => !starting.includes(button) && named(button).includes(typed)));
  }

  let highlighted = 0;
  function showMatches() {
    const typed = filterBox.value.trim() !== "";
    const found = matches();
    highlighted = Math.min(highlighted, Math.max(found.length - 1, 0));
    // the matches in the order Enter and the arrows go through them (CSS order: no markup moves)
    for (const button of buttons) {
      button.hidden = typed && !found.includes(button);
      button.style.order = typed ? String(found.indexOf(button)) : "";
      button.classList.toggle("highlighted", found[highlighted] === button);
    }
  }

  function clearFilter() {
    filterBox.value = "";
    highlighted = 0;
    filterBox.hidden = config.labels.length <= 9;
    showMatches();
  }

  function openFilter() {
    if (current === null) return;
    filterBox.hidden = false;
    filterBox.focus();
  }

  function undo() {
    return guarded(async () => {
      const last = answered.pop();
      if (!last) { say("Nothing to undo."); return; }
      const item = await call("DELETE", "/annotations/" + last.annotationId + "/");
      // The undone item is shown with its answer; the one that was on screen comes next (an
      // answer being changed is let go: the held item is already next).
      if (current !== null && changing === null) queue.unshift(Promise.resolve(current));
      changing = null;
      history = history.filter((entry) => entry.id !== last.annotationId);
      show(item, last.labels);
      say("Undone: answer again.");
      refreshProgress();
    });
  }

  // While the reasons are open, digits pick one of them (not a label); Esc or X closes them.
  function reasonKey(event) {
    const chosen = reasonButtons[Number(event.key) - 1];
    if (chosen && /^[1-9]$/.test(event.key)) skipFor(chosen.dataset.reason);
    else if (event.key === "Escape" || event.key.toLowerCase() === "x") closeReasons();
    else return;
    event.preventDefault();
  }

  // Label keys first: a project whose label kept a key the page took later still labels with it.
  const PAGE_KEYS = {
    s: () => skip(""),
    x: openReasons,
    a: acceptSuggestion,
    m: () => toggleFlag("ambiguous"),
    e: () => toggleFlag("needs_expert"),
    "/": openFilter,
  };

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target.isContentEditable) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    // Enter or Space on an answer of the history opens it, as a click does
    if (target instanceof HTMLButtonElement && historyList.contains(target) && (event.key === "Enter" || event.key === " ")) return;
    if (!reasons.hidden) { reasonKey(event); return; }
    const key = event.key.toLowerCase();
    if (event.key === "Enter") { event.preventDefault(); submit(); }
    else if (event.key === "Backspace") { event.preventDefault(); undo(); }
    else if (event.key === "Escape" && changing !== null) { event.preventDefault(); stopChanging(); }
    else if (byShortcut.has(key)) { event.preventDefault(); pick(byShortcut.get(key)); }
    else if (Object.hasOwn(PAGE_KEYS, key)) { event.preventDefault(); PAGE_KEYS[key](); }
  });
  // In the comment box Enter submits (or makes the skip that waits for a word) and Esc leaves
  // it (the label keys work again).
  comment.addEventListener("keydown", (event) => {
    if (event.key === "Enter") { event.preventDefault(); if (waitingReason) skip(waitingReason); else submit(); }
    else if (event.key === "Escape") { event.preventDefault(); waitingReason = ""; comment.blur(); }
  });
  filterBox.addEventListener("input", () => { highlighted = 0; showMatches(); });
  filterBox.addEventListener("keydown", (event) => {
    const found = matches();
    if (event.key === "Enter") {
      event.preventDefault();
      if (found.length) pick(found[highlighted].dataset.label);
      clearFilter();
      filterBox.blur();
    } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      highlighted = found.length ? (highlighted + step + found.length) % found.length : 0;
      showMatches();
    } else if (event.key === "Escape") {
      event.preventDefault();
      clearFilter();
      filterBox.blur();
    }
  });
  for (const button of buttons) button.addEventListener("click", () => pick(button.dataset.label));
  for (const button of reasonButtons) button.addEventListener("click", () => skipFor(button.dataset.reason));
  for (const button of flagButtons) button.addEventListener("click", () => toggleFlag(button.dataset.flag));
  document.getElementById("submit").addEventListener("click", submit);
  document.getElementById("skip").addEventListener("click", () => skip(""));
  document.getElementById("skip-why").addEventListener("click", () => (reasons.hidden ? openReasons() : closeReasons()));
  document.getElementById("undo").addEventListener("click", undo);

  // --- the history: the person's recent answers, any of which they change -------------------

  function when(stamp) {
    const at = new Date(stamp);
    const today = at.toDateString() === new Date().toDateString();
    return today ? at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : at.toLocaleDateString();
  }

  function describe(entry) {
    if (entry.skipped) return "skipped" + (entry.skip_reason ? ": " + reasonName(entry.skip_reason).toLowerCase() : "");
    const marks = [entry.ambiguous ? "ambiguous" : "", entry.needs_expert ? "needs an expert" : ""].filter(Boolean);
    return entry.labels.join(", ") + (marks.length ? " · " + marks.join(", ") : "");
  }

  function historyEntry(entry) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "my-answer";
    button.dataset.answerId = String(entry.id);
    const text = document.createElement("span");
    text.className = "preview";
    const data = entry.item.data || {};
    text.textContent = data.text !== undefined ? String(data.text) : "item " + entry.item.id;
    const answer = document.createElement("span");
    answer.className = "answer";
    answer.textContent = describe(entry);
    const stamp = document.createElement("time");
    stamp.dateTime = entry.updated_at;
    const changed = Date.parse(entry.updated_at) - Date.parse(entry.created_at) > 1000;
    stamp.textContent = when(entry.updated_at) + (changed ? " (changed)" : "");
    button.append(text, answer, stamp);
    button.classList.toggle("open", changing !== null && changing.id === entry.id);
    button.addEventListener("click", () => { button.blur(); change(entry); });
    const item = document.createElement("li");
    item.append(button);
    return item;
  }

  function renderHistory() {
    historyList.replaceChildren(...history.map(historyEntry));
    document.getElementById("my-answers-none").hidden = history.length > 0;
    editing.hidden = changing === null;
    if (changing !== null) editing.textContent = "Changing your answer from " + when(changing.updated_at) + ": Enter saves it, Esc goes back to your item.";
  }

  // Show an earlier answer's item to answer again; the held item on screen waits, first in line.
  function change(entry) {
    return guarded(async () => {
      if (current !== null && changing === null) queue.unshift(Promise.resolve(current));
      changing = entry;
      show(entry.item, entry.labels, entry);
      say("");
    });
  }

  function stopChanging() {
    return guarded(async () => {
      changing = null;
      say("");
      await advance();
    });
  }

  async function loadHistory() {
    try {
      history = await call("GET", "/projects/" + config.id + "/my-answers/?limit=" + HISTORY_SIZE);
      renderHistory();
    } catch (error) { /* the history is a help: labelling goes on without it */ }
  }

  guarded(advance).then(refreshProgress);
  loadHistory();
})();
