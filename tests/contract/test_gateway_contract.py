"""The gateway contract: the same calls against every provider we use.

Always against our Stripe stand-in through both of its doors (the HTTP server, and the
in-process FakeGateway) and against localstripe; against real Stripe test mode too when
STRIPE_SECRET_KEY holds a real `sk_test_` key. Where the providers differ on purpose
(3-D Secure shape, idempotency keys, what localstripe lets through) the difference is asserted,
so a change on either side shows up here first. The tests only talk to `provider` hooks and the
gateway; a provider-specific step (what Stripe.js or the member does) is a `Provider` method.

The gateway's idempotency keys start with this database's install id (core.install), so the
suite has the database.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from devtools.stripe_standin.inprocess import FakeGateway
from payments.gateway import (
    Charge,
    ChargeStatus,
    InvalidWebhook,
    PaymentDeclined,
    PaymentError,
    PaymentGateway,
    PaymentProviderError,
    SearchUnavailable,
)
from payments.stripe_gateway import StripeGateway
from tests import localstripe_server
from tests.conftest import wait_for
from tests.stripe_fixtures import (
    LOCALSTRIPE_SECRET_KEY,
    STANDIN_SECRET_KEY,
    sign_stripe_payload,
    stripe_event,
)

WEBHOOK_SECRET = "whsec_contract_suite"
REAL_STRIPE_API_BASE = "https://api.stripe.com"

pytestmark = pytest.mark.django_db


def real_stripe_test_key() -> str:
    key = os.environ.get("STRIPE_SECRET_KEY", "")
    return key if key.startswith("sk_test_") and key != LOCALSTRIPE_SECRET_KEY else ""


@dataclass
class Provider:
    """A provider behind StripeGateway, reached over HTTP (localstripe or real Stripe)."""

    name: str
    gateway: PaymentGateway
    # Stripe answers a repeated idempotency key with the first result; localstripe ignores keys.
    honours_idempotency_keys: bool
    # Stripe refuses a refund above what is left of the charge; localstripe refunds any amount.
    caps_refunds: bool
    # Stripe answers an unknown id with code resource_missing; localstripe with a bare 404.
    missing_resource_code: str
    # Stripe refuses a detached or another customer's card and a SetupIntent for an unknown
    # customer; localstripe accepts them.
    strict: bool
    api_base: str = ""
    secret_key: str = ""
    # Stripe searches PaymentIntents; localstripe has no search (404: SearchUnavailable).
    searches: bool = True
    # Stripe's search shows a new PaymentIntent within a minute; the stand-in's at once.
    search_lag_timeout: float = 5.0
    # Stripe's balance transactions carry its fee; localstripe's always say 0.
    charges_fees: bool = True
    # Stripe takes statement_descriptor_suffix; localstripe refuses it by name (the gateway
    # then charges without it).
    takes_descriptor_suffix: bool = True
    # Stripe declines every charge on 4000 0000 0000 0002; localstripe only refuses to
    # attach it, and its charges succeed.
    declines_the_declined_card: bool = True

    def api(self, method, path, params=None):
        status, body = localstripe_server.api(
            self.api_base, method, path, params, secret_key=self.secret_key
        )
        assert status == 200, f"{method} {path} answered {status}: {body}"
        return body

    def confirm_setup_intent_in_browser(self, setup_intent, payment_method="pm_card_visa"):
        """What Stripe.js does when the member submits the card form (declines raise)."""
        status, body = localstripe_server.api(
            self.api_base,
            "POST",
            f"/v1/setup_intents/{setup_intent.id}/confirm",
            {"payment_method": payment_method},
            secret_key=self.secret_key,
        )
        error = (body or {}).get("error") or {}
        if status == 402:  # the card form shows the decline
            raise PaymentDeclined(decline_code=error.get("decline_code") or error.get("code"))
        if status == 400:  # e.g. a cancelled SetupIntent: the card form shows Stripe's message
            raise PaymentProviderError(code=error.get("code") or "", detail=error.get("message"))
        assert status == 200, f"confirming {setup_intent.id} answered {status}: {body}"
        return body

    def charge_object(self, charge_id: str) -> dict:
        """The provider's charge object (what the dashboard shows)."""
        return self.api("GET", f"/v1/charges/{charge_id}")

    def declined_card(self) -> str:
        """4000 0000 0000 0002, which Stripe declines (localstripe knows only the visa_ id)."""
        if self.name == "localstripe":
            return "pm_card_visa_chargeDeclined"
        return "pm_card_chargeDeclined"

    def wait_for_search(self, condition) -> bool:
        # Stripe allows 20 searches a second: poll it gently.
        interval = 2.0 if self.search_lag_timeout > 10 else 0.05
        return wait_for(condition, timeout=self.search_lag_timeout, interval=interval)

    def card_that_always_requires_authentication(self) -> str:
        if self.name == "localstripe":  # no test id for it: create it from the card number
            card = {"number": "4000002760003184", "exp_month": 12, "exp_year": 2034, "cvc": "123"}
            return self.api("POST", "/v1/payment_methods", {"type": "card", "card": card})["id"]
        return "pm_card_authenticationRequired"  # the same card number, 4000 0027 6000 3184

    def pass_3d_secure(self, charge: Charge) -> bool:
        """The member passes 3-D Secure on the payment page; False where a test cannot."""
        if self.name != "localstripe":  # real Stripe needs a browser running Stripe.js
            return False
        self.api(
            "POST",
            f"/v1/payment_intents/{charge.id}/_authenticate",
            {"client_secret": charge.client_secret, "success": True},
        )
        return True


