/* Copy buttons: <button data-copy="#element-id"> copies that element's text and says so in
 * the button's status (the one-time API key). The Clipboard API needs a secure context
 * (https or localhost); elsewhere the text is selected so Ctrl+C copies it. */
(function () {
  "use strict";

  function selectText(el) {
    const range = document.createRange();
    range.selectNodeContents(el);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  document.addEventListener("click", async (event) => {
    const button = event.target.closest && event.target.closest("button[data-copy]");
    if (!button) return;
    const source = document.querySelector(button.dataset.copy);
    const status = document.getElementById(button.getAttribute("aria-describedby") || "") || button;
    if (!source) return;
    const text = source.textContent.trim();
    try {
      if (!navigator.clipboard || !window.isSecureContext) throw new Error("no clipboard");
      await navigator.clipboard.writeText(text);
      status.textContent = "Copied to the clipboard.";
    } catch (error) {
      selectText(source);
      status.textContent = "Selected: press Ctrl+C (⌘C) to copy.";
    }
  });
})();
