"""The Stripe.js stand-in and its 3-D Secure page (devtools/stripe_standin/pages/stripejs.py).

The first tests fetch the script and pages from a stand-in server over plain HTTP. The browser
tests (marked `browser`) drive headless Chromium through a copy of the pledge page served from
another origin, as in development: the platform's own static/js/pledge-card.js and
static/css/app.css, the markup of templates/pledges/card.html and the platform's
Content-Security-Policy (core.middleware.build_policy), with a SetupIntent made through the SDK.
"""

from __future__ import annotations

import html
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import stripe

from core.middleware import build_policy
from devtools.stripe_standin import cards, process
from devtools.stripe_standin.pages import stripejs

BASE_DIR = Path(__file__).resolve().parents[2]
SCREENS = Path("/work/notes/screens")
PUBLISHABLE_KEY = "pk_test_standin"


@pytest.fixture(scope="module")
def standin():
    server = process.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def sdk(standin):
    return stripe.StripeClient("sk_test_x", base_addresses={"api": standin.base_url})


def fetch(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


def new_setup_intent(sdk):
    customer = sdk.v1.customers.create(params={"email": "nora@example.org"})
    return sdk.v1.setup_intents.create(params={"customer": customer.id, "usage": "off_session"})


# --- served over HTTP --------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/js.stripe.com/v3/", "/v3/"])
def test_stripe_js_is_served_as_javascript_with_the_test_cards(standin, path):
    status, content_type, body = fetch(standin.base_url + path)
    assert status == 200
    assert content_type.startswith("application/javascript")
    assert "window.Stripe = Stripe" in body
    for number, note in cards.LISTED:
        assert json.dumps(number) in body and json.dumps(note) in body
    assert "/*standin:" not in body  # both markers were filled in
    assert ".standin-card" in body  # the styles travel inside the script


def test_the_controller_frame_and_the_test_card_list_are_served(standin):
    status, content_type, body = fetch(standin.base_url + "/_standin/stripejs/frame")
    assert (status, content_type.split(";")[0]) == (200, "text/html")
    assert "standinRequest" in body
    status, content_type, body = fetch(standin.base_url + "/_standin/test-cards")
    assert (status, content_type) == (200, "application/json")
    assert [card["number"] for card in json.loads(body)] == [n for n, _ in cards.LISTED]


def test_the_3ds_page_needs_the_intent_s_client_secret(standin, sdk):
    setup_intent = new_setup_intent(sdk)
    url = f"{standin.base_url}/_standin/3ds/{setup_intent.id}"
    assert fetch(url)[0] == 404
    assert fetch(f"{url}?client_secret={setup_intent.id}_secret_wrong")[0] == 404
    assert fetch(f"{standin.base_url}/_standin/3ds/seti_unknown?client_secret=x")[0] == 404
    status, content_type, body = fetch(
        f"{url}?client_secret={setup_intent.client_secret}&key={PUBLISHABLE_KEY}"
    )
    assert (status, content_type.split(";")[0]) == (200, "text/html")
    assert "3D Secure 2 Test Page" in body
    # Not waiting for authentication: the page says so and offers only Close.
    assert "nothing to authenticate" in body and "requires payment method" in body
    assert '<div class="actions" hidden>' in body


def test_the_3ds_page_shows_the_card_and_what_is_asked(standin, sdk):
    setup_intent = new_setup_intent(sdk)
    confirmed = sdk.v1.setup_intents.confirm(
        setup_intent.id, params={"payment_method": "pm_card_authenticationRequiredOnSetup"}
    )
    assert confirmed.status == "requires_action"
    status, _, body = fetch(
        f"{standin.base_url}/_standin/3ds/{setup_intent.id}"
        f"?client_secret={setup_intent.client_secret}&key={PUBLISHABLE_KEY}"
    )
    assert status == 200
    assert "Visa •••• 3155" in body
    assert "<dt>Merchant</dt><dd>Groundswell</dd>" in body
    assert "No charge now" in body
    assert "Complete authentication" in body and "Fail authentication" in body
    config = json.loads(body.split('id="standin-3ds">')[1].split("</script>")[0])
    assert config == {
        "intent": setup_intent.id,
        "path": "setup_intents",
        "client_secret": setup_intent.client_secret,
        "key": PUBLISHABLE_KEY,
    }


def test_amounts_are_shown_in_major_units():
    assert stripejs.format_amount(1000, "eur") == "€10.00"
    assert stripejs.format_amount(123456, "usd") == "$1,234.56"
    assert stripejs.format_amount(500, "jpy") == "¥500"
    assert stripejs.format_amount(250, "sek") == "2.50 SEK"
    assert stripejs.format_amount(None, "eur") == "—"


# --- the pledge page in a browser --------------------------------------------------------

PLEDGE_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Card details</title>
<link rel="stylesheet" href="/static/app.css">
<script src="{stripe_js}"></script>
</head>
<body>
<main class="container">
<div class="pledge-layout">
  <section class="card">
    <p class="eyebrow">Step 2 of 2 · Card details</p>
    <h1>€10.00 for Repair café for Elm Street</h1>
    <p class="muted">You are charged only if the campaign reaches its goal.</p>
    <form id="card-form" class="form" method="post" action="/confirm"
          data-publishable-key="{key}" data-client-secret="{client_secret}"
          data-confirm-url="/confirm">
      <input type="hidden" name="csrfmiddlewaretoken" value="test-token">
      <div class="field">
        <label for="card-element">Card</label>
        <div id="card-element" class="card-element" aria-describedby="card-errors"></div>
        <ul class="errorlist" id="card-errors" role="alert"></ul>
      </div>
      <div class="form-actions">
        <button class="button button-primary" id="card-submit"
                type="submit">Save card and pledge</button>
        <a class="button button-secondary" href="/">Cancel</a>
      </div>
      <p class="help">Your card is saved by Stripe for this pledge.
        Groundswell never sees its number.</p>
    </form>
  </section>
</div>
</main>
<script src="/static/pledge-card.js" defer></script>
</body>
</html>
"""

# A page with the card Element alone, for the API the pledge page does not use.
ELEMENT_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Element</title><script src="{stripe_js}"></script>
<style>
  /* What a careless stylesheet does to every element: none of it may reach the card fields. */
  * {{ font-size: 30px; color: green; letter-spacing: 3px; text-align: right; }}
  div, p, ul, li, span {{ margin: 20px; padding: 20px; border: 2px solid red; }}
  input {{ border: 3px solid red; padding: 12px; width: 50px; background: yellow; }}
  button {{ background: red; padding: 30px; }}
</style>
</head>
<body>
<form id="form"><div id="card-element"></div></form>
<script src="/static/element-page.js"></script>
</body>
</html>
"""

ELEMENT_PAGE_SCRIPT = """
window.events = [];
window.stripe = Stripe(document.documentElement.dataset.key || "pk_test_standin");
window.card = stripe.elements().create("card", {style: {base: {color: "#123456"}}});
["change", "ready", "focus", "blur"].forEach(function (name) {
  card.on(name, function (payload) { events.push({name: name, payload: payload || null}); });
});
card.mount("#card-element");
"""

STATIC_FILES = {
    "/static/app.css": (BASE_DIR / "static/css/app.css", "text/css"),
    "/static/pledge-card.js": (BASE_DIR / "static/js/pledge-card.js", "application/javascript"),
}


class HostPages:
    """The platform's side: pages on their own origin, and what they were sent."""

    def __init__(self, standin_url: str):
        self.standin_url = standin_url
        self.confirmations: list[dict] = []
        self.policy = build_policy(f"{standin_url}/js.stripe.com/v3/", standin_url, [])
        host = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                stripe_js = f"{host.standin_url}/js.stripe.com/v3/"
                if url.path == "/pledge":
                    body = PLEDGE_PAGE.format(
                        stripe_js=stripe_js,
                        key=PUBLISHABLE_KEY,
                        client_secret=html.escape(query.get("client_secret", "")),
                    )
                    self.answer(body, "text/html")
                elif url.path == "/element":
                    self.answer(ELEMENT_PAGE.format(stripe_js=stripe_js), "text/html")
                elif url.path == "/static/element-page.js":
                    self.answer(ELEMENT_PAGE_SCRIPT, "application/javascript")
                elif url.path in STATIC_FILES:
                    path, content_type = STATIC_FILES[url.path]
                    self.answer(path.read_text(), content_type)
                elif url.path == "/done":
                    self.answer(
                        "<!doctype html><title>Pledged</title><h1>Pledged</h1>", "text/html"
                    )
                else:
                    self.send_error(404)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                fields = self.rfile.read(length).decode("latin-1")
                host.confirmations.append({"body": fields})
                self.answer(json.dumps({"redirect": "/done"}), "application/json")

            def answer(self, body: str, content_type: str):
                payload = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", f"{content_type}; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Content-Security-Policy", host.policy)
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def host(standin):
    pages = HostPages(standin.base_url)
    yield pages
    pages.stop()


@pytest.fixture
def page(browser):
    """The shared browser (tests/browser_fixtures.py), watched for script errors."""
    context = browser.new_context(viewport={"width": 1000, "height": 760})
    page = context.new_page()
    page.set_default_timeout(8_000)
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))

    def console(message):
        # Chromium logs each 4xx answer (a 402 decline) as "Failed to load resource".
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(message.text)

    page.on("console", console)
    yield page
    context.close()
    assert not problems, problems  # no script errors, no CSP refusals