@dataclass
class StandinProvider(Provider):
    """Our stand-in's HTTP door; the member's part in the browser is its Stripe.js endpoints."""

    def card_that_always_requires_authentication(self) -> str:
        return "pm_card_authenticationRequired"  # 4000 0027 6000 3184, as on Stripe

    def pass_3d_secure(self, charge: Charge) -> bool:
        # As on Stripe: the member confirms the PaymentIntent on the payment page, then passes
        # the 3-D Secure challenge (the stand-in's challenge page calls _authenticate).
        intent = self.api("GET", f"/v1/payment_intents/{charge.id}")
        if intent["status"] == "requires_payment_method":
            card = intent["last_payment_error"]["payment_method"]["id"]
            self.api(
                "POST",
                f"/v1/payment_intents/{charge.id}/confirm",
                {"payment_method": card, "client_secret": charge.client_secret},
            )
        self.api(
            "POST",
            f"/v1/payment_intents/{charge.id}/_authenticate",
            {"client_secret": charge.client_secret, "success": "true"},
        )
        return True


@dataclass
class FakeProvider(Provider):
    """The stand-in's in-process door (FakeGateway): the browser's part is its test hooks."""

    gateway: FakeGateway

    def api(self, method, path, params=None):
        pytest.skip(
            "the in-memory fake provider has no HTTP API: give FakeProvider a hook for this step"
        )

    def confirm_setup_intent_in_browser(self, setup_intent, payment_method="pm_card_visa"):
        return self.gateway.confirm_setup_intent(setup_intent.id, payment_method)

    def charge_object(self, charge_id: str) -> dict:
        return self.gateway.standin.get("charge", charge_id)

    def card_that_always_requires_authentication(self) -> str:
        return "pm_card_authenticationRequired"

    def pass_3d_secure(self, charge: Charge) -> bool:
        self.gateway.authenticate_payment(charge.id, success=True)
        return True


@pytest.fixture(params=["standin", "localstripe", "fake", "stripe-test-mode"])
def provider(request) -> Provider:
    if request.param == "standin":
        server = request.getfixturevalue("stripe_standin")
        return StandinProvider(
            name="standin",
            gateway=StripeGateway(
                secret_key=STANDIN_SECRET_KEY,
                api_base=server.base_url,
                webhook_secret=WEBHOOK_SECRET,
            ),
            honours_idempotency_keys=True,
            caps_refunds=True,
            missing_resource_code="resource_missing",
            strict=True,
            api_base=server.base_url,
            secret_key=STANDIN_SECRET_KEY,
        )
    if request.param == "localstripe":
        base_url = request.getfixturevalue("localstripe")
        return Provider(
            name="localstripe",
            gateway=StripeGateway(
                secret_key=LOCALSTRIPE_SECRET_KEY, api_base=base_url, webhook_secret=WEBHOOK_SECRET
            ),
            honours_idempotency_keys=False,
            caps_refunds=False,
            missing_resource_code="",
            strict=False,
            api_base=base_url,
            secret_key=LOCALSTRIPE_SECRET_KEY,
            searches=False,
            charges_fees=False,
            takes_descriptor_suffix=False,
            declines_the_declined_card=False,
        )
    if request.param == "fake":
        return FakeProvider(
            name="fake",
            gateway=FakeGateway(webhook_secret=WEBHOOK_SECRET),
            honours_idempotency_keys=True,
            caps_refunds=True,
            missing_resource_code="resource_missing",
            strict=True,
        )
    key = real_stripe_test_key()
    if not key:
        pytest.skip("real Stripe test mode is off: export STRIPE_SECRET_KEY=sk_test_... to run it")
    return Provider(
        name="stripe",
        gateway=StripeGateway(
            secret_key=key, api_base=REAL_STRIPE_API_BASE, webhook_secret=WEBHOOK_SECRET
        ),
        honours_idempotency_keys=True,
        caps_refunds=True,
        missing_resource_code="resource_missing",
        strict=True,
        api_base=REAL_STRIPE_API_BASE,
        secret_key=key,
        search_lag_timeout=120.0,
    )


