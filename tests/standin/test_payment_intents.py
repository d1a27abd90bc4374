"""The stand-in's PaymentIntents, charges, refunds and disputes answer as Stripe does.

Through the official SDK against a stand-in server (one per module): the off-session decline
and 3-D Secure shapes Stripe answers with (and what StripeGateway makes of them), the member
finishing a payment on-session, idempotent replays, lost responses and search. In-process
through the dispatcher (`api.handle`) where no socket is needed: the rules of search, refunds,
disputes, balances and events.
"""

from __future__ import annotations

import json

import pytest
import stripe

from devtools.stripe_standin import api, forms, process
from devtools.stripe_standin.resources import search
from devtools.stripe_standin.state import Standin
from payments.gateway import ChargeStatus
from payments.stripe_gateway import StripeGateway
from tests.standin.inprocess_api import Clock
from tests.standin.test_stripe_shapes import FIXTURES, shape_differences

SECRET_KEY = "sk_test_payment_intents"
PUBLISHABLE_KEY = "pk_test_payment_intents"


# --- doors ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server():
    started = process.start()
    yield started
    started.stop()


@pytest.fixture
def standin_server(server):
    server.reset()
    yield server
    server.reset()  # no fault switch outlives its test


@pytest.fixture
def client(standin_server):
    return _client(standin_server)


def _client(server, key=SECRET_KEY, retries=0):
    return stripe.StripeClient(
        key, base_addresses={"api": server.base_url}, max_network_retries=retries
    )


def _gateway(server):
    return StripeGateway(
        secret_key=SECRET_KEY,
        api_base=server.base_url,
        webhook_secret="whsec_unused",
        max_network_retries=0,
    )


class Door:
    """Requests through the dispatcher both doors share, on a fresh in-memory stand-in."""

    def __init__(self, clock=None):
        self.standin = Standin(clock=clock) if clock else Standin()

    def __call__(self, method, path, params=None, *, key=SECRET_KEY, expect=200, headers=None):
        reply = self.reply(method, path, params, key=key, headers=headers)
        assert reply.status == expect, (method, path, reply.status, reply.body)
        return reply.body

    def reply(self, method, path, params=None, *, key=SECRET_KEY, headers=None):
        encoded = forms.encode(params or {})
        return api.handle(
            self.standin,
            method,
            path,
            query=encoded if method == "GET" else "",
            body="" if method == "GET" else encoded,
            headers={"Authorization": f"Bearer {key}", **(headers or {})},
        )

    def error(self, method, path, params=None, *, expect=400, key=SECRET_KEY):
        return self(method, path, params, key=key, expect=expect)["error"]

    def customer_with_card(self, card="pm_card_visa"):
        customer = self("POST", "/v1/customers", {"email": "ada@example.org"})["id"]
        payment_method = self("POST", f"/v1/payment_methods/{card}/attach", {"customer": customer})[
            "id"
        ]
        return customer, payment_method

    def charge(self, customer, payment_method, amount=1_000, expect=200, **extra):
        params = {
            "amount": amount,
            "currency": "eur",
            "customer": customer,
            "payment_method": payment_method,
            "payment_method_types": ["card"],
            "off_session": True,
            "confirm": True,
            **extra,
        }
        return self("POST", "/v1/payment_intents", params, expect=expect)

    def events(self, *types):
        return [e for e in self.standin.all("event") if not types or e["type"] in types]


@pytest.fixture
def door():
    return Door()


def _saved_card(client, card="pm_card_visa"):
    customer = client.v1.customers.create(params={"email": "ada@example.org"})
    payment_method = client.v1.payment_methods.attach(card, params={"customer": customer.id})
    return customer.id, payment_method.id


def _off_session(customer, payment_method, amount=1_000, **metadata):
    return {
        "amount": amount,
        "currency": "eur",
        "customer": customer,
        "payment_method": payment_method,
        "payment_method_types": ["card"],
        "off_session": True,
        "confirm": True,
        "metadata": metadata,
    }


def _authenticate(server, payment_intent, success):
    """What the stand-in's 3-D Secure page sends when the member passes or fails."""
    response = _client(server, PUBLISHABLE_KEY).raw_request(
        "post",
        f"/v1/payment_intents/{payment_intent.id}/_authenticate",
        client_secret=payment_intent.client_secret,
        success="true" if success else "false",
    )
    assert response.code == 200, response.body
    return json.loads(response.body)


# --- charging through the SDK -----------------------------------------------------------------


def test_an_off_session_charge_succeeds_with_a_charge_and_its_balance_transaction(client):
    customer, card = _saved_card(client)
    intent = client.v1.payment_intents.create(
        params={
            **_off_session(customer, card, 2_500, pledge_id="p-1"),
            "description": "Pledge p-1",
            "statement_descriptor_suffix": "PLEDGE",
            "transfer_group": "campaign-9",
            "receipt_email": "ada@example.org",
        }
    )
    assert (intent.status, intent.amount_received, intent.payment_method) == (
        "succeeded",
        2_500,
        card,
    )
    charge = client.v1.charges.retrieve(intent.latest_charge)
    assert charge.id.startswith("ch_") and charge.payment_intent == intent.id
    assert (charge.status, charge.paid, charge.captured, charge.amount_captured) == (
        "succeeded",
        True,
        True,
        2_500,
    )
    assert charge.outcome.type == "authorized"
    assert charge.payment_method_details.card.last4 == "4242"
    assert charge.transfer_group == "campaign-9" and charge.metadata.to_dict() == {
        "pledge_id": "p-1"
    }
    assert charge.receipt_url.startswith("http")
    transaction = client.v1.balance_transactions.retrieve(charge.balance_transaction)
    fee = 25 + 38  # 1.5 % of 25.00 rounded half up, plus 0.25
    assert (transaction.type, transaction.amount, transaction.fee, transaction.net) == (
        "charge",
        2_500,
        fee,
        2_500 - fee,
    )
    assert transaction.source == charge.id


