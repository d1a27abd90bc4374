"""Reads for the public transparency pages: a campaign's budget plan against what its payouts
paid for, its ledger transactions in plain words (page and CSV), and the platform's totals.

Every amount is read from the ledger or from payout rows; nothing here writes. Query counts do
not grow with rows: the Money page's payouts come with their allocations, receipts and
concerns prefetched, and its transactions carry what they moved on the campaign's account and
the supporter's public name as annotations.
"""

from dataclasses import dataclass, field
from datetime import UTC

from django.db.models import OuterRef, Prefetch, Subquery, Sum
from django.utils.translation import gettext, gettext_lazy

from campaigns.models import Campaign
from core.money import to_major
from ledger import selectors as ledger_selectors
from ledger.accounts import campaign_reference
from ledger.models import Account, Entry, Transaction
from payouts.models import Payout, PayoutConcern
from payouts.selectors import payouts_for
from pledges.models import Pledge

# Past the deadline: the campaigns whose money is public (a live one has none to show yet).
MONEY_PAGE_STATUSES = tuple(
    status for status in Campaign.PUBLIC_STATUSES if status != Campaign.Status.LIVE
)

# What a payout's allocations count as on the plan: paid, approved and on its way, asked for.
PAID_STATUSES = (Payout.Status.PAID,)
APPROVED_STATUSES = (Payout.Status.APPROVED, Payout.Status.PROCESSING)
REQUESTED_STATUSES = (Payout.Status.REQUESTED, Payout.Status.ON_HOLD, Payout.Status.FAILED)

# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def has_money_page(campaign):
    return campaign.status in MONEY_PAGE_STATUSES


def money_page_campaign(slug):
    """The campaign whose Money page this is (Campaign.DoesNotExist while live or not public)."""
    return Campaign.objects.get(slug=slug, status__in=MONEY_PAGE_STATUSES)


def public_payouts(campaign):
    """Every payout request of the campaign, newest first, with its allocations, receipts and
    supporters' concerns (authors joined), in a fixed number of queries."""
    concerns = PayoutConcern.objects.select_related("author", "answered_by").order_by(
        "created_at", "id"
    )
    return payouts_for(campaign).prefetch_related(Prefetch("concerns", queryset=concerns))


def corrections_minor(breakdown):
    """What corrections moved on the campaign's account: the balance less what the other
    lines of the breakdown explain (0 unless an admin posted a correction)."""
    explained = (
        breakdown.collected
        - breakdown.processor_fees
        - breakdown.platform_fees
        - breakdown.refunds
        - breakdown.disputes_held
        - breakdown.paid_out
        - breakdown.in_transfer
    )
    return breakdown.held - explained


# --- plan against actual -----------------------------------------------------------------------
@dataclass
class PlanLine:
    """One budget item (or one "other costs" label): planned, and what payouts allocated."""

    label: str
    planned_minor: int | None  # None: an "other costs" line, not in the plan
    required: bool | None = None
    paid_minor: int = 0
    approved_minor: int = 0
    requested_minor: int = 0
    # (payout, receipt) pairs of the payouts that allocated to this line, oldest first.
    receipts: list = field(default_factory=list)

    @property
    def is_other(self):
        return self.planned_minor is None

    @property
    def left_minor(self):
        """Planned less paid (negative: more was paid than planned)."""
        return (self.planned_minor or 0) - self.paid_minor


@dataclass
class Plan:
    currency: str
    items: list
    other_costs: list
    # What refunds took back from paid payouts' transfers (PAYOUT_REVERSAL "for a refund"):
    # part of `paid_minor` that the organizer no longer holds.
    taken_back_minor: int = 0

    def _total(self, name):
        return sum(getattr(line, name) or 0 for line in [*self.items, *self.other_costs])

    @property
    def planned_minor(self):
        return sum(line.planned_minor for line in self.items)

    @property
    def paid_minor(self):
        return self._total("paid_minor")

    @property
    def approved_minor(self):
        return self._total("approved_minor")

    @property
    def requested_minor(self):
        return self._total("requested_minor")


