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

  // Upload forms marked data-swap-errors show a refused upload's message (4xx) in their target
  // instead of htmx's default of swapping nothing.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var source = event.detail.requestConfig && event.detail.requestConfig.elt;
    var status = event.detail.xhr.status;
    if (source && source.closest("[data-swap-errors]") && status >= 400 && status < 600) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // Link pickers: a checked search result moves to the chosen list, so a new search keeps it.
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.matches || !box.matches("[data-link-results] input[type=checkbox]")) { return; }
    var picker = box.closest("fieldset");
    var chosen = picker && picker.querySelector("[data-link-chosen]");
    var label = box.closest("label");
    if (box.checked && chosen && label) {
      chosen.appendChild(label);
      box.focus();  // moving the label blurs the box; a keyboard user carries on from it
    }
  });

  // A region htmx is replacing says so to assistive technology while the request runs.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var target = event.detail.target;
    if (target) { target.setAttribute("aria-busy", "true"); }
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var target = event.detail.target;
    if (target) { target.removeAttribute("aria-busy"); }
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
