"""The gateway's Stripe Connect calls over our in-process stand-in (FakeGateway): organizers'
Express accounts, their onboarding, transfers with their keys and groups, reversals and the
platform's balance. What every provider does the same is in tests/contract/test_connect_contract.py;
here are the details only the stand-in lets a test arrange (a clock, pending funds, fault
switches, the store's view of what was sent).

The database is there because the gateway's keys start with its install id (core.install).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import stripe

from devtools.stripe_standin.inprocess import FakeGateway
from devtools.stripe_standin.state import Standin
from payments import stripe_gateway
from payments.gateway import (
    Balance,
    ChargeStatus,
    ConnectedAccount,
    PaymentProviderError,
    Transfer,
    TransferReversal,
    idempotency_key,
)
from payments.stripe_gateway import StripeGateway
from tests.standin.inprocess_api import Clock

pytestmark = pytest.mark.django_db

BALANCE_INSUFFICIENT = stripe_gateway._TRANSFER_REFUSALS["balance_insufficient"]
RETURN_URL = "https://groundswell.example/payouts/onboarding/done"
REFRESH_URL = "https://groundswell.example/payouts/onboarding/again"


@pytest.fixture
def gateway():
    return FakeGateway()


def account_for(gateway, member_id=7, *, verified=True):
    account = gateway.create_connected_account(
        email=f"organizer-{member_id}@example.org", country="BE", member_id=member_id
    )
    if verified:
        gateway.complete_onboarding(account.id)
    return account


def fund(gateway, amount_minor=10_000):
    """A succeeded charge on the platform (the stand-in's card fee is taken from it)."""
    customer = gateway.create_customer("supporter@example.org", "Sam", member_id="funds")
    card = gateway.attach_payment_method("pm_card_visa", customer.id)
    charge = gateway.charge_saved_card(
        customer.id, card.id, amount_minor, "EUR", f"fund-{len(gateway.payment_intents)}"
    )
    assert charge.status == ChargeStatus.SUCCEEDED
    return charge


def transfer(gateway, destination, amount_minor=1_000, *, key="payout-p1-transfer-1", **extra):
    return gateway.create_transfer(
        amount_minor=amount_minor,
        currency="EUR",
        destination=destination,
        idempotency_key=key,
        **extra,
    )


# --- accounts ----------------------------------------------------------------------------


def test_a_connected_account_is_an_express_account_that_only_receives_transfers(gateway):
    from core.install import install_id

    account = gateway.create_connected_account(
        email="organizer@example.org", country="be", member_id=7
    )

    assert isinstance(account, ConnectedAccount)
    assert account.id.startswith("acct_")
    assert (account.email, account.country, account.default_currency) == (
        "organizer@example.org",
        "BE",
        "EUR",
    )
    # Nothing is enabled before its owner has been through onboarding.
    assert not (account.charges_enabled or account.payouts_enabled or account.details_submitted)
    assert "external_account" in account.requirements_due
    assert list(account.requirements_due) == sorted(account.requirements_due)
    assert account.disabled_reason == "requirements.past_due"
    sent = gateway.standin.get("account", account.id)
    assert sent["type"] == "express"
    assert sent["capabilities"] == {"transfers": "inactive"}  # no card_payments asked for
    assert sent["tos_acceptance"]["service_agreement"] == "recipient"
    assert sent["metadata"] == {"member_id": "7", "install": install_id()}


def test_the_same_member_gets_the_same_account_and_another_member_another(gateway):
    first = account_for(gateway, 7, verified=False)
    again = account_for(gateway, 7, verified=False)
    other = account_for(gateway, 8, verified=False)

    assert again == first
    assert other.id != first.id
    assert sorted(gateway.connected_accounts) == sorted([first.id, other.id])
    key = idempotency_key("member", 7, "connect-account")
    assert ("", key) in gateway.standin.idempotency  # the key the interface promises


def test_an_account_without_email_is_created_without_one(gateway):
    account = gateway.create_connected_account(email="", country="NL", member_id=9)
    assert (account.email, account.country, account.default_currency) == ("", "NL", "EUR")


def test_onboarding_verifies_the_account_or_leaves_a_document_due(gateway):
    verified = account_for(gateway, 7, verified=False)
    restricted = account_for(gateway, 8, verified=False)

    gateway.complete_onboarding(verified.id)
    gateway.complete_onboarding(restricted.id, outcome="restricted")

    now_verified = gateway.retrieve_connected_account(verified.id)
    assert (now_verified.payouts_enabled, now_verified.details_submitted) == (True, True)
    assert (now_verified.requirements_due, now_verified.disabled_reason) == ((), "")
    now_restricted = gateway.retrieve_connected_account(restricted.id)
    assert (now_restricted.payouts_enabled, now_restricted.details_submitted) == (False, True)
    assert now_restricted.requirements_due == ("individual.verification.document",)
    assert now_restricted.disabled_reason == "requirements.past_due"


def test_an_account_link_leads_to_the_hosted_onboarding_of_that_account(gateway):
    account = account_for(gateway, verified=False)

    url = gateway.create_account_link(account.id, refresh_url=REFRESH_URL, return_url=RETURN_URL)

    assert "/_standin/connect/onboarding/link_" in url
    link = gateway.standin.private[url.rsplit("/", 1)[1]]
    assert (link["account"], link["return_url"], link["refresh_url"]) == (
        account.id,
        RETURN_URL,
        REFRESH_URL,
    )
    # One link per visit: a second one is another URL.
    assert (
        gateway.create_account_link(account.id, refresh_url=REFRESH_URL, return_url=RETURN_URL)
        != url
    )


def test_an_account_link_with_a_url_that_is_not_one_is_refused(gateway):
    account = account_for(gateway, verified=False)
    with pytest.raises(PaymentProviderError) as refused:
        gateway.create_account_link(account.id, refresh_url="not a url", return_url=RETURN_URL)
    assert not refused.value.retryable
    assert "refresh_url" in refused.value.detail


def test_unknown_accounts_and_transfers_are_missing_resources(gateway):
    calls = {
        "retrieve account": lambda: gateway.retrieve_connected_account("acct_doesnotexist"),
        "link": lambda: gateway.create_account_link(
            "acct_doesnotexist", refresh_url=REFRESH_URL, return_url=RETURN_URL
        ),
        "retrieve transfer": lambda: gateway.retrieve_transfer("tr_doesnotexist"),
        "reverse": lambda: gateway.reverse_transfer(
            "tr_doesnotexist", amount_minor=100, idempotency_key="reverse-nothing"
        ),
    }
    for call, make in calls.items():
        with pytest.raises(PaymentProviderError) as missing:
            make()
        assert (missing.value.code, missing.value.retryable) == ("resource_missing", False), call


# --- transfers ---------------------------------------------------------------------------


def test_a_transfer_moves_available_money_once_per_key(gateway):
    destination = account_for(gateway)
    fund(gateway)
    before = gateway.retrieve_balance("EUR")
    metadata = {"payout_id": "p1", "campaign_id": "3", "install": "here"}

    first = transfer(gateway, destination.id, 2_500, transfer_group="payout-p1", metadata=metadata)
    again = transfer(gateway, destination.id, 2_500, transfer_group="payout-p1", metadata=metadata)

    assert isinstance(first, Transfer)
    assert again == first
    assert first.id.startswith("tr_")
    assert (first.amount_minor, first.currency, first.destination) == (2_500, "EUR", destination.id)
    assert (first.transfer_group, first.metadata) == ("payout-p1", metadata)
    assert (first.amount_reversed_minor, first.reversed) == (0, False)
    assert abs(first.created - datetime.now(UTC)) < timedelta(minutes=1)
    assert list(gateway.transfers) == [first.id]
    assert gateway.standin.stats.transfers["p1"] == 1  # the double-payout detector
    after = gateway.retrieve_balance("EUR")
    assert after.available_minor == before.available_minor - 2_500
    assert gateway.retrieve_transfer(first.id) == first


def test_a_transfer_without_group_or_source_sends_neither(gateway):
    destination = account_for(gateway)
    fund(gateway)
    sent = transfer(gateway, destination.id)
    assert (sent.transfer_group, sent.metadata) == ("", {})
    raw = gateway.standin.get("transfer", sent.id)
    assert (raw["transfer_group"], raw["source_transaction"]) == (None, None)


def test_too_little_available_money_is_balance_insufficient_and_moves_nothing(gateway):
    destination = account_for(gateway)
    fund(gateway, 1_000)  # 956 available after the card fee
    available = gateway.retrieve_balance("EUR").available_minor

    with pytest.raises(PaymentProviderError) as refused:
        transfer(gateway, destination.id, available + 1, key="payout-p2-transfer-1")

    assert refused.value.code == "balance_insufficient"
    assert not refused.value.retryable
    assert refused.value.message == BALANCE_INSUFFICIENT
    assert "balance" in str(refused.value.message) and "pending" in str(refused.value.message)
    assert "insufficient available funds" in refused.value.detail  # Stripe's own words
    assert gateway.transfers == {}
    assert gateway.retrieve_balance("EUR").available_minor == available


def test_a_refused_transfer_keeps_its_refusal_under_its_key(gateway):
    # As on Stripe: the request ran, so its answer is kept for the key for 24 hours. Trying
    # again once money is available needs a new key (the payout's next transfer number).
    destination = account_for(gateway)
    with pytest.raises(PaymentProviderError):
        transfer(gateway, destination.id, 500, key="payout-p3-transfer-1")
    fund(gateway)

    with pytest.raises(PaymentProviderError) as replayed:
        transfer(gateway, destination.id, 500, key="payout-p3-transfer-1")
    assert (replayed.value.code, replayed.value.replayed) == ("balance_insufficient", True)

    sent = transfer(gateway, destination.id, 500, key="payout-p3-transfer-2")
    assert sent.amount_minor == 500 and list(gateway.transfers) == [sent.id]


def test_a_source_transaction_funds_a_transfer_while_its_money_is_pending():
    gateway = FakeGateway()
    gateway.standin.settings["available_after_s"] = 7 * 24 * 3600  # as Stripe holds card money
    destination = account_for(gateway)
    charge = fund(gateway, 10_000)
    balance = gateway.retrieve_balance("EUR")
    assert (balance.available_minor, balance.pending_minor) == (0, 10_000 - charge.fee_minor)

    with pytest.raises(PaymentProviderError) as refused:
        transfer(gateway, destination.id, 5_000, key="payout-p4-transfer-1")
    assert refused.value.code == "balance_insufficient"

    sent = transfer(
        gateway,
        destination.id,
        5_000,
        key="payout-p4-transfer-2",
        source_transaction=charge.charge_id,
    )
    assert sent.amount_minor == 5_000
    assert gateway.standin.get("transfer", sent.id)["source_transaction"] == charge.charge_id


def test_a_destination_that_cannot_receive_transfers_yet_is_said_so(gateway):
    unverified = account_for(gateway, verified=False)
    fund(gateway)
    with pytest.raises(PaymentProviderError) as refused:
        transfer(gateway, unverified.id)
    assert refused.value.code == "insufficient_capabilities_for_transfer"
    assert not refused.value.retryable
    assert (
        refused.value.message
        == (stripe_gateway._TRANSFER_REFUSALS["insufficient_capabilities_for_transfer"])
    )
    assert gateway.transfers == {}


def test_an_outage_during_a_transfer_is_retryable_and_the_retry_sends_one(gateway):
    destination = account_for(gateway)
    fund(gateway)
    gateway.fail_next = 1
    with pytest.raises(PaymentProviderError) as outage:
        transfer(gateway, destination.id)
    assert outage.value.retryable and gateway.transfers == {}

    sent = transfer(gateway, destination.id)
    assert transfer(gateway, destination.id) == sent
    assert list(gateway.transfers) == [sent.id]


def test_find_transfers_finds_a_groups_transfers_newest_first():
    clock = Clock()
    gateway = FakeGateway(standin=Standin(clock=clock))
    destination = account_for(gateway)
    fund(gateway)
    first = transfer(gateway, destination.id, 100, key="k-1", transfer_group="payout-a")
    clock.now += 5
    other = transfer(gateway, destination.id, 100, key="k-2", transfer_group="payout-b")
    clock.now += 5
    second = transfer(gateway, destination.id, 100, key="k-3", transfer_group="payout-a")

    assert gateway.find_transfers(transfer_group="payout-a") == [second, first]
    assert gateway.find_transfers(transfer_group="payout-b") == [other]
    assert gateway.find_transfers(transfer_group="payout-none") == []
    with pytest.raises(ValueError):
        gateway.find_transfers(transfer_group="")


def test_list_transfers_pages_through_them_and_filters_by_time(monkeypatch):
    monkeypatch.setattr(stripe_gateway, "_PAGE_SIZE", 2)
    clock = Clock()
    gateway = FakeGateway(standin=Standin(clock=clock))
    destination = account_for(gateway)
    fund(gateway)
    early = [transfer(gateway, destination.id, 100, key=f"early-{n}") for n in range(3)]
    clock.now += 60
    late = [transfer(gateway, destination.id, 100, key=f"late-{n}") for n in range(2)]

    assert {found.id for found in gateway.list_transfers()} == {t.id for t in early + late}
    since = datetime.fromtimestamp(clock.now - 30, tz=UTC)
    assert [found.id for found in gateway.list_transfers(created_gte=since)] == [
        t.id for t in reversed(late)
    ]
    with pytest.raises(ValueError):
        gateway.list_transfers(created_gte=datetime(2026, 1, 1))  # naive


def test_list_transfers_asks_for_its_first_page_at_the_call(gateway):
    gateway.fail_next = 1
    with pytest.raises(PaymentProviderError) as outage:
        gateway.list_transfers()
    assert outage.value.retryable
    assert list(gateway.list_transfers()) == []


def test_a_transfer_reversed_in_part_then_in_full(gateway):
    destination = account_for(gateway)
    fund(gateway)
    sent = transfer(gateway, destination.id, 3_000)
    available = gateway.retrieve_balance("EUR").available_minor

    part = gateway.reverse_transfer(
        sent.id, amount_minor=1_000, idempotency_key="payout-p1-reversal-1", metadata={"why": "x"}
    )
    again = gateway.reverse_transfer(
        sent.id, amount_minor=1_000, idempotency_key="payout-p1-reversal-1", metadata={"why": "x"}
    )

    assert isinstance(part, TransferReversal)
    assert again == part
    assert (part.transfer_id, part.amount_minor) == (sent.id, 1_000)
    assert part.id.startswith("trr_")
    after_part = gateway.retrieve_transfer(sent.id)
    assert (after_part.amount_reversed_minor, after_part.reversed) == (1_000, False)
    assert gateway.retrieve_balance("EUR").available_minor == available + 1_000

    gateway.reverse_transfer(sent.id, amount_minor=2_000, idempotency_key="payout-p1-reversal-2")
    assert gateway.retrieve_transfer(sent.id).reversed
    with pytest.raises(PaymentProviderError) as nothing_left:
        gateway.reverse_transfer(sent.id, amount_minor=1, idempotency_key="payout-p1-reversal-3")
    assert not nothing_left.value.retryable


# --- the platform's balance --------------------------------------------------------------


def test_the_balance_is_the_platforms_per_currency_available_and_pending():
    clock = Clock()
    gateway = FakeGateway(standin=Standin(clock=clock))
    gateway.standin.settings["available_after_s"] = 3600
    assert gateway.retrieve_balance("eur") == Balance(0, 0, "EUR")
    charge = fund(gateway, 10_000)
    net = 10_000 - charge.fee_minor

    assert gateway.retrieve_balance("eur") == Balance(
        available_minor=0, pending_minor=net, currency="EUR"
    )
    clock.now += 3601
    assert gateway.retrieve_balance("EUR") == Balance(net, 0, "EUR")
    assert gateway.retrieve_balance("USD") == Balance(0, 0, "USD")
    # A connected account's money is not the platform's.
    destination = account_for(gateway)
    transfer(gateway, destination.id, 4_000)
    assert gateway.retrieve_balance("EUR").available_minor == net - 4_000


class _Answers(stripe.HTTPClient):
    """A transport that gives every request the same Stripe answer."""

    name = "fixed-answer"

    def __init__(self, body: dict):
        super().__init__()
        self.body = json.dumps(body).encode()

    def request(self, method, url, headers, post_data=None, **_ignored):
        return self.body, 200, {}

    def request_stream(self, method, url, headers, post_data=None, **_ignored):
        return self.request(method, url, headers, post_data)

    def close(self):
        pass


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(
            {  # Stripe may split a currency's balance by source type into several entries
                "object": "balance",
                "available": [
                    {"amount": 700, "currency": "eur", "source_types": {"card": 700}},
                    {"amount": 300, "currency": "eur", "source_types": {"bank_account": 300}},
                    {"amount": 50, "currency": "usd", "source_types": {"card": 50}},
                ],
                "pending": [{"amount": 20, "currency": "eur", "source_types": {"card": 20}}],
            },
            id="stripe",
        ),
        pytest.param(
            {  # localstripe: one entry, not a list of them
                "available": {"amount": 1000, "currency": "eur", "source_types": {"card": 1000}},
                "pending": {"amount": 20, "currency": "eur", "source_types": {"card": 20}},
            },
            id="localstripe",
        ),
    ],
)
def test_the_balance_sums_the_entries_of_its_currency(answer):
    gateway = StripeGateway(
        secret_key="sk_test_fixed",
        api_base="http://127.0.0.1:9",
        webhook_secret="whsec_unused",
        http_client=_Answers(answer),
    )
    assert gateway.retrieve_balance("EUR") == Balance(1_000, 20, "EUR")
