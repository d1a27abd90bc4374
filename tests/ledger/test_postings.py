"""Postings: balanced, idempotent by key, refused when malformed, inside the caller's
transaction; accounts opened once."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction as db_transaction
from django.utils import timezone

from core.errors import DomainError
from ledger import accounts, services
from ledger.errors import LedgerError
from ledger.models import Account, Entry, Transaction
from tests.ledger.conftest import CAMPAIGN_ID, contribute

pytestmark = pytest.mark.django_db

KIND = Transaction.Kind


def test_a_contribution_moves_money_from_supporters_cards_to_the_campaign(eur):
    when = timezone.now() - dt.timedelta(minutes=5)
    txn, created = contribute(
        42,
        2_500,
        occurred_at=when,
        attempt_id=7,
        provider_object_id="pi_123",
        memo="Pledge 42 collected",
    )

    assert created is True
    assert (txn.kind, txn.currency, txn.key) == (KIND.CONTRIBUTION, "EUR", "contribution:pledge:42")
    assert (txn.campaign_id, txn.pledge_id, txn.attempt_id) == (CAMPAIGN_ID, 42, 7)
    assert txn.provider_object_id == "pi_123"
    assert txn.occurred_at == when and txn.recorded_at >= when
    assert txn.is_estimate is False
    assert sorted(txn.entries.values_list("account__kind", "amount_minor", "currency")) == [
        (Account.Kind.CAMPAIGN, 2_500, "EUR"),
        (Account.Kind.EXTERNAL_CARD, -2_500, "EUR"),
    ]


def test_a_posting_spreads_over_more_than_two_accounts(eur):
    txn, created = services.post(
        KIND.PAYOUT,
        key="payout:3",
        currency="EUR",
        movements=[(eur.campaign, -10_000), (eur.platform, 500), (eur.payable, 9_500)],
        campaign_id=CAMPAIGN_ID,
    )
    assert created and txn.entries.count() == 3


def test_occurred_at_defaults_to_now(eur):
    before = timezone.now()
    txn, _ = contribute(1, 100)
    assert before <= txn.occurred_at <= timezone.now()


def test_an_estimated_fee_is_labelled_as_an_estimate(eur):
    txn, _ = services.transfer(
        KIND.PROCESSOR_FEE,
        from_account=eur.campaign,
        to_account=eur.processor,
        amount_minor=61,
        key="processor_fee:pledge:42",
        is_estimate=True,
        pledge_id=42,
    )
    assert Transaction.objects.get(pk=txn.pk).is_estimate is True


def test_replaying_a_posting_returns_the_recorded_transaction(eur):
    first, created = contribute(42, 2_500, provider_object_id="pi_1")

    again, created_again = contribute(42, 2_500, provider_object_id="pi_1")

    assert created is True and created_again is False
    assert again.pk == first.pk
    assert Transaction.objects.count() == 1 and Entry.objects.count() == 2


def test_a_replay_may_list_the_movements_in_another_order_and_later(eur):
    movements = [(eur.cards, -900), (eur.campaign, 900)]
    first, _ = services.post(
        KIND.CONTRIBUTION, key="k", currency="EUR", movements=movements, pledge_id=5
    )
    again, created = services.post(
        KIND.CONTRIBUTION,
        key="k",
        currency="EUR",
        movements=movements[::-1],
        pledge_id=5,
        occurred_at=timezone.now() + dt.timedelta(hours=1),
        memo="webhook replay",
    )
    assert (again.pk, created) == (first.pk, False)
    assert again.memo == "" and again.occurred_at == first.occurred_at  # the first one stands


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"amount_minor": 2_400}, id="other amount"),
        pytest.param({"campaign_id": 13}, id="other campaign"),
        pytest.param({"currency": "USD"}, id="other currency"),
    ],
)
def test_a_key_reused_for_a_different_posting_is_refused(eur, change):
    contribute(42, 2_500)

    with pytest.raises(LedgerError, match="already used for a different transaction"):
        contribute(42, **{"amount_minor": 2_500, **change})

    assert Transaction.objects.count() == 1 and Entry.objects.count() == 2


def test_a_key_reused_for_another_kind_or_accounts_is_refused(eur):
    services.transfer(
        KIND.PLATFORM_FEE, from_account=eur.campaign, to_account=eur.platform,
        amount_minor=100, key="fee:1",
    )  # fmt: skip
    for kind, to_account in [(KIND.PROCESSOR_FEE, eur.platform), (KIND.PLATFORM_FEE, eur.payable)]:
        with pytest.raises(LedgerError):
            services.transfer(
                kind, from_account=eur.campaign, to_account=to_account,
                amount_minor=100, key="fee:1",
            )  # fmt: skip
    assert Transaction.objects.count() == 1


def test_ledger_errors_are_domain_errors(eur):
    with pytest.raises(DomainError) as caught:
        contribute(1, 0)
    assert isinstance(caught.value, LedgerError) and caught.value.code == "ledger"


def _bad_postings():
    """pytest params of functions from the eur accounts to post's keyword arguments."""

    def posting(overrides):
        def build(eur):
            kwargs = {
                "kind": KIND.REFUND,
                "key": "refund:1",
                "currency": "EUR",
                "movements": [(eur.campaign, -500), (eur.cards, 500)],
            }
            kwargs.update(overrides(eur) if callable(overrides) else overrides)
            return kwargs

        return build

    def moves(*pairs):
        return lambda eur: {"movements": [(getattr(eur, name), amount) for name, amount in pairs]}

    usd_campaign = lambda eur: {  # noqa: E731
        "movements": [(eur.cards, -500), (accounts.campaign_account(CAMPAIGN_ID, "USD"), 500)]
    }
    unsaved = lambda eur: {  # noqa: E731
        "movements": [(eur.cards, -500), (Account(kind="campaign", reference="9"), 500)]
    }
    cases = [
        ("unbalanced", posting(moves(("campaign", -500), ("cards", 499))), "sum to zero"),
        ("float", posting(moves(("campaign", -5.0), ("cards", 5.0))), "not float"),
        (
            "decimal",
            posting(moves(("campaign", Decimal("-5")), ("cards", Decimal("5")))),
            "not Decimal",
        ),
        ("bool", posting(moves(("campaign", True), ("cards", -1))), "not bool"),
        ("numeric text", posting(moves(("campaign", "-500"), ("cards", "500"))), "not str"),
        (
            "zero entry",
            posting(moves(("campaign", -500), ("cards", 500), ("platform", 0))),
            "cannot be zero",
        ),
        ("too large", posting(moves(("campaign", -(10**16)), ("cards", 10**16))), "too large"),
        ("one entry", posting(moves(("campaign", 500))), "at least two accounts"),
        ("no entries", posting(moves()), "at least two accounts"),
        (
            "one account twice",
            posting(moves(("campaign", -500), ("campaign", 500))),
            "at least two accounts",
        ),
        ("not pairs", posting(lambda eur: {"movements": [(eur.campaign, -500, "x")]}), "pairs"),
        (
            "not an account",
            posting(lambda eur: {"movements": [("campaign", -5), ("cards", 5)]}),
            "saved ledger account",
        ),
        ("unsaved account", posting(unsaved), "saved ledger account"),
        ("account in another currency", posting(usd_campaign), "is not in EUR"),
        ("unknown currency", posting({"currency": "XXX"}), "Unknown currency"),
        ("posting in another currency", posting({"currency": "USD"}), "is not in USD"),
        ("unknown kind", posting({"kind": "gift"}), "Unknown transaction kind"),
        ("empty key", posting({"key": " "}), "key"),
        ("key too long", posting({"key": "k" * 201}), "key"),
        ("key not text", posting({"key": 42}), "key"),
        ("contribution without a pledge", posting({"kind": KIND.CONTRIBUTION}), "names the pledge"),
        ("naive time", posting({"occurred_at": dt.datetime(2026, 1, 1, 12)}), "timezone-aware"),
        ("time as text", posting({"occurred_at": "2026-01-01"}), "timezone-aware"),
        ("pledge id zero", posting({"pledge_id": 0}), "pledge_id"),
        ("pledge id text", posting({"pledge_id": "42"}), "pledge_id"),
        ("campaign id bool", posting({"campaign_id": True}), "campaign_id"),
        ("attempt id negative", posting({"attempt_id": -1}), "attempt_id"),
        ("estimate not bool", posting({"is_estimate": "yes"}), "is_estimate"),
        (
            "provider id too long",
            posting({"provider_object_id": "pi_" + "x" * 300}),
            "provider object id",
        ),
        ("memo not text", posting({"memo": None}), "memo"),
    ]
    return [pytest.param(build, match, id=case) for case, build, match in cases]


