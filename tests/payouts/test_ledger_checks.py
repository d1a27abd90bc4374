"""verify_ledger's payout checks over the in-process stand-in: books with a paid payout, a
refund that reversed part of its transfer and an open dispute verify clean; each invariant
broken past the services (the ORM, the stand-in's own API, a posting no service makes) is
named by its check; a provider that cannot list says the check was not run."""

import io
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from core.install import install_id
from ledger import accounts as ledger_accounts
from ledger import services as ledger
from ledger import verification
from ledger.models import Transaction as LedgerTransaction
from payments.stripe_gateway import StripeGateway
from payouts import ledger_checks, refunds, services
from payouts.models import Dispute, Payout, Refund
from payouts.selectors import payout_breakdown
from pledges.models import Pledge
from tests.payouts.test_refunds_disputes import (  # noqa: F401  (fixtures)
    a_pledge,
    disputed,
    refunder,
    standin_call,
)
from tests.payouts.test_services import (  # noqa: F401  (fixtures)
    after_window,
    approve_payout,
    approver,
    campaign,
    fake_gateway,
    gateway,
    organizer,
    request,
)
from tests.stripe_fixtures import LOCALSTRIPE_SECRET_KEY

pytestmark = pytest.mark.django_db(transaction=True)
Kind = LedgerTransaction.Kind

NOT_OVERDRAWN = "payouts: no campaign account below zero but for a refund or dispute after a payout"
PAYABLE = "payouts: organizer payable holds exactly the approved payouts being transferred"
PAID_POSTING = "payouts: one paid posting per paid payout and a transfer of its own"
PROVIDER_TRANSFERS = "payouts: the provider's transfers are our paid payouts', one per attempt"
REFUND_POSTINGS = "payouts: refunds are at most what was collected, each posted once"
PROVIDER_REFUNDS = "payouts: the provider's refunds of our charges are our succeeded refunds"
DISPUTES = "payouts: every dispute is posted, won ones reinstated; disputed pledges have one open"


def violations():
    """{check name: [violation]} of every registered check that found something."""
    found = {}
    for name, violation in verification.run_checks():
        found.setdefault(name, []).append(violation)
    return found


def paid_payout(campaign, organizer, amount=5_000):
    payout = request(campaign, organizer, amount=amount)
    approve_payout(after_window(payout), by=approver())
    payout.refresh_from_db()
    assert payout.status == Payout.Status.PAID
    return payout


@pytest.fixture
def books(campaign, organizer, gateway, disputed):
    """A paid Connect payout of €50, then a full refund of a €25 pledge that took part of its
    transfer back; another campaign with an open dispute."""
    payout = paid_payout(campaign, organizer)
    refund = refunds.refund_pledge(a_pledge(campaign), by=refunder(), reason="Moved away")
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED and refund.reversed_minor > 0
    _disputed_campaign, disputed_pledge, _ = disputed
    assert disputed_pledge.status == Pledge.Status.DISPUTED
    return SimpleNamespace(
        campaign=campaign,
        payout=payout,
        refund=refund,
        dispute=Dispute.objects.get(),
        disputed_pledge=disputed_pledge,
    )


# --- clean -----------------------------------------------------------------------------------
def test_books_with_a_paid_payout_a_refund_and_a_dispute_verify_clean(books, gateway):
    names = [name for name, _check in verification.registered()]
    assert {
        NOT_OVERDRAWN,
        PAYABLE,
        PAID_POSTING,
        PROVIDER_TRANSFERS,
        REFUND_POSTINGS,
        PROVIDER_REFUNDS,
        DISPUTES,
    } <= set(names)
    calls = gateway.calls

    out = io.StringIO()
    call_command("verify_ledger", stdout=out)

    assert out.getvalue().strip().endswith("no violations")
    assert gateway.calls > calls  # it looked at the provider: transfers, refunds, charges


def test_a_negative_balance_after_a_bank_payout_and_a_refund_is_no_violation(campaign):
    member = campaign.organizer
    services.save_bank_account(member, iban="BE68539007547034", account_holder="Jo Organizer")
    available = payout_breakdown(campaign).available
    payout = request(
        campaign,
        member,
        amount=available,
        allocations=[services.Allocation(None, available, "Hall")],
    )
    approve_payout(after_window(payout), by=approver(), bank_reference="SEPA-1")
    refunds.refund_pledge(a_pledge(campaign), by=refunder(), reason="Moved away")
    assert payout_breakdown(campaign).held < 0  # a bank transfer cannot be reversed

    assert violations() == {}

    # Money that leaves the campaign's account with no refund or dispute to explain it.
    ledger.transfer(
        Kind.CORRECTION,
        from_account=ledger_accounts.campaign_account(campaign.pk, campaign.currency),
        to_account=ledger_accounts.organizer_bank(campaign.pk, campaign.currency),
        amount_minor=10_000,
        key="correction:test:overdrawn",
        campaign_id=campaign.pk,
    )
    (found,) = violations()[NOT_OVERDRAWN]
    assert found.startswith(f"campaign {campaign.pk}: its account is -€")
    assert "refunds and disputes after its last payout explain only €25.00" in found


