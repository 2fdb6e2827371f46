// Small behaviours the pages share. No inline scripts anywhere: the CSP forbids them.
(function () {
  "use strict";

  // Upload forms: show progress while the browser sends the file.
  document.addEventListener("htmx:xhr:progress", function (event) {
    var bar = event.target.querySelector("progress[data-upload-progress]");
    if (bar && event.detail.lengthComputable) {
      bar.hidden = false;
      bar.value = Math.round((event.detail.loaded / event.detail.total) * 100);
    }
  });

  // Confirmation for destructive buttons: <button data-confirm="Revoke this token?">.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-confirm]");
    if (button && !window.confirm(button.getAttribute("data-confirm"))) {
      event.preventDefault();
      event.stopPropagation();
    }
  }, true);
})();