def open_pledge_page(page, host, sdk):
    setup_intent = new_setup_intent(sdk)
    query = urllib.parse.urlencode({"client_secret": setup_intent.client_secret})
    page.goto(f"{host.url}/pledge?{query}")
    page.locator("#card-element input[name=cardnumber]").wait_for()
    return setup_intent


def type_card(page, number, expiry="1234", cvc="123", postcode="10115", *, key_by_key=False):
    """Enter a card as a person does, without moving the focus: the Element moves it from field
    to field. Each field's text goes in at once (as when pasted) unless `key_by_key`."""
    page.locator("#card-element input[name=cardnumber]").click()
    if key_by_key:
        page.keyboard.type(number + expiry + cvc + postcode)
        return
    for text in (number, expiry, cvc, postcode):
        if text:
            page.keyboard.insert_text(text)


def card_field(page, name):
    return page.locator(f"#card-element input[name={name}]")


def submit(page):
    page.get_by_role("button", name="Save card and pledge").click()


three_d_secure = "iframe[title='3D Secure authentication']"


@pytest.mark.browser
def test_4242_saves_the_card_and_the_pledge_page_goes_on(page, host, sdk, standin):
    setup_intent = open_pledge_page(page, host, sdk)
    type_card(page, "4242424242424242", key_by_key=True)
    assert card_field(page, "cardnumber").input_value() == "4242 4242 4242 4242"
    assert card_field(page, "exp-date").input_value() == "12 / 34"
    assert card_field(page, "cvc").input_value() == "123"
    assert card_field(page, "postal").input_value() == "10115"
    assert page.locator("#card-element .standin-brand").get_attribute("data-brand") == "visa"
    assert "StripeElement--complete" in page.locator("#card-element").get_attribute("class")

    # One row, in Stripe's order, inside the box the page draws.
    boxes = [
        card_field(page, name).bounding_box()
        for name in ("cardnumber", "exp-date", "cvc", "postal")
    ]
    frame = page.locator("#card-element").bounding_box()
    assert len({round(box["y"]) for box in boxes}) == 1
    assert [box["x"] for box in boxes] == sorted(box["x"] for box in boxes)
    assert all(
        frame["x"] < box["x"] and box["x"] + box["width"] <= frame["x"] + frame["width"]
        for box in boxes
    )
    assert frame["height"] < 60
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.locator("#card-form").screenshot(path=str(SCREENS / "standin-card-element.png"))

    page.keyboard.press("Enter")  # submits the page's form, as in Stripe's Element
    page.wait_for_url(f"{host.url}/done")
    saved = sdk.v1.setup_intents.retrieve(setup_intent.id)
    assert saved.status == "succeeded"
    payment_method = sdk.v1.payment_methods.retrieve(saved.payment_method)
    assert payment_method.card.last4 == "4242"
    assert payment_method.customer == saved.customer
    assert payment_method.billing_details.address.postal_code == "10115"
    assert f'name="setup_intent"\r\n\r\n{setup_intent.id}\r\n' in host.confirmations[-1]["body"]