@pytest.fixture
def gateway(provider) -> PaymentGateway:
    return provider.gateway


@pytest.fixture
def customer(gateway):
    tag = uuid.uuid4().hex[:12]
    return gateway.create_customer(
        email=f"contract-{tag}@example.org", name="Contract Tester", member_id=f"contract-{tag}"
    )


def unique_key(purpose):
    return f"contract-{purpose}-{uuid.uuid4().hex}"


def test_the_gateway_implements_the_interface(gateway):
    assert isinstance(gateway, PaymentGateway)


def test_create_customer(gateway):
    created = gateway.create_customer(
        email="ada@example.org", name="Ada Lovelace", member_id=f"contract-{uuid.uuid4().hex}"
    )
    assert created.id.startswith("cus_")
    assert (created.email, created.name) == ("ada@example.org", "Ada Lovelace")


def test_card_saved_through_a_setup_intent_confirmed_in_the_browser(provider, gateway, customer):
    setup_intent = gateway.create_setup_intent(customer.id, {"pledge": "p-17"})
    assert setup_intent.id.startswith("seti_")
    assert setup_intent.client_secret.startswith(setup_intent.id)
    assert setup_intent.status == "requires_payment_method"
    assert setup_intent.customer_id == customer.id
    assert setup_intent.metadata == {"pledge": "p-17"}

    provider.confirm_setup_intent_in_browser(setup_intent)

    confirmed = gateway.retrieve_setup_intent(setup_intent.id)
    assert confirmed.status == "succeeded"
    assert confirmed.payment_method_id.startswith("pm_")

    card = gateway.attach_payment_method(confirmed.payment_method_id, customer.id)
    assert (card.id, card.customer_id) == (confirmed.payment_method_id, customer.id)
    assert (card.brand, card.last4) == ("visa", "4242")
    # Already attached (always on Stripe, after the first call on localstripe): a no-op.
    assert gateway.attach_payment_method(card.id, customer.id) == card


def test_attaching_a_declined_card_is_a_payment_declined_error(gateway, customer):
    with pytest.raises(PaymentDeclined) as declined:
        gateway.attach_payment_method("pm_card_visa_chargeDeclined", customer.id)
    assert declined.value.decline_code
    assert declined.value.message == "Your card was declined."


def test_a_card_declined_on_the_card_form_leaves_the_setup_intent_unconfirmed(
    provider, gateway, customer
):
    setup_intent = gateway.create_setup_intent(customer.id)
    with pytest.raises(PaymentDeclined) as declined:
        provider.confirm_setup_intent_in_browser(setup_intent, "pm_card_visa_chargeDeclined")
    assert declined.value.decline_code
    # Stripe waits for another card; localstripe cancels the SetupIntent. Never "succeeded".
    expected = "canceled" if provider.name == "localstripe" else "requires_payment_method"
    assert gateway.retrieve_setup_intent(setup_intent.id).status == expected


def test_a_card_refused_on_the_card_form_shows_on_the_setup_intent(provider, gateway, customer):
    setup_intent = gateway.create_setup_intent(customer.id)
    assert not gateway.retrieve_setup_intent(setup_intent.id).card_failed  # nothing tried yet
    with pytest.raises(PaymentDeclined):
        provider.confirm_setup_intent_in_browser(setup_intent, "pm_card_visa_chargeDeclined")
    refused = gateway.retrieve_setup_intent(setup_intent.id)
    # The card-testing defence counts it however the provider shows it: Stripe (and the fake)
    # keep last_setup_error, localstripe cancels the SetupIntent with the card still on it.
    assert refused.card_failed
    if provider.name != "localstripe":
        assert refused.last_error_code == "card_declined" and refused.decline_code


def test_cancel_setup_intent_is_idempotent_and_ends_the_card_form(provider, gateway, customer):
    setup_intent = gateway.create_setup_intent(customer.id, {"pledge_id": "7"})
    cancelled = gateway.cancel_setup_intent(setup_intent.id)
    assert (cancelled.id, cancelled.status) == (setup_intent.id, "canceled")
    assert not cancelled.card_failed  # no card was tried: not a card-testing failure
    again = gateway.cancel_setup_intent(setup_intent.id)
    assert again.status == "canceled"
    assert gateway.retrieve_setup_intent(setup_intent.id).status == "canceled"
    if provider.strict:  # localstripe lets a cancelled SetupIntent be confirmed again
        with pytest.raises(PaymentError):
            provider.confirm_setup_intent_in_browser(setup_intent)
        assert gateway.retrieve_setup_intent(setup_intent.id).status == "canceled"
    with pytest.raises(PaymentProviderError) as missing:
        gateway.cancel_setup_intent("seti_doesnotexist000000")
    assert missing.value.code == provider.missing_resource_code