def test_a_declined_charge_answers_402_with_the_payment_intent_and_a_failed_charge(
    client, standin_server
):
    customer, card = _saved_card(client, "pm_card_chargeCustomerFail")
    with pytest.raises(stripe.CardError) as declined:
        client.v1.payment_intents.create(params=_off_session(customer, card, pledge_id="p-2"))
    assert declined.value.http_status == 402
    error = declined.value.json_body["error"]
    assert (error["type"], error["code"], error["decline_code"]) == (
        "card_error",
        "card_declined",
        "generic_decline",
    )
    intent = error["payment_intent"]
    assert intent["status"] == "requires_payment_method" and intent["payment_method"] is None
    assert intent["last_payment_error"]["decline_code"] == "generic_decline"
    assert intent["last_payment_error"]["payment_method"]["id"] == card
    assert intent["latest_charge"] == error["charge"]
    assert error["payment_method"]["id"] == card

    charge = client.v1.charges.retrieve(error["charge"])
    assert (charge.status, charge.paid, charge.failure_code, charge.balance_transaction) == (
        "failed",
        False,
        "card_declined",
        None,
    )
    assert charge.outcome.type == "issuer_declined" and charge.outcome.reason == "generic_decline"
    again = client.v1.payment_intents.retrieve(intent["id"])
    assert again.status == "requires_payment_method"
    assert again.last_payment_error.code == "card_declined"

    # What the platform makes of it.
    charged = _gateway(standin_server).charge_saved_card(customer, card, 1_000, "EUR", "k-2")
    assert (charged.status, charged.decline_code) == (ChargeStatus.FAILED, "generic_decline")
    assert charged.id.startswith("pi_") and charged.charge_id.startswith("ch_")


def test_authentication_required_off_session_then_the_member_pays_on_session(
    client, standin_server
):
    customer, card = _saved_card(client, "pm_card_authenticationRequired")
    with pytest.raises(stripe.CardError) as needs_member:
        client.v1.payment_intents.create(params=_off_session(customer, card, pledge_id="p-3"))
    error = needs_member.value.json_body["error"]
    assert (error["code"], error["decline_code"]) == (
        "authentication_required",
        "authentication_required",
    )
    intent = error["payment_intent"]
    assert intent["status"] == "requires_payment_method"
    assert intent["last_payment_error"]["code"] == "authentication_required"
    assert intent["client_secret"].startswith(intent["id"] + "_secret_")

    # The member confirms on the payment page with the client secret and the same card.
    browser = _client(standin_server, PUBLISHABLE_KEY)
    waiting = browser.v1.payment_intents.confirm(
        intent["id"],
        params={
            "client_secret": intent["client_secret"],
            "payment_method": intent["last_payment_error"]["payment_method"]["id"],
        },
    )
    assert waiting.status == "requires_action"
    assert waiting.next_action.type == "use_stripe_sdk"
    assert waiting.next_action.use_stripe_sdk.stripe_js.endswith(f"/_standin/3ds/{intent['id']}")

    paid = _authenticate(standin_server, waiting, success=True)
    assert paid["status"] == "succeeded" and paid["latest_charge"] != error["charge"]
    charge = client.v1.charges.retrieve(paid["latest_charge"])
    assert charge.status == "succeeded"
    assert charge.payment_method_details.card.three_d_secure.result == "authenticated"
    assert standin_server.stats()["succeeded_payment_intents_by_pledge"] == {"p-3": 1}


def test_the_gateway_maps_authentication_required_and_a_failed_challenge(client, standin_server):
    gateway = _gateway(standin_server)
    customer, card = _saved_card(client, "pm_card_authenticationRequired")
    charge = gateway.charge_saved_card(customer, card, 1_500, "EUR", "k-4", {"pledge_id": "p-4"})
    assert charge.status == ChargeStatus.REQUIRES_ACTION
    assert charge.client_secret.startswith(charge.id + "_secret_")
    assert gateway.retrieve_payment(charge.id).status == ChargeStatus.REQUIRES_ACTION

    browser = _client(standin_server, PUBLISHABLE_KEY)
    waiting = browser.v1.payment_intents.confirm(
        charge.id, params={"client_secret": charge.client_secret, "payment_method": card}
    )
    failed = _authenticate(standin_server, waiting, success=False)
    assert failed["status"] == "requires_payment_method"
    assert failed["last_payment_error"]["code"] == "payment_intent_authentication_failure"
    assert failed["next_action"] is None
    retrieved = gateway.retrieve_payment(charge.id)
    assert (retrieved.status, retrieved.decline_code) == (
        ChargeStatus.FAILED,
        "payment_intent_authentication_failure",
    )
    assert standin_server.stats()["succeeded_payment_intents_by_pledge"] == {}


def test_a_card_set_up_off_session_is_charged_without_authentication(client, standin_server):
    customer = client.v1.customers.create(params={"email": "ada@example.org"}).id
    setup = client.v1.setup_intents.create(
        params={"customer": customer, "usage": "off_session", "payment_method_types": ["card"]}
    )
    setup = client.v1.setup_intents.confirm(
        setup.id, params={"payment_method": "pm_card_authenticationRequiredOnSetup"}
    )
    assert setup.status == "requires_action"  # 3-D Secure when the card is saved
    answer = _client(standin_server, PUBLISHABLE_KEY).raw_request(
        "post",
        f"/v1/setup_intents/{setup.id}/_authenticate",
        client_secret=setup.client_secret,
        success="true",
    )
    assert answer.code == 200
    card = client.v1.setup_intents.retrieve(setup.id).payment_method

    intent = client.v1.payment_intents.create(params=_off_session(customer, card, pledge_id="p-5"))
    assert intent.status == "succeeded"

    # The same card saved without an off-session SetupIntent still needs the member.
    other_customer, unset = _saved_card(client, "pm_card_authenticationRequiredOnSetup")
    with pytest.raises(stripe.CardError) as needs_member:
        client.v1.payment_intents.create(params=_off_session(other_customer, unset))
    assert needs_member.value.code == "authentication_required"


def test_the_same_idempotency_key_replays_the_payment_intent(client):
    customer, card = _saved_card(client)
    params = _off_session(customer, card, pledge_id="p-6")
    first = client.v1.payment_intents.create(params=params, options={"idempotency_key": "k-6"})
    again = client.v1.payment_intents.create(params=params, options={"idempotency_key": "k-6"})
    assert again.id == first.id
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.last_response.headers

    with pytest.raises(stripe.IdempotencyError) as refused:
        client.v1.payment_intents.create(
            params={**params, "amount": 2_000}, options={"idempotency_key": "k-6"}
        )
    assert refused.value.http_status == 400
    assert refused.value.json_body["error"]["type"] == "idempotency_error"
    assert len(client.v1.payment_intents.list(params={"customer": customer}).data) == 1


