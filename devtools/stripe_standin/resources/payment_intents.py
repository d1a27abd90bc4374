"""PaymentIntents: charging a card now (a saved card off-session, or the member on-session),
3-D Secure included, with Stripe's answers to declines and authentication.

Confirming tries the card by its rules (`cards.py`):

- a card declined when charged (or one declined when saved, charged anyway) fails: a failed
  charge, the PaymentIntent back to `requires_payment_method` with `last_payment_error`, and
  HTTP 402 `card_error` carrying the PaymentIntent, the charge id and the card;
- a card that needs 3-D Secure fails off-session the way Stripe does (402 `card_error`,
  code `authentication_required`, the PaymentIntent in `requires_payment_method`); on-session
  (Stripe.js confirming with the client secret, or the server without `off_session`) it waits
  in `requires_action` until the member passes or fails the challenge (`/_authenticate`, what
  the stand-in's 3-D Secure page calls). A card "unless set up" needs it unless an off-session
  SetupIntent (or a PaymentIntent with setup_future_usage=off_session) saved it;
- otherwise the charge succeeds (`charges.py`: balance transaction, dispute card), the
  PaymentIntent is `succeeded`, and the double-charge detector counts it under its
  `metadata.pledge_id`.

After a failed try the member may confirm again on-session with the PaymentIntent's client
secret and the card (`last_payment_error.payment_method.id`), as Stripe's docs recommend.
Only automatic capture is implemented (`automatic_async` is accepted, and its charge has its
balance transaction at once as with `automatic`), and 3-D Secure only as Stripe.js's
`use_stripe_sdk` action: `return_url` (Stripe's redirect to the bank's page and back) and
`use_stripe_sdk` are refused by name. Statement descriptors follow Stripe's rules (at most 22
characters, at least one letter, none of < > \\ ' " *); the charge shows the suffix after the
account's prefix in `calculated_statement_descriptor`. Lists filter by customer and `created`;
search (`/v1/payment_intents/search`) answers from indexes (`search.py`), lagging behind by
the `search_lag_s` fault switch.
"""

from __future__ import annotations

import secrets

from .. import cards
from ..api import route
from ..errors import card_error, doc_url, invalid, unexpected_state
from ..params import ANY, METADATA, amount, currency, require, take
from ..state import new_id, snapshot
from . import charges, payment_methods, search
from .common import created_bounds, created_matches, list_answer, take_list
from .intents import get_intent, three_d_secure_action

AUTHENTICATION_FAILED = (
    "The provided PaymentMethod has failed authentication. You can provide "
    "payment_method_data or a new PaymentMethod to attempt to fulfill this PaymentIntent again."
)
MAX_DESCRIPTOR = 22
# Stripe's rule for statement descriptors: none of these characters, and at least one letter.
DESCRIPTOR_FORBIDDEN = "<>\\'\"*"
UNFINISHED = ("requires_payment_method", "requires_confirmation", "requires_action")
SEARCH_FIELDS = {
    "amount": search.NUMBER,
    "created": search.NUMBER,
    "currency": search.STRING,
    "customer": search.STRING,
    "metadata": search.METADATA,
    "status": search.STRING,
}
search.register_index("payment_intent", "customer")
_FIELDS = {
    "description": str,
    "metadata": METADATA,
    "receipt_email": str,
    "setup_future_usage": ("off_session", "on_session", ""),
    "statement_descriptor": str,
    "statement_descriptor_suffix": str,
    "transfer_group": str,
}
_CONFIRM = {
    "client_secret": str,
    "off_session": bool,
    "payment_method": str,
    "payment_method_data": {
        "type": ("card",),
        "card": payment_methods._CARD,
        "billing_details": payment_methods._BILLING,
    },
    "receipt_email": str,
    "setup_future_usage": ("off_session", "on_session", ""),
}