def plan_vs_actual(campaign, payouts):
    """Each budget item's planned amount beside what paid, approved and requested payouts
    allocated to it, and the "other costs" lines (by label). `payouts` are the campaign's,
    with allocations and receipts prefetched (public_payouts); rejected ones count nowhere."""
    items = {
        item.pk: PlanLine(item.label, item.amount_minor, required=item.required)
        for item in campaign.budget_items.all()
    }
    others = {}
    for payout in sorted(payouts, key=lambda p: (p.requested_at, p.pk)):
        if payout.status in PAID_STATUSES:
            bucket = "paid_minor"
        elif payout.status in APPROVED_STATUSES:
            bucket = "approved_minor"
        elif payout.status in REQUESTED_STATUSES:
            bucket = "requested_minor"
        else:
            continue
        for allocation in payout.allocations.all():
            if allocation.budget_item_id in items:
                line = items[allocation.budget_item_id]
            else:  # other costs, or an item deleted since (its label kept on the allocation)
                line = others.setdefault(allocation.label, PlanLine(allocation.label, None))
            setattr(line, bucket, getattr(line, bucket) + allocation.amount_minor)
            line.receipts.extend(
                (payout, receipt)
                for receipt in payout.receipts.all()
                if (payout, receipt) not in line.receipts
            )
    return Plan(
        campaign.currency,
        list(items.values()),
        list(others.values()),
        taken_back_minor=taken_back_for_refunds_minor(campaign),
    )


def taken_back_for_refunds_minor(campaign):
    """What refunds took back from the campaign's paid payouts, as the ledger recorded it: the
    PAYOUT_REVERSAL transactions "for a refund" into the campaign's account (one query). A
    transfer that could not be sent also posts a PAYOUT_REVERSAL, under another key: that
    payout was never paid, so it is not counted here."""
    total = Entry.objects.filter(
        account__kind=Account.Kind.CAMPAIGN,
        account__reference=campaign_reference(campaign.pk),
        transaction__kind=Transaction.Kind.PAYOUT_REVERSAL,
        transaction__key__startswith="payout_reversal:refund:",
    ).aggregate(total=Sum("amount_minor"))["total"]
    return total or 0


# --- the campaign's ledger transactions --------------------------------------------------------
def ledger_lines(campaign):
    """The transactions that moved the campaign's account, oldest first, each annotated with
    `moved_minor` (what it did to the campaign's account: positive in, negative out) and, for
    contributions, the pledge's `pledge_anonymous`, `pledge_public_name` and
    `supporter_display_name`. Never the supporter's email."""
    moved = (
        Entry.objects.filter(
            transaction=OuterRef("pk"),
            account__kind=Account.Kind.CAMPAIGN,
            account__reference=campaign_reference(campaign.pk),
        )
        .order_by()
        .values("transaction")
        .annotate(total=Sum("amount_minor"))
        .values("total")
    )
    pledge = Pledge.objects.filter(pk=OuterRef("pledge_id"))
    return (
        ledger_selectors.campaign_transactions(campaign.pk)
        .prefetch_related(None)  # what the page needs is annotated
        .annotate(
            moved_minor=Subquery(moved),
            pledge_anonymous=Subquery(pledge.values("anonymous")[:1]),
            pledge_public_name=Subquery(pledge.values("public_name")[:1]),
            supporter_display_name=Subquery(pledge.values("supporter__display_name")[:1]),
        )
        .order_by("occurred_at", "id")
    )


def supporter_name(transaction):
    """The supporter as they chose to be shown, for a contribution (as Pledge.display_name
    does): their public name, else their display name, or "Anonymous"; "" for other rows."""
    if transaction.kind != Transaction.Kind.CONTRIBUTION or transaction.pledge_anonymous is None:
        return ""
    return Pledge.shown_name(
        anonymous=transaction.pledge_anonymous,
        public_name=transaction.pledge_public_name,
        supporter_name=transaction.supporter_display_name or "",
    )


