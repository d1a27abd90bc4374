"""Refunds of collected pledges, in full or in part: by an admin holding
`payouts.refund_pledge` (with two-factor) or by the campaign's organizer for their own
supporters.

Order, as for every call that moves money: under the pledge's lock, check what is left to
refund and write a pending Refund (its public id is the idempotency key), commit; call the
provider with no lock held; record the outcome. A lost answer leaves the refund pending and
the payout sweep asks again with the same key (the provider replays what it did).

What a succeeded refund writes to the ledger:
- REFUND: the amount leaves the campaign's account for the supporter's card;
- PLATFORM_FEE, backwards: the platform's fee on the refunded share comes back to the
  campaign (the processor keeps its own fee, as Stripe does);
- if the campaign's money was already paid out, the organizer's Connect transfers are
  reversed for the share the campaign's account no longer covers (PAYOUT_REVERSAL: organizer
  bank → campaign); where that is not possible (a bank payout, a failed reversal) the
  campaign's balance stays negative and no payout can be approved until it is covered.
Pledge: refunded once nothing is left, else partially_refunded; a second partial refund
keeps that status and writes its own audit row.
"""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns import page_cache
from campaigns.models import Campaign
from core.emails import queue_email
from core.errors import NotPermitted
from core.models import record
from core.money import allocate, format_money
from core.transitions import transition
from ledger import accounts as ledger_accounts
from ledger import selectors as ledger_selectors
from ledger import services as ledger
from ledger.models import Account
from ledger.models import Transaction as LedgerTransaction
from payments.gateway import PaymentProviderError, get_gateway, idempotency_key
from payouts.errors import PayoutError
from payouts.models import Payout, PayoutAccount, PayoutReversal, Refund
from pledges.models import PaymentAttempt, Pledge

logger = logging.getLogger(__name__)

Kind = LedgerTransaction.Kind
MAX_REASON_LENGTH = 2000


class RefundInterrupted(PayoutError):
    """The provider could not be reached: the refund stays pending and is asked again."""

    code = "refund_pending"


# --- reads -----------------------------------------------------------------------------------
def contribution_of(pledge):
    """The pledge's contribution transaction (None if nothing was collected)."""
    return LedgerTransaction.objects.filter(kind=Kind.CONTRIBUTION, pledge_id=pledge.pk).first()


def refunded_minor(pledge, *, pending=True):
    statuses = [Refund.Status.SUCCEEDED, *([Refund.Status.PENDING] if pending else [])]
    total = pledge.refunds.filter(status__in=statuses).aggregate(total=Sum("amount_minor"))
    return total["total"] or 0


def collected_minor(pledge):
    """What the pledge's contribution brought in (0 if nothing was collected)."""
    contribution = contribution_of(pledge)
    if contribution is None:
        return 0
    return contribution.entries.get(amount_minor__gt=0).amount_minor


def refundable_minor(pledge):
    """What may still be refunded: the collected amount less refunds made or in flight."""
    return max(0, collected_minor(pledge) - refunded_minor(pledge))


def _into_campaign(**transaction_filters):
    """What the ledger transactions matching the filters brought into a campaign's account."""
    total = LedgerTransaction.objects.filter(
        entries__account__kind=Account.Kind.CAMPAIGN, **transaction_filters
    ).aggregate(total=Sum("entries__amount_minor"))["total"]
    return total or 0


def can_refund(pledge, member):
    """Admins holding the refund permission, and the campaign's own organizer."""
    if not member.is_authenticated:
        return False
    if member.has_perm("payouts.refund_pledge"):
        return True
    return pledge.campaign.organizer_id == member.pk


# --- the refund ------------------------------------------------------------------------------
def refund_pledge(pledge, *, by, reason, amount_minor=None, gateway=None, now=None):
    """Refund `amount_minor` (everything left when None) of a collected pledge; returns the
    Refund (succeeded, or pending when the provider could not answer yet)."""
    reason = (reason or "").strip()
    if not reason:
        raise PayoutError(
            _("Say why the money is refunded: the supporter is told."), field="reason"
        )
    if len(reason) > MAX_REASON_LENGTH:
        raise PayoutError(_("Keep the reason shorter."), field="reason")
    _check_refunder(pledge, by)
    refund = _claim(pledge, by=by, reason=reason, amount_minor=amount_minor)
    return send_refund(refund, gateway=gateway, now=now)


def _check_refunder(pledge, member):
    from members.two_factor import is_enrolled

    if pledge.campaign.organizer_id == member.pk:
        return
    if not member.has_perm("payouts.refund_pledge"):
        raise NotPermitted(_("No such pledge."))
    if not is_enrolled(member):
        raise PayoutError(_("Refunding pledges needs two-factor authentication: enrol first."))