@route("POST", "/v1/payment_intents")
def create(call):
    values = take(
        call.params,
        {
            **_FIELDS,
            "amount": int,
            "capture_method": ("automatic", "automatic_async", "manual"),
            "confirm": bool,
            "currency": str,
            "customer": str,
            "off_session": bool,
            "payment_method": str,
            "payment_method_types": [str],
        },
    )
    require(values, "amount", "currency")
    standin = call.standin
    total = amount(values)
    currency_code = currency(values)
    if values.get("capture_method") == "manual":
        raise invalid(
            "capture_method=manual: the Stripe stand-in implements automatic capture only "
            "(no separate capture step); leave capture_method out or send automatic.",
            param="capture_method",
        )
    types = values.get("payment_method_types") or ["card"]
    if types != ["card"]:
        raise invalid(
            "payment_method_types: the Stripe stand-in implements only ['card'].",
            param="payment_method_types",
        )
    if "off_session" in values and not values.get("confirm"):
        raise invalid(
            "off_session can only be used when confirming the PaymentIntent (confirm=true).",
            param="off_session",
        )
    if values.get("customer"):
        standin.get("customer", values["customer"], param="customer")
    _check_descriptors(values)
    payment_method = None
    if values.get("payment_method"):
        payment_method = payment_methods.resolve(call, values["payment_method"])
        payment_methods.check_usable(call, payment_method, values.get("customer"))
    elif values.get("confirm"):
        raise invalid(
            "You cannot confirm this PaymentIntent because it's missing a payment method. To "
            "confirm the PaymentIntent, pass a payment_method along with confirm=true.",
            code="payment_intent_unexpected_state",
        )
    payment_intent_id = new_id("pi")
    payment_intent = {
        "id": payment_intent_id,
        "object": "payment_intent",
        "amount": total,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": values.get("capture_method", "automatic_async"),
        "client_secret": f"{payment_intent_id}_secret_{secrets.token_urlsafe(18)}",
        "confirmation_method": "automatic",
        "created": standin.now(),
        "currency": currency_code,
        "customer": values.get("customer") or None,
        "customer_account": None,
        "description": values.get("description") or None,
        "excluded_payment_method_types": None,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "managed_payments": None,
        "metadata": values.get("metadata", {}),
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": payment_method["id"] if payment_method else None,
        "payment_method_configuration_details": None,
        "payment_method_options": {
            "card": {
                "installments": None,
                "mandate_options": None,
                "network": None,
                "request_three_d_secure": "automatic",
            }
        },
        "payment_method_types": types,
        "processing": None,
        "receipt_email": values.get("receipt_email") or None,
        "review": None,
        "setup_future_usage": values.get("setup_future_usage") or None,
        "shipping": None,
        "source": None,
        "statement_descriptor": values.get("statement_descriptor") or None,
        "statement_descriptor_suffix": values.get("statement_descriptor_suffix") or None,
        "status": "requires_confirmation" if payment_method else "requires_payment_method",
        "transfer_data": None,
        "transfer_group": values.get("transfer_group") or None,
    }
    standin.add(payment_intent, created_at=standin.clock())
    search.index_field(standin, payment_intent, "customer")
    standin.emit("payment_intent.created", payment_intent, request=call.request)
    if values.get("confirm"):
        return _attempt(call, payment_intent, payment_method, off_session=values.get("off_session"))
    return payment_intent


@route("GET", "/v1/payment_intents/{payment_intent_id}", publishable=True)
def retrieve(call, payment_intent_id):
    values = take(call.params, {"client_secret": str})
    return _get(call, payment_intent_id, values)


@route("POST", "/v1/payment_intents/{payment_intent_id}")
def update(call, payment_intent_id):
    values = take(call.params, {**_FIELDS, "amount": int, "currency": str, "payment_method": str})
    payment_intent = _get(call, payment_intent_id, values)
    _check_descriptors(values)
    before_payment = {
        "amount",
        "currency",
        "payment_method",
        "setup_future_usage",
        "statement_descriptor",
        "statement_descriptor_suffix",
    }
    for name in sorted(before_payment & values.keys()):
        if payment_intent["status"] not in ("requires_payment_method", "requires_confirmation"):
            raise unexpected_state(
                "payment_intent",
                f"This PaymentIntent's {name} could not be updated because it has a status of "
                f"{payment_intent['status']}. You may only update the {name} of a PaymentIntent "
                "with one of the following statuses: requires_payment_method, "
                "requires_confirmation.",
            )
    if "amount" in values:
        payment_intent["amount"] = amount(values)
    if "currency" in values:
        payment_intent["currency"] = currency(values)
    if values.get("payment_method"):
        payment_method = payment_methods.resolve(call, values["payment_method"])
        payment_methods.check_usable(call, payment_method, payment_intent["customer"])
        payment_intent["payment_method"] = payment_method["id"]
        payment_intent["status"] = "requires_confirmation"
    if "metadata" in values:
        call.standin.update_metadata(payment_intent, values["metadata"])
    for key in _FIELDS.keys() - {"metadata"}:
        if key in values:
            payment_intent[key] = values[key] or None
    return payment_intent


