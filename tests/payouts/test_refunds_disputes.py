"""Refunds and disputes over the in-process stand-in: ledger entries to the cent, pledge
transitions (a second partial refund audited), paid-out money taken back from the transfer,
disputes holding payouts until they close."""

import pytest
from django.contrib.auth.models import Permission

from core.errors import DomainError, NotPermitted
from core.models import AuditEvent, OutboundEmail
from devtools.stripe_standin import api, forms
from devtools.stripe_standin.inprocess import SECRET_KEY
from ledger import selectors as ledger_selectors
from ledger.models import Transaction as LedgerTransaction
from payouts import refunds, services
from payouts.errors import PayoutError
from payouts.models import Dispute, Payout, Refund
from payouts.selectors import payout_breakdown
from pledges import settlement
from pledges.models import Pledge
from tests.factories import BudgetItemFactory, CampaignFactory, MemberFactory
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
from tests.pledges.test_settlement import deadline_passes, pledge_with_card
from tests.stripe_fixtures import stripe_event

pytestmark = pytest.mark.django_db(transaction=True)
Kind = LedgerTransaction.Kind


def refunder(name="refunds"):
    member = approver(name)
    member.user_permissions.add(Permission.objects.get(codename="refund_pledge"))
    return type(member).objects.get(pk=member.pk)


def a_pledge(campaign):
    return Pledge.objects.filter(campaign=campaign, status=Pledge.Status.COLLECTED).first()


def standin_call(gateway, method, path, params=None):
    reply = api.handle(
        gateway.standin,
        method,
        path,
        body=forms.encode(params or {}),
        headers={"Authorization": f"Bearer {SECRET_KEY}"},
    )
    assert reply.status == 200, reply.body
    return reply.body


# --- refunds ---------------------------------------------------------------------------------
def test_a_full_refund_writes_the_ledger_and_gives_the_platform_fee_back(campaign, gateway):
    pledge = a_pledge(campaign)
    held_before = payout_breakdown(campaign).held

    refund = refunds.refund_pledge(pledge, by=refunder(), reason="Double pledge by mistake")

    assert refund.status == Refund.Status.SUCCEEDED
    assert refund.provider_refund_id.startswith("re_")
    pledge.refresh_from_db()
    assert pledge.status == Pledge.Status.REFUNDED
    at_provider = gateway.standin.get("refund", refund.provider_refund_id)
    assert at_provider["amount"] == 2_500
    totals = ledger_selectors.campaign_totals(campaign.pk)
    assert totals[Kind.REFUND] == 2_500
    assert totals[Kind.PLATFORM_FEE] == 250  # 375 taken, 125 given back with the refund
    # The campaign pays the refund less the platform fee it gets back; the processor keeps its.
    assert payout_breakdown(campaign).held == held_before - 2_500 + 125
    assert OutboundEmail.objects.filter(template="pledge_refunded").count() == 1
    with pytest.raises(PayoutError, match="Only a collected pledge"):
        refunds.refund_pledge(pledge, by=refunder("again"), reason="again")


def test_partial_refunds_each_leave_an_audit_row_and_add_up(campaign, gateway):
    pledge = a_pledge(campaign)
    admin = refunder()
    refunds.refund_pledge(pledge, by=admin, reason="Reward sold out", amount_minor=1_000)
    pledge.refresh_from_db()
    assert pledge.status == Pledge.Status.PARTIALLY_REFUNDED
    refunds.refund_pledge(pledge, by=admin, reason="Shipping refunded", amount_minor=1_000)
    pledge.refresh_from_db()
    assert pledge.status == Pledge.Status.PARTIALLY_REFUNDED
    # The second partial refund is not swallowed by "already in the target state".
    assert AuditEvent.objects.filter(target_id=pledge.pk, action="refund").count() == 1
    assert refunds.refundable_minor(pledge) == 500
    with pytest.raises(PayoutError, match="At most €5.00"):
        refunds.refund_pledge(pledge, by=admin, reason="too much", amount_minor=501)
    refunds.refund_pledge(pledge, by=admin, reason="The rest")
    pledge.refresh_from_db()
    assert pledge.status == Pledge.Status.REFUNDED
    fee_back = LedgerTransaction.objects.filter(
        kind=Kind.PLATFORM_FEE, pledge_id=pledge.pk, key__startswith="platform_fee:refund:"
    )
    # 125 in three parts (40 % + 40 % + 20 %): 50 + 50 + 25, the whole fee and no more.
    given = [t.entries.get(amount_minor__gt=0).amount_minor for t in fee_back.order_by("id")]
    assert given == [50, 50, 25]
    assert sum(r.amount_minor for r in pledge.refunds.all()) == 2_500


