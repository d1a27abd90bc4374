// Card entry with Stripe Elements: confirm the SetupIntent on the page (3-D Secure included),
// then tell our server, which checks the SetupIntent with Stripe before activating the pledge.
(function () {
  "use strict";
  var form = document.getElementById("card-form");
  if (!form || typeof window.Stripe !== "function") { return; }
  var stripe = window.Stripe(form.dataset.publishableKey);
  var card = stripe.elements().create("card");
  card.mount("#card-element");
  var errors = document.getElementById("card-errors");
  var button = document.getElementById("card-submit");

  function showError(message) {
    errors.innerHTML = "";
    var item = document.createElement("li");
    item.textContent = message || "Your card could not be saved. Please check it and try again.";
    errors.appendChild(item);
    button.disabled = false;
  }

  // A refused card is reported too: the server checks the SetupIntent with Stripe and counts
  // the failure (card-testing defence). The answer changes nothing on the page.
  function reportFailure() {
    var body = new FormData();
    body.append("csrfmiddlewaretoken", form.querySelector("[name=csrfmiddlewaretoken]").value);
    body.append("setup_intent", form.dataset.clientSecret.split("_secret_")[0]);
    fetch(form.dataset.confirmUrl, { method: "POST", body: body, credentials: "same-origin" })
      .catch(function () {});
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (button.disabled) { return; }  // no double submits
    button.disabled = true;
    errors.innerHTML = "";
    stripe.confirmCardSetup(form.dataset.clientSecret, { payment_method: { card: card } })
      .then(function (result) {
        if (result.error) { reportFailure(); showError(result.error.message); return null; }
        var body = new FormData();
        body.append("csrfmiddlewaretoken", form.querySelector("[name=csrfmiddlewaretoken]").value);
        body.append("setup_intent", result.setupIntent.id);
        return fetch(form.dataset.confirmUrl, { method: "POST", body: body, credentials: "same-origin" })
          .then(function (response) { return response.json(); })
          .then(function (answer) {
            if (answer.redirect) { window.location.assign(answer.redirect); }
            else { showError(answer.error); }
          });
      })
      .catch(function () { showError(); });
  });
})();