def test_off_session_charge_succeeds(gateway, customer):
    card = gateway.attach_payment_method("pm_card_visa", customer.id)
    charge = gateway.charge_saved_card(
        customer.id, card.id, 1250, "EUR", unique_key("charge"), {"pledge_id": "42"}
    )
    assert charge.status == ChargeStatus.SUCCEEDED
    assert charge.id.startswith("pi_") and charge.charge_id.startswith("ch_")
    assert charge.decline_code == "" and charge.client_secret is None

    again = gateway.retrieve_payment(charge.id)
    assert (again.id, again.status, again.charge_id) == (charge.id, charge.status, charge.charge_id)


def test_off_session_decline_is_an_outcome_not_an_error(gateway, customer):
    card = gateway.attach_payment_method("pm_card_chargeCustomerFail", customer.id)
    charge = gateway.charge_saved_card(customer.id, card.id, 1250, "EUR", unique_key("decline"))
    assert charge.status == ChargeStatus.FAILED
    assert charge.decline_code
    assert charge.id.startswith("pi_"), "the PaymentIntent id is needed for reconciliation"
    assert charge.charge_id.startswith("ch_")
    again = gateway.retrieve_payment(charge.id)
    assert (again.status, again.charge_id) == (ChargeStatus.FAILED, charge.charge_id)
    assert again.decline_code

    with pytest.raises(PaymentProviderError) as not_refundable:
        gateway.refund(charge.id, None, unique_key("refund"))
    assert not not_refundable.value.retryable


def test_off_session_charge_that_needs_3d_secure_requires_action(provider, gateway, customer):
    card = gateway.attach_payment_method(
        provider.card_that_always_requires_authentication(), customer.id
    )
    metadata = {"pledge": f"p-{uuid.uuid4().hex[:12]}", "attempt": "1"}
    charge = gateway.charge_saved_card(
        customer.id, card.id, 1250, "EUR", unique_key("3ds"), metadata
    )
    assert charge.status == ChargeStatus.REQUIRES_ACTION
    assert charge.id.startswith("pi_")
    assert charge.client_secret.startswith(charge.id), "the payment page needs the client secret"
    assert (charge.amount_minor, charge.currency, charge.metadata) == (1250, "EUR", metadata)
    assert charge.fee_minor is None  # nothing charged yet
    assert gateway.retrieve_payment(charge.id).status == ChargeStatus.REQUIRES_ACTION

    if provider.pass_3d_secure(charge):  # the member, on the payment page
        assert gateway.retrieve_payment(charge.id).status == ChargeStatus.SUCCEEDED


def test_cancel_payment_ends_a_payment_waiting_for_3d_secure_and_is_a_no_op_after(
    provider, gateway, customer
):
    card = gateway.attach_payment_method(
        provider.card_that_always_requires_authentication(), customer.id
    )
    waiting = gateway.charge_saved_card(customer.id, card.id, 1250, "EUR", unique_key("cancel"))
    assert waiting.status == ChargeStatus.REQUIRES_ACTION

    cancelled = gateway.cancel_payment(waiting.id)

    assert (cancelled.id, cancelled.status) == (waiting.id, ChargeStatus.FAILED)
    assert cancelled.amount_minor == 1250
    raw = (
        gateway.standin.get("payment_intent", waiting.id)
        if provider.name == "fake"
        else provider.api("GET", f"/v1/payment_intents/{waiting.id}")
    )
    assert raw["status"] == "canceled"  # nobody can complete it any more
    assert gateway.retrieve_payment(waiting.id).status == ChargeStatus.FAILED
    assert gateway.cancel_payment(waiting.id).status == ChargeStatus.FAILED  # again: a no-op

    # A payment that succeeded is left alone, and the answer says so.
    visa = gateway.attach_payment_method("pm_card_visa", customer.id)
    paid = gateway.charge_saved_card(customer.id, visa.id, 700, "EUR", unique_key("paid"))
    kept = gateway.cancel_payment(paid.id)
    assert (kept.status, kept.charge_id) == (ChargeStatus.SUCCEEDED, paid.charge_id)

    with pytest.raises(PaymentProviderError) as missing:
        gateway.cancel_payment("pi_doesnotexist000000")
    assert missing.value.code == provider.missing_resource_code


