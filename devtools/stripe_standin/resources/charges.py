"""Charges: the attempts PaymentIntents make, succeeded or failed, as Stripe shows them.

A PaymentIntent makes a charge each time it tries the card (`record_success`,
`record_failure`); a succeeded charge writes its balance transaction (the amount, less
Stripe's processing fee) and, on a card that is disputed at once (4000 0000 0000 0259), opens
its dispute. Refunds (`refunds.py`) and disputes (`disputes.py`) change the charge afterwards.
Endpoints: retrieve, update (description, metadata, receipt_email), list (by customer,
PaymentIntent or transfer group), search, and a charge's refunds.

As on Stripe since API version 2022-11-15, a charge does not include its `refunds` unless the
caller expands them: `expand[]=refunds` on a charge, `expand[]=data.refunds` on a list or a
search of charges (the dispatcher fills them in from `refunds.refund_list`). Neither the
stored charge nor its events carry them.
"""

from __future__ import annotations

import copy
import secrets

from ..api import route
from ..params import METADATA, take
from ..state import new_id
from . import balance, disputes, payment_methods, refunds, search
from .common import list_answer, take_list

SEARCH_FIELDS = {
    "amount": search.NUMBER,
    "created": search.NUMBER,
    "currency": search.STRING,
    "customer": search.STRING,
    "metadata": search.METADATA,
    "payment_intent": search.STRING,
    "status": search.STRING,
}
search.register_index("charge", "customer")
search.register_index("charge", "payment_intent")

_APPROVED = {
    "advice_code": None,
    "network_advice_code": None,
    "network_decline_code": None,
    "network_status": "approved_by_network",
    "reason": None,
    "risk_level": "normal",
    "risk_score": 20,
    "seller_message": "Payment complete.",
    "type": "authorized",
}


def record_success(call, payment_intent: dict, payment_method: dict, *, three_d_secure=False):
    """A captured charge for the PaymentIntent's amount, with its balance transaction."""
    standin = call.standin
    charge = _new(call, payment_intent, payment_method, three_d_secure=three_d_secure)
    transaction = balance.record(
        call,
        type="charge",
        amount=charge["amount"],
        currency=charge["currency"],
        source=charge["id"],
        fee=balance.processing_fee(standin, charge["amount"]),
        description=charge["description"],
    )
    charge.update(
        {
            "amount_captured": charge["amount"],
            "balance_transaction": transaction["id"],
            "captured": True,
            "outcome": dict(_APPROVED),
            "paid": True,
            "receipt_url": f"{standin.public_url}/_standin/receipts/{charge['id']}",
            "status": "succeeded",
        }
    )
    _store(call, charge)
    standin.emit("charge.succeeded", charge, request=call.request)
    return charge


def after_success(call, charge: dict) -> None:
    """What follows a successful charge once its PaymentIntent has succeeded: a dispute on
    the card that is disputed at once."""
    payment_method = call.standin.get("payment_method", charge["payment_method"])
    if payment_methods.behaviour(call, payment_method).disputed:
        disputes.open_dispute(call, charge)


def record_failure(call, payment_intent: dict, payment_method: dict, error: dict) -> dict:
    """A failed charge: `error` holds Stripe's code, decline_code and message."""
    charge = _new(call, payment_intent, payment_method)
    decline_code = error.get("decline_code")
    charge.update(
        {
            "failure_code": error["code"],
            "failure_message": error["message"],
            "outcome": {
                "advice_code": "try_again_later" if decline_code == "generic_decline" else None,
                "network_advice_code": None,
                "network_decline_code": None,
                "network_status": "declined_by_network",
                "reason": decline_code,
                "risk_level": "normal",
                "risk_score": 20,
                "seller_message": (
                    "The bank did not return any further details with this decline."
                    if decline_code == "generic_decline"
                    else f"The bank returned the decline code `{decline_code}`."
                ),
                "type": "issuer_declined",
            },
            "status": "failed",
        }
    )
    _store(call, charge)
    call.standin.emit("charge.failed", charge, request=call.request)
    return charge


def charges_of(standin, payment_intent_id: str) -> list[dict]:
    return search.by_field(standin, "charge", "payment_intent", payment_intent_id) or []


@route("GET", "/v1/charges/{charge_id}")
def retrieve(call, charge_id):
    take(call.params, {})
    return call.standin.get("charge", charge_id)