def test_a_lost_response_is_found_by_search_and_the_sdks_retry_gets_the_stored_answer(
    client, standin_server, monkeypatch
):
    customer, card = _saved_card(client)
    standin_server.set_faults(drop_next=1)
    with pytest.raises(stripe.APIConnectionError):
        client.v1.payment_intents.create(params=_off_session(customer, card, pledge_id="p-7"))
    found = client.v1.payment_intents.search(params={"query": "metadata['pledge_id']:'p-7'"})
    assert [(pi.status, pi.amount) for pi in found.data] == [("succeeded", 1_000)]

    monkeypatch.setattr(stripe.HTTPClient, "INITIAL_DELAY", 0.01)  # the SDK's back-off
    monkeypatch.setattr(stripe.HTTPClient, "_add_jitter_time", lambda self, seconds: seconds)
    standin_server.set_faults(drop_next=1)
    retrying = _client(standin_server, retries=2)
    intent = retrying.v1.payment_intents.create(
        params=_off_session(customer, card, pledge_id="p-8")
    )
    assert intent.status == "succeeded"
    assert intent.last_response.headers["Idempotent-Replayed"] == "true"
    stats = standin_server.stats()
    assert stats["succeeded_payment_intents_by_pledge"] == {"p-7": 1, "p-8": 1}
    assert stats["dropped_responses"] == 2 and stats["double_charged_pledges"] == []


def test_search_over_http_lags_behind_new_payment_intents(client, standin_server):
    customer, card = _saved_card(client)
    standin_server.set_faults(search_lag_s=60)
    intent = client.v1.payment_intents.create(params=_off_session(customer, card, pledge_id="p-9"))
    query = {"query": "metadata['pledge_id']:'p-9'"}
    assert client.v1.payment_intents.search(params=query).data == []
    assert client.v1.payment_intents.retrieve(intent.id).status == "succeeded"
    assert [pi.id for pi in client.v1.payment_intents.list(params={"customer": customer})] == [
        intent.id
    ]
    standin_server.set_faults(search_lag_s=0)
    assert [pi.id for pi in client.v1.payment_intents.search(params=query).data] == [intent.id]


# --- PaymentIntent rules, in-process ----------------------------------------------------------


def test_events_and_the_double_charge_detector(door):
    customer, card = door.customer_with_card()
    reply = door.reply(
        "POST",
        "/v1/payment_intents",
        {
            "amount": 1_000,
            "currency": "EUR",
            "customer": customer,
            "payment_method": card,
            "confirm": True,
            "off_session": True,
            "metadata": {"pledge_id": "42"},
        },
        headers={"Idempotency-Key": "attempt-42"},
    )
    assert reply.status == 200 and reply.body["currency"] == "eur"
    events = door.events("payment_intent.created", "charge.succeeded", "payment_intent.succeeded")
    assert [e["type"] for e in events] == [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
    ]
    assert {e["request"]["idempotency_key"] for e in events} == {"attempt-42"}
    assert {e["request"]["id"] for e in events} == {reply.headers["Request-Id"]}
    assert events[1]["data"]["object"]["id"] == reply.body["latest_charge"]
    # A PaymentIntent without a pledge_id is counted under its own id.
    door.charge(customer, card)
    counted = door.standin.stats.snapshot()["succeeded_payment_intents_by_pledge"]
    assert counted["42"] == 1 and len(counted) == 2


def test_declines_emit_charge_failed_and_payment_failed_and_cards_declined_when_saved(door):
    customer = door("POST", "/v1/customers", {})["id"]
    error = door.charge(customer, "pm_card_chargeDeclinedInsufficientFunds", expect=402)["error"]
    assert (error["code"], error["decline_code"], error["message"]) == (
        "card_declined",
        "insufficient_funds",
        "Your card has insufficient funds.",
    )
    assert [e["type"] for e in door.events("charge.failed", "payment_intent.payment_failed")] == [
        "charge.failed",
        "payment_intent.payment_failed",
    ]
    assert (
        shape_differences("payment_intent", error["payment_intent"], FIXTURES["payment_intent"])
        == []
    )
    charge = door("GET", f"/v1/charges/{error['charge']}")
    assert shape_differences("charge", charge, FIXTURES["charge"]) == []
    assert door.standin.stats.snapshot()["succeeded_payment_intents_by_pledge"] == {}


def test_an_on_session_confirmation_from_the_server_waits_for_the_member(door):
    customer, card = door.customer_with_card("pm_card_authenticationRequired")
    intent = door(
        "POST",
        "/v1/payment_intents",
        {"amount": 700, "currency": "eur", "customer": customer, "payment_method": card},
    )
    assert intent["status"] == "requires_confirmation"
    waiting = door("POST", f"/v1/payment_intents/{intent['id']}/confirm")
    assert waiting["status"] == "requires_action" and waiting["next_action"]
    assert door.events("payment_intent.requires_action")
    # The browser needs the client secret: a wrong one is a missing PaymentIntent.
    door.error(
        "POST",
        f"/v1/payment_intents/{intent['id']}/_authenticate",
        {"client_secret": "pi_wrong_secret_x", "success": True},
        key=PUBLISHABLE_KEY,
        expect=404,
    )
    door.error("GET", f"/v1/payment_intents/{intent['id']}", key=PUBLISHABLE_KEY, expect=404)
    seen = door(
        "GET",
        f"/v1/payment_intents/{intent['id']}",
        {"client_secret": intent["client_secret"]},
        key=PUBLISHABLE_KEY,
    )
    assert seen["status"] == "requires_action"
    paid = door(
        "POST",
        f"/v1/payment_intents/{intent['id']}/_authenticate",
        {"client_secret": intent["client_secret"], "success": True},
        key=PUBLISHABLE_KEY,
    )
    assert paid["status"] == "succeeded" and paid["next_action"] is None
    refused = door.error(
        "POST", f"/v1/payment_intents/{intent['id']}/_authenticate", {"success": True}
    )
    assert refused["code"] == "payment_intent_unexpected_state"


