"""Every object the stand-in returns has the shape of Stripe's own sample of it.

`tests/data/stripe/stripe-fixtures3.json` is Stripe's published sample object per resource
(MIT, see the README beside it). For each resource the stand-in serves we make a real one
through the API and compare: the same `object` name, the same id prefix, every key Stripe has
(nested objects included) and the same value types. `null` matches any type on either side
(Stripe's fields are nullable and its samples fill some of them); free-form maps (metadata)
and lists are compared by their first item. A key we leave out on purpose is listed in
OMITTED with its reason; a key we add that Stripe's sample lacks must be listed in EXTRA.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devtools.stripe_standin import api, forms
from devtools.stripe_standin.state import Standin

FIXTURES = json.loads(
    (Path(__file__).resolve().parents[1] / "data" / "stripe" / "stripe-fixtures3.json").read_text()
)["resources"]

# Maps whose keys are data, not schema.
FREE_FORM = {"metadata", "data.object", "data.previous_attributes", "source_types"}

# resource -> {dotted key: why the stand-in leaves it out}
OMITTED: dict[str, dict[str, str]] = {
    "account": {
        "capabilities.card_payments": "Stripe lists only the capabilities the platform "
        "requested; ours requests transfers only (organizers are paid, they do not charge)",
    },
    "charge": {
        "refunds": "not auto-expanded since API version 2022-11-15 (Stripe's changelog); ask "
        "with expand[]=refunds",
    },
}

# resource -> {dotted key: why the stand-in adds a key Stripe's sample lacks}
EXTRA: dict[str, dict[str, str]] = {
    "event": {"account": "set on Connect events only, as on Stripe (absent from the sample)"},
    "webhook_endpoint": {"secret": "Stripe returns the signing secret on creation only"},
}


def shape_differences(resource: str, ours, theirs, path: str = "") -> list[str]:
    if ours is None or theirs is None:
        return []
    if isinstance(theirs, dict):
        if not isinstance(ours, dict):
            return [f"{path or '.'}: {type(ours).__name__} where Stripe has an object"]
        if path in FREE_FORM:
            return []
        problems = []
        omitted, extra = OMITTED.get(resource, {}), EXTRA.get(resource, {})
        for key in sorted(theirs.keys() - ours.keys()):
            if _join(path, key) not in omitted:
                problems.append(f"{_join(path, key)}: missing (Stripe has it)")
        if not path:  # keys we add at the top level must be deliberate
            for key in sorted(ours.keys() - theirs.keys()):
                if key not in extra:
                    problems.append(f"{key}: not in Stripe's sample")
        for key in sorted(theirs.keys() & ours.keys()):
            problems += shape_differences(resource, ours[key], theirs[key], _join(path, key))
        return problems
    if isinstance(theirs, list):
        if not isinstance(ours, list):
            return [f"{path}: {type(ours).__name__} where Stripe has a list"]
        if ours and theirs:
            return shape_differences(resource, ours[0], theirs[0], f"{path}[]")
        return []
    if _kind(ours) != _kind(theirs):
        return [f"{path}: {_kind(ours)} where Stripe has {_kind(theirs)} ({theirs!r})"]
    return []


def _join(path, key):
    return f"{path}.{key}" if path else key


def _kind(value):
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def _prefix(object_id):
    return object_id.rsplit("_", 1)[0] if isinstance(object_id, str) else None


class Client:
    """Requests through the dispatcher both doors use."""

    def __init__(self):
        self.standin = Standin(public_url="http://standin.test")

    def __call__(self, method, path, params=None, *, account=None, expect=200):
        headers = {"Authorization": "Bearer sk_test_shapes"}
        if account:
            headers["Stripe-Account"] = account
        encoded = forms.encode(params or {})
        reply = api.handle(
            self.standin,
            method,
            path,
            query=encoded if method == "GET" else "",
            body="" if method == "GET" else encoded,
            headers=headers,
        )
        assert reply.status == expect, (method, path, reply.body)
        return reply.body


@pytest.fixture(scope="module")
def made():
    """One of each resource, made the way the platform makes them."""
    call = Client()
    objects = {}
    customer = objects["customer"] = call(
        "POST", "/v1/customers", {"email": "ada@example.org", "name": "Ada", "metadata": {"m": "1"}}
    )
    setup_intent = call(
        "POST", "/v1/setup_intents", {"customer": customer["id"], "usage": "off_session"}
    )
    objects["setup_intent"] = call(
        "POST",
        f"/v1/setup_intents/{setup_intent['id']}/confirm",
        {"payment_method": "pm_card_visa"},
    )
    card = objects["payment_method"] = call(
        "GET", f"/v1/payment_methods/{objects['setup_intent']['payment_method']}"
    )
    payment_intent = objects["payment_intent"] = call(
        "POST",
        "/v1/payment_intents",
        {
            "amount": 5_000,
            "currency": "eur",
            "customer": customer["id"],
            "payment_method": card["id"],
            "off_session": True,
            "confirm": True,
            "metadata": {"pledge_id": "shape-1"},
        },
    )
    charge = objects["charge"] = call("GET", f"/v1/charges/{payment_intent['latest_charge']}")
    objects["balance_transaction"] = call(
        "GET", f"/v1/balance_transactions/{charge['balance_transaction']}"
    )
    objects["refund"] = call("POST", "/v1/refunds", {"charge": charge["id"], "amount": 500})
    disputed = call(
        "POST",
        "/v1/payment_intents",
        {
            "amount": 2_000,
            "currency": "eur",
            "customer": customer["id"],
            "payment_method": "pm_card_createDispute",
            "off_session": True,
            "confirm": True,
        },
    )
    objects["dispute"] = call("GET", "/v1/disputes", {"charge": disputed["latest_charge"]})["data"][
        0
    ]
    account = call(
        "POST",
        "/v1/accounts",
        {
            "type": "express",
            "country": "DE",
            "email": "org@example.org",
            "capabilities": {"transfers": {"requested": True}},
        },
    )
    objects["account_link"] = call(
        "POST",
        "/v1/account_links",
        {
            "account": account["id"],
            "refresh_url": "http://localhost/refresh",
            "return_url": "http://localhost/return",
            "type": "account_onboarding",
        },
    )
    call("POST", f"/v1/accounts/{account['id']}/_complete_onboarding", {"outcome": "verified"})
    objects["account"] = call("GET", f"/v1/accounts/{account['id']}")
    transfer = call(
        "POST",
        "/v1/transfers",
        {
            "amount": 1_000,
            "currency": "eur",
            "destination": account["id"],
            "source_transaction": charge["id"],
            "metadata": {"payout_id": "shape-1"},
        },
    )
    objects["transfer_reversal"] = call(
        "POST", f"/v1/transfers/{transfer['id']}/reversals", {"amount": 100}
    )
    objects["transfer"] = call("GET", f"/v1/transfers/{transfer['id']}")
    objects["balance"] = call("GET", "/v1/balance")
    objects["webhook_endpoint"] = call(
        "POST",
        "/v1/webhook_endpoints",
        {"url": "http://localhost:9/hook", "enabled_events": ["payment_intent.succeeded"]},
    )
    objects["event"] = call("GET", "/v1/events", {"type": "payment_intent.succeeded"})["data"][0]
    return objects


RESOURCES = [
    "customer",
    "payment_method",
    "setup_intent",
    "payment_intent",
    "charge",
    "balance_transaction",
    "refund",
    "dispute",
    "account",
    "account_link",
    "transfer",
    "transfer_reversal",
    "balance",
    "event",
    "webhook_endpoint",
]


@pytest.mark.parametrize("resource", RESOURCES)
def test_the_object_has_stripes_shape(made, resource):
    ours, theirs = made[resource], FIXTURES[resource]
    assert ours["object"] == theirs["object"]
    if "id" in theirs:
        assert _prefix(ours["id"]) == _prefix(theirs["id"]), (ours["id"], theirs["id"])
    assert shape_differences(resource, ours, theirs) == []


def test_a_charges_expanded_refunds_have_stripes_shape():
    call = Client()
    customer = call("POST", "/v1/customers", {})["id"]
    payment_intent = call(
        "POST",
        "/v1/payment_intents",
        {
            "amount": 1_000,
            "currency": "eur",
            "customer": customer,
            "payment_method": "pm_card_visa",
            "confirm": True,
        },
    )
    charge_id = payment_intent["latest_charge"]
    refund = call("POST", "/v1/refunds", {"charge": charge_id, "amount": 100})
    charge = call("GET", f"/v1/charges/{charge_id}", {"expand": ["refunds"]})
    assert [item["id"] for item in charge["refunds"]["data"]] == [refund["id"]]
    assert shape_differences("charge", charge, FIXTURES["charge"]) == []
    assert shape_differences("refund", charge["refunds"]["data"][0], FIXTURES["refund"]) == []


def test_the_comparison_finds_what_differs():
    theirs = {"id": "x_1", "n": 1, "flag": True, "nested": {"a": "s"}, "items": [{"k": 1}]}
    ours = {"id": "x_2", "n": "1", "flag": 1, "nested": {}, "items": [{"k": None}], "new": 0}
    assert shape_differences("test", ours, theirs) == [
        "new: not in Stripe's sample",
        "flag: number where Stripe has boolean (True)",
        "n: str where Stripe has number (1)",
        "nested.a: missing (Stripe has it)",
    ]


def test_a_payment_intent_with_its_fee_expanded_has_stripes_shapes():
    """What StripeGateway asks for (latest_charge.balance_transaction): each expanded object
    has the shape of Stripe's own, the charge's descriptor fields included."""
    call = Client()
    customer = call("POST", "/v1/customers", {})["id"]
    expanded = call(
        "POST",
        "/v1/payment_intents",
        {
            "amount": 1_000,
            "currency": "eur",
            "customer": customer,
            "payment_method": "pm_card_visa",
            "payment_method_types": ["card"],
            "off_session": True,
            "confirm": True,
            "capture_method": "automatic",
            "statement_descriptor_suffix": "GARDEN",
            "expand": ["latest_charge.balance_transaction"],
        },
    )
    charge = expanded["latest_charge"]
    transaction = charge["balance_transaction"]
    # Each compared where Stripe's sample has the id (its samples are not expanded).
    unexpanded = {**expanded, "latest_charge": charge["id"]}
    assert shape_differences("payment_intent", unexpanded, FIXTURES["payment_intent"]) == []
    unexpanded_charge = {**charge, "balance_transaction": transaction["id"]}
    assert shape_differences("charge", unexpanded_charge, FIXTURES["charge"]) == []
    assert (
        shape_differences("balance_transaction", transaction, FIXTURES["balance_transaction"]) == []
    )
    assert charge["calculated_statement_descriptor"] == "GROUNDSWELL* GARDEN"
    assert transaction["source"] == charge["id"] and transaction["fee"] > 0