@route("POST", "/v1/charges/{charge_id}")
def update(call, charge_id):
    values = take(call.params, {"description": str, "metadata": METADATA, "receipt_email": str})
    charge = call.standin.get("charge", charge_id)
    previous = {key: copy.deepcopy(charge[key]) for key in values}
    if "metadata" in values:
        call.standin.update_metadata(charge, values["metadata"])
    for key in ("description", "receipt_email"):
        if key in values:
            charge[key] = values[key] or None
    changed = {key: value for key, value in previous.items() if charge[key] != value}
    if changed:
        call.standin.emit(
            "charge.updated", charge, previous_attributes=changed, request=call.request
        )
    return charge


@route("GET", "/v1/charges")
def list_charges(call):
    values = take_list(call, {"customer": str, "payment_intent": str, "transfer_group": str})
    standin = call.standin
    if "payment_intent" in values:
        items = charges_of(standin, values["payment_intent"])
    elif "customer" in values:
        items = search.by_field(standin, "charge", "customer", values["customer"])
    else:
        items = standin.all("charge")
    for key in ("customer", "transfer_group"):
        if key in values:
            items = [item for item in items if item[key] == values[key]]
    return list_answer("/v1/charges", items, values)


@route("GET", "/v1/charges/search")
def search_charges(call):
    return search.search(call, "charge", "/v1/charges/search", SEARCH_FIELDS)


@route("GET", "/v1/charges/{charge_id}/refunds")
def list_refunds_of(call, charge_id):
    values = take_list(call)
    call.standin.get("charge", charge_id)
    items = refunds.refunds_of(call.standin, charge_id)
    return list_answer(f"/v1/charges/{charge_id}/refunds", items, values)


# --- the object -------------------------------------------------------------------------------


def _new(call, payment_intent, payment_method, *, three_d_secure=False) -> dict:
    charge_id = new_id("ch")
    details = _payment_method_details(payment_method, payment_intent["amount"], three_d_secure)
    return {
        "id": charge_id,
        "object": "charge",
        "amount": payment_intent["amount"],
        "amount_captured": 0,
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": None,
        "billing_details": copy.deepcopy(payment_method["billing_details"]),
        "calculated_statement_descriptor": _descriptor(payment_intent),
        "captured": False,
        "created": call.standin.now(),
        "currency": payment_intent["currency"],
        "customer": payment_intent["customer"],
        "description": payment_intent["description"],
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "fraud_details": {},
        "livemode": False,
        "metadata": dict(payment_intent["metadata"]),
        "on_behalf_of": None,
        "outcome": None,
        "paid": False,
        "payment_intent": payment_intent["id"],
        "payment_method": payment_method["id"],
        "payment_method_details": details,
        "receipt_email": payment_intent["receipt_email"],
        "receipt_number": None,
        "receipt_url": None,
        "refunded": False,
        "review": None,
        "shipping": None,
        "source": None,
        "source_transfer": None,
        "statement_descriptor": payment_intent["statement_descriptor"],
        "statement_descriptor_suffix": payment_intent["statement_descriptor_suffix"],
        "status": "pending",
        "transfer_data": None,
        "transfer_group": payment_intent["transfer_group"],
    }


def _store(call, charge: dict) -> None:
    standin = call.standin
    standin.add(charge, created_at=standin.clock())
    search.index_field(standin, charge, "customer")
    search.index_field(standin, charge, "payment_intent")


def _payment_method_details(payment_method, amount, three_d_secure) -> dict:
    details = payment_methods.card_details(payment_method)
    card = details["card"]
    card.update(
        {
            "amount_authorized": amount,
            "authorization_code": None,
            "extended_authorization": {"status": "disabled"},
            "incremental_authorization": {"status": "unavailable"},
            "installments": None,
            "mandate": None,
            "multicapture": {"status": "unavailable"},
            "network_token": {"used": False},
            "network_transaction_id": str(secrets.randbelow(10**15)).zfill(15),
            "overcapture": {"maximum_amount_capturable": amount, "status": "unavailable"},
            "regulated_status": "unregulated",
            "transaction_link_id": None,
        }
    )
    if three_d_secure:
        card["three_d_secure"] = {
            "authentication_flow": "challenge",
            "electronic_commerce_indicator": "05",
            "exemption_indicator": None,
            "result": "authenticated",
            "result_reason": None,
            "transaction_id": secrets.token_hex(16),
            "version": "2.2.0",
        }
    return details


def _descriptor(payment_intent) -> str:
    if payment_intent["statement_descriptor"]:
        return payment_intent["statement_descriptor"].upper()
    suffix = payment_intent["statement_descriptor_suffix"]
    return f"GROUNDSWELL* {suffix}"[:22].upper() if suffix else "GROUNDSWELL"
