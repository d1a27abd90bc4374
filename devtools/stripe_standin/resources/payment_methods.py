"""PaymentMethods (cards): created from card numbers (Stripe.js) or Stripe's test ids
(`pm_card_visa`, which, as on Stripe, make a new `pm_…` wherever they are used), retrieved,
attached, detached, listed. A detached card can never be used again; a card belongs to one
customer.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from .. import cards
from ..api import route
from ..errors import card_error, invalid
from ..params import METADATA, require, take
from ..state import new_id
from .common import list_answer, take_list

_ADDRESS = dict.fromkeys(("city", "country", "line1", "line2", "postal_code", "state"), str)
_BILLING = {"address": _ADDRESS, "email": str, "name": str, "phone": str}
_CARD = {"number": str, "exp_month": int, "exp_year": int, "cvc": str}


@route("POST", "/v1/payment_methods", publishable=True)
def create(call):
    values = take(
        call.params,
        {"type": ("card",), "card": _CARD, "billing_details": _BILLING, "metadata": METADATA},
    )
    require(values, "type")
    return create_card(call, values.get("card") or {}, values)


def create_card(call, card_values: dict, values: dict) -> dict:
    """A card PaymentMethod from what the member typed (number, expiry, CVC)."""
    number = "".join((card_values.get("number") or "").split())
    if not number:
        raise invalid(
            "Missing required param: card[number].",
            param="card[number]",
            code="parameter_missing",
            stored=False,
        )
    if not number.isdigit() or not 12 <= len(number) <= 19 or not _luhn(number):
        raise card_error(
            "Your card number is incorrect.",
            code="incorrect_number",
            extra={"param": "card[number]"},
        )
    month, year = card_values.get("exp_month"), card_values.get("exp_year")
    if month is None or not 1 <= month <= 12:
        raise card_error(
            "Your card's expiration month is invalid.",
            code="invalid_expiry_month",
            extra={"param": "card[exp_month]"},
        )
    if year is not None and year < 100:
        year += 2000
    today = dt.date.fromtimestamp(call.standin.now())
    if year is None or (year, month) < (today.year, today.month) or year > today.year + 50:
        raise card_error(
            "Your card's expiration year is invalid.",
            code="invalid_expiry_year",
            extra={"param": "card[exp_year]"},
        )
    cvc = card_values.get("cvc")
    if cvc is not None and not (cvc.isdigit() and len(cvc) in (3, 4)):
        raise card_error(
            "Your card's security code is invalid.",
            code="invalid_cvc",
            extra={"param": "card[cvc]"},
        )
    behaviour = cards.BY_NUMBER.get(number) or cards.TestCard(number, _brand(number))
    return _new(call, behaviour, month, year, values, cvc_given=cvc is not None)


def resolve(call, payment_method_id, *, param="payment_method") -> dict:
    """An existing PaymentMethod, or a new one made from one of Stripe's test ids."""
    if payment_method_id in cards.BY_TEST_ID:
        return _new(call, cards.BY_TEST_ID[payment_method_id], 12, _expiry_year(call), {})
    return call.standin.get("payment_method", payment_method_id, param=param)


def behaviour(call, payment_method: dict) -> cards.TestCard:
    return call.standin.private[payment_method["id"]]["card"]


def check_usable(call, payment_method: dict, customer_id: str | None) -> None:
    """Stripe's rules: a detached card is never used again; a card has one customer."""
    private = call.standin.private[payment_method["id"]]
    if private.get("detached"):
        raise invalid(
            f"The PaymentMethod {payment_method['id']} was previously used without being "
            "attached to a Customer or was detached from a Customer, and may not be used again.",
            param="payment_method",
        )
    owner = payment_method["customer"]
    if owner and customer_id and owner != customer_id:
        raise invalid(
            f"The provided PaymentMethod {payment_method['id']} was previously attached to a "
            "different Customer.",
            param="payment_method",
        )
    if owner and not customer_id:
        raise invalid(
            f"The provided PaymentMethod {payment_method['id']} is attached to a Customer; "
            "pass that customer with it.",
            param="customer",
        )


def attach_to(call, payment_method_id: str, customer_id: str, *, param="payment_method"):
    standin = call.standin
    standin.get("customer", customer_id, param="customer")
    payment_method = resolve(call, payment_method_id, param=param)
    if payment_method["customer"] == customer_id:
        raise invalid(
            "The payment method you provided has already been attached to a customer.",
            param="payment_method",
            code="payment_method_unexpected_state",
        )
    check_usable(call, payment_method, customer_id)
    card = behaviour(call, payment_method)
    if card.declined_when_saved:
        error = cards.decline_error(card.declined_when_saved)
        raise card_error(error["message"], code=error["code"], decline_code=error["decline_code"])
    payment_method["customer"] = customer_id
    standin.emit("payment_method.attached", payment_method, request=call.request)
    return payment_method


@route("GET", "/v1/payment_methods/{payment_method_id}", publishable=True)
def retrieve(call, payment_method_id):
    take(call.params, {})
    return resolve(call, payment_method_id, param="id")  # a test id answers with a new card


