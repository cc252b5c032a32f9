// Findings page: "select all on this page" for bulk triage (the CSP forbids inline scripts).
document.addEventListener("change", (event) => {
  const box = event.target;
  if (!(box instanceof HTMLInputElement) || !box.matches("input[data-select-all]")) return;
  const form = box.closest("form");
  if (!form) return;
  for (const row of form.querySelectorAll("input[name=ids], input[name=rule_ids]")) row.checked = box.checked;
});