@pytest.mark.browser
def test_a_card_declined_when_saved_shows_stripe_s_message(page, host, sdk):
    setup_intent = open_pledge_page(page, host, sdk)
    type_card(page, "4000000000000002")
    submit(page)
    errors = page.locator("#card-errors")
    errors.get_by_text("Your card was declined.").wait_for()
    assert page.get_by_role("button", name="Save card and pledge").is_enabled()
    refused = sdk.v1.setup_intents.retrieve(setup_intent.id)
    assert refused.status == "requires_payment_method"
    assert refused.last_setup_error.decline_code == "generic_decline"


@pytest.mark.browser
def test_3d_secure_complete_saves_the_card(page, host, sdk):
    setup_intent = open_pledge_page(page, host, sdk)
    type_card(page, "4000002500003155")
    submit(page)
    challenge = page.frame_locator(three_d_secure)
    challenge.get_by_role("heading", name="3D Secure 2 Test Page").wait_for()
    challenge.get_by_text("Visa •••• 3155").wait_for()
    assert challenge.get_by_role("button", name="Close").is_hidden()  # only when nothing to do
    page.screenshot(path=str(SCREENS / "standin-3ds.png"))
    challenge.get_by_role("button", name="Complete authentication").click()
    page.wait_for_url(f"{host.url}/done")
    assert page.locator(three_d_secure).count() == 0
    assert sdk.v1.setup_intents.retrieve(setup_intent.id).status == "succeeded"


