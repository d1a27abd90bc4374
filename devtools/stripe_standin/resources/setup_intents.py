"""SetupIntents: saving a card for later off-session charges, 3-D Secure included.

Confirming runs the card's rules (`cards.py`): a card declined when saved answers 402 and the
SetupIntent waits for another card with `last_setup_error`; a card that needs 3-D Secure goes
to `requires_action` until the member passes or fails it (`/_authenticate`, what the Stripe.js
stand-in's 3-D Secure page calls); a card that saves is attached to the SetupIntent's customer.
Stripe.js calls confirm and retrieve with the publishable key and the client secret.
3-D Secure is Stripe.js's `use_stripe_sdk` action only: `return_url` (Stripe's redirect to the
bank's page and back) and `use_stripe_sdk` are not implemented and are refused by name.
"""

from __future__ import annotations

import secrets

from .. import cards
from ..api import route
from ..errors import card_error, doc_url, invalid, unexpected_state
from ..params import METADATA, require, take
from ..state import new_id, snapshot
from . import payment_methods
from .common import list_answer, take_list
from .intents import get_intent, three_d_secure_action

AUTHENTICATION_FAILED = (
    "The latest attempt to set up the payment method has failed because authentication failed."
)
_CONFIRM = {
    "payment_method": str,
    "payment_method_data": {
        "type": ("card",),
        "card": payment_methods._CARD,
        "billing_details": payment_methods._BILLING,
    },
    "client_secret": str,
}


@route("POST", "/v1/setup_intents")
def create(call):
    values = take(
        call.params,
        {
            "customer": str,
            "usage": ("off_session", "on_session"),
            "payment_method_types": [str],
            "payment_method": str,
            "metadata": METADATA,
            "description": str,
            "confirm": bool,
        },
    )
    standin = call.standin
    if values.get("customer"):
        standin.get("customer", values["customer"], param="customer")
    types = values.get("payment_method_types") or ["card"]
    if types != ["card"]:
        raise invalid(
            "payment_method_types: the Stripe stand-in implements only ['card'].",
            param="payment_method_types",
        )
    setup_intent_id = new_id("seti")
    setup_intent = {
        "id": setup_intent_id,
        "object": "setup_intent",
        "application": None,
        "automatic_payment_methods": None,
        "cancellation_reason": None,
        "client_secret": f"{setup_intent_id}_secret_{secrets.token_urlsafe(24)}",
        "created": standin.now(),
        "customer": values.get("customer") or None,
        "description": values.get("description") or None,
        "excluded_payment_method_types": None,
        "flow_directions": None,
        "last_setup_error": None,
        "latest_attempt": None,
        "livemode": False,
        "mandate": None,
        "metadata": values.get("metadata", {}),
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {
            "card": {
                "mandate_options": None,
                "network": None,
                "request_three_d_secure": "automatic",
            }
        },
        "payment_method_types": types,
        "single_use_mandate": None,
        "status": "requires_payment_method",
        "usage": values.get("usage", "off_session"),
    }
    standin.add(setup_intent)
    standin.emit("setup_intent.created", setup_intent, request=call.request)
    if values.get("payment_method"):
        setup_intent["payment_method"] = payment_methods.resolve(call, values["payment_method"])[
            "id"
        ]
        setup_intent["status"] = "requires_confirmation"
        if values.get("confirm"):
            _confirm(call, setup_intent, setup_intent["payment_method"])
    return setup_intent


@route("GET", "/v1/setup_intents/{setup_intent_id}", publishable=True)
def retrieve(call, setup_intent_id):
    values = take(call.params, {"client_secret": str})
    return _get(call, setup_intent_id, values)


@route("POST", "/v1/setup_intents/{setup_intent_id}")
def update(call, setup_intent_id):
    values = take(call.params, {"metadata": METADATA, "description": str, "payment_method": str})
    setup_intent = _get(call, setup_intent_id, values)
    if "metadata" in values:
        call.standin.update_metadata(setup_intent, values["metadata"])
    if "description" in values:
        setup_intent["description"] = values["description"] or None
    if values.get("payment_method"):
        _waiting(setup_intent, "update")
        setup_intent["payment_method"] = payment_methods.resolve(call, values["payment_method"])[
            "id"
        ]
        setup_intent["status"] = "requires_confirmation"
    return setup_intent


@route("POST", "/v1/setup_intents/{setup_intent_id}/confirm", publishable=True)
def confirm(call, setup_intent_id):
    values = take(call.params, _CONFIRM)
    setup_intent = _get(call, setup_intent_id, values)
    _waiting(setup_intent, "confirm")
    if values.get("payment_method_data"):
        data = values["payment_method_data"]
        payment_method_id = payment_methods.create_card(call, data.get("card") or {}, data)["id"]
    else:
        payment_method_id = values.get("payment_method") or setup_intent["payment_method"]
    if not payment_method_id:
        raise invalid(
            "You cannot confirm this SetupIntent because it's missing a payment method.",
            code="setup_intent_unexpected_state",
        )
    return _confirm(call, setup_intent, payment_method_id)


