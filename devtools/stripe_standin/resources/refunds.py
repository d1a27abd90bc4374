"""Refunds of succeeded charges, whole or in part, with Stripe's limits.

A refund names a charge or a PaymentIntent (its latest charge); without an amount it refunds
what is left. More than is left is a 400 `amount_too_large`, a fully refunded charge a 400
`charge_already_refunded`, a charge that did not succeed or is disputed cannot be refunded.
Each refund writes a balance transaction (type refund, negative, no fee: Stripe keeps its
processing fee) and updates the charge's `amount_refunded` and `refunded`. The charge does not
carry its refunds (Stripe stopped including them in API version 2022-11-15): they are listed
here by charge (`refunds_of`, indexed), for `GET /v1/refunds?charge=`,
`GET /v1/charges/{id}/refunds` and a charge retrieved with `expand[]=refunds`.
Events: refund.created and charge.refunded (with the charge).
"""

from __future__ import annotations

from ..api import expandable, route
from ..errors import invalid
from ..params import ANY, METADATA, amount, take
from ..state import new_id
from . import balance, disputes, search
from .common import created_bounds, created_matches, list_answer, take_list

# Currencies without minor units (Stripe's list), written without decimals.
ZERO_DECIMAL = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv"}
    | {"xaf", "xof", "xpf"}
)
_SYMBOLS = {"eur": "€", "usd": "$", "gbp": "£"}
search.register_index("refund", "charge")


@route("POST", "/v1/refunds")
def create(call):
    values = take(
        call.params,
        {
            "charge": str,
            "payment_intent": str,
            "amount": int,
            "reason": ("duplicate", "fraudulent", "requested_by_customer"),
            "metadata": METADATA,
        },
    )
    standin = call.standin
    charge = _charge_to_refund(call, values)
    left = charge["amount"] - charge["amount_refunded"]
    if left <= 0:
        raise invalid(
            f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded"
        )
    refund_amount = amount(values) if "amount" in values else left
    if refund_amount > left:
        raise invalid(
            f"Refund amount ({money(refund_amount, charge['currency'])}) is greater than "
            f"unrefunded amount on charge ({money(left, charge['currency'])})",
            param="amount",
            code="amount_too_large",
        )
    refund_id = new_id("re")
    transaction = balance.record(
        call,
        type="refund",
        amount=-refund_amount,
        currency=charge["currency"],
        source=refund_id,
        description=f"REFUND FOR CHARGE ({charge['description'] or charge['id']})",
    )
    refund = {
        "id": refund_id,
        "object": "refund",
        "amount": refund_amount,
        "balance_transaction": transaction["id"],
        "charge": charge["id"],
        "created": standin.now(),
        "currency": charge["currency"],
        "customer": charge["customer"],
        "customer_account": None,
        "destination_details": {"card": {"type": "refund"}, "type": "card"},
        "metadata": values.get("metadata", {}),
        "payment_intent": charge["payment_intent"],
        "payment_method": charge["payment_method"],
        "reason": values.get("reason"),
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }
    standin.add(refund, created_at=standin.clock())
    search.index_field(standin, refund, "charge")
    previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
    charge["amount_refunded"] += refund_amount
    charge["refunded"] = charge["amount_refunded"] == charge["amount"]
    standin.emit("refund.created", refund, request=call.request)
    standin.emit("charge.refunded", charge, previous_attributes=previous, request=call.request)
    return refund


@route("GET", "/v1/refunds/{refund_id}")
def retrieve(call, refund_id):
    take(call.params, {})
    return call.standin.get("refund", refund_id)


@route("POST", "/v1/refunds/{refund_id}")
def update(call, refund_id):
    values = take(call.params, {"metadata": METADATA})
    refund = call.standin.get("refund", refund_id)
    if "metadata" in values:
        previous = {"metadata": dict(refund["metadata"])}
        call.standin.update_metadata(refund, values["metadata"])
        call.standin.emit(
            "refund.updated", refund, previous_attributes=previous, request=call.request
        )
    return refund


@route("GET", "/v1/refunds")
def list_refunds(call):
    values = take_list(call, {"charge": str, "payment_intent": str, "created": ANY})
    bounds = created_bounds(values.get("created"))
    standin = call.standin
    if "charge" in values:
        items = refunds_of(standin, standin.get("charge", values["charge"], param="charge")["id"])
    else:
        items = standin.all("refund")
    if "payment_intent" in values:
        items = [item for item in items if item["payment_intent"] == values["payment_intent"]]
    if bounds:
        items = [item for item in items if created_matches(item, bounds)]
    return list_answer("/v1/refunds", items, values)


def refunds_of(standin, charge_id: str) -> list[dict]:
    """The charge's refunds, oldest first (from the index: no scan of every refund)."""
    return search.by_field(standin, "refund", "charge", charge_id) or []


@expandable("charge", "refunds")
def refund_list(standin, charge: dict) -> dict:
    """A charge's `refunds` when it is expanded (on its own, in a list, or as a PaymentIntent's
    latest_charge): Stripe's list object, newest first, the first page of ten
    (`GET /v1/charges/{id}/refunds` pages on)."""
    return list_answer(f"/v1/charges/{charge['id']}/refunds", refunds_of(standin, charge["id"]), {})


def money(amount_minor: int, currency: str) -> str:
    """An amount as Stripe writes it in messages: €12.50, $3.00, 1000 JPY."""
    if currency in ZERO_DECIMAL:
        return f"{amount_minor} {currency.upper()}"
    major = f"{amount_minor // 100}.{amount_minor % 100:02d}"
    symbol = _SYMBOLS.get(currency)
    return f"{symbol}{major}" if symbol else f"{major} {currency.upper()}"


def _charge_to_refund(call, values) -> dict:
    standin = call.standin
    if not values.get("charge") and not values.get("payment_intent"):
        raise invalid(
            "One of the following params should be provided for this request: payment_intent "
            "or charge.",
            code="parameter_missing",
        )
    if values.get("payment_intent"):
        payment_intent = standin.get(
            "payment_intent", values["payment_intent"], param="payment_intent"
        )
        if payment_intent["status"] != "succeeded":
            raise invalid(
                f"This PaymentIntent ({payment_intent['id']}) does not have a successful charge "
                f"to refund (its status is {payment_intent['status']}).",
                param="payment_intent",
            )
        charge = standin.get("charge", payment_intent["latest_charge"])
        if values.get("charge") and values["charge"] != charge["id"]:
            raise invalid(
                f"The charge {values['charge']} does not belong to the PaymentIntent "
                f"{payment_intent['id']}.",
                param="charge",
            )
    else:
        charge = standin.get("charge", values["charge"], param="charge")
    if charge["status"] != "succeeded":
        raise invalid(
            f"Charge {charge['id']} has a status of {charge['status']}; only a succeeded charge "
            "can be refunded.",
            param="charge",
        )
    dispute = disputes.dispute_of(standin, charge)
    if dispute is not None and dispute["status"] != "won":
        raise invalid(
            f"Charge {charge['id']} has been charged back; cannot issue a refund.",
            code="charge_disputed",
        )
    return charge
