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
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns import page_cache
from core.emails import queue_email
from core.errors import NotPermitted
from core.models import record
from core.money import format_money, round_minor
from core.transitions import transition
from ledger import accounts as ledger_accounts
from ledger import selectors as ledger_selectors
from ledger import services as ledger
from ledger.models import Account
from ledger.models import Transaction as LedgerTransaction
from payments.gateway import PaymentProviderError, get_gateway, idempotency_key
from payouts.errors import PayoutError
from payouts.models import Payout, PayoutAccount, Refund
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


def refundable_minor(pledge):
    """What may still be refunded: the collected amount less refunds made or in flight."""
    contribution = contribution_of(pledge)
    if contribution is None:
        return 0
    collected = contribution.entries.get(amount_minor__gt=0).amount_minor
    return max(0, collected - refunded_minor(pledge))


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
        made = gateway.refund(
            payment_intent_id,
            refund.amount_minor,
            refund_key(refund),
            metadata={"refund_id": str(refund.public_id), "pledge": str(refund.pledge.public_id)},
        )
    except PaymentProviderError as error:
        if error.retryable:
            logger.warning("refund %s: provider unreachable: %s", refund.pk, error.detail)
            raise RefundInterrupted(
                _("The payment provider could not be reached; the refund will be tried again.")
            ) from error
        return record_refund_failed(refund, error=error.message)
    return record_refund(refund, provider_refund_id=made.id, status=made.status, now=now)


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
        return refund
    with transaction.atomic():
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
        # Paid-out money is taken back in a task: a webhook handler must not call the provider.
        refund_id = done.pk
        transaction.on_commit(lambda: _reverse_later(refund_id))
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
    collected = contribution_of(pledge).entries.get(amount_minor__gt=0).amount_minor
    fee_tx = LedgerTransaction.objects.filter(
        kind=Kind.PLATFORM_FEE, key=f"platform_fee:pledge:{pledge.pk}"
    ).first()
    if fee_tx is None or not collected:
        return 0
    fee = fee_tx.entries.get(amount_minor__gt=0).amount_minor
    refunded_so_far = refunded_minor(pledge, pending=False)  # this one included (succeeded)
    owed_back = round_minor(Decimal(fee) * refunded_so_far / collected)
    given_back = (
        LedgerTransaction.objects.filter(
            kind=Kind.PLATFORM_FEE, pledge_id=pledge.pk, key__startswith="platform_fee:refund:"
        )
        .filter(entries__account__kind=Account.Kind.CAMPAIGN)
        .aggregate(total=Sum("entries__amount_minor"))["total"]
        or 0
    )
    return max(0, owed_back - given_back)


def _move_pledge(pledge, refund):
    left = refundable_minor(pledge)
    to = Pledge.Status.REFUNDED if left == 0 else Pledge.Status.PARTIALLY_REFUNDED
    note = f"{format_money(refund.amount_minor, refund.currency)} ({refund.provider_refund_id})"
    moved = transition(pledge, to, note=note)
    if not moved.moved:
        # partially_refunded again: the helper passes over a move to the current state, and
        # this refund must still be on the pledge's audit log.
        record(pledge, action="refund", from_status=to, to_status=to, note=note)


# --- taking paid-out money back -------------------------------------------------------------
def reverse_transfers_for(refund, *, gateway=None):
    """After a refund, take back from the organizer's Connect transfers what the campaign's
    account no longer covers (newest payout first), up to the refund's amount."""
    refund = Refund.objects.select_related("pledge").get(pk=refund.pk)
    campaign_id = refund.pledge.campaign_id
    shortfall = -ledger_selectors.campaign_balances(campaign_id)[Account.Kind.CAMPAIGN]
    shortfall = min(shortfall, refund.amount_minor - refund.reversed_minor)
    if shortfall <= 0:
        return 0
    gateway = gateway or get_gateway()
    paid = Payout.objects.filter(
        campaign_id=campaign_id,
        status=Payout.Status.PAID,
        method=PayoutAccount.Method.STRIPE_CONNECT,
    ).exclude(transfer_id="")
    taken = 0
    for payout in paid.order_by("-paid_at", "-id"):
        if shortfall <= 0:
            break
        # From the ledger, not the provider's running total: a retry after a lost answer
        # then asks for the same amount under the same key, and the provider replays it.
        amount = min(shortfall, payout.amount_minor - _reversed_in_ledger(payout))
        if amount <= 0:
            continue
        try:
            reversal = gateway.reverse_transfer(
                payout.transfer_id,
                amount_minor=amount,
                idempotency_key=idempotency_key(
                    "refund", refund.public_id, "reversal", payout.public_id
                ),
                metadata={"refund_id": str(refund.public_id), "payout_id": str(payout.public_id)},
            )
        except PaymentProviderError as error:
            # The balance stays negative; payouts wait until it is covered (approval checks).
            logger.warning("refund %s: reversing %s failed: %s", refund.pk, payout.pk, error.detail)
            record(refund, action="refund:reversal_failed", note=f"{payout.transfer_id}: {error}")
            continue
        with transaction.atomic():
            _, created = ledger.transfer(
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
            if created:
                Refund.objects.filter(pk=refund.pk).update(
                    reversed_minor=refund.reversed_minor + taken + reversal.amount_minor
                )
                record(refund, action="refund:transfer_reversed", note=reversal.id)
        taken += reversal.amount_minor
        shortfall -= reversal.amount_minor
    return taken


def _reversed_in_ledger(payout):
    """What refunds took back from this payout's transfer so far, as the ledger recorded it."""
    total = LedgerTransaction.objects.filter(
        kind=Kind.PAYOUT_REVERSAL,
        key__startswith="payout_reversal:refund:",
        key__endswith=f":{payout.public_id}",
        entries__account__kind=Account.Kind.CAMPAIGN,
    ).aggregate(total=Sum("entries__amount_minor"))["total"]
    return total or 0


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
