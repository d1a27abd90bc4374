"""An approved Connect payout becomes exactly one transfer to the organizer's account.

Order, as for charges: under the payout's lock, approved → processing (the claim), commit;
then, with no lock held, look for a transfer already made for this attempt (by its transfer
group: a lost response, a killed worker) and only if there is none, create one with the
attempt's idempotency key (`<install id>-payout-<public id>-transfer-<n>`); then record paid
or failed. A second task for the same payout (a double click, a redelivered message, the
sweep) finds the first one's transfer or replays its idempotent answer: one transfer.

The platform never transfers money it does not hold: approval reserved the amount from the
campaign's ledger account, and the transfer is made from the platform's available balance
(no `source_transaction`: a payout is funded by many charges), which the provider refuses to
overdraw (`balance_insufficient`). That refusal, or any other definitive one, fails the
attempt and sends the payout back to review with the provider's message; network errors and
the provider's 5xx leave it processing for the next try.

`sweep` (beat task `payouts.payout_sweep`) re-sends approved payouts whose task message was
lost, retries processing ones whose attempt went quiet, and asks again about refunds left
pending by a lost answer (payouts.refunds).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.install import install_id
from core.transitions import transition
from payments.gateway import PaymentProviderError, get_gateway, idempotency_key
from payouts import services
from payouts.models import Payout

logger = logging.getLogger(__name__)

Status = Payout.Status


class TransferInterrupted(Exception):
    """The provider could not be reached or answered 5xx: the payout stays processing and the
    task (or the sweep) tries again with the same idempotency key."""


def transfer_key(payout):
    return idempotency_key("payout", payout.public_id, "transfer", payout.transfer_number)


def transfer_group(payout):
    return f"payout-{payout.public_id}"


def dispatch_transfer(payout, *, now=None):
    """Send the transfer task after commit, and note when (the sweep re-sends lost ones)."""
    from payouts.tasks import transfer_payout

    now = now or timezone.now()
    Payout.objects.filter(pk=payout.pk).update(transfer_enqueued_at=now)
    payout_id = payout.pk
    # robust: a broker outage must not turn a committed approval into an error page; the
    # sweep re-sends what was not sent (transfer_enqueued_at).
    transaction.on_commit(lambda: transfer_payout.delay(payout_id), robust=True)


def send_transfer(payout_id, *, gateway=None, now=None):
    """Make (or find) the transfer of an approved payout and record the outcome; returns the
    payout. Raises TransferInterrupted when the provider could not answer."""
    gateway = gateway or get_gateway()
    payout = _claim(payout_id, now=now)
    if payout is None:
        return Payout.objects.get(pk=payout_id)
    made = _existing_transfer(payout, gateway)
    if made is None:
        problem = _short_since_approval(payout)
        if problem:
            return services.record_failed(payout, error=problem)
        try:
            made = gateway.create_transfer(
                amount_minor=payout.amount_minor,
                currency=payout.currency,
                destination=payout.destination,
                idempotency_key=transfer_key(payout),
                transfer_group=transfer_group(payout),
                metadata=transfer_metadata(payout),
            )
        except PaymentProviderError as error:
            if error.retryable:
                raise TransferInterrupted(error.detail or error.message) from error
            logger.warning("payout %s: transfer refused: %s", payout.pk, error.detail)
            return services.record_failed(payout, error=_failure_text(error))
    return record_transfer(payout, made)


def transfer_metadata(payout):
    return {
        "payout_id": str(payout.public_id),
        "transfer_number": str(payout.transfer_number),
        "campaign_id": str(payout.campaign_id),
        "install": install_id(),
    }


def record_transfer(payout, made):
    """A transfer exists for the payout's attempt: it is paid (Connect transfers arrive in the
    connected account's balance at once; its own payout to the bank is Stripe's)."""
    if made.amount_minor != payout.amount_minor or made.currency != payout.currency:
        # Never expected; the idempotency key and group are ours. Loud, and left for an admin.
        logger.error("payout %s: transfer %s does not match it", payout.pk, made.id)
        return services.record_failed(
            payout, error=f"Transfer {made.id} does not match the payout's amount or currency."
        )
    return services.record_paid(payout, transfer_id=made.id)


def _claim(payout_id, *, now=None):
    """approved → processing under the lock, or the payout if already processing (a retry);
    None when there is nothing to transfer (paid, failed, back in review)."""
    now = now or timezone.now()
    with transaction.atomic():
        payout = Payout.objects.select_for_update().get(pk=payout_id)
        if payout.status == Status.PROCESSING:
            Payout.objects.filter(pk=payout.pk).update(transfer_started_at=now)
            return payout
        if payout.status != Status.APPROVED:
            return None
        return transition(payout, Status.PROCESSING, updates={"transfer_started_at": now})


def _short_since_approval(payout):
    """Why the money approved cannot go now: a refund or a dispute since the approval left
    the campaign's account below zero, or a dispute is open (then the payout goes back to
    review: a new approval sees the new figures)."""
    from ledger import selectors as ledger_selectors
    from ledger.models import Account
    from payouts.disputes import has_open_dispute

    if has_open_dispute(payout.campaign_id):
        return "A payment of the campaign was disputed after the approval: review it again."
    balance = ledger_selectors.campaign_balances(payout.campaign_id)[Account.Kind.CAMPAIGN]
    if balance < 0:
        return "A refund since the approval left the campaign short: review it again."
    return ""


def _existing_transfer(payout, gateway):
    """This attempt's transfer if one was made (its response lost, its worker killed)."""
    try:
        found = gateway.find_transfers(transfer_group=transfer_group(payout))
    except PaymentProviderError as error:
        raise TransferInterrupted(error.detail or error.message) from error
    for made in found:
        if made.metadata.get("transfer_number") == str(payout.transfer_number):
            return made
    return None


def _failure_text(error):
    text = error.message
    if error.code:
        text = f"{text} ({error.code})"
    return text


def sweep(*, now=None):
    """Re-send transfer tasks the broker lost and retry attempts that went quiet."""
    from payouts.tasks import transfer_payout

    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.PAYOUT_TRANSFER_RESEND_SECONDS)
    due = Payout.objects.filter(
        Q(status=Status.APPROVED, transfer_enqueued_at__lt=stale)
        | Q(status=Status.APPROVED, transfer_enqueued_at__isnull=True)
        | Q(status=Status.PROCESSING, transfer_started_at__lt=stale)
    ).values_list("pk", flat=True)
    sent = 0
    for payout_id in due[:500]:
        Payout.objects.filter(pk=payout_id).update(transfer_enqueued_at=now)
        transfer_payout.delay(payout_id)
        sent += 1
    from payouts.refunds import retry_pending_refunds, retry_pending_reversals

    quiet = timedelta(seconds=settings.PAYOUT_TRANSFER_RESEND_SECONDS)
    retry_pending_refunds(older_than=quiet)
    retry_pending_reversals(older_than=quiet)
    return sent
