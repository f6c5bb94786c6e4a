// The import page: a file picked or dropped goes to the import API as a multipart upload;
// a small file answers at once, a large one (or a background job) is followed to its end
// with a progress bar. The choice for rows already imported (same external_id) goes along as
// ?on_duplicate=, and the server's sentence says what happened. Errors come back with their
// line and field and fill a table; every text from the file or the server is set with
// textContent only.
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("import-config").textContent);
  const form = document.getElementById("import-form");
  const input = document.getElementById("file");
  const dropZone = document.getElementById("drop-zone");
  const fileName = document.getElementById("file-name");
  const start = document.getElementById("start");
  const background = document.getElementById("background");
  const result = document.getElementById("result");
  const errors = document.getElementById("errors");
  const progressBox = document.getElementById("progress-box");
  const progress = document.getElementById("progress");
  const progressText = document.getElementById("progress-text");
  let file = null;

  const csrfToken = window.hitlCsrfToken;  // csrf.js

  function choose(picked) {
    file = picked || null;
    fileName.textContent = file ? file.name + " (" + Math.ceil(file.size / 1024) + " KB)" : "";
    start.disabled = file === null;
  }

  function say(text, isError) {
    result.textContent = text;
    result.classList.toggle("error", Boolean(isError));
  }

  function showErrors(list) {
    const body = errors.querySelector("tbody");
    body.replaceChildren();
    for (const error of list || []) {
      const row = document.createElement("tr");
      for (const value of [error.line, error.field, error.message]) {
        const cell = document.createElement("td");
        cell.textContent = value === null || value === undefined ? "" : String(value);
        row.append(cell);
      }
      body.append(row);
    }
    errors.hidden = body.childElementCount === 0;
  }

  function importUrl() {
    const query = new URLSearchParams();
    query.set("on_duplicate", form.querySelector("input[name=on_duplicate]:checked").value);
    if (background.checked) query.set("async", "true");
    return "/api/v1/projects/" + config.id + "/items/import/?" + query.toString();
  }

  // What the job is doing, in words: while rows are checked, the file's count is an estimate.
  function phase(status, done, total) {
    if (!total) return status;
    const of = done.toLocaleString() + " of " + (status === "validating" ? "about " : "") + total.toLocaleString() + " rows";
    if (status === "validating") return "checking rows: " + of;
    if (status === "inserting") return "inserting: " + of;
    return status + ": " + of;
  }

  async function follow(url) {
    progressBox.hidden = false;
    for (;;) {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      const job = await response.json();
      const total = job.total_rows || 0;
      const done = job.processed_rows || 0;
      progress.max = Math.max(total, 1);
      progress.value = job.status === "succeeded" ? progress.max : done;
      progressText.textContent = phase(job.status, done, total);
      if (job.status === "succeeded") return say(job.detail + ".");
      if (job.status === "failed") {
        showErrors(job.errors);
        return say("Nothing was imported: the file has errors (below).", true);
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  async function upload(event) {
    event.preventDefault();
    if (file === null) return;
    start.disabled = true;
    showErrors([]);
    progressBox.hidden = true;
    say("Uploading " + file.name + "…");
    const body = new FormData();
    body.append("file", file);
    try {
      const response = await fetch(importUrl(), {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
        body: body,
      });
      const data = await response.json().catch(() => ({}));
      if (response.status === 201) say(data.detail + ".");
      else if (response.status === 202) await follow(data.url);
      else {
        showErrors(data.errors);
        say(data.detail || "The server answered " + response.status + ".", true);
      }
    } catch (error) {
      say("The upload failed: " + error.message, true);
    } finally {
      start.disabled = file === null;
    }
  }

  input.addEventListener("change", () => choose(input.files[0]));
  for (const name of ["dragenter", "dragover"]) {
    dropZone.addEventListener(name, (event) => { event.preventDefault(); dropZone.classList.add("over"); });
  }
  dropZone.addEventListener("dragleave", () => dropZone.classList.remove("over"));
  dropZone.addEventListener("drop", (event) => {
    event.preventDefault();
    dropZone.classList.remove("over");
    choose(event.dataTransfer.files[0]);
  });
  form.addEventListener("submit", upload);
})();
