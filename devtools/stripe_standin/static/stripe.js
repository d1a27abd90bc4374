/*
 * Groundswell's Stripe.js stand-in: `window.Stripe(publishableKey, options)` for pages that
 * talk to the Stripe stand-in (devtools/stripe_standin) instead of Stripe.
 *
 * What it implements of Stripe.js v3: elements().create("card") (one row: brand, number,
 * MM / YY, CVC, postcode; formatting, auto-advance, inline validation, change/ready/focus/
 * blur events), confirmCardSetup, confirmCardPayment, handleNextAction, handleCardAction,
 * retrieveSetupIntent, retrievePaymentIntent and createPaymentMethod. A card that needs
 * 3-D Secure opens the stand-in's test page (/_standin/3ds/{id}) in a modal.
 *
 * The API base is where this script was loaded from. API calls go through a hidden frame on
 * that origin (/_standin/stripejs/frame), as Stripe.js does with its own controller frame, so
 * the host page needs no CORS from the API: only frame-src and script-src for the stand-in.
 * The card fields live in shadow roots, so the host page's styles cannot break them.
 *
 * The server fills in the two marked values below (the test cards and the styles).
 */
(function () {
  "use strict";

  var TEST_CARDS = /*standin:test-cards*/[];
  var CSS = /*standin:css*/"";

  var SCRIPT_URL = (document.currentScript && document.currentScript.src) || "";
  var BASE = apiBase(SCRIPT_URL);
  var BASE_ORIGIN = new URL(BASE).origin;
  var REQUEST_TIMEOUT_MS = 60000;

  function apiBase(src) {
    if (!src) { return window.location.origin; }
    var url = new URL(src, window.location.href);
    var path = url.pathname.replace(/\/?(js\.stripe\.com\/)?v3\/?$/, "");
    return url.origin + path.replace(/\/$/, "");
  }

  function integrationError(message) {
    var error = new Error(message);
    error.name = "IntegrationError";
    return error;
  }

  // --- talking to the API through the controller frame ---------------------------------

  var controller = null;

  function controllerFrame() {
    if (controller) { return controller; }
    var pending = {};
    var counter = 0;
    var markReady;
    var ready = new Promise(function (resolve) { markReady = resolve; });
    var frame = document.createElement("iframe");
    frame.src = BASE + "/_standin/stripejs/frame";
    frame.title = "Stripe stand-in controller";
    frame.setAttribute("aria-hidden", "true");
    frame.tabIndex = -1;
    frame.style.cssText = "display:none !important";

    window.addEventListener("message", function (event) {
      if (event.origin !== BASE_ORIGIN || event.source !== frame.contentWindow) { return; }
      var data = event.data || {};
      if (data.standinFrameReady) { markReady(); }
      var answer = data.standinResponse;
      if (answer && pending[answer.id]) {
        var settle = pending[answer.id];
        delete pending[answer.id];
        settle(answer);
      }
    });

    function attach() { (document.body || document.documentElement).appendChild(frame); }
    if (document.body) { attach(); } else { document.addEventListener("DOMContentLoaded", attach); }

    controller = {
      send: function (request) {
        counter += 1;
        request.id = counter;
        return new Promise(function (resolve) {
          var timer = setTimeout(function () {
            delete pending[request.id];
            resolve({ status: 0, body: connectionError("The Stripe stand-in at " + BASE + " did not answer.") });
          }, REQUEST_TIMEOUT_MS);
          pending[request.id] = function (answer) { clearTimeout(timer); resolve(answer); };
          ready.then(function () {
            frame.contentWindow.postMessage({ standinRequest: request }, BASE_ORIGIN);
          });
        });
      },
    };
    return controller;
  }

  function connectionError(message) {
    return { error: { type: "api_connection_error", message: message } };
  }

  function encode(params, prefix) {
    var parts = [];
    Object.keys(params).forEach(function (name) {
      var value = params[name];
      var key = prefix ? prefix + "[" + name + "]" : name;
      if (value === undefined || value === null) { return; }
      if (typeof value === "object") {
        var nested = encode(value, key);
        if (nested) { parts.push(nested); }
      } else {
        parts.push(encodeURIComponent(key) + "=" + encodeURIComponent(String(value)));
      }
    });
    return parts.join("&");
  }

  // Resolves {body} for a 200 answer, {error} (Stripe's error object) for anything else.
  function call(client, method, path, params) {
    return controllerFrame()
      .send({
        method: method,
        path: path,
        body: encode(params || {}),
        key: client._key,
        account: client._account,
      })
      .then(function (answer) {
        var body = answer.body || {};
        if (answer.status === 200) { return { body: body }; }
        return { error: body.error || { type: "api_error", message: "The stand-in answered " + answer.status + "." } };
      });
  }

  // --- card numbers, expiry dates, security codes --------------------------------------

  function digitsOf(text) { return (text || "").replace(/\D/g, ""); }

  function brandOf(number) {
    if (/^4/.test(number)) { return "visa"; }
    if (/^3[47]/.test(number)) { return "amex"; }
    if (/^(5[1-5]|222[1-9]|22[3-9]\d|2[3-6]\d\d|27[01]\d|2720)/.test(number)) { return "mastercard"; }
    if (/^(6011|65|64[4-9]|622)/.test(number)) { return "discover"; }
    if (/^3(0[0-5]|[689])/.test(number)) { return "diners"; }
    if (/^35/.test(number)) { return "jcb"; }
    if (/^62/.test(number)) { return "unionpay"; }
    return "unknown";
  }

  function numberLength(brand) {
    return brand === "amex" ? 15 : brand === "diners" ? 14 : 16;
  }

  function cvcLength(brand) { return brand === "amex" ? 4 : 3; }

  function formatNumber(digits, brand) {
    var sizes = brand === "amex" ? [4, 6, 5] : brand === "diners" ? [4, 6, 4] : [4, 4, 4, 4];
    var groups = [];
    var start = 0;
    for (var i = 0; i < sizes.length && start < digits.length; i += 1) {
      groups.push(digits.slice(start, start + sizes[i]));
      start += sizes[i];
    }
    return groups.join(" ");
  }

  function luhn(digits) {
    var total = 0;
    for (var i = 0; i < digits.length; i += 1) {
      var value = Number(digits[digits.length - 1 - i]) * (i % 2 ? 2 : 1);
      total += value > 9 ? value - 9 : value;
    }
    return total % 10 === 0;
  }

  function expiryDigits(text) {
    var digits = digitsOf(text).slice(0, 4);
    if (/^[2-9]/.test(digits) || /^1[3-9]/.test(digits)) { digits = ("0" + digits).slice(0, 4); }
    return digits;
  }

  function formatExpiry(digits, deleting) {
    if (digits.length < 2) { return digits; }
    if (digits.length === 2) { return deleting ? digits : digits + " / "; }
    return digits.slice(0, 2) + " / " + digits.slice(2);
  }

  var MESSAGES = {
    incomplete_number: "Your card number is incomplete.",
    invalid_number: "Your card number is invalid.",
    incomplete_expiry: "Your card's expiration date is incomplete.",
    invalid_expiry_month: "Your card's expiration date is invalid.",
    invalid_expiry_month_past: "Your card's expiration date is in the past.",
    invalid_expiry_year_past: "Your card's expiration year is in the past.",
    invalid_expiry_year: "Your card's expiration year is invalid.",
    incomplete_cvc: "Your card's security code is incomplete.",
    incomplete_zip: "Your postal code is incomplete.",
  };

  // Each check answers {state: "empty"|"incomplete"|"invalid"|"complete", code}.
  function checkNumber(digits) {
    if (!digits) { return { state: "empty", code: "incomplete_number" }; }
    var brand = brandOf(digits);
    if (digits.length < numberLength(brand)) { return { state: "incomplete", code: "incomplete_number" }; }
    if (!luhn(digits)) { return { state: "invalid", code: "invalid_number" }; }
    return { state: "complete" };
  }

  function checkExpiry(digits) {
    if (!digits) { return { state: "empty", code: "incomplete_expiry" }; }
    var month = Number(digits.slice(0, 2));
    if (digits.length >= 2 && (month < 1 || month > 12)) {
      return { state: "invalid", code: "invalid_expiry_month" };
    }
    if (digits.length < 4) { return { state: "incomplete", code: "incomplete_expiry" }; }
    var year = 2000 + Number(digits.slice(2));
    var today = new Date();
    if (year < today.getFullYear()) { return { state: "invalid", code: "invalid_expiry_year_past" }; }
    if (year === today.getFullYear() && month < today.getMonth() + 1) {
      return { state: "invalid", code: "invalid_expiry_month_past" };
    }
    if (year > today.getFullYear() + 50) { return { state: "invalid", code: "invalid_expiry_year" }; }
    return { state: "complete" };
  }

  function checkCvc(digits, brand) {
    if (!digits) { return { state: "empty", code: "incomplete_cvc" }; }
    var wanted = cvcLength(brand);
    if (digits.length < wanted) { return { state: "incomplete", code: "incomplete_cvc" }; }
    return { state: "complete" };
  }

  function checkPostal(text) {
    if (!text.trim()) { return { state: "empty", code: "incomplete_zip" }; }
    return { state: "complete" };
  }

  // --- drawings: card brands, the back of a card, an error --------------------------------

  function cardShape(fill, inner, stroke) {
    return '<svg viewBox="0 0 24 16" aria-hidden="true" focusable="false">' +
      '<rect x=".5" y=".5" width="23" height="15" rx="2.5" fill="' + fill + '"' +
      (stroke ? ' stroke="' + stroke + '"' : "") + "/>" + inner + "</svg>";
  }

  function cardText(text, color, size) {
    return '<text x="12" y="10.6" text-anchor="middle" fill="' + color + '" font-size="' + size +
      '" font-weight="700" font-style="italic" font-family="Arial, Helvetica, sans-serif"' +
      ' letter-spacing=".2">' + text + "</text>";
  }

  var ICONS = {
    unknown: cardShape("#e3e8ee", '<rect x=".5" y="3.5" width="23" height="2.6" fill="#a3acb9"/>' +
      '<rect x="3" y="10" width="7" height="2" rx="1" fill="#fff"/>'),
    visa: cardShape("#1a1f71", cardText("VISA", "#fff", 7)),
    mastercard: cardShape("#1b1b1b", '<circle cx="9.6" cy="8" r="4.6" fill="#eb001b"/>' +
      '<circle cx="14.4" cy="8" r="4.6" fill="#f79e1b"/>' +
      '<path d="M12 4.07a4.6 4.6 0 0 1 0 7.86a4.6 4.6 0 0 1 0-7.86z" fill="#ff5f00"/>'),
    amex: cardShape("#1f72cd", cardText("AMEX", "#fff", 6)),
    discover: cardShape("#fff", cardText("DISC", "#231f20", 5.6) +
      '<circle cx="19.6" cy="12.4" r="1.6" fill="#f48120"/>', "#d9dee4"),
    diners: cardShape("#fff", '<circle cx="12" cy="8" r="5" fill="none" stroke="#0079be" stroke-width="1.6"/>', "#d9dee4"),
    jcb: cardShape("#fff", cardText("JCB", "#0e4c96", 6.4), "#d9dee4"),
    unionpay: cardShape("#e21836", cardText("UP", "#fff", 7)),
    cvc: cardShape("#e3e8ee", '<rect x=".5" y="2.5" width="23" height="3" fill="#697386"/>' +
      '<rect x="3" y="8.5" width="18" height="3.4" rx="1" fill="#fff"/>' +
      '<text x="19" y="11.3" text-anchor="end" font-size="3.4" font-family="Arial" fill="#30313d">123</text>'),
    error: cardShape("#fde8ec", '<circle cx="12" cy="8" r="4.6" fill="#df1b41"/>' +
      '<rect x="11.3" y="5.2" width="1.4" height="3.6" rx=".7" fill="#fff"/>' +
      '<circle cx="12" cy="10.5" r=".8" fill="#fff"/>', "#f5b6c2"),
  };

  var ERROR_MARK = '<svg viewBox="0 0 14 14" aria-hidden="true" focusable="false">' +
    '<circle cx="7" cy="7" r="7" fill="currentColor"/><rect x="6.2" y="3.2" width="1.6" height="4.8" rx=".8" fill="#fff"/>' +
    '<circle cx="7" cy="10.2" r=".95" fill="#fff"/></svg>';

  // --- shadow roots ------------------------------------------------------------------------

  // A host element the page's styles cannot reshape: its box is set inline (inline styles beat
  // the page's rules), everything else by the shadow root's :host rule.
  var HOST_BOX = "display: block; position: static; float: none; margin: 0; padding: 0; " +
    "border: 0; outline: 0; background: none; box-shadow: none; transform: none; ";

  function isolatedHost(tag, css) {
    var host = document.createElement(tag);
    host.style.cssText = HOST_BOX + (css || "");
    var root = host.attachShadow({ mode: "open" });
    var style = document.createElement("style");
    style.textContent = CSS;
    root.appendChild(style);
    return { host: host, root: root };
  }

  function element(tag, attributes, children) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      if (name === "text") { node.textContent = attributes[name]; }
      else if (name === "className") { node.className = attributes[name]; }
      else { node.setAttribute(name, attributes[name]); }
    });
    (children || []).forEach(function (child) { node.appendChild(child); });
    return node;
  }

  // --- the card Element ------------------------------------------------------------------

  var STYLE_PROPERTIES = {
    color: "--standin-color",
    fontFamily: "--standin-font-family",
    fontSize: "--standin-font-size",
    fontWeight: "--standin-font-weight",
    letterSpacing: "--standin-letter-spacing",
  };

  function CardElement(group, options) {
    this._group = group;
    this._options = {};
    this._listeners = {};
    this._mountPoint = null;
    this._destroyed = false;
    this._touched = {};
    this._forced = false;
    this._focused = null;  // the field with the focus
    this._hasFocus = false;  // the Element has it (moving between fields keeps it)
    this._lastChange = "";
    var self = this;
    // A click on the padding of the box the page drew around the Element focuses it too.
    this._onMountPointDown = function (event) {
      if (event.target === self._mountPoint) { event.preventDefault(); self.focus(); }
    };
    this._build();
    this.update(options || {});
  }

  CardElement.prototype._build = function () {
    var self = this;
    var row = isolatedHost("div", "flex: 1 1 100%; min-width: 0; width: 100%;");
    row.host.className = "standin-element";
    this._host = row.host;
    this._brand = element("span", { className: "standin-brand", "data-brand": "unknown" });
    this._brand.innerHTML = ICONS.unknown;
    function input(name, attributes) {
      var node = element("input", Object.assign({
        type: "text",
        inputmode: "numeric",
        autocomplete: "off",
        autocorrect: "off",
        spellcheck: "false",
        className: "standin-input standin-" + name,
        "aria-invalid": "false",
      }, attributes));
      return node;
    }
    this._inputs = {
      number: input("number", { name: "cardnumber", autocomplete: "cc-number", placeholder: "Card number",
        "aria-label": "Card number", maxlength: "19" }),
      expiry: input("expiry", { name: "exp-date", autocomplete: "cc-exp", placeholder: "MM / YY",
        "aria-label": "Expiration date MM / YY", maxlength: "7" }),
      cvc: input("cvc", { name: "cvc", autocomplete: "cc-csc", placeholder: "CVC",
        "aria-label": "CVC", maxlength: "4" }),
      postal: input("postal", { name: "postal", autocomplete: "postal-code", inputmode: "text",
        placeholder: "Postcode", "aria-label": "Postcode", maxlength: "10" }),
    };
    this._row = element("div", { className: "standin-card" }, [
      element("div", { className: "standin-number-wrap" }, [this._brand, this._inputs.number]),
      element("div", { className: "standin-rest" },
        [this._inputs.expiry, this._inputs.cvc, this._inputs.postal]),
    ]);
    row.root.appendChild(this._row);
    // A click beside the fields (the brand, the gaps) focuses the next field to fill.
    this._row.addEventListener("mousedown", function (event) {
      if (event.target.tagName !== "INPUT") {
        event.preventDefault();
        self.focus();
      }
    });

    var extra = isolatedHost("div", "width: auto;");
    extra.host.className = "standin-element-extra";
    this._extraHost = extra.host;
    this._errorText = element("span");
    this._error = element("p", { className: "standin-error", role: "alert", hidden: "" });
    this._error.innerHTML = ERROR_MARK;
    this._error.appendChild(this._errorText);
    var list = element("ul", { className: "standin-testcards" }, TEST_CARDS.map(function (card) {
      var button = element("button", { type: "button", className: "standin-testcard",
        "data-number": digitsOf(card.number), title: "Use this card", text: card.number });
      button.addEventListener("click", function () { self._useTestCard(digitsOf(card.number)); });
      return element("li", {}, [button, element("span", { className: "standin-testcard-note", text: card.note })]);
    }));
    var note = element("div", { className: "standin-testmode" }, [
      element("div", { className: "standin-testmode-head" }, [
        element("span", { className: "standin-badge", text: "Test mode" }),
        element("span", { text: "Stripe stand-in · any future date, any CVC. Test cards:" }),
      ]),
      list,
    ]);
    extra.root.appendChild(element("div", { className: "standin-extra" }, [this._error, note]));

    Object.keys(this._inputs).forEach(function (name) {
      var node = self._inputs[name];
      node.addEventListener("input", function (event) { self._onInput(name, event); });
      node.addEventListener("keydown", function (event) { self._onKeyDown(name, event); });
      node.addEventListener("focus", function () { self._onFocus(name); });
      node.addEventListener("blur", function () { self._onBlur(name); });
    });
  };

  CardElement.prototype._order = function () {
    var names = ["number", "expiry", "cvc"];
    if (!this._options.hidePostalCode) { names.push("postal"); }
    return names;
  };

  CardElement.prototype._values = function () {
    var number = digitsOf(this._inputs.number.value);
    return {
      number: number,
      brand: brandOf(number),
      expiry: digitsOf(this._inputs.expiry.value),
      cvc: digitsOf(this._inputs.cvc.value),
      postal: this._inputs.postal.value.trim(),
    };
  };

  CardElement.prototype._checks = function () {
    var values = this._values();
    var checks = {
      number: checkNumber(values.number),
      expiry: checkExpiry(values.expiry),
      cvc: checkCvc(values.cvc, values.brand),
    };
    if (!this._options.hidePostalCode) { checks.postal = checkPostal(values.postal); }
    return checks;
  };

  // The error to show: an invalid field at once, an incomplete one once the member has left
  // it, an empty one only after a confirm was refused for it.
  CardElement.prototype._shownError = function (checks, forced) {
    var names = this._order();
    for (var i = 0; i < names.length; i += 1) {
      var check = checks[names[i]];
      var shown = check.state === "invalid" ||
        (check.state === "incomplete" && (forced || this._touched[names[i]])) ||
        (check.state === "empty" && forced);
      if (shown) { return { field: names[i], code: check.code, message: MESSAGES[check.code] }; }
    }
    return null;
  };

  CardElement.prototype._onInput = function (name, event) {
    var node = this._inputs[name];
    var deleting = /^delete/.test(event.inputType || "");
    var atEnd = node.selectionStart === node.value.length;
    var caretDigits = digitsOf(node.value.slice(0, node.selectionStart || 0)).length;
    if (name === "number") {
      var digits = digitsOf(node.value);
      var brand = brandOf(digits);
      digits = digits.slice(0, numberLength(brand));
      node.value = formatNumber(digits, brand);
    } else if (name === "expiry") {
      node.value = formatExpiry(expiryDigits(node.value), deleting);
    } else if (name === "cvc") {
      node.value = digitsOf(node.value).slice(0, cvcLength(this._values().brand));
    } else if (node.value !== node.value.toUpperCase()) {
      node.value = node.value.toUpperCase();
    }
    if (name !== "postal") { placeCaret(node, atEnd ? null : caretDigits); }
    this._forced = false;
    var checks = this._refresh();
    if (!deleting && atEnd && checks[name].state === "complete") { this._advance(name); }
  };

  function placeCaret(node, digitCount) {
    var position = node.value.length;
    if (digitCount !== null) {
      var seen = 0;
      position = 0;
      while (position < node.value.length && seen < digitCount) {
        if (/\d/.test(node.value[position])) { seen += 1; }
        position += 1;
      }
    }
    try { node.setSelectionRange(position, position); } catch (ignored) { /* not focused */ }
  }

  CardElement.prototype._advance = function (name) {
    var names = this._order();
    var next = names[names.indexOf(name) + 1];
    if (next) { this._inputs[next].focus(); }
  };

  CardElement.prototype._onKeyDown = function (name, event) {
    var node = this._inputs[name];
    if (event.key === "Enter") {
      var form = this._mountPoint && this._mountPoint.closest("form");
      if (form) {
        event.preventDefault();
        if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
      }
      return;
    }
    if (event.key === "Backspace" && node.selectionStart === 0 && node.selectionEnd === 0) {
      var names = this._order();
      var previous = names[names.indexOf(name) - 1];
      if (previous) {
        event.preventDefault();
        var target = this._inputs[previous];
        target.focus();
        target.setSelectionRange(target.value.length, target.value.length);
      }
    }
  };

  CardElement.prototype._onFocus = function (name) {
    this._focused = name;
    clearTimeout(this._blurTimer);
    this._paintBrand(this._checks());
    if (this._mountPoint) { this._mountPoint.classList.add("StripeElement--focus"); }
    if (!this._hasFocus) {
      this._hasFocus = true;
      this._emit("focus", { elementType: "card" });
    }
  };

  CardElement.prototype._onBlur = function (name) {
    var self = this;
    if (this._inputs[name].value) { this._touched[name] = true; }
    this._focused = null;
    this._refresh();
    // Focus moving from one field to the next is not a blur of the Element.
    this._blurTimer = setTimeout(function () {
      if (self._focused !== null || !self._hasFocus) { return; }
      self._hasFocus = false;
      if (self._mountPoint) { self._mountPoint.classList.remove("StripeElement--focus"); }
      self._emit("blur", { elementType: "card" });
    }, 0);
  };

  CardElement.prototype._paintBrand = function (checks) {
    var brand = this._values().brand;
    var shown = this._shownError(checks, this._forced);
    var icon = shown ? "error" : this._focused === "cvc" ? "cvc" : brand;
    if (this._brand.dataset.brand !== icon) {
      this._brand.dataset.brand = icon;
      this._brand.innerHTML = ICONS[icon] || ICONS.unknown;
    }
  };

  // Repaint the fields and the error line; send a change event when anything changed (unless
  // `quietly`: mounting sends none, as on Stripe).
  CardElement.prototype._refresh = function (quietly) {
    var self = this;
    var checks = this._checks();
    var shown = this._shownError(checks, this._forced);
    Object.keys(this._inputs).forEach(function (name) {
      var check = checks[name];
      var invalid = Boolean(shown && shown.field === name) || Boolean(check && check.state === "invalid");
      self._inputs[name].setAttribute("aria-invalid", invalid ? "true" : "false");
      self._inputs[name].classList.toggle("standin-done", Boolean(check && check.state === "complete"));
    });
    this._paintBrand(checks);
    this._inputs.postal.hidden = Boolean(this._options.hidePostalCode);
    this._error.hidden = !shown;
    this._errorText.textContent = shown ? shown.message : "";
    var complete = Object.keys(checks).every(function (name) { return checks[name].state === "complete"; });
    var empty = Object.keys(checks).every(function (name) { return checks[name].state === "empty"; });
    var mount = this._mountPoint;
    if (mount) {
      mount.classList.toggle("StripeElement--invalid", Boolean(shown));
      mount.classList.toggle("StripeElement--complete", complete);
      mount.classList.toggle("StripeElement--empty", empty);
    }
    var change = {
      elementType: "card",
      empty: empty,
      complete: complete,
      brand: this._values().brand,
      error: shown ? { type: "validation_error", code: shown.code, message: shown.message } : undefined,
      value: this._options.hidePostalCode ? {} : { postalCode: this._values().postal },
    };
    var fingerprint = JSON.stringify(change) + Object.keys(this._inputs).map(function (name) {
      return self._inputs[name].value;
    }).join("|");
    if (fingerprint !== this._lastChange) {
      this._lastChange = fingerprint;
      if (!quietly) { this._emit("change", change); }
    }
    return checks;
  };

  CardElement.prototype._emit = function (name, payload) {
    (this._listeners[name] || []).slice().forEach(function (handler) {
      try { handler(payload); } catch (error) { setTimeout(function () { throw error; }, 0); }
    });
  };

  CardElement.prototype._useTestCard = function (number) {
    var brand = brandOf(number);
    this._inputs.number.value = formatNumber(number, brand);
    if (!this._inputs.expiry.value) {
      var year = String((new Date().getFullYear() + 4) % 100).padStart(2, "0");
      this._inputs.expiry.value = "12 / " + year;
    }
    if (!this._inputs.cvc.value) { this._inputs.cvc.value = brand === "amex" ? "1234" : "123"; }
    if (!this._inputs.postal.value && !this._options.hidePostalCode) { this._inputs.postal.value = "12345"; }
    this._touched = { number: true, expiry: true, cvc: true, postal: true };
    this._forced = false;
    this._refresh();
  };

  // The refusal confirm* answers for an unfinished card (and shows it under the row).
  CardElement.prototype._validationError = function () {
    var shown = this._shownError(this._checks(), true);
    if (!shown) { return null; }
    this._forced = true;
    this._refresh();
    return { type: "validation_error", code: shown.code, message: shown.message };
  };

  CardElement.prototype._cardParams = function () {
    var values = this._values();
    return {
      number: values.number,
      exp_month: Number(values.expiry.slice(0, 2)),
      exp_year: 2000 + Number(values.expiry.slice(2)),
      cvc: values.cvc,
    };
  };

  CardElement.prototype.mount = function (target) {
    if (this._destroyed) {
      throw integrationError("This Element has already been destroyed. Please create a new one.");
    }
    var node = typeof target === "string" ? document.querySelector(target) : target;
    if (typeof target === "string" && !node) {
      throw integrationError("The selector you specified (" + target + ") applies to no DOM elements that are currently on the page.\nMake sure the element exists on the page before calling mount().");
    }
    if (!(node instanceof window.Element)) {
      throw integrationError("Invalid DOM element. Make sure to call mount() with a valid DOM element or selector.");
    }
    if (this._mountPoint) {
      if (this._mountPoint === node) { return; }
      throw integrationError("This Element is already mounted. Use `unmount()` to unmount the Element before re-mounting.");
    }
    this._mountPoint = node;
    this._mountPoint.addEventListener("mousedown", this._onMountPointDown);
    node.classList.add("StripeElement");
    node.appendChild(this._host);
    node.insertAdjacentElement("afterend", this._extraHost);
    this._lastChange = "";
    this._refresh(true);
    var self = this;
    setTimeout(function () { self._emit("ready", { elementType: "card" }); }, 0);
  };

  CardElement.prototype.unmount = function () {
    if (!this._mountPoint) { return; }
    this._mountPoint.classList.remove("StripeElement", "StripeElement--focus", "StripeElement--invalid",
      "StripeElement--complete", "StripeElement--empty");
    this._mountPoint.removeEventListener("mousedown", this._onMountPointDown);
    this._host.remove();
    this._extraHost.remove();
    this._mountPoint = null;
  };

  CardElement.prototype.destroy = function () {
    this.unmount();
    this._destroyed = true;
    this._listeners = {};
    if (this._group._card === this) { this._group._card = null; }
  };

  CardElement.prototype.on = function (name, handler) {
    (this._listeners[name] = this._listeners[name] || []).push(handler);
    return this;
  };

  CardElement.prototype.off = function (name, handler) {
    var handlers = this._listeners[name] || [];
    this._listeners[name] = handler ? handlers.filter(function (h) { return h !== handler; }) : [];
    return this;
  };

  CardElement.prototype.once = function (name, handler) {
    var self = this;
    function wrapper(payload) { self.off(name, wrapper); handler(payload); }
    return this.on(name, wrapper);
  };

  CardElement.prototype.update = function (options) {
    var self = this;
    options = options || {};
    if ("hidePostalCode" in options) { this._options.hidePostalCode = Boolean(options.hidePostalCode); }
    if ("disabled" in options) {
      Object.keys(this._inputs).forEach(function (name) { self._inputs[name].disabled = Boolean(options.disabled); });
    }
    if (options.value && typeof options.value.postalCode === "string") {
      this._inputs.postal.value = options.value.postalCode;
    }
    if (options.style) { this._applyStyle(options.style); }
    if (this._mountPoint) { this._refresh(); }
  };

  CardElement.prototype._applyStyle = function (style) {
    var host = this._host;
    var extra = this._extraHost;
    var base = style.base || {};
    Object.keys(STYLE_PROPERTIES).forEach(function (name) {
      if (base[name]) { host.style.setProperty(STYLE_PROPERTIES[name], String(base[name])); }
    });
    if (base["::placeholder"] && base["::placeholder"].color) {
      host.style.setProperty("--standin-placeholder", base["::placeholder"].color);
    }
    if (style.invalid && style.invalid.color) {
      host.style.setProperty("--standin-invalid-color", style.invalid.color);
      extra.style.setProperty("--standin-invalid-color", style.invalid.color);
    }
    if (style.complete && style.complete.color) {
      host.style.setProperty("--standin-complete-color", style.complete.color);
    }
  };

  CardElement.prototype.clear = function () {
    var self = this;
    Object.keys(this._inputs).forEach(function (name) { self._inputs[name].value = ""; });
    this._touched = {};
    this._forced = false;
    this._refresh();
  };

  CardElement.prototype.focus = function () {
    var checks = this._checks();
    var names = this._order();
    var next = names.filter(function (name) { return checks[name].state !== "complete"; })[0] || names[0];
    this._inputs[next].focus();
  };

  CardElement.prototype.blur = function () {
    var self = this;
    Object.keys(this._inputs).forEach(function (name) { self._inputs[name].blur(); });
  };

  function Elements(options) {
    this._options = options || {};
    this._card = null;
  }

  Elements.prototype.create = function (type, options) {
    if (type !== "card") {
      throw integrationError("The Stripe stand-in implements only the 'card' Element, not '" + type + "'.");
    }
    if (this._card) { throw integrationError("Can only create one Element of type card."); }
    this._card = new CardElement(this, options);
    return this._card;
  };

  Elements.prototype.getElement = function (type) {
    return type === "card" ? this._card : null;
  };

  // --- 3-D Secure ---------------------------------------------------------------------------

  // Opens the stand-in's 3-D Secure page in a modal; resolves {success} when the page reports
  // (it has told the API already) or {closed: true} when the member closes the modal.
  function authenticate(client, intentId, clientSecret) {
    return new Promise(function (resolve) {
      var layer = isolatedHost("div", "position: fixed; inset: 0; z-index: 2147483647;");
      layer.host.className = "standin-3ds";
      var url = BASE + "/_standin/3ds/" + encodeURIComponent(intentId) + "?" +
        encode({ client_secret: clientSecret, key: client._key });
      var frame = element("iframe", { src: url, title: "3D Secure authentication",
        allow: "payment", name: "standin-3ds-" + intentId });
      var close = element("button", { type: "button", className: "standin-close",
        "aria-label": "Close", text: "×" });
      var dialog = element("div", { className: "standin-dialog", role: "dialog", "aria-modal": "true",
        "aria-label": "3D Secure authentication" }, [frame, close]);
      layer.root.appendChild(element("div", { className: "standin-overlay" }, [dialog]));
      var overflow = document.documentElement.style.overflow;

      function finish(outcome) {
        window.removeEventListener("message", onMessage);
        document.removeEventListener("keydown", onKey, true);
        layer.host.remove();
        document.documentElement.style.overflow = overflow;
        resolve(outcome);
      }
      function onMessage(event) {
        var data = event.data && event.data.standin3ds;
        if (event.origin !== BASE_ORIGIN || !data || data.intent !== intentId) { return; }
        finish({ success: Boolean(data.success), closed: Boolean(data.closed) });
      }
      function onKey(event) { if (event.key === "Escape") { finish({ closed: true }); } }

      window.addEventListener("message", onMessage);
      document.addEventListener("keydown", onKey, true);
      close.addEventListener("click", function () { finish({ closed: true }); });
      document.documentElement.style.overflow = "hidden";
      document.body.appendChild(layer.host);
      frame.focus();
    });
  }

  var KINDS = {
    setup: { path: "setup_intents", prefix: "seti_", result: "setupIntent", key: "setup_intent",
      lastError: "last_setup_error", failure: "setup_intent_authentication_failure" },
    payment: { path: "payment_intents", prefix: "pi_", result: "paymentIntent", key: "payment_intent",
      lastError: "last_payment_error", failure: "payment_intent_authentication_failure" },
  };

  function intentId(clientSecret, kind, method) {
    var found = typeof clientSecret === "string" && clientSecret.match(/^([a-z]+_[A-Za-z0-9]+)_secret_[^\s]+$/);
    if (!found || found[1].indexOf(kind.prefix) !== 0) {
      throw integrationError("Invalid value for " + method + " intent secret: value should be a client_secret " +
        "string of the form " + kind.prefix + "…_secret_…. You specified: " + clientSecret + ".");
    }
    return found[1];
  }

  function kindOfSecret(clientSecret) {
    return typeof clientSecret === "string" && clientSecret.indexOf("seti_") === 0 ? KINDS.setup : KINDS.payment;
  }

  function needsAuthentication(intent) {
    var action = intent.next_action;
    return intent.status === "requires_action" &&
      (!action || action.type === "use_stripe_sdk" || action.type === "redirect_to_url");
  }

  function answerWith(kind, intent) {
    var result = {};
    result[kind.result] = intent;
    return result;
  }

  function retrieve(client, kind, id, clientSecret) {
    return call(client, "GET", "/v1/" + kind.path + "/" + id, { client_secret: clientSecret });
  }

  // After confirm: 3-D Secure if the intent asks for it, then what the intent says.
  function settle(client, kind, intent, clientSecret) {
    if (!needsAuthentication(intent)) { return Promise.resolve(answerWith(kind, intent)); }
    var id = intent.id;
    return authenticate(client, id, clientSecret)
      .then(function (outcome) {
        if (!outcome.closed) { return null; }
        return call(client, "POST", "/v1/" + kind.path + "/" + id + "/_authenticate",
          { client_secret: clientSecret, success: false });
      })
      .then(function () { return retrieve(client, kind, id, clientSecret); })
      .then(function (answer) {
        if (answer.error) { return { error: answer.error }; }
        var current = answer.body;
        var lastError = current[kind.lastError];
        if (current.status === "requires_payment_method" && lastError) {
          var error = Object.assign({}, lastError, {
            type: lastError.type || "invalid_request_error",
            code: lastError.code || kind.failure,
            message: lastError.message || "Authentication failed.",
          });
          error[kind.key] = current;
          return { error: error };
        }
        if (current.status === "requires_action") {
          var unfinished = { type: "invalid_request_error", code: kind.failure,
            message: "The 3-D Secure authentication was not completed." };
          unfinished[kind.key] = current;
          return { error: unfinished };
        }
        return answerWith(kind, current);
      });
  }

  function billingWithPostcode(card, billing) {
    var details = Object.assign({}, billing || {});
    details.address = Object.assign({}, details.address || {});
    var postal = card._values().postal;
    if (!details.address.postal_code && postal && !card._options.hidePostalCode) {
      details.address.postal_code = postal;
    }
    if (!Object.keys(details.address).length) { delete details.address; }
    return details;
  }

  // Resolves {id} of the PaymentMethod to confirm with, {error}, or {} when none is given.
  function paymentMethodFor(client, data) {
    var method = data && data.payment_method;
    if (!method) { return Promise.resolve({}); }
    if (typeof method === "string") { return Promise.resolve({ id: method }); }
    if (!(method.card instanceof CardElement)) {
      return Promise.reject(integrationError("payment_method.card must be a card Element made by stripe.elements().create('card')."));
    }
    return createCardMethod(client, method.card, method.billing_details).then(function (answer) {
      return answer.error ? { error: answer.error } : { id: answer.paymentMethod.id };
    });
  }

  function createCardMethod(client, card, billing) {
    if (!card._mountPoint) {
      return Promise.reject(integrationError("The card Element is not mounted: call mount() before using it."));
    }
    var refusal = card._validationError();
    if (refusal) { return Promise.resolve({ error: refusal }); }
    return call(client, "POST", "/v1/payment_methods", {
      type: "card",
      card: card._cardParams(),
      billing_details: billingWithPostcode(card, billing),
    }).then(function (answer) {
      return answer.error ? { error: answer.error } : { paymentMethod: answer.body };
    });
  }

  function confirm(client, kind, method, clientSecret, data) {
    var id;
    try { id = intentId(clientSecret, kind, method); } catch (error) { return Promise.reject(error); }
    return paymentMethodFor(client, data).then(function (chosen) {
      if (chosen.error) { return { error: chosen.error }; }
      var params = { client_secret: clientSecret };
      if (chosen.id) { params.payment_method = chosen.id; }
      return call(client, "POST", "/v1/" + kind.path + "/" + id + "/confirm", params).then(function (answer) {
        if (answer.error) { return { error: answer.error }; }
        return settle(client, kind, answer.body, clientSecret);
      });
    });
  }

  function nextAction(client, kind, method, clientSecret) {
    var id;
    try { id = intentId(clientSecret, kind, method); } catch (error) { return Promise.reject(error); }
    return retrieve(client, kind, id, clientSecret).then(function (answer) {
      if (answer.error) { return { error: answer.error }; }
      return settle(client, kind, answer.body, clientSecret);
    });
  }

  // --- Stripe(publishableKey, options) ----------------------------------------------------

  function StripeClient(key, options) {
    if (typeof key !== "string" || !key) {
      throw integrationError("Please call Stripe() with your publishable key. You used an empty string.");
    }
    if (/^(sk|rk)_/.test(key)) {
      throw integrationError("You should not use your secret key with Stripe.js.\nPlease pass a publishable key instead.");
    }
    this._key = key;
    this._account = (options && options.stripeAccount) || "";
    controllerFrame();  // load it now, so the first confirm does not wait for it
  }

  StripeClient.prototype.elements = function (options) { return new Elements(options); };

  StripeClient.prototype.confirmCardSetup = function (clientSecret, data) {
    return confirm(this, KINDS.setup, "confirmCardSetup", clientSecret, data);
  };

  StripeClient.prototype.confirmCardPayment = function (clientSecret, data) {
    return confirm(this, KINDS.payment, "confirmCardPayment", clientSecret, data);
  };

  StripeClient.prototype.handleCardAction = function (clientSecret) {
    return nextAction(this, KINDS.payment, "handleCardAction", clientSecret);
  };

  StripeClient.prototype.handleNextAction = function (options) {
    var clientSecret = options && options.clientSecret;
    return nextAction(this, kindOfSecret(clientSecret), "handleNextAction", clientSecret);
  };

  StripeClient.prototype.retrieveSetupIntent = function (clientSecret) {
    return this._retrieve(KINDS.setup, "retrieveSetupIntent", clientSecret);
  };

  StripeClient.prototype.retrievePaymentIntent = function (clientSecret) {
    return this._retrieve(KINDS.payment, "retrievePaymentIntent", clientSecret);
  };

  StripeClient.prototype._retrieve = function (kind, method, clientSecret) {
    var id;
    try { id = intentId(clientSecret, kind, method); } catch (error) { return Promise.reject(error); }
    return retrieve(this, kind, id, clientSecret).then(function (answer) {
      return answer.error ? { error: answer.error } : answerWith(kind, answer.body);
    });
  };

  // createPaymentMethod({type: "card", card, billing_details}) or the older
  // createPaymentMethod("card", card, {billing_details}).
  StripeClient.prototype.createPaymentMethod = function (options, card, data) {
    if (typeof options === "string") {
      options = { type: options, card: card, billing_details: data && data.billing_details };
    }
    if (!options || options.type !== "card" || !(options.card instanceof CardElement)) {
      return Promise.reject(integrationError("createPaymentMethod: the Stripe stand-in takes {type: 'card', card: <card Element>}."));
    }
    return createCardMethod(this, options.card, options.billing_details);
  };

  function Stripe(key, options) { return new StripeClient(key, options); }
  Stripe.version = 3;
  Stripe.standin = { base: BASE, testCards: TEST_CARDS };
  window.Stripe = Stripe;
})();
