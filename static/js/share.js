/* Share links: a "Copy link" button beside each share box's link (without JavaScript the link
   is there to select and copy by hand). */
(function () {
  "use strict";
  document.querySelectorAll("[data-copy-link]").forEach(function (button) {
    var input = button.parentElement.querySelector(".sharing-copy-input");
    if (!input || !navigator.clipboard) return;
    var label = button.textContent;
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(input.value).then(function () {
        button.textContent = button.getAttribute("data-copied") || label;
        window.setTimeout(function () { button.textContent = label; }, 2000);
      }, function () {
        input.select();
      });
    });
  });
  document.querySelectorAll(".sharing-copy-input, .sharing-embed-code").forEach(function (field) {
    field.addEventListener("focus", function () { field.select(); });
  });
})();