@pytest.mark.browser
def test_3d_secure_fail_refuses_the_card(page, host, sdk):
    setup_intent = open_pledge_page(page, host, sdk)
    type_card(page, "4000002500003155")
    submit(page)
    page.frame_locator(three_d_secure).get_by_role("button", name="Fail authentication").click()
    page.locator("#card-errors").get_by_text("authentication failed").wait_for()
    assert page.locator(three_d_secure).count() == 0
    refused = sdk.v1.setup_intents.retrieve(setup_intent.id)
    assert refused.status == "requires_payment_method"
    assert refused.last_setup_error.code == "setup_intent_authentication_failure"
    assert page.get_by_role("button", name="Save card and pledge").is_enabled()


@pytest.mark.browser
def test_closing_the_3d_secure_modal_fails_authentication(page, host, sdk):
    setup_intent = open_pledge_page(page, host, sdk)
    type_card(page, "4000002500003155")
    submit(page)
    page.frame_locator(three_d_secure).get_by_role(
        "button", name="Complete authentication"
    ).wait_for()
    page.get_by_role("button", name="Close").click()
    page.locator("#card-errors").get_by_text("authentication failed").wait_for()
    assert sdk.v1.setup_intents.retrieve(setup_intent.id).status == "requires_payment_method"


@pytest.mark.browser
def test_an_invalid_number_is_refused_in_the_page(page, host, sdk, standin):
    setup_intent = open_pledge_page(page, host, sdk)
    before = standin.stats()["requests"].get("POST /v1/payment_methods", 0)
    card_field(page, "cardnumber").click()
    page.keyboard.type("4242424242424241")
    inline = page.locator(".standin-error")
    assert inline.inner_text() == "Your card number is invalid."
    assert card_field(page, "cardnumber").get_attribute("aria-invalid") == "true"
    assert page.locator("#card-element .standin-brand").get_attribute("data-brand") == "error"
    assert card_field(page, "cardnumber").evaluate(
        "node => node === node.getRootNode().activeElement"
    )
    submit(page)
    page.locator("#card-errors").get_by_text("Your card number is invalid.").wait_for()
    assert standin.stats()["requests"].get("POST /v1/payment_methods", 0) == before
    assert sdk.v1.setup_intents.retrieve(setup_intent.id).status == "requires_payment_method"