def test_setup_future_usage_saves_the_card_for_off_session_charges(door):
    customer = door("POST", "/v1/customers", {})["id"]
    first = door(
        "POST",
        "/v1/payment_intents",
        {
            "amount": 500,
            "currency": "eur",
            "customer": customer,
            "payment_method": "pm_card_authenticationRequiredOnSetup",
            "setup_future_usage": "off_session",
            "confirm": True,
        },
    )
    assert first["status"] == "requires_action"
    door(
        "POST",
        f"/v1/payment_intents/{first['id']}/_authenticate",
        {"success": True, "client_secret": first["client_secret"]},
    )
    card = door("GET", f"/v1/payment_intents/{first['id']}")["payment_method"]
    assert door("GET", f"/v1/payment_methods/{card}")["customer"] == customer
    assert door.charge(customer, card)["status"] == "succeeded"


def test_cancel_update_and_the_states_they_refuse(door):
    customer, card = door.customer_with_card()
    intent = door("POST", "/v1/payment_intents", {"amount": 900, "currency": "eur"})
    updated = door(
        "POST",
        f"/v1/payment_intents/{intent['id']}",
        {"amount": 950, "metadata": {"pledge_id": "u-1"}, "description": "Pledge"},
    )
    assert (updated["amount"], updated["metadata"], updated["description"]) == (
        950,
        {"pledge_id": "u-1"},
        "Pledge",
    )
    canceled = door(
        "POST",
        f"/v1/payment_intents/{intent['id']}/cancel",
        {"cancellation_reason": "abandoned"},
    )
    assert (canceled["status"], canceled["cancellation_reason"]) == ("canceled", "abandoned")
    assert isinstance(canceled["canceled_at"], int)
    assert door.events("payment_intent.canceled")
    again = door.error("POST", f"/v1/payment_intents/{intent['id']}/cancel")
    assert again["code"] == "payment_intent_unexpected_state" and "canceled" in again["message"]
    assert door.error("POST", f"/v1/payment_intents/{intent['id']}/confirm")["code"] == (
        "payment_intent_unexpected_state"
    )

    paid = door.charge(customer, card)
    assert "succeeded" in door.error("POST", f"/v1/payment_intents/{paid['id']}/cancel")["message"]
    late = door.error("POST", f"/v1/payment_intents/{paid['id']}", {"amount": 10})
    assert late["code"] == "payment_intent_unexpected_state"
    door("POST", f"/v1/payment_intents/{paid['id']}", {"metadata": {"note": "kept"}})


@pytest.mark.parametrize(
    ("params", "param", "words"),
    [
        ({"amount": 0, "currency": "eur"}, "amount", "greater than or equal to 1"),
        ({"amount": 100_000_000, "currency": "eur"}, "amount", "no more than"),
        ({"amount": 100, "currency": "euro"}, "currency", "Invalid currency"),
        ({"currency": "eur"}, "amount", "Missing required param: amount"),
        (
            {"amount": 100, "currency": "eur", "capture_method": "manual"},
            "capture_method",
            "automatic capture only",
        ),
        (
            {"amount": 100, "currency": "eur", "payment_method_types": ["sepa_debit"]},
            "payment_method_types",
            "only ['card']",
        ),
        (
            {"amount": 100, "currency": "eur", "application_fee_amount": 10},
            "application_fee_amount",
            "unknown parameter",
        ),
        ({"amount": 100, "currency": "eur", "customer": "cus_missing"}, "customer", "No such"),
        ({"amount": 100, "currency": "eur", "off_session": True}, "off_session", "confirm"),
        (
            {"amount": 100, "currency": "eur", "statement_descriptor_suffix": "x" * 23},
            "statement_descriptor_suffix",
            "at most 22",
        ),
        *(
            (
                {"amount": 100, "currency": "eur", "statement_descriptor_suffix": f"GARDEN{c}"},
                "statement_descriptor_suffix",
                "may not contain",
            )
            for c in "<>\\'\"*"
        ),
        (
            {"amount": 100, "currency": "eur", "statement_descriptor_suffix": "2027"},
            "statement_descriptor_suffix",
            "at least one letter",
        ),
        (
            {"amount": 100, "currency": "eur", "statement_descriptor": "12 34"},
            "statement_descriptor",
            "at least one letter",
        ),
    ],
)
def test_create_refuses_what_stripe_refuses(door, params, param, words):
    error = door.error("POST", "/v1/payment_intents", params)
    assert error["param"] == param and words in error["message"], error


def test_confirming_without_a_card_and_creating_with_a_publishable_key_are_refused(door):
    missing = door.error(
        "POST", "/v1/payment_intents", {"amount": 100, "currency": "eur", "confirm": True}
    )
    assert missing["code"] == "payment_intent_unexpected_state"
    door.error(
        "POST",
        "/v1/payment_intents",
        {"amount": 100, "currency": "eur"},
        key=PUBLISHABLE_KEY,
        expect=401,
    )


@pytest.mark.parametrize("param", ["return_url", "use_stripe_sdk"])
def test_redirects_and_stripe_sdk_flags_are_refused_by_name(door, param):
    """3-D Secure is Stripe.js's use_stripe_sdk action only; what the stand-in does not
    implement is refused by name, never accepted and ignored."""
    value = "https://example.org/back" if param == "return_url" else True
    customer, card = door.customer_with_card()
    intent = door("POST", "/v1/payment_intents", {"amount": 100, "currency": "eur"})
    setup_intent = door("POST", "/v1/setup_intents", {"customer": customer})
    attempts = [
        ("/v1/payment_intents/{}/confirm".format(intent["id"]), {"payment_method": card}),
        ("/v1/setup_intents/{}/confirm".format(setup_intent["id"]), {"payment_method": card}),
    ]
    if param == "return_url":
        attempts += [
            (
                "/v1/payment_intents",
                {"amount": 100, "currency": "eur", "payment_method": card, "confirm": True},
            ),
            ("/v1/setup_intents", {"customer": customer, "confirm": True}),
        ]
    for path, params in attempts:
        error = door.error("POST", path, {**params, param: value})
        assert (error["code"], error["param"]) == ("parameter_unknown", param), path
        assert "does not implement" in error["message"]


