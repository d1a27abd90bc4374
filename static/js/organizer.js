/* Organizer workspace: a live character counter for short texts, and the funding step's
   "number of days / end date" choice showing only the field that applies. Without
   JavaScript both fields stay visible and the server decides from the radio choice. */
(function () {
  "use strict";

  function setUpCounter(field) {
    var max = parseInt(field.getAttribute("maxlength"), 10);
    if (!max) return;
    var counter = document.createElement("small");
    counter.className = "help ws-counter";
    counter.setAttribute("aria-live", "polite");
    field.insertAdjacentElement("afterend", counter);
    function update() {
      var left = max - field.value.length;
      counter.textContent = left + " character" + (left === 1 ? "" : "s") + " left";
      counter.classList.toggle("is-low", left <= 10);
    }
    field.addEventListener("input", update);
    update();
  }

  function setUpSchedule(group) {
    var radios = group.querySelectorAll('input[type="radio"][name="schedule"]');
    var panels = group.querySelectorAll("[data-schedule]");
    function update() {
      var chosen = group.querySelector('input[name="schedule"]:checked');
      panels.forEach(function (panel) {
        panel.hidden = chosen ? panel.getAttribute("data-schedule") !== chosen.value : false;
      });
    }
    radios.forEach(function (radio) { radio.addEventListener("change", update); });
    update();
  }

  document.querySelectorAll("[data-char-counter]").forEach(setUpCounter);
  document.querySelectorAll("[data-schedule-choice]").forEach(setUpSchedule);
})();

/* On a phone the step bar scrolls sideways: start it at the current step. */
(function () {
  "use strict";
  var current = document.querySelector(".ws-steps .is-current");
  var bar = document.querySelector(".ws-steps");
  if (current && bar && bar.scrollWidth > bar.clientWidth) {
    bar.scrollLeft = current.offsetLeft - (bar.clientWidth - current.offsetWidth) / 2;
  }
})();
