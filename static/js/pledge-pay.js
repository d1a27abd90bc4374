// Confirming a payment the bank wants to authenticate (3-D Secure): Stripe.js confirms the
// pledge's own PaymentIntent with its saved card, then our server asks Stripe what happened
// (whatever Stripe.js answered: the provider's record decides) and says where to go next.
(function () {
  "use strict";
  var form = document.getElementById("pay-form");
  if (!form || typeof window.Stripe !== "function") { return; }
  var stripe = window.Stripe(form.dataset.publishableKey);
  var errors = document.getElementById("pay-errors");
  var button = document.getElementById("pay-submit");

  function showError(message) {
    errors.innerHTML = "";
    var item = document.createElement("li");
    item.textContent = message || form.dataset.errorMessage;
    errors.appendChild(item);
    button.disabled = false;
  }

  function askServer() {
    var body = new FormData();
    body.append("csrfmiddlewaretoken", form.querySelector("[name=csrfmiddlewaretoken]").value);
    return fetch(form.dataset.confirmUrl, { method: "POST", body: body, credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (answer) {
        if (answer.redirect) { window.location.assign(answer.redirect); }
        else { showError(answer.error); }
      });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (button.disabled) { return; }  // no double submits
    button.disabled = true;
    errors.innerHTML = "";
    stripe.confirmCardPayment(form.dataset.clientSecret, { payment_method: form.dataset.paymentMethod })
      .then(askServer, askServer)
      .catch(function () { showError(); });
  });
})();
