"""Reconciliation: settling charge attempts whose outcome we do not know, with the provider.

An attempt stays `created`, `sent` or `unknown` when its worker died or the provider's answer
was lost. Before any new attempt is made for that pledge (the database allows one unsettled
attempt per pledge), it is settled here, in this order:

1. by its PaymentIntent id, when we have it (retrieve: the provider's current truth);
2. within the idempotency key's window (Stripe keeps keys 24 hours; we use
   CHARGE_IDEMPOTENCY_WINDOW_HOURS), by sending the same request with the same key: the
   provider replays the stored result, or makes the charge now if the first request never
   arrived — either way exactly one charge;
3. otherwise (or when the replay is a stored server error) by searching the provider for a
   PaymentIntent with the attempt's metadata. An empty search proves nothing until the
   provider's search lag has passed and no worker can still be sending the request
   (CHARGE_ASSUME_LOST_AFTER_SECONDS): only then is the attempt marked failed, not charged,
   and the next sweep makes a new attempt with a new key.

Webhooks (payment_intent.*) only point at an attempt; the task then asks the provider, so
events may come in any order, twice, or late.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from pledges import settlement
from pledges.models import PaymentAttempt

logger = logging.getLogger(__name__)


def reconcile_stale_attempts(*, now=None, limit=500):
    """Send a reconcile task for each unsettled attempt untouched for the reconciliation
    delay (its worker died, or its task's retries ran out); returns how many were sent."""
    from pledges.tasks import reconcile_attempt as task

    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.CHARGE_RECONCILE_AFTER_SECONDS)
    stale = PaymentAttempt.objects.filter(
        status__in=PaymentAttempt.UNSETTLED_STATUSES, updated_at__lt=cutoff
    ).filter(Q(sent_at__lt=cutoff) | Q(sent_at=None))
    ids = list(stale.order_by("pk").values_list("pk", flat=True)[:limit])
    for attempt_id in ids:
        task.delay(attempt_id)
    return len(ids)


def reconcile_attempt(attempt, *, payment_intent_id=None, gateway=None, bucket=None, now=None):
    """Find out what the provider did with this attempt and record it; returns the attempt.

    `payment_intent_id`: a hint from a webhook, used when the attempt does not know its
    PaymentIntent yet (the response was lost), once its metadata shows it is this attempt's.
    Raises settlement.ChargeInterrupted when the provider cannot be reached.
    """
    from payments.gateway import PaymentProviderError, SearchUnavailable, get_gateway

    gateway = gateway or get_gateway()
    now = now or timezone.now()
    attempt = PaymentAttempt.objects.select_related(
        "pledge__campaign", "pledge__supporter__stripe_customer"
    ).get(pk=attempt.pk)
    known_id = attempt.payment_intent_id or payment_intent_id
    try:
        if known_id:
            charge = gateway.retrieve_payment(known_id)
            if attempt.payment_intent_id or _belongs_to(charge, attempt):
                return settlement.record_outcome(attempt, charge, now=now)
        if not attempt.is_unsettled:
            return attempt
        if now - attempt.created_at < timedelta(hours=settings.CHARGE_IDEMPOTENCY_WINDOW_HOURS):
            try:
                return settlement.send_attempt(attempt, gateway=gateway, bucket=bucket)
            except settlement.ChargeInterrupted:
                pass  # no answer again, or a stored server error replayed: search below
        return _settle_by_search(attempt, gateway=gateway, now=now)
    except SearchUnavailable:
        logger.error("attempt %s: the provider cannot search; an admin must check it", attempt.pk)
        raise
    except PaymentProviderError as error:
        if error.retryable:
            raise settlement.ChargeInterrupted(attempt.pk, error) from error
        raise


def _settle_by_search(attempt, *, gateway, now):
    pledge = attempt.pledge
    found = gateway.find_payments({"pledge": str(pledge.public_id), "attempt": str(attempt.number)})
    found = [charge for charge in found if _belongs_to(charge, attempt)]
    if found:
        succeeded = [charge for charge in found if charge.status == "succeeded"]
        return settlement.record_outcome(attempt, (succeeded or found)[0], now=now)
    attempt.refresh_from_db()
    last_sent = attempt.sent_at or attempt.created_at
    if now - last_sent > timedelta(seconds=settings.CHARGE_ASSUME_LOST_AFTER_SECONDS):
        return settlement.abandon_attempt(
            attempt, note="The provider has no payment for this attempt: nothing was charged."
        )
    return attempt  # too early to tell: the search may lag; the next sweep looks again


def _belongs_to(charge, attempt):
    """The PaymentIntent's metadata names this attempt (never trust an id alone)."""
    metadata = charge.metadata or {}
    return metadata.get("pledge") == str(attempt.pledge.public_id) and metadata.get(
        "attempt"
    ) == str(attempt.number)


def reconcile_now(attempt, *, by):
    """The admin action "reconcile": ask the provider now, with an audit row."""
    from core.models import record

    record(attempt, action="reconcile_requested", by=by)
    return reconcile_attempt(attempt)