@pytest.mark.parametrize("amount", [0, -1, True, 2_501])
def test_bad_refund_amounts_are_refused_and_change_nothing(campaign, amount):
    pledge = a_pledge(campaign)
    with pytest.raises(PayoutError):
        refunds.refund_pledge(pledge, by=refunder(), reason="x", amount_minor=amount)
    assert not Refund.objects.exists()
    assert not LedgerTransaction.objects.filter(kind=Kind.REFUND).exists()


def test_who_may_refund(campaign):
    pledge = a_pledge(campaign)
    with pytest.raises(NotPermitted):
        refunds.refund_pledge(pledge, by=MemberFactory(), reason="x")
    not_enrolled = MemberFactory(is_staff=True)
    not_enrolled.user_permissions.add(Permission.objects.get(codename="refund_pledge"))
    not_enrolled = type(not_enrolled).objects.get(pk=not_enrolled.pk)
    with pytest.raises(PayoutError, match="two-factor"):
        refunds.refund_pledge(pledge, by=not_enrolled, reason="x")
    with pytest.raises(PayoutError, match="why"):
        refunds.refund_pledge(pledge, by=campaign.organizer, reason=" ")
    # The organizer refunds their own supporter.
    refund = refunds.refund_pledge(pledge, by=campaign.organizer, reason="Moved away")
    assert refund.status == Refund.Status.SUCCEEDED


def test_a_lost_refund_answer_is_asked_again_with_the_same_key(campaign, gateway):
    pledge = a_pledge(campaign)
    gateway.fail_next = 1
    with pytest.raises(refunds.RefundInterrupted):
        refunds.refund_pledge(pledge, by=refunder(), reason="Lost answer")
    refund = Refund.objects.get()
    assert refund.status == Refund.Status.PENDING
    from datetime import timedelta

    assert refunds.retry_pending_refunds(older_than=timedelta(0)) == 1
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert len(list(gateway.standin.all("refund"))) == 1


def test_a_refund_after_a_payout_reverses_the_transfer_for_the_shortfall(
    campaign, organizer, gateway
):
    available = payout_breakdown(campaign).available
    ids = {item.label: item.pk for item in campaign.budget_items.all()}
    payout = request(
        campaign,
        organizer,
        amount=available,
        allocations=[
            services.Allocation(ids["Seeds"], available - 1_000),
            services.Allocation(ids["Tools"], 1_000),
        ],
    )
    approve_payout(after_window(payout), by=approver())
    payout.refresh_from_db()
    assert payout.status == Payout.Status.PAID
    assert payout_breakdown(campaign).held == 0

    refund = refunds.refund_pledge(a_pledge(campaign), by=refunder(), reason="Moved away")

    refund.refresh_from_db()
    shortfall = 2_500 - 125  # the refund less the platform fee given back
    assert refund.reversed_minor == shortfall
    transfer = gateway.standin.get("transfer", payout.transfer_id)
    assert transfer["amount_reversed"] == shortfall
    breakdown = payout_breakdown(campaign)
    assert breakdown.held == 0
    assert breakdown.paid_out == available - shortfall
    reversal = LedgerTransaction.objects.get(kind=Kind.PAYOUT_REVERSAL)
    assert reversal.provider_object_id.startswith("trr_")