@pytest.mark.parametrize(("build", "match"), _bad_postings())
def test_malformed_postings_are_refused_and_change_nothing(eur, build, match):
    kwargs = build(eur)
    kind = kwargs.pop("kind")

    with pytest.raises(LedgerError, match=match):
        services.post(kind, **kwargs)

    assert not Transaction.objects.exists() and not Entry.objects.exists()


@pytest.mark.parametrize("amount", [0, -100, 1.5, True, Decimal("10")])
def test_a_transfer_moves_a_positive_whole_amount(eur, amount):
    with pytest.raises(LedgerError):
        services.transfer(
            KIND.REFUND, from_account=eur.campaign, to_account=eur.cards,
            amount_minor=amount, key="refund:1",
        )  # fmt: skip


def test_a_transfer_needs_two_different_accounts(eur):
    with pytest.raises(LedgerError):
        services.transfer(
            KIND.REFUND, from_account=eur.campaign, to_account=eur.campaign,
            amount_minor=100, key="refund:1",
        )  # fmt: skip


def test_a_pledge_has_one_contribution_whatever_the_key(eur):
    contribute(42, 2_500)

    with pytest.raises(LedgerError, match="already has a contribution"):
        services.transfer(
            KIND.CONTRIBUTION, from_account=eur.cards, to_account=eur.campaign,
            amount_minor=2_500, key="contribution:pledge:42:attempt:2", pledge_id=42,
        )  # fmt: skip

    assert Transaction.objects.count() == 1