def _claim(pledge, *, by, reason, amount_minor):
    try:
        with transaction.atomic():
            locked = Pledge.objects.select_for_update().get(pk=pledge.pk)
            if locked.status == Pledge.Status.DISPUTED:
                raise PayoutError(
                    _("This payment is disputed: its supporter's bank decides, not a refund.")
                )
            if locked.status not in Pledge.REFUNDABLE_STATUSES:
                raise PayoutError(_("Only a collected pledge can be refunded."))
            left = refundable_minor(locked)
            amount = left if amount_minor is None else amount_minor
            if not by.has_perm("payouts.refund_pledge") and isinstance(amount, int):
                _check_covered(locked, amount)
            if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
                raise PayoutError(_("Enter an amount of more than zero."), field="amount")
            if amount > left:
                raise PayoutError(
                    _("At most %(left)s of this pledge can still be refunded.")
                    % {"left": format_money(left, locked.currency)},
                    field="amount",
                )
            refund = Refund.objects.create(
                pledge=locked,
                amount_minor=amount,
                currency=locked.currency,
                reason=reason,
                requested_by=by,
            )
            record(
                refund,
                action="refund:requested",
                by=by,
                to_status=Refund.Status.PENDING,
                note=f"{format_money(amount, locked.currency)}: {reason}",
            )
    except IntegrityError:  # refund_one_pending_per_pledge: another refund is in flight
        raise PayoutError(
            _("Another refund of this pledge is being made; try again in a minute.")
        ) from None
    return refund


def coverable_minor(campaign_id):
    """What refunds of the campaign can be paid from without the platform's money: its
    account's balance and what its paid Connect transfers could still give back."""
    balance = ledger_selectors.campaign_balances(campaign_id)[Account.Kind.CAMPAIGN]
    reversible = sum(
        max(0, _left_to_reverse(payout)) for payout in _paid_connect_payouts(campaign_id)
    )
    return max(0, balance) + reversible


def _check_covered(pledge, amount):
    """An organizer's refund may not spend money the campaign no longer holds (after a bank
    payout, say): that refund is the platform team's decision."""
    covered = coverable_minor(pledge.campaign_id)
    if amount > covered:
        raise PayoutError(
            _(
                "The campaign holds %(covered)s that a refund can come from now: a larger "
                "refund needs the platform team, who will contact you about the difference."
            )
            % {"covered": format_money(covered, pledge.currency)},
            field="amount",
        )


def refund_key(refund):
    return idempotency_key("refund", refund.public_id)


def send_refund(refund, *, gateway=None, now=None):
    """Ask the provider to make a pending refund (again, with the same key) and record it."""
    gateway = gateway or get_gateway()
    refund = Refund.objects.select_related("pledge", "pledge__campaign").get(pk=refund.pk)
    if refund.status != Refund.Status.PENDING:
        return refund
    payment_intent_id = _paid_payment_intent(refund.pledge)
    try:
        # Asked before (an answer lost, a pending refund): look it up, never ask again — the
        # provider forgets idempotency keys after a day, and a second partial refund would be
        # a second refund.
        made = _made_already(refund, payment_intent_id, gateway)
        if made is None:
            if refund.sent_at is None:
                Refund.objects.filter(pk=refund.pk).update(sent_at=timezone.now())
            made = gateway.refund(
                payment_intent_id,
                refund.amount_minor,
                refund_key(refund),
                metadata={
                    "refund_id": str(refund.public_id),
                    "pledge": str(refund.pledge.public_id),
                },
            )
    except PaymentProviderError as error:
        if error.retryable:
            logger.warning("refund %s: provider unreachable: %s", refund.pk, error.detail)
            raise RefundInterrupted(
                _("The payment provider could not be reached; the refund will be tried again.")
            ) from error
        return record_refund_failed(refund, error=error.message)
    return record_refund(refund, provider_refund_id=made.id, status=made.status, now=now)


def _made_already(refund, payment_intent_id, gateway):
    """The provider's refund for this Refund if it made one: by its id once we know it, else
    by the metadata we put on it."""
    if refund.provider_refund_id:
        return gateway.retrieve_refund(refund.provider_refund_id)
    if refund.sent_at is None:
        return None  # never asked: nothing to find
    for made in gateway.find_refunds(payment_intent=payment_intent_id):
        if made.metadata.get("refund_id") == str(refund.public_id):
            return made
    return None