def test_a_refund_after_a_bank_payout_leaves_the_balance_negative_and_holds_payouts(campaign):
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
    breakdown = payout_breakdown(campaign)
    assert breakdown.is_negative and breakdown.held == -(2_500 - 125)
    assert breakdown.available == 0
    with pytest.raises(PayoutError, match="at most"):
        request(campaign, member, amount=100, allocations=[services.Allocation(None, 100, "x")])


# --- disputes ----------------------------------------------------------------------------------
@pytest.fixture
def disputed(db, gateway, post_stripe_webhook):
    """A funded campaign one of whose charges its supporter's bank disputes."""
    campaign = CampaignFactory(live=True, goal_minor=4_000)
    BudgetItemFactory(campaign=campaign, label="Seeds", amount_minor=4_000)
    pledge_with_card(gateway, campaign, amount=2_500)
    disputed_pledge = pledge_with_card(
        gateway, campaign, amount=2_000, card="pm_card_createDispute"
    )
    deadline_passes(campaign)
    settlement.sweep()
    settlement.sweep()
    (dispute,) = gateway.standin.all("dispute")
    response = post_stripe_webhook(stripe_event("charge.dispute.created", dispute))
    assert response.status_code == 200
    disputed_pledge.refresh_from_db()
    return campaign, disputed_pledge, dispute


def test_a_dispute_holds_the_money_and_the_payouts(disputed, gateway, post_stripe_webhook):
    campaign, pledge, dispute = disputed
    assert pledge.status == Pledge.Status.DISPUTED
    found = Dispute.objects.get()
    assert (found.amount_minor, found.fee_minor, found.status) == (2_000, 1_500, "open")
    totals = ledger_selectors.campaign_totals(campaign.pk)
    assert totals[Kind.DISPUTE] == 2_000 and totals[Kind.DISPUTE_FEE] == 1_500
    assert payout_breakdown(campaign).disputes_held == 3_500
    # The same event again changes nothing.
    post_stripe_webhook(stripe_event("charge.dispute.created", dispute))
    assert Dispute.objects.count() == 1
    with pytest.raises(PayoutError, match="disputed"):
        refunds.refund_pledge(pledge, by=refunder(), reason="x")


def test_a_request_waits_on_hold_while_a_dispute_is_open_and_returns_when_won(
    disputed, gateway, post_stripe_webhook
):
    campaign, pledge, dispute = disputed
    member = campaign.organizer
    services.save_bank_account(member, iban="BE68539007547034", account_holder="Jo Organizer")
    payout = request(
        campaign, member, amount=100, allocations=[services.Allocation(None, 100, "x")]
    )
    assert payout.status == Payout.Status.ON_HOLD
    assert payout.hold_kind == Payout.HoldKind.DISPUTE
    with pytest.raises(DomainError, match="on hold"):
        approve_payout(after_window(payout), by=approver())
    assert AuditEvent.objects.filter(action="payout:approval_refused").count() == 1

    won = standin_call(
        gateway,
        "POST",
        f"/v1/disputes/{dispute['id']}",
        {"evidence": {"uncategorized_text": "winning_evidence"}, "submit": "true"},
    )
    assert won["status"] == "won"
    post_stripe_webhook(stripe_event("charge.dispute.closed", won))

    pledge.refresh_from_db()
    assert pledge.status == Pledge.Status.COLLECTED
    assert payout_breakdown(campaign).disputes_held == 0  # amount and fee given back
    payout.refresh_from_db()
    assert payout.status == Payout.Status.REQUESTED


def test_a_lost_dispute_is_a_chargeback(disputed, gateway, post_stripe_webhook):
    campaign, pledge, dispute = disputed
    lost = standin_call(gateway, "POST", f"/v1/disputes/{dispute['id']}/close")
    post_stripe_webhook(stripe_event("charge.dispute.closed", lost))
    pledge.refresh_from_db()
    assert pledge.status == Pledge.Status.CHARGED_BACK
    assert Dispute.objects.get().status == Dispute.Status.LOST
    assert payout_breakdown(campaign).disputes_held == 3_500