# --- payouts ---------------------------------------------------------------------------------
def test_a_paid_payout_back_in_processing_is_named(books):
    Payout.objects.filter(pk=books.payout.pk).update(status=Payout.Status.PROCESSING)

    found = violations()

    public_id, campaign_id = books.payout.public_id, books.campaign.pk
    assert found[PAYABLE] == [
        f"campaign {campaign_id}: organizer payable holds €0.00, its approved and processing "
        "payouts €50.00",
        f"payout {public_id} is processing and has €0.00 in organizer payable, not €50.00",
    ]
    assert found[PAID_POSTING] == [
        f"payout {public_id} is processing but has the paid posting payout:{public_id}:1:paid"
    ]


def test_a_second_transfer_for_a_paid_payout_is_a_double_payout(books, gateway):
    payout = books.payout
    metadata = {
        "payout_id": str(payout.public_id),
        "transfer_number": "1",
        "campaign_id": str(payout.campaign_id),
        "install": install_id(),
    }
    second = gateway.create_transfer(
        amount_minor=100,
        currency=payout.currency,
        destination=payout.destination,
        idempotency_key="made-by-hand",
        transfer_group=f"payout-{payout.public_id}",
        metadata=metadata,
    )

    found = violations()

    assert list(found) == [PROVIDER_TRANSFERS]
    assert found[PROVIDER_TRANSFERS] == [
        f"payout {payout.public_id} attempt 1 has 2 transfers at the provider "
        f"({', '.join(sorted([payout.transfer_id, second.id]))}): paid more than once",
        f"transfer {second.id} (payout {payout.public_id} attempt 1) is not the transfer of a "
        f"paid payout: the payout is paid, its transfer {payout.transfer_id}",
    ]


def test_a_paid_payout_without_its_transfer_is_named_on_both_sides(books):
    payout = books.payout
    Payout.objects.filter(pk=payout.pk).update(transfer_id="")

    found = violations()

    assert (
        f"payout {payout.public_id} is paid by Connect but names no transfer"
        in (found[PAID_POSTING])
    )
    assert found[PROVIDER_TRANSFERS] == [
        f"transfer {payout.transfer_id} (payout {payout.public_id} attempt 1) is not the "
        "transfer of a paid payout: the payout is paid, its transfer none"
    ]


def test_a_paid_payout_whose_transfer_the_provider_does_not_have_is_named(books):
    payout = books.payout
    Payout.objects.filter(pk=payout.pk).update(transfer_id="tr_nowhere")

    found = violations()

    assert (
        f"payout {payout.public_id} is paid by transfer tr_nowhere, which the provider does not "
        "list for this installation"
    ) in found[PROVIDER_TRANSFERS]
    assert (
        f"payout {payout.public_id} names transfer tr_nowhere, its paid posting "
        f"{payout.transfer_id}"
    ) in found[PAID_POSTING]


def test_transfers_of_another_installation_are_not_ours(books, gateway):
    payout = books.payout
    gateway.create_transfer(
        amount_minor=100,
        currency=payout.currency,
        destination=payout.destination,
        idempotency_key="other-install",
        metadata={"payout_id": str(payout.public_id), "transfer_number": "1", "install": "x"},
    )
    assert violations() == {}


# --- refunds ---------------------------------------------------------------------------------
def test_a_refund_marked_succeeded_without_its_posting_is_named(books):
    pledge = Pledge.objects.filter(campaign=books.campaign, status="collected").first()
    refund = Refund.objects.create(
        pledge=pledge,
        amount_minor=500,
        currency=pledge.currency,
        reason="Past the services",
        status=Refund.Status.SUCCEEDED,
        provider_refund_id="re_never_made",
    )

    found = violations()

    assert found[REFUND_POSTINGS] == [
        f"refund {refund.public_id} of pledge {pledge.pk} succeeded but has no refund posting"
    ]
    assert found[PROVIDER_REFUNDS] == [
        f"refund {refund.public_id} of pledge {pledge.pk} succeeded here, but the provider has "
        "no succeeded refund re_never_made of its charge"
    ]


def test_refunds_above_what_was_collected_are_named(books):
    pledge = books.refund.pledge
    Refund.objects.create(
        pledge=pledge,
        amount_minor=1,
        currency=pledge.currency,
        reason="One cent too many",
        status=Refund.Status.SUCCEEDED,
    )
    found = violations()[REFUND_POSTINGS]
    assert f"pledge {pledge.pk}: €25.01 refunded of €25.00 collected" in found


def test_a_refund_posting_whose_refund_did_not_succeed_is_named(books):
    refund = books.refund
    Refund.objects.filter(pk=refund.pk).update(status=Refund.Status.FAILED)

    found = violations()

    assert (
        f"refund posting refund:{refund.public_id} is not a succeeded refund's"
        in (found[REFUND_POSTINGS])
    )
    assert found[PROVIDER_REFUNDS] == [
        f"refund {refund.provider_refund_id} of pledge {refund.pledge_id} succeeded at the "
        "provider but is failed here"
    ]