def test_a_charge_carries_its_amount_currency_metadata_fee_time_and_descriptor(
    provider, gateway, customer
):
    card = gateway.attach_payment_method("pm_card_visa", customer.id)
    metadata = {"pledge": f"p-{uuid.uuid4().hex[:12]}", "attempt": "1"}
    before = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    charge = gateway.charge_saved_card(
        customer.id,
        card.id,
        1250,
        "EUR",
        unique_key("details"),
        metadata,
        statement_descriptor_suffix="GARDEN",
    )
    assert charge.status == ChargeStatus.SUCCEEDED
    assert (charge.amount_minor, charge.currency, charge.metadata) == (1250, "EUR", metadata)
    assert before <= charge.created <= datetime.now(UTC) + timedelta(minutes=5)
    if provider.charges_fees:
        assert isinstance(charge.fee_minor, int) and 0 < charge.fee_minor < 1250
    else:  # localstripe's balance transactions have no fees
        assert charge.fee_minor == 0

    again = gateway.retrieve_payment(charge.id)
    assert again == charge, "retrieving it later gives the same details, the fee included"

    descriptor = provider.charge_object(charge.charge_id).get("calculated_statement_descriptor")
    if provider.takes_descriptor_suffix:
        assert descriptor.endswith("* GARDEN")  # the account's prefix, then ours
        if provider.name in ("standin", "fake"):
            assert descriptor == "GROUNDSWELL* GARDEN"
    else:  # localstripe refused the suffix by name; the gateway charged without it
        assert not descriptor


@pytest.mark.parametrize("suffix", ["GARDEN*", "12345", "A" * 23])
def test_a_statement_descriptor_suffix_stripe_refuses_is_a_provider_error(
    provider, gateway, customer, suffix
):
    card = gateway.attach_payment_method("pm_card_visa", customer.id)
    if not provider.takes_descriptor_suffix:  # localstripe: sent without it
        charge = gateway.charge_saved_card(
            customer.id,
            card.id,
            500,
            "EUR",
            unique_key("suffix"),
            statement_descriptor_suffix=suffix,
        )
        assert charge.status == ChargeStatus.SUCCEEDED
        return
    with pytest.raises(PaymentProviderError) as refused:
        gateway.charge_saved_card(
            customer.id,
            card.id,
            500,
            "EUR",
            unique_key("suffix"),
            statement_descriptor_suffix=suffix,
        )
    assert not refused.value.retryable
    assert "statement_descriptor_suffix" in refused.value.detail


def test_find_payments_finds_a_charge_by_pledge_and_attempt(provider, gateway, customer):
    card = gateway.attach_payment_method("pm_card_visa", customer.id)
    pledge = f"p-{uuid.uuid4().hex[:12]}"
    first = gateway.charge_saved_card(
        customer.id, card.id, 700, "EUR", unique_key("find"), {"pledge": pledge, "attempt": "1"}
    )
    second = gateway.charge_saved_card(
        customer.id, card.id, 700, "EUR", unique_key("find"), {"pledge": pledge, "attempt": "2"}
    )
    wanted = {"pledge": pledge, "attempt": "2"}
    if not provider.searches:
        with pytest.raises(SearchUnavailable) as unavailable:
            gateway.find_payments(wanted)
        assert not unavailable.value.retryable
        assert isinstance(unavailable.value, PaymentProviderError)
        return

    assert provider.wait_for_search(lambda: gateway.find_payments(wanted))
    assert gateway.find_payments(wanted) == [gateway.retrieve_payment(second.id)]
    assert gateway.find_payments({"pledge": pledge, "attempt": "3"}) == []
    assert gateway.find_payments({"pledge": f"p-{uuid.uuid4().hex[:12]}"}) == []

    assert provider.wait_for_search(lambda: len(gateway.find_payments({"pledge": pledge})) == 2)
    both = gateway.find_payments({"pledge": pledge})
    assert {charge.id for charge in both} == {first.id, second.id}
    assert both[0].created >= both[1].created, "newest first"


def test_a_quote_in_searched_metadata_is_escaped(provider, gateway, customer):
    if not provider.searches:  # asserted as a difference, not skipped
        from payments.gateway import SearchUnavailable

        with pytest.raises(SearchUnavailable):
            gateway.find_payments({"pledge": "o'brien"})
        return
    card = gateway.attach_payment_method("pm_card_visa", customer.id)
    tricky = {"pledge": f"o'brien\\{uuid.uuid4().hex[:8]}"}
    charge = gateway.charge_saved_card(
        customer.id, card.id, 700, "EUR", unique_key("quote"), tricky
    )
    assert provider.wait_for_search(lambda: gateway.find_payments(tricky))
    assert [found.id for found in gateway.find_payments(tricky)] == [charge.id]


def test_list_payments_includes_a_created_charge(gateway, customer):
    card = gateway.attach_payment_method("pm_card_visa", customer.id)
    charge = gateway.charge_saved_card(customer.id, card.id, 900, "EUR", unique_key("list"))
    listed = {found.id: found for found in gateway.list_payments(created_gte=charge.created)}
    assert listed[charge.id] == gateway.retrieve_payment(charge.id)
    later = charge.created + timedelta(seconds=1)
    assert charge.id not in {found.id for found in gateway.list_payments(created_gte=later)}