def _paid_payment_intent(pledge):
    attempt = pledge.attempts.filter(status=PaymentAttempt.Status.SUCCEEDED).first()
    if attempt is None or not attempt.payment_intent_id:
        raise PayoutError(_("This pledge has no payment to refund."))
    return attempt.payment_intent_id


def record_refund(refund, *, provider_refund_id, status, now=None):
    """The provider's answer (or a refund.* webhook): succeeded → the ledger and the pledge;
    failed or canceled → failed; pending → stays pending (a webhook finishes it)."""
    now = now or timezone.now()
    if status in ("failed", "canceled"):
        return record_refund_failed(refund, error=_("The payment provider could not refund it."))
    if status != "succeeded":
        if provider_refund_id and not refund.provider_refund_id:
            Refund.objects.filter(pk=refund.pk).update(provider_refund_id=provider_refund_id)
            refund.provider_refund_id = provider_refund_id
        return refund
    with transaction.atomic():
        # The campaign's lock: approvals read its balance under it, so a refund and an
        # approval never both count the same money.
        Campaign.objects.select_for_update(no_key=True).get(pk=refund.pledge.campaign_id)
        done = transition(
            refund,
            Refund.Status.SUCCEEDED,
            note=provider_refund_id,
            updates={"provider_refund_id": provider_refund_id, "finished_at": now},
            after_commit=[_email_refunded],
        )
        if not done.moved:
            return done
        pledge = Pledge.objects.select_for_update().get(pk=refund.pledge_id)
        _post_refund(done, pledge, now)
        _move_pledge(pledge, done)
        # Paid-out money is taken back in a task (a webhook handler must not call the
        # provider); what it takes back is claimed now, under the campaign's lock.
        if plan_reversals(done):
            refund_id = done.pk
            transaction.on_commit(lambda: _reverse_later(refund_id), robust=True)
    transaction.on_commit(lambda: page_cache.forget(pledge.campaign), robust=True)
    return Refund.objects.get(pk=done.pk)


def _reverse_later(refund_id):
    from payouts.tasks import reverse_transfers_for_refund

    reverse_transfers_for_refund.delay(refund_id)


def record_refund_failed(refund, *, error):
    return transition(
        refund, Refund.Status.FAILED, note=error, updates={"failure_message": error[:2000]}
    )


def _post_refund(refund, pledge, now):
    campaign_account = ledger_accounts.campaign_account(pledge.campaign_id, pledge.currency)
    source = {
        "campaign_id": pledge.campaign_id,
        "pledge_id": pledge.pk,
        "occurred_at": now,
        "provider_object_id": refund.provider_refund_id,
    }
    ledger.transfer(
        Kind.REFUND,
        from_account=campaign_account,
        to_account=ledger_accounts.external_card(pledge.currency),
        amount_minor=refund.amount_minor,
        key=f"refund:{refund.public_id}",
        memo=f"Refund to the supporter of pledge {pledge.public_id}",
        **source,
    )
    fee_back = _platform_fee_share(pledge, refund)
    if fee_back > 0:
        ledger.transfer(
            Kind.PLATFORM_FEE,
            from_account=ledger_accounts.platform_fees(pledge.currency),
            to_account=campaign_account,
            amount_minor=fee_back,
            key=f"platform_fee:refund:{refund.public_id}",
            memo="Platform fee returned on a refund",
            **source,
        )


def _platform_fee_share(pledge, refund):
    """The platform fee on what is refunded, counted on the running total so that a full
    refund in parts gives back exactly the whole fee: round(fee × refunded so far ÷ collected)
    less what earlier refunds gave back."""
    collected = collected_minor(pledge)
    fee_tx = LedgerTransaction.objects.filter(
        kind=Kind.PLATFORM_FEE, key=f"platform_fee:pledge:{pledge.pk}"
    ).first()
    if fee_tx is None or not collected:
        return 0
    fee = fee_tx.entries.get(amount_minor__gt=0).amount_minor
    refunded_so_far = refunded_minor(pledge, pending=False)  # this one included (succeeded)
    # The fee split between what is refunded and what is kept, with the one rounding rule.
    owed_back = allocate(
        fee, {"back": refunded_so_far, "kept": collected - refunded_so_far}, remainder_to="kept"
    )["back"]
    given_back = _into_campaign(
        kind=Kind.PLATFORM_FEE, pledge_id=pledge.pk, key__startswith="platform_fee:refund:"
    )
    return max(0, owed_back - given_back)


def status_after_refunds(pledge):
    """refunded when nothing is left, partially_refunded when some was given back, else
    collected (what a pledge returns to when a dispute closes in its favour)."""
    left = refundable_minor(pledge)
    if left == 0:
        return Pledge.Status.REFUNDED
    if refunded_minor(pledge, pending=False):
        return Pledge.Status.PARTIALLY_REFUNDED
    return Pledge.Status.COLLECTED