def test_other_kinds_may_name_a_pledge_many_times(eur):
    for n in (1, 2):
        services.transfer(
            KIND.REFUND, from_account=eur.campaign, to_account=eur.cards,
            amount_minor=100, key=f"refund:re_{n}", pledge_id=42,
        )  # fmt: skip
    assert Transaction.objects.filter(pledge_id=42).count() == 2


def test_a_posting_is_part_of_the_callers_transaction(eur):
    with pytest.raises(RuntimeError), db_transaction.atomic():
        contribute(42, 2_500)
        raise RuntimeError("the caller's later step failed")

    assert not Transaction.objects.exists() and not Entry.objects.exists()


def test_a_refused_posting_leaves_the_callers_transaction_usable(eur):
    with db_transaction.atomic():
        contribute(42, 2_500)
        with pytest.raises(LedgerError):
            contribute(42, 9_999)
        with pytest.raises(LedgerError):
            services.transfer(
                KIND.CONTRIBUTION, from_account=eur.cards, to_account=eur.campaign,
                amount_minor=2_500, key="other-key", pledge_id=42,
            )  # fmt: skip
        contribute(43, 1_000)  # the caller carries on

    assert Transaction.objects.count() == 2


def test_losing_a_race_for_the_key_returns_the_winners_transaction(eur, monkeypatch):
    """The read before the insert missed a concurrent posting: the unique key catches it."""
    winner, _ = contribute(42, 2_500)
    monkeypatch.setattr(services, "_recorded", _missing_once(services._recorded))

    with db_transaction.atomic():
        again, created = contribute(42, 2_500)
        assert Transaction.objects.count() == 1  # the caller's transaction still works

    assert (again.pk, created) == (winner.pk, False)


def test_losing_a_race_with_a_different_posting_is_refused(eur, monkeypatch):
    contribute(42, 2_500)
    monkeypatch.setattr(services, "_recorded", _missing_once(services._recorded))

    with pytest.raises(LedgerError, match="different transaction"):
        contribute(42, 2_000)


def _missing_once(read):
    calls = []

    def recorded(key):
        calls.append(key)
        return None if len(calls) == 1 else read(key)

    return recorded


def test_reverse_transaction_posts_a_correction_that_moves_the_money_back(eur):
    original, _ = contribute(42, 2_500, provider_object_id="pi_1")

    correction, created = services.reverse_transaction(
        original, key="correction:contribution:pledge:42", memo="Posted twice by hand"
    )

    assert created and correction.kind == KIND.CORRECTION
    assert (correction.pledge_id, correction.provider_object_id) == (42, "pi_1")
    assert sorted(correction.entries.values_list("account_id", "amount_minor")) == sorted(
        [(eur.campaign.pk, -2_500), (eur.cards.pk, 2_500)]
    )
    assert Transaction.objects.count() == 2  # the original stays


# --- accounts -------------------------------------------------------------------------------


def test_an_account_is_opened_once(db):
    first = accounts.campaign_account(12, "EUR")
    assert accounts.campaign_account(12, "EUR") == first
    assert accounts.account(Account.Kind.CAMPAIGN, "EUR", "12") == first
    assert accounts.campaign_account(12, "USD") != first
    assert accounts.organizer_payable(12, "EUR") != first
    assert Account.objects.count() == 3


@pytest.mark.parametrize(
    ("made", "text"),
    [
        (lambda: accounts.campaign_account(12, "EUR"), "Campaign 12 (EUR)"),
        (lambda: accounts.processor_fees("GBP"), "Processor fees (GBP)"),
        (lambda: accounts.external_card("EUR"), "Supporters' cards (external) (EUR)"),
        (lambda: accounts.organizer_payable(3, "USD"), "Organizer payable 3 (USD)"),
    ],
)
def test_accounts_read_well(db, made, text):
    assert str(made()) == text


@pytest.mark.parametrize(
    "opening",
    [
        lambda: accounts.account("wallet", "EUR"),
        lambda: accounts.account(Account.Kind.CAMPAIGN, "EUR"),
        lambda: accounts.account(Account.Kind.PLATFORM_FEES, "EUR", "12"),
        lambda: accounts.account(Account.Kind.CAMPAIGN, "EUR", 12),
        lambda: accounts.external_card("XYZ"),
        lambda: accounts.campaign_account("12", "EUR"),
        lambda: accounts.campaign_account(0, "EUR"),
        lambda: accounts.campaign_account(True, "EUR"),
    ],
)
def test_malformed_accounts_are_refused(db, opening):
    with pytest.raises(LedgerError):
        opening()
    assert not Account.objects.exists()