def test_an_idempotent_replay_returns_the_same_payment_intent_and_charges_once(
    provider, gateway, customer
):
    card = gateway.attach_payment_method("pm_card_visa", customer.id)
    metadata = {"pledge": f"p-{uuid.uuid4().hex[:12]}", "attempt": "1"}
    key = unique_key("replay")

    def charge():
        return gateway.charge_saved_card(
            customer.id, card.id, 1100, "EUR", key, metadata, statement_descriptor_suffix="GARDEN"
        )

    first, second = charge(), charge()
    succeeded = [
        found.id
        for found in gateway.list_payments(created_gte=first.created)
        if found.metadata == metadata and found.status == ChargeStatus.SUCCEEDED
    ]
    if not provider.honours_idempotency_keys:  # localstripe charges twice: our attempt rows
        assert first.id != second.id and len(succeeded) == 2  # must not send it twice
        return
    assert second == first
    assert succeeded == [first.id]


def test_a_declined_off_session_card_fails_with_its_decline_code(provider, gateway, customer):
    metadata = {"pledge": f"p-{uuid.uuid4().hex[:12]}", "attempt": "1"}
    # Saving this card is declined (see above): charge it unsaved, as a card that started
    # failing after it was saved would be.
    charge = gateway.charge_saved_card(
        customer.id, provider.declined_card(), 1250, "EUR", unique_key("declined"), metadata
    )
    if not provider.declines_the_declined_card:  # localstripe charges it
        assert charge.status == ChargeStatus.SUCCEEDED
        return
    assert charge.status == ChargeStatus.FAILED
    assert charge.decline_code == "generic_decline"
    assert charge.id.startswith("pi_") and charge.charge_id.startswith("ch_")
    assert (charge.amount_minor, charge.currency, charge.metadata) == (1250, "EUR", metadata)
    assert charge.fee_minor is None
    assert gateway.retrieve_payment(charge.id).decline_code == "generic_decline"
    if provider.searches:  # reconciliation finds a declined attempt too
        assert provider.wait_for_search(lambda: gateway.find_payments(metadata))
        assert [found.status for found in gateway.find_payments(metadata)] == [ChargeStatus.FAILED]


def test_partial_refunds_by_payment_intent_and_by_charge(gateway, customer):
    card = gateway.attach_payment_method("pm_card_visa", customer.id)
    charge = gateway.charge_saved_card(customer.id, card.id, 1250, "EUR", unique_key("charge"))

    by_intent = gateway.refund(charge.id, 500, unique_key("refund"))
    assert by_intent.id.startswith("re_")
    assert (by_intent.status, by_intent.amount_minor) == ("succeeded", 500)
    assert by_intent.payment_intent_id == charge.id

    by_charge = gateway.refund(charge.charge_id, 750, unique_key("refund"))
    assert (by_charge.status, by_charge.amount_minor) == ("succeeded", 750)
    assert by_charge.charge_id == charge.charge_id


def test_refunds_are_capped_at_the_charged_amount(provider, gateway, customer):
    card = gateway.attach_payment_method("pm_card_visa", customer.id)
    charge = gateway.charge_saved_card(customer.id, card.id, 1250, "EUR", unique_key("charge"))
    if not provider.caps_refunds:  # localstripe refunds any amount: our ledger must not
        assert gateway.refund(charge.id, 5000, unique_key("refund")).amount_minor == 5000
        return

    with pytest.raises(PaymentProviderError) as too_much:
        gateway.refund(charge.id, 1251, unique_key("refund"))
    assert not too_much.value.retryable
    assert gateway.refund(charge.id, 1000, unique_key("refund")).amount_minor == 1000
    # No amount: what is left of the charge.
    assert gateway.refund(charge.charge_id, None, unique_key("refund")).amount_minor == 250
    with pytest.raises(PaymentProviderError) as again:
        gateway.refund(charge.id, None, unique_key("refund"))
    assert again.value.code == "charge_already_refunded"
    assert not again.value.retryable


def test_amounts_below_one_minor_unit_are_refused(gateway, customer):
    card = gateway.attach_payment_method("pm_card_visa", customer.id)
    with pytest.raises(PaymentProviderError):
        gateway.charge_saved_card(customer.id, card.id, 0, "EUR", unique_key("zero"))
    charge = gateway.charge_saved_card(customer.id, card.id, 1250, "EUR", unique_key("charge"))
    with pytest.raises(PaymentProviderError):
        gateway.refund(charge.id, 0, unique_key("refund"))


def test_detach_is_idempotent(gateway, customer):
    card = gateway.attach_payment_method("pm_card_visa", customer.id)
    assert gateway.detach_payment_method(card.id).customer_id is None
    assert gateway.detach_payment_method(card.id).customer_id is None