@route("POST", "/v1/setup_intents/{setup_intent_id}/_authenticate", publishable=True)
def authenticate(call, setup_intent_id):
    """The stand-in's own endpoint: the member passed (or failed) 3-D Secure."""
    values = take(call.params, {"client_secret": str, "success": bool})
    require(values, "success")
    setup_intent = _get(call, setup_intent_id, values)
    if setup_intent["status"] != "requires_action":
        raise unexpected_state(
            "setup_intent",
            f"This SetupIntent's status is {setup_intent['status']}; it needs no authentication.",
        )
    payment_method = call.standin.get("payment_method", setup_intent["payment_method"])
    setup_intent["next_action"] = None
    if values["success"]:
        return _succeed(call, setup_intent, payment_method)
    return _fail(
        call,
        setup_intent,
        payment_method,
        {
            "code": "setup_intent_authentication_failure",
            "message": AUTHENTICATION_FAILED,
            "type": "invalid_request_error",
        },
    )


@route("POST", "/v1/setup_intents/{setup_intent_id}/cancel")
def cancel(call, setup_intent_id):
    values = take(
        call.params,
        {"cancellation_reason": ("abandoned", "requested_by_customer", "duplicate")},
    )
    setup_intent = _get(call, setup_intent_id, values)
    if setup_intent["status"] in ("succeeded", "canceled"):
        raise unexpected_state(
            "setup_intent",
            "You cannot cancel this SetupIntent because it has a status of "
            f"{setup_intent['status']}.",
        )
    setup_intent["status"] = "canceled"
    setup_intent["next_action"] = None
    setup_intent["cancellation_reason"] = values.get("cancellation_reason")
    call.standin.emit("setup_intent.canceled", setup_intent, request=call.request)
    return setup_intent


@route("GET", "/v1/setup_intents")
def list_setup_intents(call):
    values = take_list(call, {"customer": str, "payment_method": str})
    if "customer" in values:
        from .events import objects_by_field

        # A SetupIntent's customer is set when it is made, and never changes.
        items = objects_by_field(
            call.standin, "setup_intent.created", "setup_intent", "customer", values["customer"]
        )
    else:
        items = call.standin.all("setup_intent")
    for key in ("customer", "payment_method"):
        if key in values:
            items = [item for item in items if item[key] == values[key]]
    return list_answer("/v1/setup_intents", items, values)


# --- the rules --------------------------------------------------------------------------


def _get(call, setup_intent_id, values):
    return get_intent(call, "setup_intent", setup_intent_id, values)


def _waiting(setup_intent, verb):
    if setup_intent["status"] not in ("requires_payment_method", "requires_confirmation"):
        raise unexpected_state(
            "setup_intent",
            f"You cannot {verb} this SetupIntent because it has a status of "
            f"{setup_intent['status']}.",
        )


def _confirm(call, setup_intent, payment_method_id):
    payment_method = payment_methods.resolve(call, payment_method_id)
    payment_methods.check_usable(call, payment_method, setup_intent["customer"])
    card = payment_methods.behaviour(call, payment_method)
    setup_intent["last_setup_error"] = None
    if card.declined_when_saved:
        error = cards.decline_error(card.declined_when_saved)
        _fail(call, setup_intent, payment_method, error)
        raise card_error(
            error["message"],
            code=error["code"],
            decline_code=error["decline_code"],
            # Snapshots: the stored answer to an idempotency key never changes afterwards.
            extra={
                "setup_intent": snapshot(setup_intent),
                "payment_method": snapshot(payment_method),
            },
        )
    setup_intent["payment_method"] = payment_method["id"]
    if card.authentication:
        setup_intent["status"] = "requires_action"
        setup_intent["next_action"] = three_d_secure_action(call, setup_intent)
        call.standin.emit("setup_intent.requires_action", setup_intent, request=call.request)
        return setup_intent
    return _succeed(call, setup_intent, payment_method)


def _succeed(call, setup_intent, payment_method):
    setup_intent["status"] = "succeeded"
    setup_intent["last_setup_error"] = None
    setup_intent["latest_attempt"] = new_id("setatt")
    if setup_intent["customer"] and payment_method["customer"] != setup_intent["customer"]:
        payment_method["customer"] = setup_intent["customer"]  # as on Stripe: attached
        call.standin.emit("payment_method.attached", payment_method, request=call.request)
    if setup_intent["usage"] == "off_session":
        call.standin.private[payment_method["id"]]["set_up_off_session"] = True
    call.standin.emit("setup_intent.succeeded", setup_intent, request=call.request)
    return setup_intent


def _fail(call, setup_intent, payment_method, error):
    setup_intent["status"] = "requires_payment_method"
    setup_intent["payment_method"] = None
    setup_intent["next_action"] = None
    setup_intent["last_setup_error"] = {
        **error,
        "doc_url": doc_url(error["code"]),
        "payment_method": snapshot(payment_method),  # the card as it was when it failed
    }
    call.standin.emit("setup_intent.setup_failed", setup_intent, request=call.request)
    return setup_intent
