"""The payouts app's checks for `manage.py verify_ledger` (found by ledger.verification):
campaign accounts and payouts against the ledger, one paid posting and one transfer per paid
payout, refunds and disputes against their postings, and the provider's transfers and
refunds against ours, both ways.

A provider-side check that cannot list (no Connect, a list it cannot filter, an outage) says
it was not run, as a violation: it never passes without having looked.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from datetime import timedelta

from django.db.models import Max, Q, Sum
from django.utils import timezone

from core.money import format_money
from ledger import selectors as ledger_selectors
from ledger.models import Account, Entry
from ledger.models import Transaction as LedgerTransaction
from ledger.verification import LISTED_PER_CHECK, register
from payouts.models import Dispute, Payout, PayoutAccount, Refund
from pledges.models import PaymentAttempt, Pledge

Kind = LedgerTransaction.Kind
Status = Payout.Status
# Reserved in organizer payable: approved and not yet paid or returned.
IN_TRANSFER_STATUSES = (Status.APPROVED, Status.PROCESSING)
# Money the provider took back from a campaign's account after the fact.
TAKEN_BACK_KINDS = (Kind.REFUND, Kind.DISPUTE, Kind.DISPUTE_FEE)
# Lists read from the provider start this long before our first object there (clock skew).
PROVIDER_MARGIN = timedelta(minutes=5)
# A transfer or refund the provider made whose answer we have not recorded yet: the sweep
# asks again within minutes, so only one older than this is reported.
IN_FLIGHT = timedelta(hours=1)


def _check(name):
    """Register the generator under `name`, listing at most LISTED_PER_CHECK violations."""

    def add(function):
        def capped():
            for number, violation in enumerate(function()):
                if number == LISTED_PER_CHECK:
                    yield f"... and more (only the first {LISTED_PER_CHECK} are listed)"
                    return
                yield violation

        capped.__name__ = capped.__qualname__ = function.__name__
        capped.__doc__ = function.__doc__
        register(capped, name=name)
        return function

    return add


def _money(amount_minor, currency):
    return format_money(amount_minor, currency)


def _uuid(text):
    try:
        return uuid.UUID(text)
    except (TypeError, ValueError):
        return None


def _payout_key(key):
    """(public id, attempt, step) of `payout:<public id>:<n>:<step>`, or None."""
    parts = key.split(":")
    if len(parts) != 4 or parts[0] != "payout" or not parts[2].isdigit():
        return None
    public_id = _uuid(parts[1])
    return None if public_id is None else (public_id, int(parts[2]), parts[3])


def _posted_amounts(kinds, **filters):
    """{key: (amount moved, currency, pledge id, provider object)} of these transactions."""
    rows = (
        LedgerTransaction.objects.filter(kind__in=kinds, **filters)
        .values("key", "currency", "pledge_id", "provider_object_id")
        .annotate(amount=Sum("entries__amount_minor", filter=Q(entries__amount_minor__gt=0)))
        .order_by()
    )
    return {
        row["key"]: (
            row["amount"] or 0,
            row["currency"],
            row["pledge_id"],
            row["provider_object_id"],
        )
        for row in rows
    }


def _campaign_balances():
    """{(account kind, campaign id, currency): balance} of every campaign's own accounts."""
    rows = (
        Entry.objects.filter(account__kind__in=Account.PER_CAMPAIGN_KINDS)
        .values_list("account__kind", "account__reference", "account__currency")
        .annotate(total=Sum("amount_minor"))
        .order_by()
    )
    return {(kind, int(reference), currency): total for kind, reference, currency, total in rows}