@route("POST", "/v1/payment_intents/{payment_intent_id}/confirm", publishable=True)
def confirm(call, payment_intent_id):
    values = take(call.params, _CONFIRM)
    payment_intent = _get(call, payment_intent_id, values)
    if payment_intent["status"] not in UNFINISHED:
        raise unexpected_state(
            "payment_intent",
            "You cannot confirm this PaymentIntent because it has a status of "
            f"{payment_intent['status']}.",
        )
    if call.publishable and "off_session" in values:
        raise invalid(
            "off_session cannot be sent with a publishable key: a confirmation from the browser "
            "is on-session.",
            param="off_session",
        )
    if values.get("payment_method_data"):
        data = values["payment_method_data"]
        payment_method = payment_methods.create_card(call, data.get("card") or {}, data)
    elif values.get("payment_method") or payment_intent["payment_method"]:
        payment_method = payment_methods.resolve(
            call, values.get("payment_method") or payment_intent["payment_method"]
        )
    else:
        raise invalid(
            "You cannot confirm this PaymentIntent because it's missing a payment method. To "
            "confirm the PaymentIntent with the card the last attempt used, pass "
            "payment_method=<last_payment_error.payment_method.id>.",
            code="payment_intent_unexpected_state",
        )
    payment_methods.check_usable(call, payment_method, payment_intent["customer"])
    for key in ("receipt_email", "setup_future_usage"):
        if key in values:
            payment_intent[key] = values[key] or None
    return _attempt(call, payment_intent, payment_method, off_session=values.get("off_session"))


@route("POST", "/v1/payment_intents/{payment_intent_id}/_authenticate", publishable=True)
def authenticate(call, payment_intent_id):
    """The stand-in's own endpoint: the member passed (or failed) 3-D Secure."""
    values = take(call.params, {"client_secret": str, "success": bool})
    require(values, "success")
    payment_intent = _get(call, payment_intent_id, values)
    if payment_intent["status"] != "requires_action":
        raise unexpected_state(
            "payment_intent",
            f"This PaymentIntent's status is {payment_intent['status']}; it needs no "
            "authentication.",
        )
    payment_method = call.standin.get("payment_method", payment_intent["payment_method"])
    payment_intent["next_action"] = None
    if values["success"]:
        return _charge(call, payment_intent, payment_method, authenticated=True)
    error = {
        "code": "payment_intent_authentication_failure",
        "message": AUTHENTICATION_FAILED,
        "type": "invalid_request_error",
    }
    _back_to_payment_method(call, payment_intent, payment_method, error)
    call.standin.emit("payment_intent.payment_failed", payment_intent, request=call.request)
    return payment_intent


@route("POST", "/v1/payment_intents/{payment_intent_id}/cancel")
def cancel(call, payment_intent_id):
    values = take(
        call.params,
        {"cancellation_reason": ("abandoned", "duplicate", "fraudulent", "requested_by_customer")},
    )
    payment_intent = _get(call, payment_intent_id, values)
    if payment_intent["status"] in ("succeeded", "canceled"):
        raise unexpected_state(
            "payment_intent",
            "You cannot cancel this PaymentIntent because it has a status of "
            f"{payment_intent['status']}. Only a PaymentIntent with one of the following "
            "statuses may be canceled: requires_payment_method, requires_capture, "
            "requires_confirmation, requires_action, processing.",
        )
    payment_intent["status"] = "canceled"
    payment_intent["canceled_at"] = call.standin.now()
    payment_intent["cancellation_reason"] = values.get("cancellation_reason")
    payment_intent["next_action"] = None
    call.standin.emit("payment_intent.canceled", payment_intent, request=call.request)
    return payment_intent


@route("GET", "/v1/payment_intents")
def list_payment_intents(call):
    values = take_list(call, {"customer": str, "created": ANY})
    bounds = created_bounds(values.get("created"))
    standin = call.standin
    if "customer" in values:
        items = search.by_field(standin, "payment_intent", "customer", values["customer"])
    else:
        items = standin.all("payment_intent")
    if bounds:
        items = [item for item in items if created_matches(item, bounds)]
    return list_answer("/v1/payment_intents", items, values)


@route("GET", "/v1/payment_intents/search")
def search_payment_intents(call):
    return search.search(call, "payment_intent", "/v1/payment_intents/search", SEARCH_FIELDS)


# --- the rules --------------------------------------------------------------------------------


def _get(call, payment_intent_id, values):
    return get_intent(call, "payment_intent", payment_intent_id, values)


