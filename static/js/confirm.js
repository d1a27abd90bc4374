// Forms with data-confirm ask before submitting (a real confirmation page backs the important ones).
document.addEventListener("submit", function (event) {
  "use strict";
  var message = event.target.dataset && event.target.dataset.confirm;
  if (message && !window.confirm(message)) { event.preventDefault(); }
});
