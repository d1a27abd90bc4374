"""Customers: create, retrieve, update, delete, list."""

from __future__ import annotations

from ..api import route
from ..params import METADATA, take
from ..state import new_id
from .common import list_answer, take_list
from .payment_methods import cards_of

_FIELDS = {
    "email": str,
    "name": str,
    "description": str,
    "phone": str,
    "metadata": METADATA,
    "preferred_locales": [str],
    "invoice_settings": {"default_payment_method": str},
}


def _blank_address():
    return dict.fromkeys(("city", "country", "line1", "line2", "postal_code", "state"))


@route("POST", "/v1/customers")
def create(call):
    values = take(call.params, {**_FIELDS, "payment_method": str})
    standin = call.standin
    customer = {
        "id": new_id("cus", 14),
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": standin.now(),
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": values.get("description") or None,
        "discount": None,
        "email": values.get("email") or None,
        "invoice_prefix": new_id("x", 8)[2:].upper(),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": values.get("metadata", {}),
        "name": values.get("name") or None,
        "next_invoice_sequence": 1,
        "phone": values.get("phone") or None,
        "preferred_locales": values.get("preferred_locales", []),
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }
    standin.add(customer)
    if values.get("payment_method"):
        from .payment_methods import attach_to

        attach_to(call, values["payment_method"], customer["id"])
    default = (values.get("invoice_settings") or {}).get("default_payment_method")
    if default:
        customer["invoice_settings"]["default_payment_method"] = default
    standin.emit("customer.created", customer, request=call.request)
    return customer


@route("GET", "/v1/customers/{customer_id}")
def retrieve(call, customer_id):
    take(call.params, {})
    return _live(call, customer_id)


@route("POST", "/v1/customers/{customer_id}")
def update(call, customer_id):
    values = take(call.params, _FIELDS)
    customer = _live(call, customer_id)
    previous = {key: customer.get(key) for key in values if key != "invoice_settings"}
    for key in ("email", "name", "description", "phone", "preferred_locales"):
        if key in values:
            customer[key] = values[key] or ([] if key == "preferred_locales" else None)
    if "metadata" in values:
        call.standin.update_metadata(customer, values["metadata"])
    if "invoice_settings" in values:
        default = values["invoice_settings"].get("default_payment_method") or None
        customer["invoice_settings"]["default_payment_method"] = default
    call.standin.emit(
        "customer.updated", customer, previous_attributes=previous, request=call.request
    )
    return customer


@route("DELETE", "/v1/customers/{customer_id}")
def delete(call, customer_id):
    take(call.params, {})
    customer = _live(call, customer_id)
    standin = call.standin
    del standin.objects["customer"][customer_id]
    # As on Stripe, the customer's cards are detached and can never be used again.
    for payment_method in cards_of(standin, customer_id):
        payment_method["customer"] = None
        standin.private[payment_method["id"]]["detached"] = True
    standin.emit("customer.deleted", customer, request=call.request)
    return {"id": customer_id, "object": "customer", "deleted": True}


@route("GET", "/v1/customers")
def list_customers(call):
    values = take_list(call, {"email": str})
    items = call.standin.all("customer")
    if "email" in values:
        items = [item for item in items if item["email"] == values["email"]]
    return list_answer("/v1/customers", items, values)


def _live(call, customer_id, param="id"):
    return call.standin.get("customer", customer_id, param=param)