# --- campaigns and payouts in the ledger ------------------------------------------------------
@_check("payouts: no campaign account below zero but for a refund or dispute after a payout")
def campaign_accounts_not_overdrawn():
    """Paid out and in transfer never exceed net collected less refunds and disputes, i.e. the
    campaign's account stays at or above zero; below zero is explained only by refunds and
    disputes posted after its last payout was reserved (a transfer that could not be
    reversed, a bank payout), and by no more than they took. An organizer's bank account
    below zero means more was reversed than was paid out."""
    for (kind, campaign_id, currency), total in sorted(_campaign_balances().items()):
        if total >= 0:
            continue
        if kind == Account.Kind.ORGANIZER_BANK:
            yield (
                f"campaign {campaign_id}: {_money(-total, currency)} more taken back from its "
                "organizer than was paid out"
            )
            continue
        if kind != Account.Kind.CAMPAIGN:
            continue  # organizer payable: the next check compares it with the payouts
        taken = _taken_back_since_last_payout(campaign_id, currency)
        if -total <= taken:
            continue
        totals = ledger_selectors.campaign_totals(campaign_id)
        balances = ledger_selectors.campaign_balances(campaign_id)
        figures = {
            "paid out": balances[Account.Kind.ORGANIZER_BANK],
            "in transfer": balances[Account.Kind.ORGANIZER_PAYABLE],
            "net collected": totals[Kind.CONTRIBUTION]
            - totals[Kind.PROCESSOR_FEE]
            - totals[Kind.PLATFORM_FEE],
            "refunds": totals[Kind.REFUND],
            "disputes held": totals[Kind.DISPUTE] + totals[Kind.DISPUTE_FEE],
        }
        listed = ", ".join(f"{name} {_money(amount, currency)}" for name, amount in figures.items())
        yield (
            f"campaign {campaign_id}: its account is {_money(total, currency)} ({listed}); "
            f"refunds and disputes after its last payout explain only {_money(taken, currency)}"
        )


def _taken_back_since_last_payout(campaign_id, currency):
    """What refunds and disputes took off the campaign's account since its last payout was
    reserved (all of them when none was). In the order we recorded them: a dispute's own
    time is the provider's, which may be before a payout approved while its event was on
    the way."""
    last_payout = LedgerTransaction.objects.filter(
        kind=Kind.PAYOUT, campaign_id=campaign_id, key__endswith=":approved"
    ).aggregate(at=Max("recorded_at"))["at"]
    entries = Entry.objects.filter(
        account__kind=Account.Kind.CAMPAIGN,
        account__reference=str(campaign_id),
        account__currency=currency,
        transaction__kind__in=TAKEN_BACK_KINDS,
    )
    if last_payout is not None:
        entries = entries.filter(transaction__recorded_at__gte=last_payout)
    return -(entries.aggregate(total=Sum("amount_minor"))["total"] or 0)


@_check("payouts: organizer payable holds exactly the approved payouts being transferred")
def organizer_payable_matches_payouts():
    """Per campaign, the organizer-payable balance is the sum of its approved and processing
    payouts; per payout, what its own postings left there is its amount while it is being
    transferred and nothing once paid, returned, rejected or back in review."""
    expected = defaultdict(int)
    for campaign_id, currency, amount in Payout.objects.filter(
        status__in=IN_TRANSFER_STATUSES
    ).values_list("campaign_id", "currency", "amount_minor"):
        expected[(campaign_id, currency)] += amount
    held = {
        (campaign_id, currency): total
        for (kind, campaign_id, currency), total in _campaign_balances().items()
        if kind == Account.Kind.ORGANIZER_PAYABLE
    }
    for campaign_id, currency in sorted(set(expected) | set(held)):
        want, have = expected.get((campaign_id, currency), 0), held.get((campaign_id, currency), 0)
        if want != have:
            yield (
                f"campaign {campaign_id}: organizer payable holds {_money(have, currency)}, its "
                f"approved and processing payouts {_money(want, currency)}"
            )

    per_payout = defaultdict(int)
    for key, amount in Entry.objects.filter(
        account__kind=Account.Kind.ORGANIZER_PAYABLE, transaction__key__startswith="payout:"
    ).values_list("transaction__key", "amount_minor"):
        parsed = _payout_key(key)
        if parsed is None:
            yield f"posting {key} on organizer payable names no payout attempt"
            continue
        per_payout[parsed[0]] += amount
    payouts = Payout.objects.values_list("public_id", "status", "amount_minor", "currency")
    known = set()
    for public_id, status, amount, currency in payouts.iterator():
        known.add(public_id)
        want = amount if status in IN_TRANSFER_STATUSES else 0
        have = per_payout.get(public_id, 0)
        if want != have:
            yield (
                f"payout {public_id} is {status} and has {_money(have, currency)} in organizer "
                f"payable, not {_money(want, currency)}"
            )
    for public_id in sorted(set(per_payout) - known, key=str):
        yield f"organizer payable has postings for payout {public_id}, which does not exist"