@pytest.mark.browser
def test_expiry_and_security_code_are_checked_inline(page, host, sdk):
    open_pledge_page(page, host, sdk)
    type_card(page, "4242424242424242", expiry="0120", cvc="", postcode="")
    inline = page.locator(".standin-error")
    assert inline.inner_text() == "Your card's expiration year is in the past."
    card_field(page, "exp-date").fill("")
    card_field(page, "exp-date").press_sequentially("1")
    card_field(page, "cvc").click()  # leaving a field half typed
    assert inline.inner_text() == "Your card's expiration date is incomplete."
    card_field(page, "exp-date").click()
    page.keyboard.press("End")
    page.keyboard.type("234")
    assert card_field(page, "exp-date").input_value() == "12 / 34"
    page.keyboard.type("12")
    card_field(page, "postal").click()
    assert inline.inner_text() == "Your card's security code is incomplete."
    submit(page)
    page.locator("#card-errors").get_by_text("Your card's security code is incomplete.").wait_for()


@pytest.mark.browser
def test_a_listed_test_card_fills_the_element(page, host, sdk):
    setup_intent = open_pledge_page(page, host, sdk)
    listed = page.locator(".standin-testcard")
    assert listed.all_inner_texts() == [number for number, _ in cards.LISTED]
    page.get_by_role("button", name="4242 4242 4242 4242").click()
    assert card_field(page, "cardnumber").input_value() == "4242 4242 4242 4242"
    assert card_field(page, "cvc").input_value() == "123"
    submit(page)
    page.wait_for_url(f"{host.url}/done")
    assert sdk.v1.setup_intents.retrieve(setup_intent.id).status == "succeeded"


@pytest.mark.browser
def test_the_element_s_events_and_methods(page, host, sdk):
    page.goto(f"{host.url}/element")
    page.wait_for_function("() => window.events.some(e => e.name === 'ready')")
    card_field(page, "cardnumber").click()
    page.keyboard.type("3782822463")
    assert card_field(page, "cardnumber").input_value() == "3782 822463"
    page.keyboard.type("10005")
    # An Amex number is 15 digits in groups of 4-6-5; its CVC has 4.
    assert card_field(page, "cardnumber").input_value() == "3782 822463 10005"
    page.keyboard.type("1234" + "1234" + "10115")
    changes = page.evaluate("events.filter(e => e.name === 'change').map(e => e.payload)")
    # None at mount (as on Stripe); the first digit's says a card is being typed.
    assert changes[0]["empty"] is False and changes[0]["complete"] is False
    assert changes[0]["brand"] == "unknown" and changes[1]["brand"] == "amex"
    assert changes[-1] == {
        "elementType": "card",
        "empty": False,
        "complete": True,
        "brand": "amex",
        "error": None,  # undefined in the page, as on Stripe
        "value": {"postalCode": "10115"},
    }
    assert page.evaluate("events.filter(e => e.name === 'focus').length") == 1
    page.mouse.click(5, 300)  # outside the Element
    page.wait_for_function("() => events.some(e => e.name === 'blur')")
    assert page.evaluate("events.filter(e => e.name === 'blur').length") == 1

    created = page.evaluate(
        "stripe.createPaymentMethod({type: 'card', card: card, billing_details: {name: 'Nora'}})"
    )
    assert created["paymentMethod"]["card"]["brand"] == "amex"
    assert created["paymentMethod"]["billing_details"]["name"] == "Nora"
    assert created["paymentMethod"]["billing_details"]["address"]["postal_code"] == "10115"

    setup_intent = new_setup_intent(sdk)
    retrieved = page.evaluate(
        "secret => stripe.retrieveSetupIntent(secret)", setup_intent.client_secret
    )
    assert retrieved["setupIntent"]["id"] == setup_intent.id
    wrong = page.evaluate(
        "secret => stripe.retrieveSetupIntent(secret)", f"{setup_intent.id}_secret_wrong"
    )
    assert wrong["error"]["code"] == "resource_missing"

    page.evaluate("card.update({hidePostalCode: true})")
    assert card_field(page, "postal").is_hidden()
    page.evaluate("card.clear()")
    assert card_field(page, "cardnumber").input_value() == ""
    assert page.evaluate("events.at(-1).payload.empty") is True
    page.evaluate("card.destroy()")
    assert page.locator("#card-element input").count() == 0
    assert page.locator(".standin-testcard").count() == 0