def test_a_refund_made_at_the_provider_that_we_never_recorded_is_named(books, gateway):
    pledge = Pledge.objects.filter(campaign=books.campaign, status="collected").first()
    payment_intent = pledge.attempts.get(status="succeeded").payment_intent_id
    made = standin_call(
        gateway, "POST", "/v1/refunds", {"payment_intent": payment_intent, "amount": 700}
    )  # its refund.created event never reaches us

    found = violations()

    assert list(found) == [PROVIDER_REFUNDS]
    assert found[PROVIDER_REFUNDS] == [
        f"refund {made['id']} of pledge {pledge.pk} ({payment_intent}) at the provider is not "
        "recorded here"
    ]


def test_a_refund_whose_answer_was_lost_is_in_flight_until_the_sweep_is_late(campaign, gateway):
    pledge = a_pledge(campaign)
    gateway.standin.faults_update({"error_after_next": 1})  # made, answered 500
    with pytest.raises(refunds.RefundInterrupted):
        refunds.refund_pledge(pledge, by=refunder(), reason="Lost answer")
    refund = Refund.objects.get()
    assert refund.status == Refund.Status.PENDING
    assert len(list(gateway.standin.all("refund"))) == 1  # made there, not recorded here

    assert violations() == {}

    Refund.objects.filter(pk=refund.pk).update(created_at=timezone.now() - timedelta(hours=2))
    (found,) = violations()[PROVIDER_REFUNDS]
    assert found.endswith("at the provider is not recorded here")


def test_list_refunds_gives_each_refund_with_its_metadata_and_time(books, gateway):
    refund = books.refund
    listed = list(gateway.list_refunds(created_gte=refund.created_at - timedelta(minutes=1)))
    assert [made.id for made in listed] == [refund.provider_refund_id]
    (made,) = listed
    assert made.metadata["refund_id"] == str(refund.public_id)
    assert made.status == "succeeded" and made.amount_minor == refund.amount_minor
    assert abs(made.created - refund.created_at) < timedelta(seconds=5)
    assert list(gateway.list_refunds(created_gte=timezone.now() + timedelta(minutes=1))) == []


# --- disputes --------------------------------------------------------------------------------
def test_a_disputed_pledge_whose_dispute_is_no_longer_open_is_named(books):
    dispute = books.dispute
    Dispute.objects.filter(pk=dispute.pk).update(status=Dispute.Status.WON)

    found = violations()

    assert found[DISPUTES] == [
        f"dispute {dispute.provider_dispute_id} was won but its amount was not reinstated "
        f"(dispute:{dispute.provider_dispute_id}:won)",
        f"pledge {books.disputed_pledge.pk} is disputed without an open dispute",
    ]


def test_a_dispute_without_its_posting_and_a_posting_without_its_dispute_are_named(books):
    pledge = books.disputed_pledge
    Dispute.objects.create(
        pledge=pledge,
        provider_dispute_id="dp_never_posted",
        amount_minor=300,
        currency=pledge.currency,
        opened_at=timezone.now(),
    )
    ledger.transfer(
        Kind.DISPUTE,
        from_account=ledger_accounts.campaign_account(pledge.campaign_id, pledge.currency),
        to_account=ledger_accounts.external_card(pledge.currency),
        amount_minor=200,
        key="dispute:dp_nobody_knows",
        campaign_id=pledge.campaign_id,
        pledge_id=pledge.pk,
    )

    found = violations()

    assert found[DISPUTES] == [
        f"dispute dp_never_posted (pledge {pledge.pk}) has no posting dispute:dp_never_posted",
        "dispute posting dispute:dp_nobody_knows is not a dispute's",
    ]


# --- a provider that cannot list -------------------------------------------------------------
def test_an_unreachable_provider_means_not_run_never_a_pass(books, gateway):
    gateway.fail_next = 1
    assert list(ledger_checks.provider_refunds_match()) == [
        "not run: could not list the provider's refunds: The payment provider could not "
        "handle the request. Please try again later."
    ]
    gateway.fail_next = 1
    (found,) = ledger_checks.provider_transfers_match()
    assert found.startswith("not run: could not list the provider's transfers:")


def test_localstripe_without_connect_or_a_refund_time_filter_says_not_run(
    books, localstripe, monkeypatch
):
    """localstripe has no Connect (404) and answers 500 to created[gte] on /v1/refunds: both
    provider checks say they were not run, and verify_ledger fails."""
    witness = StripeGateway(
        secret_key=LOCALSTRIPE_SECRET_KEY,
        api_base=localstripe,
        webhook_secret="whsec_unused",  # noqa: S106
        max_network_retries=0,
    )
    monkeypatch.setattr("payments.gateway._gateway_for", lambda *settings: witness)

    found = violations()

    (transfers,) = found[PROVIDER_TRANSFERS]
    assert transfers.startswith(
        "not run: could not list the provider's transfers: The payment provider does not offer "
        "Stripe Connect"
    )
    assert found[PROVIDER_REFUNDS] == [
        "not run: could not list the provider's refunds: The payment provider could not handle "
        "the request. Please try again later."
    ]
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("verify_ledger", stdout=io.StringIO(), stderr=err)
    assert f"{PROVIDER_REFUNDS}: not run" in err.getvalue()