def test_a_decline_answer_and_last_error_keep_the_objects_as_they_were(door):
    """The 402 body (replayed for its idempotency key) and last_payment_error /
    last_setup_error hold snapshots, not the live objects that change afterwards."""
    customer, card = door.customer_with_card("pm_card_chargeCustomerFail")
    key = {"Idempotency-Key": "decline-1"}
    params = {
        "amount": 1_000,
        "currency": "eur",
        "customer": customer,
        "payment_method": card,
        "off_session": True,
        "confirm": True,
    }
    first = door("POST", "/v1/payment_intents", params, expect=402, headers=key)["error"]
    intent_id = first["payment_intent"]["id"]
    door("POST", f"/v1/payment_methods/{card}", {"metadata": {"later": "yes"}})
    door("POST", f"/v1/payment_intents/{intent_id}/cancel")
    replay = door("POST", "/v1/payment_intents", params, expect=402, headers=key)["error"]
    assert replay == first
    assert replay["payment_intent"]["status"] == "requires_payment_method"
    assert replay["payment_method"]["metadata"] == {}
    stored = door("GET", f"/v1/payment_intents/{intent_id}")
    assert stored["last_payment_error"]["payment_method"]["metadata"] == {}
    assert stored["last_payment_error"]["doc_url"] == (
        "https://stripe.com/docs/error-codes/card-declined"
    )

    setup_intent = door("POST", "/v1/setup_intents", {"customer": customer})["id"]
    confirm = {"payment_method": "pm_card_chargeDeclinedInsufficientFunds"}
    path = f"/v1/setup_intents/{setup_intent}/confirm"
    key = {"Idempotency-Key": "decline-2"}
    declined = door("POST", path, confirm, expect=402, headers=key)["error"]
    assert (declined["code"], declined["decline_code"]) == ("card_declined", "insufficient_funds")
    saved_card = declined["payment_method"]["id"]
    door("POST", f"/v1/payment_methods/{saved_card}", {"metadata": {"later": "yes"}})
    door("POST", path, {"payment_method": "pm_card_visa"})
    replay = door("POST", path, confirm, expect=402, headers=key)["error"]
    assert replay == declined
    assert replay["setup_intent"]["status"] == "requires_payment_method"
    assert replay["setup_intent"]["last_setup_error"]["payment_method"]["metadata"] == {}
    assert replay["payment_method"]["metadata"] == {}


def test_list_by_customer_pages_newest_first():
    clock = Clock()
    door = Door(clock)
    customer, card = door.customer_with_card()
    made = []
    for _ in range(3):
        clock.now += 1
        made.append(
            door(
                "POST",
                "/v1/payment_intents",
                {"amount": 100, "currency": "eur", "customer": customer},
            )["id"]
        )
    door("POST", "/v1/payment_intents", {"amount": 100, "currency": "eur"})
    page = door("GET", "/v1/payment_intents", {"customer": customer, "limit": 2})
    assert [pi["id"] for pi in page["data"]] == made[:0:-1] and page["has_more"]
    rest = door(
        "GET",
        "/v1/payment_intents",
        {"customer": customer, "limit": 2, "starting_after": made[1]},
    )
    assert [pi["id"] for pi in rest["data"]] == [made[0]] and not rest["has_more"]
    assert len(door("GET", "/v1/payment_intents")["data"]) == 4


# --- search ----------------------------------------------------------------------------------


def _search(door, query, expect=200, path="/v1/payment_intents/search"):
    return door("GET", path, {"query": query}, expect=expect)


def test_search_by_metadata_status_customer_currency_and_amount(door):
    customer, card = door.customer_with_card()
    big = door.charge(customer, card, 5_000, metadata={"campaign": "c1", "pledge_id": "1"})
    small = door.charge(customer, card, 500, metadata={"campaign": "c1", "pledge_id": "2"})
    waiting = door(
        "POST",
        "/v1/payment_intents",
        {"amount": 800, "currency": "usd", "metadata": {"campaign": "c1"}},
    )

    def ids(query):
        return {pi["id"] for pi in _search(door, query)["data"]}

    assert ids("metadata['campaign']:'c1'") == {big["id"], small["id"], waiting["id"]}
    assert ids('metadata["pledge_id"]:"2"') == {small["id"]}
    assert ids("metadata['campaign']:'c1' AND status:'succeeded'") == {big["id"], small["id"]}
    assert ids(f"customer:'{customer}' and amount>1000") == {big["id"]}
    assert ids("amount>=500 AND amount<=800") == {small["id"], waiting["id"]}
    assert ids("amount:500") == {small["id"]}
    assert ids("currency:'USD'") == {waiting["id"]}
    assert ids("customer:null") == {waiting["id"]}
    assert ids("metadata['campaign']:'c2'") == set()
    result = _search(door, "metadata['campaign']:'c1'")
    assert (result["object"], result["url"]) == ("search_result", "/v1/payment_intents/search")
    assert "total_count" not in result  # Stripe counts only when asked
    counted = door(
        "GET",
        "/v1/payment_intents/search",
        {"query": "metadata['campaign']:'c1'", "expand": ["total_count"]},
    )
    assert counted["total_count"] == 3
    page = door(
        "GET", "/v1/payment_intents/search", {"query": "metadata['campaign']:'c1'", "limit": 2}
    )
    assert page["has_more"] and page["next_page"]
    rest = door(
        "GET",
        "/v1/payment_intents/search",
        {"query": "metadata['campaign']:'c1'", "limit": 2, "page": page["next_page"]},
    )
    assert len(rest["data"]) == 1 and not rest["has_more"]


