// The pledge page while a charge is being made (a new card, a retry): ask our server where the
// payment stands every few seconds and reload the page once it is settled, for about 3 minutes.
(function () {
  "use strict";
  var note = document.getElementById("payment-collecting");
  if (!note || !window.fetch) { return; }
  var url = note.dataset.statusUrl;
  var tries = 0;

  function check() {
    tries += 1;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (answer) {
        if (!answer.pending) { window.location.reload(); }
        else if (tries < 90) { setTimeout(check, 2000); }
      })
      .catch(function () { if (tries < 90) { setTimeout(check, 5000); } });
  }

  setTimeout(check, 1000);
})();