def _move_pledge(pledge, refund):
    note = f"{format_money(refund.amount_minor, refund.currency)} ({refund.provider_refund_id})"
    if pledge.status == Pledge.Status.DISPUTED:
        # A refund the provider made before the bank's dispute opened: recorded, and the
        # pledge stays disputed until the dispute closes (payouts.disputes decides then).
        record(
            pledge, action="refund", from_status=pledge.status, to_status=pledge.status, note=note
        )
        return
    to = status_after_refunds(pledge)
    moved = transition(pledge, to, note=note)
    if not moved.moved:
        # partially_refunded again: the helper passes over a move to the current state, and
        # this refund must still be on the pledge's audit log.
        record(pledge, action="refund", from_status=to, to_status=to, note=note)


# --- taking paid-out money back -------------------------------------------------------------
def plan_reversals(refund):
    """Claim, under the campaign's lock (the caller holds it), what this refund takes back from
    paid Connect transfers: what the campaign's account no longer covers, less what other
    claims already take back, newest payout first, up to the refund's amount. Returns the
    new claims (PayoutReversal rows, pending); a refund is planned once."""
    if refund.reversals.exists():
        return []
    campaign_id = refund.pledge.campaign_id
    balance = ledger_selectors.campaign_balances(campaign_id)[Account.Kind.CAMPAIGN]
    claimed = (
        PayoutReversal.objects.filter(
            payout__campaign_id=campaign_id, status=PayoutReversal.Status.PENDING
        ).aggregate(total=Sum("amount_minor"))["total"]
        or 0
    )
    shortfall = min(-balance - claimed, refund.amount_minor)
    planned = []
    for payout in _paid_connect_payouts(campaign_id).order_by("-paid_at", "-id"):
        if shortfall <= 0:
            break
        amount = min(shortfall, _left_to_reverse(payout))
        if amount <= 0:
            continue
        planned.append(
            PayoutReversal.objects.create(refund=refund, payout=payout, amount_minor=amount)
        )
        shortfall -= amount
    return planned


def reverse_transfers_for(refund, *, gateway=None):
    """Make the refund's pending reversal claims at the provider (each under its own key, with
    the amount fixed when it was claimed, so a retry repeats the same request); returns what
    was taken back. Raises PaymentProviderError when the provider could not be reached (the
    task retries, then the payout sweep)."""
    gateway = gateway or get_gateway()
    taken = 0
    claims = PayoutReversal.objects.filter(refund=refund, status=PayoutReversal.Status.PENDING)
    for claim in claims.select_related("payout", "refund", "refund__pledge"):
        try:
            reversal = gateway.reverse_transfer(
                claim.payout.transfer_id,
                amount_minor=claim.amount_minor,
                idempotency_key=idempotency_key(
                    "refund", claim.refund.public_id, "reversal", claim.payout.public_id
                ),
                metadata={
                    "refund_id": str(claim.refund.public_id),
                    "payout_id": str(claim.payout.public_id),
                },
            )
        except PaymentProviderError as error:
            if error.retryable:
                raise
            # Refused (the connected account has spent it…): the campaign's balance stays
            # negative and no payout can be approved until it is covered.
            logger.warning("refund %s: reversing %s refused: %s", refund.pk, claim.pk, error)
            transition(
                claim,
                PayoutReversal.Status.FAILED,
                note=str(error.message),
                updates={"failure_message": str(error.message)[:2000]},
            )
            continue
        _record_reversal(claim, reversal)
        taken += reversal.amount_minor
    return taken


def _record_reversal(claim, reversal):
    refund, payout = claim.refund, claim.payout
    campaign_id = payout.campaign_id
    with transaction.atomic():
        done = transition(
            claim,
            PayoutReversal.Status.SUCCEEDED,
            note=reversal.id,
            updates={"provider_reversal_id": reversal.id},
        )
        if not done.moved:
            return
        ledger.transfer(
            Kind.PAYOUT_REVERSAL,
            from_account=ledger_accounts.organizer_bank(campaign_id, refund.currency),
            to_account=ledger_accounts.campaign_account(campaign_id, refund.currency),
            amount_minor=reversal.amount_minor,
            key=f"payout_reversal:refund:{refund.public_id}:{payout.public_id}",
            campaign_id=campaign_id,
            pledge_id=refund.pledge_id,
            memo=f"Payout {payout.short_id} reversed for a refund",
            provider_object_id=reversal.id,
        )
        Refund.objects.filter(pk=refund.pk).update(
            reversed_minor=F("reversed_minor") + reversal.amount_minor
        )
        record(refund, action="refund:transfer_reversed", note=reversal.id)