def test_search_follows_metadata_updates(door):
    intent = door(
        "POST", "/v1/payment_intents", {"amount": 100, "currency": "eur", "metadata": {"k": "a"}}
    )
    door("POST", f"/v1/payment_intents/{intent['id']}", {"metadata": {"k": "b"}})
    assert _search(door, "metadata['k']:'a'")["data"] == []
    assert [pi["id"] for pi in _search(door, "metadata['k']:'b'")["data"]] == [intent["id"]]


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("status:'succeeded' OR status:'canceled'", "OR is not supported"),
        ("-status:'succeeded'", "Negation"),
        ("description~'pledge'", "substring"),
        ("description:'pledge'", "'description' is not supported"),
        ("amount>'many'", "amount is a number"),
        ("status>'a'", "compare it with : only"),
        ("status:succeeded", "Could not parse"),
        ("metadata:'x'", "metadata['key']"),
        ("status:'succeeded' customer:'cus_1'", "Expected AND"),
    ],
)
def test_search_refuses_what_it_does_not_implement_by_name(door, query, words):
    error = _search(door, query, expect=400)["error"]
    assert error["param"] == "query" and words in error["message"], error["message"]


def test_search_uses_indexes_not_a_scan(door, monkeypatch):
    customer, card = door.customer_with_card()
    wanted = door.charge(customer, card, metadata={"pledge_id": "needle"})
    door("POST", "/v1/payment_intents", {"amount": 100, "currency": "eur"})

    def no_scans(kind):
        raise AssertionError(f"search scanned every {kind}")

    monkeypatch.setattr(door.standin, "all", no_scans)
    query = "metadata['pledge_id']:'needle' AND status:'succeeded'"
    assert [pi["id"] for pi in _search(door, query)["data"]] == [wanted["id"]]
    assert [pi["id"] for pi in _search(door, f"customer:'{customer}'")["data"]] == [wanted["id"]]
    assert len(search.by_field(door.standin, "payment_intent", "customer", customer)) == 1


def test_search_lag_hides_young_objects_from_search_only():
    clock = Clock()
    door = Door(clock)
    door.standin.faults_update({"search_lag_s": 30})
    old = door(
        "POST", "/v1/payment_intents", {"amount": 100, "currency": "eur", "metadata": {"k": "v"}}
    )
    clock.now += 20
    young = door(
        "POST", "/v1/payment_intents", {"amount": 100, "currency": "eur", "metadata": {"k": "v"}}
    )
    assert _search(door, "metadata['k']:'v'")["data"] == []
    clock.now += 15
    assert [pi["id"] for pi in _search(door, "metadata['k']:'v'")["data"]] == [old["id"]]
    assert door("GET", f"/v1/payment_intents/{young['id']}")["id"] == young["id"]
    assert len(door("GET", "/v1/payment_intents")["data"]) == 2


# --- charges ---------------------------------------------------------------------------------


def test_charges_list_by_payment_intent_and_customer_search_and_update(door):
    customer, card = door.customer_with_card()
    other_customer = door("POST", "/v1/customers", {})["id"]
    intent = door.charge(customer, card, metadata={"pledge_id": "c-1"})
    door.charge(other_customer, "pm_card_visa")
    by_intent = door("GET", "/v1/charges", {"payment_intent": intent["id"]})["data"]
    assert [c["id"] for c in by_intent] == [intent["latest_charge"]]
    by_customer = door("GET", "/v1/charges", {"customer": customer})["data"]
    assert [c["id"] for c in by_customer] == [intent["latest_charge"]]
    assert len(door("GET", "/v1/charges")["data"]) == 2
    found = _search(door, "metadata['pledge_id']:'c-1'", path="/v1/charges/search")["data"]
    assert [c["id"] for c in found] == [intent["latest_charge"]]

    updated = door("POST", f"/v1/charges/{intent['latest_charge']}", {"description": "Pledge c-1"})
    assert updated["description"] == "Pledge c-1"
    (event,) = door.events("charge.updated")
    assert event["data"]["previous_attributes"] == {"description": None}
    assert door.error("GET", "/v1/charges/ch_missing", expect=404)["code"] == "resource_missing"


# --- refunds and the balance -----------------------------------------------------------------


def test_refunds_are_capped_at_what_is_left_and_move_the_balance(door):
    customer, card = door.customer_with_card()
    intent = door.charge(customer, card, 1_000)
    charge_id = intent["latest_charge"]
    available = door("GET", "/v1/balance")["available"]
    assert available == [{"amount": 960, "currency": "eur", "source_types": {"card": 960}}]

    partial = door(
        "POST",
        "/v1/refunds",
        {"charge": charge_id, "amount": 300, "reason": "requested_by_customer"},
    )
    assert (partial["status"], partial["amount"], partial["payment_intent"]) == (
        "succeeded",
        300,
        intent["id"],
    )
    transaction = door("GET", f"/v1/balance_transactions/{partial['balance_transaction']}")
    assert (transaction["type"], transaction["amount"], transaction["fee"]) == ("refund", -300, 0)
    assert door("GET", "/v1/balance")["available"][0]["amount"] == 660

    too_much = door.error("POST", "/v1/refunds", {"charge": charge_id, "amount": 800})
    assert too_much["code"] == "amount_too_large"
    assert too_much["message"] == (
        "Refund amount (€8.00) is greater than unrefunded amount on charge (€7.00)"
    )
    rest = door("POST", "/v1/refunds", {"payment_intent": intent["id"]})
    assert rest["amount"] == 700 and rest["charge"] == charge_id
    charge = door("GET", f"/v1/charges/{charge_id}")
    assert (charge["amount_refunded"], charge["refunded"]) == (1_000, True)
    assert "refunds" not in charge  # not included since API version 2022-11-15 unless expanded
    expanded = door("GET", f"/v1/charges/{charge_id}", {"expand": ["refunds"]})
    assert [r["id"] for r in expanded["refunds"]["data"]] == [rest["id"], partial["id"]]
    of_charge = door("GET", f"/v1/charges/{charge_id}/refunds")["data"]
    assert [r["id"] for r in of_charge] == [rest["id"], partial["id"]]
    done = door.error("POST", "/v1/refunds", {"charge": charge_id})
    assert (done["code"], done["message"]) == (
        "charge_already_refunded",
        f"Charge {charge_id} has already been refunded.",
    )
    assert door("GET", "/v1/balance")["available"][0]["amount"] == -40  # the fee is kept

    refunded_events = door.events("charge.refunded")
    assert [e["data"]["object"]["amount_refunded"] for e in refunded_events] == [300, 1_000]
    assert len(door.events("refund.created")) == 2
    listed = door("GET", "/v1/refunds", {"payment_intent": intent["id"]})["data"]
    assert {r["id"] for r in listed} == {partial["id"], rest["id"]}
    assert door("GET", f"/v1/refunds/{partial['id']}")["amount"] == 300
    assert len(door("GET", "/v1/refunds", {"charge": charge_id})["data"]) == 2


