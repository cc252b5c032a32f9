/* Target pickers (templates/targets/_picker.html): filter by text and kind, select all of the
 * targets shown, and say how many are shown and chosen. Works on pickers loaded later by HTMX
 * (the builder's Run panel) through event delegation. */
(function () {
  "use strict";

  function rows(picker) {
    return Array.from(picker.querySelectorAll(".picker-list > li"));
  }

  function shown(picker) {
    return rows(picker).filter((row) => !row.hidden);
  }

  function update(picker) {
    const all = rows(picker);
    const visible = shown(picker);
    const chosen = all.filter((row) => row.querySelector("input[type=checkbox]").checked).length;
    const count = picker.querySelector("[data-picker-count]");
    if (count) count.textContent = visible.length + " of " + all.length + " shown · " + chosen + " chosen";
    const none = picker.querySelector("[data-picker-none]");
    if (none) none.hidden = visible.length > 0;
    const box = picker.querySelector("[data-picker-all]");
    if (box) {
      const ticked = visible.filter((row) => row.querySelector("input[type=checkbox]").checked).length;
      box.checked = visible.length > 0 && ticked === visible.length;
      box.indeterminate = ticked > 0 && ticked < visible.length;
    }
  }

  function filter(picker) {
    const text = (picker.querySelector("[data-picker-search]").value || "").trim().toLowerCase();
    const kind = picker.querySelector("[data-picker-kind]").value;
    rows(picker).forEach((row) => {
      row.hidden = (kind && row.dataset.kind !== kind) || (text && !row.dataset.text.includes(text));
    });
    update(picker);
  }

  document.addEventListener("input", (event) => {
    const picker = event.target.closest && event.target.closest("[data-picker]");
    if (picker && event.target.matches("[data-picker-search]")) filter(picker);
  });
  document.addEventListener("change", (event) => {
    const picker = event.target.closest && event.target.closest("[data-picker]");
    if (!picker) return;
    if (event.target.matches("[data-picker-kind]")) filter(picker);
    else if (event.target.matches("[data-picker-all]")) {
      // Only what the filter shows: hidden targets keep their state.
      shown(picker).forEach((row) => { row.querySelector("input[type=checkbox]").checked = event.target.checked; });
      update(picker);
    } else update(picker);
  });
  // Enter in the search box must not submit the form (it would start a scan).
  document.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && event.target.matches && event.target.matches("[data-picker-search]")) event.preventDefault();
  });

  function setup(root) {
    root.querySelectorAll("[data-picker]").forEach(update);
  }
  document.addEventListener("DOMContentLoaded", () => setup(document));
  document.addEventListener("htmx:afterSwap", (event) => setup(event.target));
})();
