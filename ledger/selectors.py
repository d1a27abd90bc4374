"""Reads of the ledger: balances, a campaign's totals and collected amounts, its transactions.

Reads never open accounts: a campaign without any ledger account has zero everywhere. A
campaign has one currency, so its figures are plain integers of minor units in it.
"""

from django.db.models import Exists, OuterRef, Sum
from django.db.models.functions import Coalesce

from ledger.accounts import campaign_reference
from ledger.models import Account, Entry, Transaction

# Kinds that bring money into a campaign's account; for the others campaign_totals reports
# what they took off it as a positive number. A correction is reported as it moved the
# account: positive added, negative taken off.
INTO_CAMPAIGN_KINDS = (Transaction.Kind.CONTRIBUTION, Transaction.Kind.PAYOUT_REVERSAL)
SIGNED_KINDS = (Transaction.Kind.CORRECTION,)


def balance(account):
    """What is in the account: the sum of its entries (negative for the outside accounts
    money comes from, such as supporters' cards)."""
    total = Entry.objects.filter(account=account).aggregate(total=Sum("amount_minor"))["total"]
    return total or 0


def _campaign_entries(campaign_id):
    return Entry.objects.filter(
        account__kind=Account.Kind.CAMPAIGN, account__reference=campaign_reference(campaign_id)
    )


def net_minor(campaign_id):
    """The campaign account's balance: collected, less fees, refunds, disputes and payouts."""
    total = _campaign_entries(campaign_id).aggregate(total=Sum("amount_minor"))["total"]
    return total or 0


def collected_minor(campaign_id):
    """Gross contributions into the campaign's account (before fees and refunds)."""
    total = (
        _campaign_entries(campaign_id)
        .filter(transaction__kind=Transaction.Kind.CONTRIBUTION)
        .aggregate(total=Sum("amount_minor"))["total"]
    )
    return total or 0


def collected_by_campaign(campaign_ids):
    """{campaign id: gross contributions} for many campaigns in one query (0 for none)."""
    references = {campaign_reference(campaign_id): campaign_id for campaign_id in campaign_ids}
    if not references:
        return {}
    rows = (
        Entry.objects.filter(
            account__kind=Account.Kind.CAMPAIGN,
            account__reference__in=list(references),
            transaction__kind=Transaction.Kind.CONTRIBUTION,
        )
        .values_list("account__reference")
        .annotate(total=Sum("amount_minor"))
        .order_by()
    )
    collected = dict.fromkeys(references.values(), 0)
    for reference, total in rows:
        collected[references[reference]] += total
    return collected


def campaign_balances(campaign_id):
    """{account kind: balance} of a campaign's own accounts (campaign, organizer payable,
    organizer bank), 0 for an account not opened yet; one query."""
    rows = (
        Entry.objects.filter(
            account__kind__in=Account.PER_CAMPAIGN_KINDS,
            account__reference=campaign_reference(campaign_id),
        )
        .values_list("account__kind")
        .annotate(total=Sum("amount_minor"))
        .order_by()
    )
    balances = dict.fromkeys(Account.PER_CAMPAIGN_KINDS, 0)
    for kind, total in rows:
        balances[kind] += total
    return balances


def has_estimated_fees(campaign_id):
    """Whether any fee on the campaign's account is the configured estimate, not the
    provider's figure (pages say so next to the fee)."""
    return _campaign_entries(campaign_id).filter(transaction__is_estimate=True).exists()


def campaign_totals(campaign_id):
    """{transaction kind: minor units} for every kind, as it moved the campaign's account.

    Contributions and payout reversals are what they brought in; fees, refunds, disputes
    and payouts are what they took off, as positive numbers (a dispute won back lowers its
    figure); corrections are signed, positive when they added. So `net_minor` is
    the inflows minus the outflows plus the corrections.
    """
    rows = (
        _campaign_entries(campaign_id)
        .values_list("transaction__kind")
        .annotate(total=Sum("amount_minor"))
        .order_by()
    )
    totals = dict.fromkeys(Transaction.Kind.values, 0)
    for kind, total in rows:
        if kind in INTO_CAMPAIGN_KINDS or kind in SIGNED_KINDS:
            totals[kind] += total
        else:
            totals[kind] -= total
    return totals


def campaign_transactions(campaign_id):
    """The transactions that moved a campaign's account, newest first, with their entries
    and accounts (for the transparency page and the admin: queries do not grow with rows)."""
    touches_campaign = _campaign_entries(campaign_id).filter(transaction=OuterRef("pk"))
    return (
        Transaction.objects.filter(Exists(touches_campaign))
        .prefetch_related("entries__account")
        .order_by("-occurred_at", "-id")
    )


def accounts_with_balances(accounts=None):
    """Accounts (all, or the queryset given) annotated with `balance_minor`, for lists: one
    query, however many rows."""
    accounts = Account.objects.all() if accounts is None else accounts
    return accounts.annotate(balance_minor=Coalesce(Sum("entries__amount_minor"), 0))


def contributed_pledge_ids():
    """The ids of the pledges with a contribution transaction, as a values_list queryset (a
    subquery for the pledges app's verify_ledger check: one per collected pledge, no other)."""
    return Transaction.objects.filter(kind=Transaction.Kind.CONTRIBUTION).values_list(
        "pledge_id", flat=True
    )