def test_a_charge_shows_its_refunds_only_when_expanded(door):
    customer, card = door.customer_with_card()
    intent = door.charge(customer, card, 1_000)
    charge_id = intent["latest_charge"]
    refund = door("POST", "/v1/refunds", {"charge": charge_id, "amount": 250})

    assert all("refunds" not in charge for charge in door.standin.all("charge"))
    (refunded,) = door.events("charge.refunded")
    assert "refunds" not in refunded["data"]["object"]
    with_charge = door("GET", f"/v1/payment_intents/{intent['id']}", {"expand": ["latest_charge"]})
    assert "refunds" not in with_charge["latest_charge"]

    deep = door("GET", f"/v1/charges/{charge_id}", {"expand": ["refunds.data.balance_transaction"]})
    assert deep["refunds"]["url"] == f"/v1/charges/{charge_id}/refunds"
    assert deep["refunds"]["data"][0]["balance_transaction"]["amount"] == -250
    updated = door(
        "POST", f"/v1/charges/{charge_id}", {"description": "Pledge", "expand": ["refunds"]}
    )
    assert [r["id"] for r in updated["refunds"]["data"]] == [refund["id"]]
    listed = door("GET", "/v1/charges", {"expand": ["data.refunds"]})["data"]
    assert [r["id"] for r in listed[0]["refunds"]["data"]] == [refund["id"]]
    assert "refunds" not in door("GET", "/v1/charges")["data"][0]
    query = f"payment_intent:'{intent['id']}'"
    found = _search(door, query, path="/v1/charges/search")
    assert "refunds" not in found["data"][0]
    found = door("GET", "/v1/charges/search", {"query": query, "expand": ["data.refunds"]})
    assert [r["id"] for r in found["data"][0]["refunds"]["data"]] == [refund["id"]]
    assert "refunds" not in door.standin.get("charge", charge_id)  # expanding stored nothing


def test_refunds_of_what_did_not_succeed_are_refused(door):
    customer, card = door.customer_with_card("pm_card_chargeCustomerFail")
    error = door.charge(customer, card, expect=402)["error"]
    failed = door.error("POST", "/v1/refunds", {"charge": error["charge"]})
    assert "failed" in failed["message"]
    not_paid = door.error("POST", "/v1/refunds", {"payment_intent": error["payment_intent"]["id"]})
    assert "does not have a successful charge" in not_paid["message"]
    assert door.error("POST", "/v1/refunds", {})["code"] == "parameter_missing"
    assert door.error("POST", "/v1/refunds", {"charge": "ch_nope"})["code"] == "resource_missing"


# --- disputes --------------------------------------------------------------------------------


def test_the_dispute_card_is_disputed_at_once_and_winning_evidence_wins(door):
    customer = door("POST", "/v1/customers", {})["id"]
    intent = door.charge(customer, "pm_card_createDispute", 2_000)
    charge = door("GET", f"/v1/charges/{intent['latest_charge']}")
    assert charge["disputed"] is True
    (dispute,) = door("GET", "/v1/disputes", {"charge": charge["id"]})["data"]
    assert (dispute["status"], dispute["reason"], dispute["amount"]) == (
        "needs_response",
        "fraudulent",
        2_000,
    )
    assert dispute["payment_intent"] == intent["id"]
    (withdrawal,) = dispute["balance_transactions"]
    assert (withdrawal["amount"], withdrawal["fee"], withdrawal["net"]) == (-2_000, 1_500, -3_500)
    fee = 30 + 25
    assert door("GET", "/v1/balance")["available"][0]["amount"] == 2_000 - fee - 3_500
    (created,) = door.events("charge.dispute.created")
    assert created["data"]["object"]["id"] == dispute["id"]
    assert door.error("POST", "/v1/refunds", {"charge": charge["id"]})["code"] == "charge_disputed"

    won = door(
        "POST",
        f"/v1/disputes/{dispute['id']}",
        {"evidence": {"uncategorized_text": "winning_evidence"}},
    )
    assert won["status"] == "won" and won["evidence_details"]["submission_count"] == 1
    assert [t["net"] for t in won["balance_transactions"]] == [-3_500, 3_500]
    assert door("GET", "/v1/balance")["available"][0]["amount"] == 2_000 - fee
    (closed,) = door.events("charge.dispute.closed")
    assert closed["data"]["object"]["status"] == "won"
    again = door.error(
        "POST", f"/v1/disputes/{dispute['id']}", {"evidence": {"uncategorized_text": "more"}}
    )
    assert "already closed" in again["message"]
    assert shape_differences("dispute", won, FIXTURES["dispute"]) == []


def test_losing_evidence_loses_and_closing_accepts_the_dispute(door):
    customer = door("POST", "/v1/customers", {})["id"]
    disputes = []
    for _ in range(3):
        intent = door.charge(customer, "pm_card_createDispute", 1_000)
        disputes.append(
            door("GET", "/v1/disputes", {"payment_intent": intent["id"]})["data"][0]["id"]
        )
    lost = door(
        "POST",
        f"/v1/disputes/{disputes[0]}",
        {"evidence": {"uncategorized_text": "losing_evidence"}},
    )
    assert lost["status"] == "lost" and len(lost["balance_transactions"]) == 1
    staged = door(
        "POST",
        f"/v1/disputes/{disputes[1]}",
        {"evidence": {"customer_name": "Ada"}, "submit": False},
    )
    assert staged["status"] == "needs_response" and staged["evidence_details"]["has_evidence"]
    submitted = door(
        "POST", f"/v1/disputes/{disputes[1]}", {"evidence": {"product_description": "A pledge"}}
    )
    assert submitted["status"] == "under_review"
    accepted = door("POST", f"/v1/disputes/{disputes[2]}/close")
    assert accepted["status"] == "lost"
    assert door.error("POST", f"/v1/disputes/{disputes[2]}/close")["message"].startswith(
        "This dispute is already closed"
    )
    statuses = [e["data"]["object"]["status"] for e in door.events("charge.dispute.closed")]
    assert statuses == ["lost", "lost"]
    assert len(door("GET", "/v1/disputes")["data"]) == 3
    assert door("GET", f"/v1/disputes/{disputes[1]}")["status"] == "under_review"