def _paid_connect_payouts(campaign_id):
    """The campaign's paid Connect payouts with a transfer: what a refund can take back from."""
    return Payout.objects.filter(
        campaign_id=campaign_id,
        status=Payout.Status.PAID,
        method=PayoutAccount.Method.STRIPE_CONNECT,
    ).exclude(transfer_id="")


def _left_to_reverse(payout):
    """What of the payout's transfer neither a recorded reversal nor a pending claim takes."""
    pending = payout.reversals.filter(status=PayoutReversal.Status.PENDING).aggregate(
        total=Sum("amount_minor")
    )["total"]
    return payout.amount_minor - _reversed_in_ledger(payout) - (pending or 0)


def _reversed_in_ledger(payout):
    """What refunds took back from this payout's transfer so far, as the ledger recorded it."""
    return _into_campaign(
        kind=Kind.PAYOUT_REVERSAL,
        key__startswith="payout_reversal:refund:",
        key__endswith=f":{payout.public_id}",
    )


def retry_pending_reversals(*, older_than, now=None, limit=200):
    """The sweep: reversal claims whose provider call never finished are made again (same
    amount, same key)."""
    now = now or timezone.now()
    refund_ids = (
        PayoutReversal.objects.filter(
            status=PayoutReversal.Status.PENDING, created_at__lt=now - older_than
        )
        .values_list("refund_id", flat=True)
        .distinct()[:limit]
    )
    done = 0
    for refund in Refund.objects.filter(pk__in=list(refund_ids)):
        try:
            reverse_transfers_for(refund)
        except PaymentProviderError:
            continue
        done += 1
    return done


def retry_pending_refunds(*, older_than, now=None, limit=200):
    """The sweep: refunds left pending by a lost answer are asked again with their key."""
    now = now or timezone.now()
    done = 0
    for refund in Refund.objects.filter(
        status=Refund.Status.PENDING, created_at__lt=now - older_than
    ).order_by("created_at")[:limit]:
        try:
            send_refund(refund)
        except RefundInterrupted:
            continue
        done += 1
    return done


def refund_from_provider(made):
    """A refund the provider reports (refund.created / refund.updated): ours by its metadata,
    or one made elsewhere (the provider's dashboard), recorded so the ledger knows it."""
    refund_id = str((made.get("metadata") or {}).get("refund_id", ""))
    provider_id = made.get("id") or ""
    refund = None
    if refund_id:
        refund = Refund.objects.filter(public_id=_uuid_or_none(refund_id)).first()
    if refund is None and provider_id:
        refund = Refund.objects.filter(provider_refund_id=provider_id).first()
    if refund is None:
        refund = _outside_refund(made)
        if refund is None:
            return None
    return record_refund(refund, provider_refund_id=provider_id, status=made.get("status", ""))


def _uuid_or_none(text):
    import uuid

    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def _outside_refund(made):
    payment_intent = made.get("payment_intent")
    if not isinstance(payment_intent, str) or made.get("status") != "succeeded":
        return None
    attempt = (
        PaymentAttempt.objects.select_related("pledge")
        .filter(payment_intent_id=payment_intent, status=PaymentAttempt.Status.SUCCEEDED)
        .first()
    )
    amount = made.get("amount")
    if attempt is None or not isinstance(amount, int) or amount <= 0:
        return None
    pledge = Pledge.objects.select_for_update().get(pk=attempt.pledge_id)
    if pledge.refunds.filter(status=Refund.Status.PENDING).exists():
        # Ours in flight: which of the two this is shows once ours is answered; until then
        # the event waits (raising makes the webhook task try it again later).
        raise RuntimeError(f"pledge {pledge.pk} has a refund in flight; {made['id']} waits")
    if amount > refundable_minor(pledge):
        logger.error("refund %s is more than pledge %s has left", made.get("id"), pledge.pk)
        return None
    refund = Refund.objects.create(
        pledge=pledge,
        amount_minor=amount,
        currency=pledge.currency,
        reason=_("Refunded at the payment provider."),
    )
    record(refund, action="refund:from_provider", to_status=Refund.Status.PENDING, note=made["id"])
    return refund


def _email_refunded(refund):
    pledge = refund.pledge
    queue_email(
        f"refund:{refund.public_id}:succeeded",
        pledge.supporter.email,
        "pledge_refunded",
        {"pledge": pledge, "campaign": pledge.campaign, "refund": refund},
    )