def test_a_detached_card_is_never_used_again(provider, gateway, customer):
    card = gateway.attach_payment_method("pm_card_visa", customer.id)
    gateway.detach_payment_method(card.id)
    if not provider.strict:  # localstripe lets it be attached and charged again
        assert gateway.attach_payment_method(card.id, customer.id).customer_id == customer.id
        return
    with pytest.raises(PaymentProviderError):
        gateway.attach_payment_method(card.id, customer.id)
    with pytest.raises(PaymentProviderError):
        gateway.charge_saved_card(customer.id, card.id, 500, "EUR", unique_key("detached"))


def test_a_card_belongs_to_one_customer(provider, gateway, customer):
    card = gateway.attach_payment_method("pm_card_visa", customer.id)
    tag = uuid.uuid4().hex[:12]
    other = gateway.create_customer(f"other-{tag}@example.org", "Other", f"contract-{tag}")
    if not provider.strict:  # localstripe moves the card to the other customer
        assert gateway.attach_payment_method(card.id, other.id).customer_id == other.id
        return
    with pytest.raises(PaymentProviderError):
        gateway.attach_payment_method(card.id, other.id)
    with pytest.raises(PaymentProviderError):
        gateway.charge_saved_card(other.id, card.id, 500, "EUR", unique_key("not-theirs"))


def test_idempotency_keys_are_sent_but_localstripe_ignores_them(provider, gateway, customer):
    card = gateway.attach_payment_method("pm_card_visa", customer.id)
    key = unique_key("same")
    first = gateway.charge_saved_card(customer.id, card.id, 300, "EUR", key)
    second = gateway.charge_saved_card(customer.id, card.id, 300, "EUR", key)
    # Our own attempt rows must make charges idempotent: localstripe charges twice here.
    assert (first.id == second.id) is provider.honours_idempotency_keys
    assert second.status == ChargeStatus.SUCCEEDED

    refund_key = unique_key("refund")
    refunds = [gateway.refund(first.id, 100, refund_key) for _ in range(2)]
    assert (refunds[0].id == refunds[1].id) is provider.honours_idempotency_keys

    # StripeGateway.create_customer sends the key <install id>-member-<id>-customer.
    member_id = f"contract-{uuid.uuid4().hex[:12]}"
    customers = [gateway.create_customer("twice@example.org", "Twice", member_id) for _ in "ab"]
    assert (customers[0].id == customers[1].id) is provider.honours_idempotency_keys


def test_an_idempotency_key_reused_with_other_parameters_is_refused(provider, gateway, customer):
    card = gateway.attach_payment_method("pm_card_visa", customer.id)
    key = unique_key("reused")
    gateway.charge_saved_card(customer.id, card.id, 300, "EUR", key)
    if not provider.honours_idempotency_keys:  # localstripe makes a second charge
        assert gateway.charge_saved_card(customer.id, card.id, 400, "EUR", key).id
        return
    with pytest.raises(PaymentProviderError) as reused:
        gateway.charge_saved_card(customer.id, card.id, 400, "EUR", key)
    assert not reused.value.retryable
    # Not "refused, nothing done": the key's first request did whatever it did.
    assert reused.value.code == "idempotency_error"


def test_provider_errors_are_domain_errors(gateway, customer):
    with pytest.raises(PaymentProviderError) as missing:
        gateway.retrieve_setup_intent("seti_doesnotexist000000")
    assert not missing.value.retryable
    assert not any(cls.__module__.startswith("stripe") for cls in type(missing.value).__mro__)

    with pytest.raises(PaymentError):
        gateway.charge_saved_card(
            "cus_doesnotexist000000", "pm_card_visa", 100, "EUR", unique_key("missing")
        )


def test_unknown_ids_are_missing_resources(provider, gateway, customer):
    calls = {
        "retrieve_setup_intent": lambda: gateway.retrieve_setup_intent("seti_doesnotexist000000"),
        "retrieve_payment": lambda: gateway.retrieve_payment("pi_doesnotexist000000"),
        "attach": lambda: gateway.attach_payment_method("pm_doesnotexist000000", customer.id),
        "attach to nobody": lambda: gateway.attach_payment_method(
            "pm_card_visa", "cus_doesnotexist000000"
        ),
        "detach": lambda: gateway.detach_payment_method("pm_doesnotexist000000"),
        "delete_customer": lambda: gateway.delete_customer("cus_doesnotexist000000"),
        "charge nobody": lambda: gateway.charge_saved_card(
            "cus_doesnotexist000000", "pm_card_visa", 100, "EUR", unique_key("missing")
        ),
        "charge no card": lambda: gateway.charge_saved_card(
            customer.id, "pm_doesnotexist000000", 100, "EUR", unique_key("missing")
        ),
        "refund payment": lambda: gateway.refund("pi_doesnotexist000000", None, unique_key("r")),
        "refund charge": lambda: gateway.refund("ch_doesnotexist000000", 100, unique_key("r")),
    }
    if provider.strict:  # localstripe makes a SetupIntent for any customer id
        calls["setup intent for nobody"] = lambda: gateway.create_setup_intent(
            "cus_doesnotexist000000"
        )
    for call, make in calls.items():
        with pytest.raises(PaymentProviderError) as missing:
            make()
        assert not missing.value.retryable, call
        assert missing.value.code == provider.missing_resource_code, call


