// Pledge form: quick-pick amounts, and the chosen reward's minimum as a hint.
(function () {
  "use strict";
  var amount = document.getElementById("id_amount");
  if (!amount) { return; }
  var hint = document.getElementById("amount-minimum-hint");
  document.querySelectorAll(".quick-picks [data-amount]").forEach(function (chip) {
    chip.addEventListener("click", function () { amount.value = chip.dataset.amount; amount.focus(); });
  });
  function showMinimum() {
    var chosen = document.querySelector("input[name=reward]:checked");
    var minimum = chosen && chosen.dataset.minimum;
    // The sentence comes from the page: money formatted with its currency, and translatable.
    hint.textContent = (minimum && chosen.dataset.minimumHint) || "";
    if (minimum && (!amount.value || parseFloat(amount.value) < parseFloat(minimum))) {
      amount.value = minimum;
    }
  }
  document.querySelectorAll("input[name=reward]").forEach(function (radio) {
    radio.addEventListener("change", showMinimum);
  });
  showMinimum();
})();