# --- statement descriptors, expanded fees, lists by time ----------------------------------------


@pytest.mark.parametrize(
    ("suffix", "shown"),
    [
        ("GARDEN", "GROUNDSWELL* GARDEN"),
        ("spring 2027", "GROUNDSWELL* SPRING 20"),  # the whole descriptor is cut at 22
        ("ABCDEFGHIJKLMNOPQRSTUV", "GROUNDSWELL* ABCDEFGHI"),
    ],
)
def test_the_suffix_is_kept_and_shown_after_the_accounts_prefix(door, suffix, shown):
    customer, card = door.customer_with_card()
    intent = door.charge(customer, card, statement_descriptor_suffix=suffix)
    assert intent["statement_descriptor_suffix"] == suffix
    charge = door("GET", f"/v1/charges/{intent['latest_charge']}")
    assert (charge["statement_descriptor_suffix"], charge["calculated_statement_descriptor"]) == (
        suffix,
        shown,
    )
    assert len(shown) <= 22


def test_an_update_refuses_a_suffix_stripe_refuses(door):
    intent = door("POST", "/v1/payment_intents", {"amount": 100, "currency": "eur"})
    error = door.error(
        "POST", f"/v1/payment_intents/{intent['id']}", {"statement_descriptor_suffix": "A*"}
    )
    assert error["param"] == "statement_descriptor_suffix"
    assert door("GET", f"/v1/payment_intents/{intent['id']}")["statement_descriptor_suffix"] is None


def _fee_of(payment_intent):
    return payment_intent["latest_charge"]["balance_transaction"]["fee"]


def test_the_fee_can_be_expanded_on_create_retrieve_and_confirm(door):
    expand = {"expand": ["latest_charge.balance_transaction"]}
    customer, card = door.customer_with_card()
    created = door.charge(customer, card, 2_500, **expand)
    assert created["latest_charge"]["object"] == "charge"
    assert _fee_of(created) == 25 + 38  # 1.5 % of 25.00 rounded half up, plus 0.25
    retrieved = door("GET", f"/v1/payment_intents/{created['id']}", expand)
    assert _fee_of(retrieved) == _fee_of(created)
    assert isinstance(door("GET", f"/v1/payment_intents/{created['id']}")["latest_charge"], str)

    waiting = door(
        "POST",
        "/v1/payment_intents",
        {"amount": 1_000, "currency": "eur", "customer": customer, "payment_method": card},
    )
    assert waiting["status"] == "requires_confirmation"
    confirmed = door(
        "POST", f"/v1/payment_intents/{waiting['id']}/confirm", {"off_session": True, **expand}
    )
    assert (confirmed["status"], _fee_of(confirmed)) == ("succeeded", 15 + 25)


def test_an_idempotent_replay_answers_with_the_same_expanded_fee(door):
    customer, card = door.customer_with_card()
    params = {
        "amount": 1_000,
        "currency": "eur",
        "customer": customer,
        "payment_method": card,
        "off_session": True,
        "confirm": True,
        "expand": ["latest_charge.balance_transaction"],
    }
    headers = {"Idempotency-Key": "k-expand"}
    first = door.reply("POST", "/v1/payment_intents", params, headers=headers)
    again = door.reply("POST", "/v1/payment_intents", params, headers=headers)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.body == first.body and _fee_of(again.body) == 40
    assert len(door.standin.all("payment_intent")) == 1


def test_a_declined_or_waiting_payment_intent_expands_to_no_fee(door):
    customer, card = door.customer_with_card("pm_card_chargeCustomerFail")
    door.charge(customer, card, expect=402)
    failed = door.standin.all("payment_intent")[-1]
    answer = door(
        "GET",
        f"/v1/payment_intents/{failed['id']}",
        {"expand": ["latest_charge.balance_transaction"]},
    )
    assert answer["latest_charge"]["status"] == "failed"
    assert answer["latest_charge"]["balance_transaction"] is None
    waiting = door(
        "POST",
        "/v1/payment_intents",
        {"amount": 100, "currency": "eur", "expand": ["latest_charge.balance_transaction"]},
    )
    assert waiting["latest_charge"] is None


def test_searched_payment_intents_carry_their_expanded_fee(door):
    customer, card = door.customer_with_card()
    intent = door.charge(customer, card, metadata={"pledge": "p-9", "attempt": "2"})
    found = door(
        "GET",
        "/v1/payment_intents/search",
        {
            "query": "metadata['pledge']:'p-9' AND metadata['attempt']:'2'",
            "expand": ["data.latest_charge.balance_transaction"],
        },
    )
    assert [item["id"] for item in found["data"]] == [intent["id"]]
    assert _fee_of(found["data"][0]) == 40


def test_payment_intents_are_listed_by_creation_time():
    clock = Clock()
    door = Door(clock)
    first = door("POST", "/v1/payment_intents", {"amount": 100, "currency": "eur"})
    clock.now += 10
    second = door("POST", "/v1/payment_intents", {"amount": 100, "currency": "eur"})
    at = second["created"]

    def ids(created):
        return [
            item["id"] for item in door("GET", "/v1/payment_intents", {"created": created})["data"]
        ]

    assert ids({"gte": at}) == [second["id"]]
    assert ids({"gt": at - 10}) == [second["id"]]
    assert ids({"lt": at}) == [first["id"]]
    assert ids({"lte": at, "gte": at - 10}) == [second["id"], first["id"]]
    assert ids(str(at - 10)) == [first["id"]]
    error = door.error("GET", "/v1/payment_intents", {"created": {"since": at}})
    assert error["param"] == "created[since]"
    listed = door(
        "GET",
        "/v1/payment_intents",
        {"created": {"gte": at - 10}, "expand": ["data.latest_charge.balance_transaction"]},
    )
    assert [item["id"] for item in listed["data"]] == [second["id"], first["id"]]