@_check("payouts: one paid posting per paid payout and a transfer of its own")
def one_paid_posting_per_paid_payout():
    """A paid payout has exactly one `payout:<public id>:<n>:paid` posting, for its last
    attempt and its amount; a payout that is not paid has none; a Connect payout names its
    transfer, and no two payouts name the same one."""
    paid_postings = defaultdict(list)
    for key, (amount, currency, _pledge, provider_object) in _posted_amounts(
        [Kind.PAYOUT], key__startswith="payout:", key__endswith=":paid"
    ).items():
        parsed = _payout_key(key)
        if parsed is None:
            yield f"paid posting {key} names no payout attempt"
            continue
        paid_postings[parsed[0]].append((parsed[1], amount, currency, provider_object, key))
    known = set()
    for payout in Payout.objects.only(
        "public_id",
        "status",
        "amount_minor",
        "currency",
        "method",
        "transfer_number",
        "transfer_id",
    ).iterator():
        known.add(payout.public_id)
        postings = paid_postings.get(payout.public_id, [])
        if payout.status != Status.PAID:
            for _attempt, _amount, _currency, _provider, key in postings:
                yield f"payout {payout.public_id} is {payout.status} but has the paid posting {key}"
            continue
        if len(postings) != 1:
            yield (
                f"payout {payout.public_id} is paid with {len(postings)} paid postings "
                f"({', '.join(sorted(p[4] for p in postings)) or 'none'}), not one"
            )
            continue
        attempt, amount, currency, provider_object, key = postings[0]
        if attempt != payout.transfer_number:
            yield (
                f"payout {payout.public_id}: its paid posting {key} is for attempt {attempt}, "
                f"its last attempt is {payout.transfer_number}"
            )
        if (amount, currency) != (payout.amount_minor, payout.currency):
            yield (
                f"payout {payout.public_id} of {_money(payout.amount_minor, payout.currency)} "
                f"was posted as paid with {_money(amount, currency)}"
            )
        if payout.method == PayoutAccount.Method.STRIPE_CONNECT:
            if not payout.transfer_id:
                yield f"payout {payout.public_id} is paid by Connect but names no transfer"
            elif provider_object != payout.transfer_id:
                yield (
                    f"payout {payout.public_id} names transfer {payout.transfer_id}, its paid "
                    f"posting {provider_object or 'none'}"
                )
    for public_id in sorted(set(paid_postings) - known, key=str):
        yield f"paid posting for payout {public_id}, which does not exist"
    shared = Counter(
        Payout.objects.filter(status=Status.PAID)
        .exclude(transfer_id="")
        .values_list("transfer_id", flat=True)
    )
    for transfer_id, count in sorted(shared.items()):
        if count > 1:
            yield f"transfer {transfer_id} pays {count} payouts"


@_check("payouts: the provider's transfers are our paid payouts', one per attempt")
def provider_transfers_match():
    """From the provider, where it has Connect: this installation's transfers (by their
    metadata) are one per payout attempt, each the transfer of a paid payout, and every paid
    Connect payout's transfer is there with its amount."""
    from core.install import install_id
    from payments.gateway import PaymentError, get_gateway

    connect = Payout.objects.filter(
        method=PayoutAccount.Method.STRIPE_CONNECT, transfer_number__gt=0
    )
    first = connect.order_by("requested_at").values_list("requested_at", flat=True).first()
    if first is None:
        return  # no Connect payout was ever approved: nothing was sent to compare
    ours = install_id()
    try:
        transfers = [
            transfer
            for transfer in get_gateway().list_transfers(created_gte=first - PROVIDER_MARGIN)
            if (transfer.metadata or {}).get("install") == ours
        ]
    except PaymentError as error:
        yield f"not run: could not list the provider's transfers: {error.message}"
        return
    payouts = {payout.public_id: payout for payout in connect}
    per_attempt = defaultdict(list)
    for transfer in transfers:
        per_attempt[
            (transfer.metadata.get("payout_id"), transfer.metadata.get("transfer_number"))
        ].append(transfer.id)
    for (payout_id, attempt), ids in sorted(per_attempt.items(), key=str):
        if payout_id and len(ids) > 1:
            yield (
                f"payout {payout_id} attempt {attempt} has {len(ids)} transfers at the "
                f"provider ({', '.join(sorted(ids))}): paid more than once"
            )
    in_flight_since = timezone.now() - IN_FLIGHT
    for transfer in transfers:
        payout_id = transfer.metadata.get("payout_id")
        payout = payouts.get(_uuid(payout_id))
        if payout is None:
            yield (
                f"transfer {transfer.id} of {_money(transfer.amount_minor, transfer.currency)} "
                f"names payout {payout_id or '(none)'}, which has no transfer here"
            )
            continue
        if payout.status == Status.PAID and payout.transfer_id == transfer.id:
            if (transfer.amount_minor, transfer.currency) != (payout.amount_minor, payout.currency):
                yield (
                    f"payout {payout.public_id} of {_money(payout.amount_minor, payout.currency)} "
                    f"was transferred as {_money(transfer.amount_minor, transfer.currency)}"
                )
            continue
        if (
            payout.status == Status.PROCESSING
            and transfer.metadata.get("transfer_number") == str(payout.transfer_number)
            and (payout.transfer_started_at or payout.requested_at) > in_flight_since
        ):
            continue  # made, its answer not recorded yet: the sweep finds it by its group
        yield (
            f"transfer {transfer.id} (payout {payout.public_id} attempt "
            f"{transfer.metadata.get('transfer_number')}) is not the transfer of a paid payout: "
            f"the payout is {payout.status}, its transfer {payout.transfer_id or 'none'}"
        )
    listed = {transfer.id for transfer in transfers}
    for payout in payouts.values():
        if payout.status == Status.PAID and payout.transfer_id and payout.transfer_id not in listed:
            yield (
                f"payout {payout.public_id} is paid by transfer {payout.transfer_id}, which the "
                "provider does not list for this installation"
            )


