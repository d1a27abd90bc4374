"""The Stripe.js stand-in and its 3-D Secure test page, for pages that pay through the stand-in.

    GET /js.stripe.com/v3/            Stripe.js (also /v3/): `window.Stripe(publishableKey)`
                                      with the card Element and the confirm/retrieve calls
    GET /_standin/stripejs/frame      the hidden frame Stripe.js makes its API calls through
    GET /_standin/3ds/{intent_id}     the 3-D Secure page (?client_secret=…&key=pk_test_…)
    GET /_standin/test-cards          the test cards the card Element lists, as JSON

The script, its styles and both pages are files in ../static/; the script is served with the
test cards (`cards.LISTED`) and the styles written into it.
"""

from __future__ import annotations

import functools
import html
import json
from pathlib import Path
from string import Template

from starlette.responses import HTMLResponse, JSONResponse, Response

from .. import cards
from ..resources import connect
from . import page

STATIC = Path(__file__).resolve().parents[1] / "static"
NO_STORE = {"Cache-Control": "no-store"}

# Intent id prefix → (object type in the store, API path, what the page calls it).
_INTENT_KINDS = {
    "seti": ("setup_intent", "setup_intents", "SetupIntent"),
    "pi": ("payment_intent", "payment_intents", "PaymentIntent"),
}
_ZERO_DECIMAL = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv"}
    | {"xaf", "xof", "xpf"}
)
_SYMBOLS = {"eur": "€", "usd": "$", "gbp": "£", "chf": "CHF ", "jpy": "¥"}
_BRANDS = {"visa": "Visa", "mastercard": "Mastercard", "amex": "American Express"}


def listed_cards() -> list[dict]:
    """`cards.LISTED` with each card's brand, as the card Element shows them."""
    return [
        {
            "number": number,
            "note": note,
            "brand": cards.BY_NUMBER[number.replace(" ", "")].brand,
        }
        for number, note in cards.LISTED
    ]


@functools.cache
def _static_text(name: str) -> str:
    return (STATIC / name).read_text()


@functools.cache
def script() -> str:
    text = _static_text("stripe.js")
    text = _fill(text, "/*standin:test-cards*/[]", json.dumps(listed_cards(), ensure_ascii=False))
    return _fill(text, '/*standin:css*/""', json.dumps(_static_text("stripe.css")))


def _fill(text: str, marker: str, value: str) -> str:
    if text.count(marker) != 1:
        raise RuntimeError(f"static/stripe.js should hold {marker} once")
    return text.replace(marker, value)


def _template(name: str) -> Template:
    return Template(_static_text(name))


@page("/js.stripe.com/v3/")
@page("/v3/")
async def stripe_js(request):
    return Response(
        script(),
        media_type="application/javascript; charset=utf-8",
        headers={**NO_STORE, "Access-Control-Allow-Origin": "*"},
    )


@page("/_standin/stripejs/frame")
async def controller_frame(request):
    return HTMLResponse(_static_text("frame.html"), headers=NO_STORE)


@page("/_standin/test-cards")
async def listed_test_cards(request):
    return JSONResponse(listed_cards(), headers={"Access-Control-Allow-Origin": "*"})


@page("/_standin/3ds/{intent_id}")
async def three_d_secure(request):
    intent_id = request.path_params["intent_id"]
    client_secret = request.query_params.get("client_secret", "")
    kind = _INTENT_KINDS.get(intent_id.split("_", 1)[0])
    standin = request.app.state.standin
    with standin.lock:  # read what the page shows; nothing is changed here
        intent = standin.objects.get(kind[0], {}).get(intent_id) if kind else None
        if intent is None or not client_secret or intent["client_secret"] != client_secret:
            return _not_found(intent_id)
        details = _details(standin, intent)
        status = intent["status"]
    actionable = status == "requires_action"
    if actionable:
        explanation = (
            "This is a test 3D Secure 2 authentication for a transaction. In live mode, the "
            "cardholder would confirm it in their banking app or with a one-time code."
        )
    else:
        explanation = (
            f"There is nothing to authenticate: this {kind[2]} has the status "
            f"{status.replace('_', ' ')}."
        )
    config = {
        "intent": intent_id,
        "path": kind[1],
        "client_secret": client_secret,
        "key": request.query_params.get("key", ""),
    }
    body = _template("three_d_secure.html").substitute(
        explanation=html.escape(explanation),
        details="".join(
            f"<dt>{html.escape(term)}</dt><dd>{html.escape(value)}</dd>" for term, value in details
        ),
        actions_hidden="" if actionable else " hidden",
        close_hidden=" hidden" if actionable else "",
        config=_json_for_html(config),
    )
    return HTMLResponse(body, headers=NO_STORE)


def _details(standin, intent: dict) -> list[tuple[str, str]]:
    """What the page tells the cardholder: merchant, amount, card, description."""
    rows = []
    merchant = _merchant(standin, intent)
    if merchant:
        rows.append(("Merchant", merchant))
    if intent["object"] == "payment_intent":
        rows.append(("Amount", format_amount(intent.get("amount"), intent.get("currency"))))
    else:
        rows.append(("Amount", "No charge now: the card is saved for later payments"))
    payment_method = intent.get("payment_method")
    if isinstance(payment_method, str):
        payment_method = standin.objects.get("payment_method", {}).get(payment_method)
    card = (payment_method or {}).get("card")
    if card:
        brand = _BRANDS.get(card["brand"], card["brand"].title())
        rows.append(("Card", f"{brand} •••• {card['last4']}"))
    if intent.get("description"):
        rows.append(("Description", intent["description"]))
    return rows


def _merchant(standin, intent: dict) -> str:
    """Whom the cardholder pays, as Stripe shows it: the connected account the intent is made
    on behalf of, else the platform (destination charges are the platform's)."""
    account = standin.objects.get("account", {}).get(intent.get("on_behalf_of") or "")
    if account:
        profile = account.get("business_profile") or {}
        dashboard = (account.get("settings") or {}).get("dashboard") or {}
        return profile.get("name") or dashboard.get("display_name") or account["id"]
    return connect.PLATFORM_NAME


def format_amount(amount, currency) -> str:
    if not isinstance(amount, int) or not currency:
        return "—"
    currency = currency.lower()
    number = f"{amount:,}" if currency in _ZERO_DECIMAL else f"{amount / 100:,.2f}"
    symbol = _SYMBOLS.get(currency)
    return f"{symbol}{number}" if symbol else f"{number} {currency.upper()}"


def _json_for_html(value) -> str:
    """JSON safe inside a <script> element."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _not_found(intent_id: str) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><html lang='en'><meta charset='utf-8'><title>3D Secure 2 Test Page</title>"
        "<body style='font-family:system-ui,sans-serif;color:#30313d;padding:24px'>"
        "<h1 style='font-size:20px'>No such intent</h1>"
        f"<p>The stand-in has no intent {html.escape(intent_id)} with this client secret.</p>",
        status_code=404,
        headers=NO_STORE,
    )