def test_a_refund_made_at_the_provider_is_recorded_once(campaign, gateway, post_stripe_webhook):
    pledge = a_pledge(campaign)
    attempt = pledge.attempts.get(status="succeeded")
    made = standin_call(
        gateway, "POST", "/v1/refunds", {"payment_intent": attempt.payment_intent_id, "amount": 700}
    )
    for _ in range(2):  # delivered twice
        post_stripe_webhook(stripe_event("refund.created", made))
    refund = Refund.objects.get()
    assert refund.amount_minor == 700 and refund.requested_by is None
    assert refund.status == Refund.Status.SUCCEEDED
    pledge.refresh_from_db()
    assert pledge.status == Pledge.Status.PARTIALLY_REFUNDED
    assert ledger_selectors.campaign_totals(campaign.pk)[Kind.REFUND] == 700


# --- from the review: the paths where money could go twice or unrecorded ----------------------
def test_a_pending_refund_is_looked_up_never_asked_for_again(campaign, gateway, monkeypatch):
    from datetime import timedelta

    from payments.gateway import Refund as ProviderRefund

    pledge = a_pledge(campaign)
    real_refund = gateway.refund

    def pending(*args, **kwargs):
        made = real_refund(*args, **kwargs)
        return ProviderRefund(id=made.id, status="pending", amount_minor=made.amount_minor)

    monkeypatch.setattr(gateway, "refund", pending)
    refund = refunds.refund_pledge(pledge, by=refunder(), reason="Pending at the bank")
    assert refund.status == Refund.Status.PENDING and refund.provider_refund_id
    monkeypatch.setattr(gateway, "refund", real_refund)
    for _ in range(3):  # sweeps
        refunds.retry_pending_refunds(older_than=timedelta(0))
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED  # found as the provider has it now
    assert len(list(gateway.standin.all("refund"))) == 1


def test_a_refund_between_approval_and_transfer_sends_the_payout_back(
    campaign, organizer, gateway, monkeypatch
):
    from payouts import transfers
    from payouts.tasks import transfer_payout

    available = payout_breakdown(campaign).available
    ids = {item.label: item.pk for item in campaign.budget_items.all()}
    payout = request(
        campaign,
        organizer,
        amount=available,
        allocations=[
            services.Allocation(ids["Seeds"], available - 1_000),
            services.Allocation(ids["Tools"], 1_000),
        ],
    )
    monkeypatch.setattr(transfer_payout, "delay", lambda *args: None)  # the queue is slow
    approve_payout(after_window(payout), by=approver())
    refunds.refund_pledge(a_pledge(campaign), by=refunder(), reason="Moved away")

    transfers.send_transfer(payout.pk)

    payout.refresh_from_db()
    assert payout.status == Payout.Status.REQUESTED and "refund" in payout.failure_message
    assert not list(gateway.standin.all("transfer"))
    assert payout_breakdown(campaign).held == available - (2_500 - 125)