def _payout_of(key):
    """(short id, public id, step) of the payout a posting belongs to, from its key:
    "payout:<public id>:<attempt>:<step>" (its own postings) or
    "payout_reversal:refund:<refund id>:<public id>" (taken back for a refund)."""
    parts = key.split(":")
    if len(parts) == 4 and parts[0] == "payout":
        return parts[1][:8], parts[1], parts[3]
    if len(parts) == 4 and parts[:2] == ["payout_reversal", "refund"]:
        return parts[3][:8], parts[3], "refund"
    return "", "", ""


def describe(transaction):
    """What the transaction did, in plain words, and the payout it belongs to (public id, or
    ""): (description, payout_public_id)."""
    kind = Transaction.Kind
    moved = transaction.moved_minor or 0
    short_id, public_id, step = _payout_of(transaction.key)
    values = {"payout": short_id}
    if transaction.kind == kind.CONTRIBUTION:
        return gettext("Contribution by a supporter"), ""
    if transaction.kind == kind.PROCESSOR_FEE:
        if transaction.is_estimate:
            return gettext("Card processing fee (estimated)"), ""
        return gettext("Card processing fee"), ""
    if transaction.kind == kind.PLATFORM_FEE:
        if moved > 0:
            return gettext("Platform fee given back for a refund"), ""
        return gettext("Platform fee"), ""
    if transaction.kind == kind.REFUND:
        return gettext("Refund to a supporter"), ""
    if transaction.kind == kind.DISPUTE:
        if moved > 0:
            return gettext("Dispute won: the money came back"), ""
        return gettext("Held back: a supporter's bank disputed a payment"), ""
    if transaction.kind == kind.DISPUTE_FEE:
        if moved > 0:
            return gettext("Dispute fee given back"), ""
        return gettext("Dispute fee charged by the card processor"), ""
    if transaction.kind == kind.PAYOUT:
        if short_id and step == "paid":
            return gettext("Payout %(payout)s paid to the organizer") % values, public_id
        if short_id:
            return (
                gettext("Payout %(payout)s approved: set aside for the organizer") % values,
                public_id,
            )
        return gettext("Payout to the organizer"), ""
    if transaction.kind == kind.PAYOUT_REVERSAL:
        if short_id and step == "refund":
            return (
                gettext("Taken back from payout %(payout)s for a refund") % values,
                public_id,
            )
        if short_id:
            return (
                gettext("Payout %(payout)s could not be sent: back to the campaign") % values,
                public_id,
            )
        return gettext("Taken back from the organizer for a refund"), ""
    if transaction.memo:
        return gettext("Correction: %(memo)s") % {"memo": transaction.memo}, ""
    return gettext("Correction"), ""


@dataclass(frozen=True)
class LedgerLine:
    transaction: Transaction
    description: str
    payout_public_id: str
    supporter: str

    @property
    def moved_minor(self):
        return self.transaction.moved_minor or 0


def ledger_line(transaction):
    description, payout_public_id = describe(transaction)
    return LedgerLine(transaction, description, payout_public_id, supporter_name(transaction))


def csv_safe(text):
    """Text a spreadsheet shows as text: one starting like a formula gets a leading '."""
    text = text or ""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def csv_header():
    return [
        gettext("Date"),
        gettext("Kind"),
        gettext("Description"),
        gettext("Supporter"),
        gettext("Amount"),
        gettext("Currency"),
        gettext("Ledger transaction id"),
        gettext("Provider reference"),
    ]


def csv_rows(campaign, *, chunk_size=500):
    """The Money page's transactions as CSV rows (header first): ISO 8601 UTC times, the
    ledger kind's code, amounts as plain decimals in the currency ("12.50", "-1.25"), read
    in chunks so that a long history streams in constant memory."""
    yield csv_header()
    for transaction in ledger_lines(campaign).iterator(chunk_size=chunk_size):
        line = ledger_line(transaction)
        occurred_at = transaction.occurred_at.astimezone(UTC).isoformat(timespec="seconds")
        yield [
            occurred_at.replace("+00:00", "Z"),
            transaction.kind,
            csv_safe(line.description),
            csv_safe(line.supporter),
            str(to_major(line.moved_minor, transaction.currency)),
            transaction.currency,
            transaction.pk,
            csv_safe(transaction.provider_object_id),
        ]