# --- Webhook signatures (Stripe's scheme, signed here) -----------------------------------------
# Verification is local computation, the same for every provider: each gateway class once.


@pytest.fixture(params=["stripe-gateway", "fake-gateway"])
def webhook_gateway(request):
    if request.param == "fake-gateway":
        return FakeGateway(webhook_secret=WEBHOOK_SECRET)
    return StripeGateway(
        secret_key=LOCALSTRIPE_SECRET_KEY,
        api_base="http://127.0.0.1:9",  # never called
        webhook_secret=WEBHOOK_SECRET,
    )


def signed(event, *, secret=WEBHOOK_SECRET, timestamp=None):
    body = json.dumps(event).encode()
    return body, sign_stripe_payload(body, secret, timestamp)


def test_verify_webhook_accepts_a_correctly_signed_event(webhook_gateway):
    event = stripe_event("setup_intent.succeeded", {"id": "seti_1", "object": "setup_intent"})
    body, header = signed(event)
    verified = webhook_gateway.verify_webhook(body, header)
    assert (verified.id, verified.type) == (event["id"], "setup_intent.succeeded")
    assert verified.data_object == {"id": "seti_1", "object": "setup_intent"}
    assert int(verified.created.timestamp()) == event["created"]
    assert verified.payload == event


def test_verify_webhook_accepts_any_matching_v1_signature(webhook_gateway):
    # During a secret roll Stripe signs with both secrets.
    body, header = signed(stripe_event("customer.created", {"id": "cus_1"}))
    good = header.split("v1=")[1]
    assert webhook_gateway.verify_webhook(body, f"{header.split(',')[0]},v1={'0' * 64},v1={good}")


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda body, header: (body + b" ", header), id="body-changed"),
        pytest.param(lambda body, header: (body, ""), id="no-header"),
        pytest.param(lambda body, header: (body, "garbage"), id="garbled-header"),
        pytest.param(lambda body, header: (body, header.split(",")[0]), id="no-signature"),
        pytest.param(lambda body, header: (body, header.replace("v1=", "v0=")), id="wrong-scheme"),
        pytest.param(lambda body, header: (body, "t=abc,v1=00"), id="bad-timestamp"),
        pytest.param(lambda body, header: (body, header + "é"), id="non-ascii"),
    ],
)
def test_verify_webhook_refuses_tampered_deliveries(webhook_gateway, tamper):
    body, header = signed(stripe_event("customer.created", {"id": "cus_1"}))
    with pytest.raises(InvalidWebhook):
        webhook_gateway.verify_webhook(*tamper(body, header))


def test_verify_webhook_refuses_another_secret(webhook_gateway):
    body, header = signed(stripe_event("customer.created", {}), secret="whsec_someone_else")
    with pytest.raises(InvalidWebhook):
        webhook_gateway.verify_webhook(body, header)


def test_verify_webhook_refuses_a_timestamp_older_than_the_tolerance(webhook_gateway):
    event = stripe_event("customer.created", {"id": "cus_1"})
    body, header = signed(event, timestamp=int(time.time()) - 301)
    with pytest.raises(InvalidWebhook, match="too old"):
        webhook_gateway.verify_webhook(body, header)
    body, header = signed(event, timestamp=int(time.time()) - 290)
    assert webhook_gateway.verify_webhook(body, header).id == event["id"]


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"id": "evt_1"}', b'{"id": 1, "type": "x", "created": 1, "data": {}}'],
    ids=["not-json", "not-an-object", "no-type", "no-data-object"],
)
def test_verify_webhook_refuses_a_signed_body_that_is_not_an_event(webhook_gateway, body):
    with pytest.raises(InvalidWebhook):
        webhook_gateway.verify_webhook(body, sign_stripe_payload(body, WEBHOOK_SECRET))


def test_verify_webhook_refuses_a_body_that_is_not_utf8(webhook_gateway):
    body = b"\xff\xfe"
    with pytest.raises(InvalidWebhook):
        webhook_gateway.verify_webhook(body, "t=1,v1=00")


def test_charge_value_is_plain_data():
    charge = Charge(id="pi_1", status=ChargeStatus.SUCCEEDED)
    with pytest.raises(AttributeError):
        charge.status = ChargeStatus.FAILED
