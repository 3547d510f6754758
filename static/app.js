// Tessera console behaviour. No inline script anywhere: the CSP allows only files from 'self'.
(function () {
  "use strict";

  var FALLBACK = "Clipboard copy unavailable. Select the key text manually and copy it before navigating away.";

  function showStatus(button, text, failed) {
    var box = button.closest(".callout, .card") || document;
    var status = box.querySelector("[data-copy-status]");
    if (!status) return;
    status.textContent = text;
    status.hidden = false;
    status.classList.toggle("failed", !!failed);
  }

  function selectText(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) return;
    var text = source.textContent;
    var fallback = function () {
      selectText(source);
      showStatus(button, FALLBACK, true);
    };
    if (!navigator.clipboard || !window.isSecureContext) {
      fallback();
      return;
    }
    navigator.clipboard.writeText(text).then(function () {
      showStatus(button, "Copied to clipboard.", false);
      button.textContent = "Copied";
    }, fallback);
  });

  function syncCustomDate(select) {
    var target = document.querySelector(select.getAttribute("data-custom-date"));
    if (!target) return;
    var label = target.closest("label") || target;
    label.hidden = select.value !== "custom";
  }

  function initCustomDates(root) {
    root.querySelectorAll("select[data-custom-date]").forEach(syncCustomDate);
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches("select[data-custom-date]")) syncCustomDate(event.target);
  });

  document.addEventListener("DOMContentLoaded", function () { initCustomDates(document); });
  document.addEventListener("htmx:afterSettle", function (event) { initCustomDates(event.target); });

  // htmx does not swap 4xx/5xx answers (except 422 forms); say what happened instead of nothing.
  document.addEventListener("htmx:responseError", function (event) {
    var toast = document.getElementById("toast");
    if (!toast) return;
    var status = event.detail.xhr.status;
    var messages = {
      403: "You are not allowed to do that.",
      404: "That no longer exists, or you have no access to it.",
      429: "Too many requests. Wait a moment and try again."
    };
    toast.textContent = messages[status] || "Something went wrong (" + status + "). Reload the page and try again.";
    toast.hidden = false;
    window.setTimeout(function () { toast.hidden = true; }, 6000);
  });
})();
