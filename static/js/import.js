// The report-import form. The upload and the import run in one request (a report at the size
// limit takes up to a minute): once it is sent, the button is disabled, so that a second click
// cannot import the report twice, and a status line names the file being imported.
(function () {
  "use strict";
  const form = document.querySelector("form.report-import");
  if (!form) {
    return;
  }
  const button = form.querySelector("button[type=submit]");
  const status = form.querySelector(".import-progress");
  const text = status.querySelector(".import-progress-text");

  function size(bytes) {
    if (bytes >= 1048576) {
      return (bytes / 1048576).toFixed(1) + " MB";
    }
    return bytes >= 1024 ? Math.round(bytes / 1024) + " KB" : bytes + " bytes";
  }

  form.addEventListener("submit", function (event) {
    if (form.getAttribute("aria-busy") === "true") {
      event.preventDefault();
      return;
    }
    const files = Array.from(form.querySelector("input[type=file]").files);
    const total = files.reduce(function (sum, file) { return sum + file.size; }, 0);
    if (files.length === 1) {
      text.textContent = "Uploading and importing " + files[0].name + " (" + size(total) + ")…";
    } else if (files.length > 1) {
      text.textContent = "Uploading and importing " + files.length + " reports (" + size(total) + ")…";
    } else {
      text.textContent = "Importing…";
    }
    form.setAttribute("aria-busy", "true");
    status.hidden = false;
    button.disabled = true;
  });

  // Back from the result page (the browser may restore this page as it was): usable again.
  window.addEventListener("pageshow", function () {
    form.removeAttribute("aria-busy");
    status.hidden = true;
    button.disabled = false;
  });
})();
