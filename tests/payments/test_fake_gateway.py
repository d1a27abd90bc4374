"""Fault injection of our in-memory FakeGateway (its Stripe behaviour is in tests/contract)."""

import time

import pytest

from devtools.stripe_standin.inprocess import FakeGateway
from payments.gateway import ChargeStatus, PaymentProviderError

MEMBER_SAFE_MESSAGE = PaymentProviderError().message


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