@pytest.mark.browser
def test_the_page_s_styles_do_not_reach_the_element(page, host):
    page.goto(f"{host.url}/element")
    page.wait_for_function("() => window.events.some(e => e.name === 'ready')")
    number = card_field(page, "cardnumber")
    style = number.evaluate(
        "node => { const s = getComputedStyle(node); return [s.fontSize, s.borderTopWidth,"
        " s.paddingLeft, s.backgroundColor, s.color, s.letterSpacing]; }"
    )
    assert style == ["16px", "0px", "0px", "rgba(0, 0, 0, 0)", "rgb(18, 52, 86)", "normal"]
    boxes = [
        card_field(page, n).bounding_box() for n in ("cardnumber", "exp-date", "cvc", "postal")
    ]
    assert len({round(box["y"]) for box in boxes}) == 1
    assert page.locator(".standin-element").bounding_box()["height"] == 24
    test_card = page.locator(".standin-testcard").first
    assert test_card.evaluate("node => getComputedStyle(node).paddingTop") == "0px"


def create_payment_intent(sdk, payment_method=None):
    try:
        params = {"amount": 1000, "currency": "eur", "payment_method_types": ["card"]}
        if payment_method:
            params["payment_method"] = payment_method
        return sdk.v1.payment_intents.create(params=params)
    except stripe.InvalidRequestError as error:
        if "Unrecognized request URL" in str(error):
            pytest.skip("the stand-in has no PaymentIntents yet (resources/payment_intents.py)")
        raise


@pytest.mark.browser
def test_confirm_card_payment_with_3d_secure(page, host, sdk):
    payment_intent = create_payment_intent(sdk)
    page.goto(f"{host.url}/element")
    page.wait_for_function("() => window.events.some(e => e.name === 'ready')")
    card_field(page, "cardnumber").click()
    page.keyboard.type("4000002760003184" + "1234" + "123" + "10115")
    page.evaluate(
        "secret => { window.result = null; stripe.confirmCardPayment(secret,"
        " {payment_method: {card: card}}).then(r => { window.result = r; }); }",
        payment_intent.client_secret,
    )
    challenge = page.frame_locator(three_d_secure)
    challenge.get_by_text("€10.00").wait_for()
    challenge.get_by_role("button", name="Complete authentication").click()
    result = page.wait_for_function("() => window.result").json_value()
    assert "error" not in result, result
    assert result["paymentIntent"]["status"] in ("succeeded", "requires_capture")
    assert (
        sdk.v1.payment_intents.retrieve(payment_intent.id).status
        == result["paymentIntent"]["status"]
    )


@pytest.mark.browser
def test_handle_card_action_fails_authentication(page, host, sdk):
    payment_intent = create_payment_intent(sdk)
    sdk.v1.payment_intents.confirm(
        payment_intent.id, params={"payment_method": "pm_card_authenticationRequired"}
    )
    page.goto(f"{host.url}/element")
    page.wait_for_function("() => window.events.some(e => e.name === 'ready')")
    page.evaluate(
        "secret => { window.result = null;"
        " stripe.handleCardAction(secret).then(r => { window.result = r; }); }",
        payment_intent.client_secret,
    )
    page.frame_locator(three_d_secure).get_by_role("button", name="Fail authentication").click()
    result = page.wait_for_function("() => window.result").json_value()
    assert result["error"]["code"] == "payment_intent_authentication_failure"
    assert result["error"]["payment_intent"]["status"] == "requires_payment_method"
