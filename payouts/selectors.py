"""Reads for payouts: a campaign's money breakdown from the ledger, its payouts, the review
queue.

Every figure of the breakdown is read from the ledger, except what open payout requests
ask for: a request moves no money until it is approved (then the ledger reserves it in the
organizer-payable account), but it is counted against what may still be requested so that
two requests cannot together ask for more than the campaign holds.
"""

from dataclasses import dataclass

from django.db.models import Count, Prefetch, Q, Sum

from ledger import selectors as ledger_selectors
from ledger.models import Account
from ledger.models import Transaction as LedgerTransaction
from payouts.models import Payout, PayoutAllocation, PayoutReceipt

# Requests whose money is not in the ledger yet (approval posts it).
NOT_YET_POSTED_STATUSES = (Payout.Status.REQUESTED, Payout.Status.ON_HOLD, Payout.Status.FAILED)


@dataclass(frozen=True)
class Breakdown:
    """A campaign's money, in minor units of `currency`: gross collected, each fee, refunds,
    disputes held back, paid out, being transferred, requested and what is left to request."""

    currency: str
    collected: int
    processor_fees: int
    processor_fees_estimated: bool
    platform_fees: int
    refunds: int
    disputes_held: int
    paid_out: int
    in_transfer: int
    requested: int
    # The campaign account's balance: collected less fees, refunds, disputes and payouts
    # approved (paid or being transferred).
    held: int

    @property
    def available(self):
        """What the organizer may still request: held, less open requests; never below 0."""
        return max(0, self.held - self.requested)

    @property
    def net_collected(self):
        return self.collected - self.processor_fees - self.platform_fees

    @property
    def is_negative(self):
        """Refunds or disputes took more than the campaign holds (after a payout)."""
        return self.held < 0


def payout_breakdown(campaign, *, exclude_payout=None):
    """The campaign's Breakdown; `exclude_payout` leaves that payout's own request out of
    `requested` (when approving it, its amount is what is being checked)."""
    totals = ledger_selectors.campaign_totals(campaign.pk)
    balances = ledger_selectors.campaign_balances(campaign.pk)
    open_requests = Payout.objects.filter(campaign=campaign, status__in=NOT_YET_POSTED_STATUSES)
    if exclude_payout is not None:
        open_requests = open_requests.exclude(pk=exclude_payout.pk)
    requested = open_requests.aggregate(total=Sum("amount_minor"))["total"] or 0
    kind = LedgerTransaction.Kind
    return Breakdown(
        currency=campaign.currency,
        collected=totals[kind.CONTRIBUTION],
        processor_fees=totals[kind.PROCESSOR_FEE],
        processor_fees_estimated=ledger_selectors.has_estimated_fees(campaign.pk),
        platform_fees=totals[kind.PLATFORM_FEE],
        refunds=totals[kind.REFUND],
        disputes_held=totals[kind.DISPUTE] + totals[kind.DISPUTE_FEE],
        paid_out=balances[Account.Kind.ORGANIZER_BANK],
        in_transfer=balances[Account.Kind.ORGANIZER_PAYABLE],
        requested=requested,
        held=balances[Account.Kind.CAMPAIGN],
    )


def with_details(payouts):
    """Payouts with what their pages show, in a fixed number of queries."""
    return payouts.select_related(
        "campaign", "campaign__organizer", "requested_by", "approved_by"
    ).prefetch_related(
        Prefetch("allocations", queryset=PayoutAllocation.objects.select_related("budget_item")),
        Prefetch("receipts", queryset=PayoutReceipt.objects.order_by("id")),
    )


def payouts_for(campaign):
    """The campaign's payouts, newest first (its workspace's history)."""
    return with_details(Payout.objects.filter(campaign=campaign)).order_by("-requested_at", "-id")


def review_queue():
    """Payouts waiting for a decision, oldest first."""
    return with_details(Payout.objects.filter(status__in=Payout.IN_REVIEW_STATUSES)).order_by(
        "requested_at", "id"
    )


def refund_rate(campaign):
    """Percent of the campaign's taken pledges refunded (in part or in full) or disputed."""
    from pledges.models import Pledge

    counts = Pledge.objects.filter(campaign=campaign, status__in=Pledge.TAKEN_STATUSES).aggregate(
        taken=Count("pk"),
        refunded=Count(
            "pk",
            filter=Q(
                status__in=[
                    Pledge.Status.REFUNDED,
                    Pledge.Status.PARTIALLY_REFUNDED,
                    Pledge.Status.DISPUTED,
                ]
            ),
        ),
    )
    if not counts["taken"]:
        return 0
    return counts["refunded"] * 100 // counts["taken"]