# --- refunds ---------------------------------------------------------------------------------
@_check("payouts: refunds are at most what was collected, each posted once")
def refunds_match_postings():
    """Per pledge, the succeeded refunds add up to at most its contribution; each succeeded
    Refund has its `refund:<public id>` posting with its amount and pledge, and every REFUND
    posting is a succeeded Refund's."""
    refunded = dict(
        Refund.objects.filter(status=Refund.Status.SUCCEEDED)
        .values_list("pledge_id")
        .annotate(total=Sum("amount_minor"))
        .order_by()
    )
    collected = dict(
        LedgerTransaction.objects.filter(kind=Kind.CONTRIBUTION, pledge_id__in=list(refunded))
        .values_list("pledge_id")
        .annotate(amount=Sum("entries__amount_minor", filter=Q(entries__amount_minor__gt=0)))
        .order_by()
    )
    currencies = dict(Pledge.objects.filter(pk__in=list(refunded)).values_list("pk", "currency"))
    for pledge_id, total in sorted(refunded.items()):
        currency = currencies.get(pledge_id, "")
        if pledge_id not in collected:
            yield f"pledge {pledge_id} has {_money(total, currency)} refunded but no contribution"
        elif total > collected[pledge_id]:
            yield (
                f"pledge {pledge_id}: {_money(total, currency)} refunded of "
                f"{_money(collected[pledge_id], currency)} collected"
            )

    postings = _posted_amounts([Kind.REFUND])
    succeeded = Refund.objects.filter(status=Refund.Status.SUCCEEDED).values_list(
        "public_id", "pledge_id", "amount_minor", "currency"
    )
    expected = set()
    for public_id, pledge_id, amount, currency in succeeded.iterator():
        key = f"refund:{public_id}"
        expected.add(key)
        posting = postings.get(key)
        if posting is None:
            yield f"refund {public_id} of pledge {pledge_id} succeeded but has no refund posting"
        elif posting[:3] != (amount, currency, pledge_id):
            yield (
                f"refund {public_id} of {_money(amount, currency)} (pledge {pledge_id}) is "
                f"posted as {_money(posting[0], posting[1])} for pledge {posting[2]}"
            )
    for key in sorted(set(postings) - expected):
        yield f"refund posting {key} is not a succeeded refund's"