@route("POST", "/v1/payment_methods/{payment_method_id}")
def update(call, payment_method_id):
    values = take(call.params, {"metadata": METADATA, "billing_details": _BILLING})
    payment_method = call.standin.get("payment_method", payment_method_id)
    if "metadata" in values:
        call.standin.update_metadata(payment_method, values["metadata"])
    for key, value in (values.get("billing_details") or {}).items():
        if key == "address":
            payment_method["billing_details"]["address"].update(value)
        else:
            payment_method["billing_details"][key] = value or None
    call.standin.emit("payment_method.updated", payment_method, request=call.request)
    return payment_method


@route("POST", "/v1/payment_methods/{payment_method_id}/attach")
def attach(call, payment_method_id):
    values = take(call.params, {"customer": str})
    require(values, "customer")
    return attach_to(call, payment_method_id, values["customer"], param="id")


@route("POST", "/v1/payment_methods/{payment_method_id}/detach")
def detach(call, payment_method_id):
    take(call.params, {})
    payment_method = call.standin.get("payment_method", payment_method_id)
    if not payment_method["customer"]:
        raise invalid(
            "The payment method you provided is not attached to a customer so detachment is "
            "impossible.",
            code="payment_method_unexpected_state",
        )
    previous = {"customer": payment_method["customer"]}
    payment_method["customer"] = None
    call.standin.private[payment_method_id]["detached"] = True
    call.standin.emit(
        "payment_method.detached",
        payment_method,
        previous_attributes=previous,
        request=call.request,
    )
    return payment_method


@route("GET", "/v1/payment_methods")
def list_payment_methods(call):
    values = take_list(call, {"customer": str, "type": ("card",)})
    if "customer" in values:
        call.standin.get("customer", values["customer"], param="customer")
        items = cards_of(call.standin, values["customer"])
    else:
        items = call.standin.all("payment_method")
    return list_answer("/v1/payment_methods", items, values)


@route("GET", "/v1/customers/{customer_id}/payment_methods")
def list_for_customer(call, customer_id):
    values = take_list(call, {"type": ("card",)})
    call.standin.get("customer", customer_id)
    items = cards_of(call.standin, customer_id)
    return list_answer(f"/v1/customers/{customer_id}/payment_methods", items, values)


def card_details(payment_method: dict) -> dict:
    """`payment_method_details` of a charge made on this card."""
    card = payment_method["card"]
    return {
        "card": {
            "brand": card["brand"],
            "checks": card["checks"],
            "country": card["country"],
            "exp_month": card["exp_month"],
            "exp_year": card["exp_year"],
            "fingerprint": card["fingerprint"],
            "funding": card["funding"],
            "last4": card["last4"],
            "network": card["brand"],
            "three_d_secure": None,
            "wallet": None,
        },
        "type": "card",
    }


def _new(call, card: cards.TestCard, exp_month, exp_year, values, *, cvc_given=True) -> dict:
    standin = call.standin
    billing = values.get("billing_details") or {}
    address = dict.fromkeys(("city", "country", "line1", "line2", "postal_code", "state"))
    address.update({k: v or None for k, v in (billing.get("address") or {}).items()})
    payment_method = {
        "id": new_id("pm"),
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": {
            "address": address,
            "email": billing.get("email") or None,
            "name": billing.get("name") or None,
            "phone": billing.get("phone") or None,
            "tax_id": None,
        },
        "card": {
            "brand": card.brand,
            "checks": {
                "address_line1_check": None,
                "address_postal_code_check": "pass" if address["postal_code"] else None,
                "cvc_check": "pass" if cvc_given else None,
            },
            "country": card.country,
            "display_brand": card.brand,
            "exp_month": exp_month,
            "exp_year": exp_year,
            "fingerprint": hashlib.sha256(card.number.encode()).hexdigest()[:16],
            "funding": card.funding,
            "generated_from": None,
            "last4": card.last4,
            "networks": {"available": [card.brand], "preferred": None},
            "regulated_status": "unregulated",
            "three_d_secure_usage": {"supported": True},
            "wallet": None,
        },
        "created": standin.now(),
        "customer": None,
        "customer_account": None,
        "livemode": False,
        "metadata": values.get("metadata", {}),
        "type": "card",
    }
    return standin.add(payment_method, card=card, detached=False, set_up_off_session=False)


def _expiry_year(call) -> int:
    return dt.date.fromtimestamp(call.standin.now()).year + 5


def _luhn(number: str) -> bool:
    total = 0
    for index, digit in enumerate(reversed(number)):
        value = int(digit) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _brand(number: str) -> str:
    if number.startswith("4"):
        return "visa"
    if number[:2] in ("34", "37"):
        return "amex"
    if number[:2] in {str(n) for n in range(51, 56)} or 2221 <= int(number[:4]) <= 2720:
        return "mastercard"
    return "unknown"


# --- each customer's cards, from an index -------------------------------------------------


def cards_of(standin, customer_id: str) -> list[dict]:
    """The cards attached to the customer now, without reading every card in the store.

    A card's customer is only ever set where `payment_method.attached` is announced (attach,
    a SetupIntent or a PaymentIntent saving the card), so the index follows those events;
    cards detached since (or whose customer was deleted) are left out."""
    from .events import objects_by_field

    return objects_by_field(
        standin, "payment_method.attached", "payment_method", "customer", customer_id
    )
