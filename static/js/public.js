/* Public pages: Discover's filters apply as soon as a select changes (the Search button
   still works without JavaScript). */
(function () {
  "use strict";
  var form = document.querySelector(".filter-bar");
  if (!form) return;
  form.querySelectorAll("select").forEach(function (select) {
    select.addEventListener("change", function () {
      if (form.requestSubmit) form.requestSubmit(); else form.submit();
    });
  });
})();