@_check("payouts: the provider's refunds of our charges are our succeeded refunds")
def provider_refunds_match():
    """From the provider: every succeeded refund of one of our collected charges (by its
    PaymentIntent or charge) is a succeeded Refund here with its id and amount, and every
    succeeded Refund is a succeeded refund there."""
    from payments.gateway import PaymentError, get_gateway

    attempts = PaymentAttempt.objects.order_by("created_at")
    first = attempts.values_list("created_at", flat=True).first()
    if first is None:
        return  # nothing was ever charged: nothing can have been refunded
    charged = {}
    for pledge_id, payment_intent_id, charge_id in PaymentAttempt.objects.filter(
        status=PaymentAttempt.Status.SUCCEEDED
    ).values_list("pledge_id", "payment_intent_id", "charge_id"):
        for provider_id in (payment_intent_id, charge_id):
            if provider_id:
                charged[provider_id] = pledge_id
    try:
        at_provider = [
            refund
            for refund in get_gateway().list_refunds(created_gte=first - PROVIDER_MARGIN)
            if refund.status == "succeeded"
            and (refund.payment_intent_id in charged or refund.charge_id in charged)
        ]
    except PaymentError as error:
        yield f"not run: could not list the provider's refunds: {error.message}"
        return
    ours = {
        refund.provider_refund_id: refund
        for refund in Refund.objects.exclude(provider_refund_id="")
    }
    in_flight_since = timezone.now() - IN_FLIGHT
    for made in at_provider:
        pledge_id = charged.get(made.payment_intent_id) or charged.get(made.charge_id)
        refund = ours.get(made.id)
        if refund is None:
            named = Refund.objects.filter(
                public_id=_uuid((made.metadata or {}).get("refund_id"))
            ).first()
            if (
                named is not None
                and named.status == Refund.Status.PENDING
                and named.created_at > in_flight_since
            ):
                continue  # its answer was lost: the sweep asks again with the same key
            yield (
                f"refund {made.id} of pledge {pledge_id} "
                f"({made.payment_intent_id or made.charge_id}) at the provider is not recorded here"
            )
        elif refund.status != Refund.Status.SUCCEEDED:
            yield (
                f"refund {made.id} of pledge {pledge_id} succeeded at the provider but is "
                f"{refund.status} here"
            )
        elif refund.amount_minor != made.amount_minor:
            yield (
                f"refund {made.id} of pledge {pledge_id} is "
                f"{_money(made.amount_minor, refund.currency)} at the provider and "
                f"{_money(refund.amount_minor, refund.currency)} here"
            )
    listed = {made.id for made in at_provider}
    for refund in Refund.objects.filter(status=Refund.Status.SUCCEEDED).order_by("pk"):
        if not refund.provider_refund_id:
            yield (
                f"refund {refund.public_id} of pledge {refund.pledge_id} succeeded without a "
                "provider refund"
            )
        elif refund.provider_refund_id not in listed:
            yield (
                f"refund {refund.public_id} of pledge {refund.pledge_id} succeeded here, but the "
                f"provider has no succeeded refund {refund.provider_refund_id} of its charge"
            )


# --- disputes --------------------------------------------------------------------------------
@_check("payouts: every dispute is posted, won ones reinstated; disputed pledges have one open")
def disputes_match_postings():
    """Each Dispute has its `dispute:<id>` posting (and `dispute_fee:<id>` for a fee) with
    its amounts; a won one its reinstatement `dispute:<id>:won`, no other one any; every
    dispute posting is a Dispute's; a disputed pledge has an open Dispute."""
    postings = _posted_amounts([Kind.DISPUTE, Kind.DISPUTE_FEE])
    expected = set()
    for dispute in Dispute.objects.order_by("pk").iterator():
        provider_id, currency = dispute.provider_dispute_id, dispute.currency
        for key, amount in (
            (f"dispute:{provider_id}", dispute.amount_minor),
            (f"dispute_fee:{provider_id}", dispute.fee_minor),
        ):
            expected.add(key)
            posting = postings.get(key)
            if amount and posting is None:
                yield f"dispute {provider_id} (pledge {dispute.pledge_id}) has no posting {key}"
            elif posting is not None and posting[:3] != (amount, currency, dispute.pledge_id):
                yield (
                    f"dispute {provider_id} (pledge {dispute.pledge_id}): {key} moved "
                    f"{_money(posting[0], posting[1])}, the dispute says {_money(amount, currency)}"
                )
        won = (f"dispute:{provider_id}:won", f"dispute_fee:{provider_id}:won")
        if dispute.status == Dispute.Status.WON:
            expected.update(won)
            if won[0] not in postings:
                yield f"dispute {provider_id} was won but its amount was not reinstated ({won[0]})"
        else:
            for key in won:
                if key in postings:
                    yield f"dispute {provider_id} is {dispute.status} but has the posting {key}"
                    expected.add(key)
    for key in sorted(set(postings) - expected):
        yield f"dispute posting {key} is not a dispute's"
    for pledge_id in (
        Pledge.objects.filter(status=Pledge.Status.DISPUTED)
        .exclude(disputes__status=Dispute.Status.OPEN)
        .order_by("pk")
        .values_list("pk", flat=True)
    ):
        yield f"pledge {pledge_id} is disputed without an open dispute"
