"""Fault injection of our in-memory FakeGateway (its Stripe behaviour is in tests/contract).

The database is there because the gateway's keys start with its install id (core.install).
"""

import time

import pytest

from devtools.stripe_standin.inprocess import GATEWAY_CALLS, FakeGateway
from devtools.stripe_standin.state import Standin
from payments.gateway import ChargeStatus, PaymentGateway, PaymentProviderError
from tests.standin.inprocess_api import Clock

MEMBER_SAFE_MESSAGE = PaymentProviderError().message

pytestmark = pytest.mark.django_db


def _charged(gateway, pledge="p-1", attempt=1):
    customer = gateway.create_customer("ada@example.org", "Ada", member_id=1)
    card = gateway.attach_payment_method("pm_card_visa", customer.id)
    return gateway.charge_saved_card(
        customer.id,
        card.id,
        1250,
        "EUR",
        f"pledge-{pledge}-attempt-{attempt}",
        {"pledge": pledge, "attempt": str(attempt)},
    )


def test_fail_next_fails_that_many_calls_retryably_then_recovers():
    gateway = FakeGateway(fail_next=2)
    for _ in range(2):
        with pytest.raises(PaymentProviderError) as outage:
            gateway.create_customer("ada@example.org", "Ada", member_id=1)
        assert outage.value.retryable
        assert outage.value.message == MEMBER_SAFE_MESSAGE  # the details stay in `detail`
    assert gateway.customers == {}, "a failed call changes nothing"

    customer = gateway.create_customer("ada@example.org", "Ada", member_id=1)
    assert customer.id.startswith("cus_")
    assert (gateway.fail_next, gateway.calls) == (0, 3)


def test_a_charge_retried_after_an_outage_with_the_same_key_charges_once():
    gateway = FakeGateway()
    customer = gateway.create_customer("ada@example.org", "Ada", member_id=1)
    card = gateway.attach_payment_method("pm_card_visa", customer.id)
    gateway.fail_next = 1

    with pytest.raises(PaymentProviderError):
        gateway.charge_saved_card(customer.id, card.id, 1250, "EUR", "pledge-7-attempt-1")
    assert gateway.payment_intents == {}

    charge = gateway.charge_saved_card(customer.id, card.id, 1250, "EUR", "pledge-7-attempt-1")
    again = gateway.charge_saved_card(customer.id, card.id, 1250, "EUR", "pledge-7-attempt-1")
    assert charge.status == ChargeStatus.SUCCEEDED
    assert again == charge and list(gateway.payment_intents) == [charge.id]


def test_the_browser_hooks_are_not_gateway_calls():
    gateway = FakeGateway()
    customer = gateway.create_customer("ada@example.org", "Ada", member_id=1)
    setup_intent = gateway.create_setup_intent(customer.id)
    gateway.fail_next = 1
    assert gateway.confirm_setup_intent(setup_intent.id).status == "succeeded"
    assert gateway.fail_next == 1


def test_latency_is_added_to_every_call_failed_or_not():
    gateway = FakeGateway(latency=0.05, fail_next=1)
    started = time.perf_counter()
    with pytest.raises(PaymentProviderError):
        gateway.create_customer("ada@example.org", "Ada", member_id=1)
    gateway.create_customer("ada@example.org", "Ada", member_id=1)
    assert time.perf_counter() - started >= 0.1


def test_every_provider_call_of_the_interface_is_counted_and_can_fail():
    interface = {
        name
        for name in dir(PaymentGateway)
        if not name.startswith("_") and callable(getattr(PaymentGateway, name))
    }
    assert interface - {"verify_webhook"} == set(GATEWAY_CALLS)


def test_fail_next_fails_find_payments_and_list_payments_at_the_call():
    gateway = FakeGateway()
    charge = _charged(gateway)
    calls = gateway.calls
    gateway.fail_next = 2
    with pytest.raises(PaymentProviderError) as outage:
        gateway.find_payments({"pledge": "p-1"})
    assert outage.value.retryable
    with pytest.raises(PaymentProviderError):
        gateway.list_payments()  # the first page is asked for at the call, not when iterated
    assert gateway.calls == calls + 2 and gateway.fail_next == 0

    assert [found.id for found in gateway.find_payments({"pledge": "p-1"})] == [charge.id]
    assert [found.id for found in gateway.list_payments()] == [charge.id]
    assert gateway.calls == calls + 4


def test_list_payments_pages_through_every_payment_intent(monkeypatch):
    from payments import stripe_gateway

    monkeypatch.setattr(stripe_gateway, "_PAGE_SIZE", 2)
    gateway = FakeGateway()
    charges = [_charged(gateway, pledge=f"p-{n}") for n in range(5)]
    listed = list(gateway.list_payments())
    assert sorted(found.id for found in listed) == sorted(charge.id for charge in charges)
    assert all(found.fee_minor == charges[0].fee_minor for found in listed), "fees on every page"


def test_find_payments_honours_the_search_lag_switch():
    clock = Clock()
    gateway = FakeGateway(standin=Standin(clock=clock))
    gateway.standin.faults_update({"search_lag_s": 60})
    charge = _charged(gateway)
    assert gateway.find_payments({"pledge": "p-1"}) == []  # as on Stripe, for up to a minute
    assert gateway.retrieve_payment(charge.id).status == ChargeStatus.SUCCEEDED
    clock.now += 61
    assert [found.id for found in gateway.find_payments({"pledge": "p-1"})] == [charge.id]


def test_the_fee_comes_with_the_charge_and_after_3d_secure():
    gateway = FakeGateway()
    charge = _charged(gateway)
    assert charge.fee_minor == 44  # 1.5 % of 12.50 rounded half up (19), plus 0.25
    customer = gateway.create_customer("bo@example.org", "Bo", member_id=2)
    card = gateway.attach_payment_method("pm_card_authenticationRequired", customer.id)
    waiting = gateway.charge_saved_card(customer.id, card.id, 1250, "EUR", "pledge-p-2-attempt-1")
    assert (waiting.status, waiting.fee_minor) == (ChargeStatus.REQUIRES_ACTION, None)
    completed = gateway.authenticate_payment(waiting.id)
    assert (completed.status, completed.fee_minor) == (ChargeStatus.SUCCEEDED, 44)
