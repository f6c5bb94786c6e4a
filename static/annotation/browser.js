// The data browser's column chooser: unticked columns are hidden, and the choice is kept
// in this browser (per project), so the table looks the same on the next page and visit.
(() => {
  const table = document.getElementById("items");
  const chooser = document.getElementById("column-chooser");
  if (!table || !chooser) return;
  const key = `hitl.columns.${table.dataset.project}`;
  const hidden = new Set(JSON.parse(localStorage.getItem(key) || "[]"));

  function show() {
    for (const cell of table.querySelectorAll("[data-column]")) {
      cell.hidden = hidden.has(cell.dataset.column);
    }
  }

  for (const box of chooser.querySelectorAll("input[data-column]")) {
    box.checked = !hidden.has(box.dataset.column);
    box.addEventListener("change", () => {
      if (box.checked) hidden.delete(box.dataset.column);
      else hidden.add(box.dataset.column);
      localStorage.setItem(key, JSON.stringify([...hidden]));
      show();
    });
  }
  show();
})();