def _attempt(call, payment_intent, payment_method, *, off_session):
    """One confirmation: decline, 3-D Secure (402 off-session, requires_action on-session),
    or a successful charge."""
    card = payment_methods.behaviour(call, payment_method)
    payment_intent["payment_method"] = payment_method["id"]
    payment_intent["last_payment_error"] = None
    payment_intent["next_action"] = None
    set_up = call.standin.private[payment_method["id"]].get("set_up_off_session")
    needs_authentication = card.authentication == "always" or (
        card.authentication == "unless_set_up" and not set_up
    )
    if needs_authentication and not _declined(card):
        if off_session:
            error = cards.decline_error("authentication_required")
            raise _fail_charge(call, payment_intent, payment_method, error)
        payment_intent["status"] = "requires_action"
        payment_intent["next_action"] = three_d_secure_action(call, payment_intent)
        call.standin.emit("payment_intent.requires_action", payment_intent, request=call.request)
        return payment_intent
    return _charge(call, payment_intent, payment_method, authenticated=False)


def _charge(call, payment_intent, payment_method, *, authenticated):
    card = payment_methods.behaviour(call, payment_method)
    decline_code = _declined(card)
    if decline_code:
        raise _fail_charge(call, payment_intent, payment_method, cards.decline_error(decline_code))
    charge = charges.record_success(
        call, payment_intent, payment_method, three_d_secure=authenticated
    )
    standin = call.standin
    payment_intent.update(
        {
            "amount_received": payment_intent["amount"],
            "last_payment_error": None,
            "latest_charge": charge["id"],
            "next_action": None,
            "status": "succeeded",
        }
    )
    customer = payment_intent["customer"]
    if payment_intent["setup_future_usage"] and customer:
        if payment_method["customer"] != customer:
            payment_method["customer"] = customer  # as on Stripe: saved for later
            standin.emit("payment_method.attached", payment_method, request=call.request)
        if payment_intent["setup_future_usage"] == "off_session":
            standin.private[payment_method["id"]]["set_up_off_session"] = True
    if not payment_method["customer"]:
        # A card used without a customer cannot be used again (check_usable's rule).
        standin.private[payment_method["id"]]["detached"] = True
    standin.stats.count(
        "succeeded_payment_intents",
        payment_intent["metadata"].get("pledge_id")
        or payment_intent["metadata"].get("pledge")
        or payment_intent["id"],
    )
    standin.emit("payment_intent.succeeded", payment_intent, request=call.request)
    charges.after_success(call, charge)
    return payment_intent


def _declined(card) -> str:
    return card.declined_when_charged or card.declined_when_saved


def _fail_charge(call, payment_intent, payment_method, error):
    """A failed charge and the PaymentIntent waiting for another card; returns Stripe's 402."""
    charge = charges.record_failure(call, payment_intent, payment_method, error)
    payment_intent["latest_charge"] = charge["id"]
    _back_to_payment_method(call, payment_intent, payment_method, {**error, "charge": charge["id"]})
    call.standin.emit("payment_intent.payment_failed", payment_intent, request=call.request)
    return card_error(
        error["message"],
        code=error["code"],
        decline_code=error["decline_code"],
        # Snapshots: the stored answer to an idempotency key never changes afterwards.
        extra={
            "charge": charge["id"],
            "payment_intent": snapshot(payment_intent),
            "payment_method": snapshot(payment_method),
        },
    )


def _back_to_payment_method(call, payment_intent, payment_method, error):
    payment_intent["status"] = "requires_payment_method"
    payment_intent["payment_method"] = None
    payment_intent["next_action"] = None
    payment_intent["last_payment_error"] = {
        **error,
        "doc_url": doc_url(error["code"]),
        "payment_method": snapshot(payment_method),  # the card as it was when it failed
    }


def _check_descriptors(values):
    for name in ("statement_descriptor", "statement_descriptor_suffix"):
        descriptor = values.get(name) or ""
        if len(descriptor) > MAX_DESCRIPTOR:
            raise invalid(
                f"{name}: must be at most {MAX_DESCRIPTOR} characters.",
                param=name,
                code="parameter_invalid_string",
            )
        if descriptor and any(character in DESCRIPTOR_FORBIDDEN for character in descriptor):
            raise invalid(
                f"Invalid {name}: it may not contain any of the characters < > \\ ' \" *.",
                param=name,
                code="parameter_invalid_string",
            )
        if descriptor and not any(character.isalpha() for character in descriptor):
            raise invalid(
                f"Invalid {name}: it must contain at least one letter.",
                param=name,
                code="parameter_invalid_string",
            )