def test_a_reversal_the_provider_could_not_answer_is_made_again_with_the_same_claim(
    campaign, organizer, gateway
):
    from datetime import timedelta

    from payouts.models import PayoutReversal

    available = payout_breakdown(campaign).available
    ids = {item.label: item.pk for item in campaign.budget_items.all()}
    payout = request(
        campaign,
        organizer,
        amount=available,
        allocations=[
            services.Allocation(ids["Seeds"], available - 1_000),
            services.Allocation(ids["Tools"], 1_000),
        ],
    )
    approve_payout(after_window(payout), by=approver())
    payout.refresh_from_db()
    from payments.gateway import PaymentProviderError
    from payouts.tasks import reverse_transfers_for_refund

    # The refund is made; the task that takes the money back finds the provider unreachable.
    real_delay = reverse_transfers_for_refund.delay
    reverse_transfers_for_refund.delay = lambda *args: None
    try:
        refund = refunds.refund_pledge(a_pledge(campaign), by=refunder(), reason="Moved away")
    finally:
        reverse_transfers_for_refund.delay = real_delay
    gateway.fail_next = 1
    with pytest.raises(PaymentProviderError):
        refunds.reverse_transfers_for(refund)
    claim = PayoutReversal.objects.get()
    assert claim.status == PayoutReversal.Status.PENDING and claim.amount_minor == 2_375
    assert refunds.retry_pending_reversals(older_than=timedelta(0)) == 1
    claim.refresh_from_db()
    assert claim.status == PayoutReversal.Status.SUCCEEDED
    assert gateway.standin.get("transfer", payout.transfer_id)["amount_reversed"] == 2_375
    assert payout_breakdown(campaign).held == 0


def test_an_organizer_cannot_refund_money_the_campaign_no_longer_holds(campaign):
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
    with pytest.raises(PayoutError, match="needs the platform team"):
        refunds.refund_pledge(a_pledge(campaign), by=member, reason="Moved away")
    assert not Refund.objects.exists()
    # The platform team (refund permission, two-factor) can.
    assert refunds.refund_pledge(a_pledge(campaign), by=refunder(), reason="Moved away").pk


def test_a_refund_recorded_while_disputed_keeps_the_pledge_disputed_until_it_closes(
    disputed, gateway, post_stripe_webhook
):
    campaign, pledge, dispute = disputed
    attempt = pledge.attempts.get(status="succeeded")
    # Made at the provider before the bank's dispute opened; its event arrives after.
    made = {
        "id": "re_before_the_dispute",
        "object": "refund",
        "amount": 500,
        "currency": "eur",
        "payment_intent": attempt.payment_intent_id,
        "charge": attempt.charge_id,
        "status": "succeeded",
        "metadata": {},
        "created": 1_700_000_000,
    }
    post_stripe_webhook(stripe_event("refund.created", made))
    pledge.refresh_from_db()
    assert pledge.status == Pledge.Status.DISPUTED
    assert Refund.objects.get().status == Refund.Status.SUCCEEDED
    won = standin_call(
        gateway,
        "POST",
        f"/v1/disputes/{dispute['id']}",
        {"evidence": {"uncategorized_text": "winning_evidence"}, "submit": "true"},
    )
    post_stripe_webhook(stripe_event("charge.dispute.closed", won))
    pledge.refresh_from_db()
    assert pledge.status == Pledge.Status.PARTIALLY_REFUNDED


def test_an_inquiry_holds_nothing_and_closing_it_releases_the_payouts(
    campaign, post_stripe_webhook
):
    pledge = a_pledge(campaign)
    attempt = pledge.attempts.get(status="succeeded")
    inquiry = {
        "id": "dp_inquiry_1",
        "object": "dispute",
        "amount": 2_500,
        "currency": "eur",
        "payment_intent": attempt.payment_intent_id,
        "charge": attempt.charge_id,
        "status": "warning_needs_response",
        "reason": "general",
        "balance_transactions": [],
        "created": 1_700_000_000,
    }
    post_stripe_webhook(stripe_event("charge.dispute.created", inquiry))
    assert payout_breakdown(campaign).disputes_held == 0  # nothing was withdrawn
    assert Dispute.objects.get().status == Dispute.Status.OPEN
    post_stripe_webhook(
        stripe_event("charge.dispute.closed", {**inquiry, "status": "warning_closed"})
    )
    assert Dispute.objects.get().status == Dispute.Status.WON
    pledge.refresh_from_db()
    assert pledge.status == Pledge.Status.COLLECTED


def test_the_same_request_again_after_a_rejection_is_a_new_request(campaign, organizer):
    first = request(campaign, organizer)
    services.reject_payout(first, by=approver(), reason="Attach the invoice.")
    again = request(campaign, organizer)
    assert again.created and again.pk != first.pk