# --- the platform's totals ---------------------------------------------------------------------
@dataclass(frozen=True)
class CurrencyTotals:
    """All campaigns' money in one currency, in its minor units, read from the ledger with
    payout_breakdown's signs: what came in, what fees, refunds and disputes took, what the
    organizers were paid or is on its way to them, and what the campaigns still hold."""

    currency: str
    raised: int = 0
    processor_fees: int = 0
    processor_fees_estimated: bool = False
    platform_fees: int = 0
    refunded: int = 0
    disputes: int = 0
    paid_out: int = 0
    in_transfer: int = 0
    held: int = 0


def platform_totals():
    """[CurrencyTotals], one per currency the ledger holds money in, in two queries."""
    kind = Transaction.Kind
    rows = (
        Entry.objects.filter(account__kind__in=Account.PER_CAMPAIGN_KINDS)
        .values_list("account__currency", "account__kind", "transaction__kind")
        .annotate(total=Sum("amount_minor"))
        .order_by()
    )
    figures = {}
    for currency, account_kind, transaction_kind, total in rows:
        sums = figures.setdefault(currency, dict.fromkeys(CurrencyTotals.__dataclass_fields__, 0))
        if account_kind == Account.Kind.ORGANIZER_BANK:
            sums["paid_out"] += total
        elif account_kind == Account.Kind.ORGANIZER_PAYABLE:
            sums["in_transfer"] += total
        else:  # the campaigns' own accounts: what each kind of transaction moved
            sums["held"] += total
            name = {
                kind.CONTRIBUTION: "raised",
                kind.PROCESSOR_FEE: "processor_fees",
                kind.PLATFORM_FEE: "platform_fees",
                kind.REFUND: "refunded",
                kind.DISPUTE: "disputes",
                kind.DISPUTE_FEE: "disputes",
            }.get(transaction_kind)
            if name == "raised":
                sums[name] += total
            elif name:
                sums[name] -= total  # what they took off, as a positive number
    estimated = set(
        Transaction.objects.filter(is_estimate=True, kind=kind.PROCESSOR_FEE)
        .order_by()
        .values_list("currency", flat=True)
        .distinct()
    )
    totals = []
    for currency in sorted(figures):
        sums = figures[currency]
        sums.update(currency=currency, processor_fees_estimated=currency in estimated)
        totals.append(CurrencyTotals(**sums))
    return totals


# The totals table's lines, in the order money flows: in, kept, given back, out, left.
TOTALS_LINES = (
    ("raised", gettext_lazy("Raised from supporters")),
    ("processor_fees", gettext_lazy("Card processing fees")),
    ("platform_fees", gettext_lazy("Platform fees")),
    ("refunded", gettext_lazy("Refunded")),
    ("disputes", gettext_lazy("Held back for disputes")),
    ("paid_out", gettext_lazy("Paid out to organizers")),
    ("in_transfer", gettext_lazy("Being transferred to organizers")),
    ("held", gettext_lazy("Held for campaigns")),
)


def totals_table(totals):
    """[{"figure", "label", "cells": [(CurrencyTotals, minor units)]}]: one line per figure,
    one column per currency (never added across currencies)."""
    return [
        {
            "figure": figure,
            "label": label,
            "cells": [(column, getattr(column, figure)) for column in totals],
        }
        for figure, label in TOTALS_LINES
    ]


def ended_campaigns():
    """Campaigns with a Money page, the most recently ended first."""
    return Campaign.objects.filter(status__in=MONEY_PAGE_STATUSES).order_by("-deadline", "-pk")


def with_collected(campaigns):
    """[(campaign, gross collected)] for a page of campaigns, in one query."""
    campaigns = list(campaigns)
    collected = ledger_selectors.collected_by_campaign([campaign.pk for campaign in campaigns])
    return [(campaign, collected.get(campaign.pk, 0)) for campaign in campaigns]
