"""Every write of the payments app: Stripe customers and the webhook event store."""

from __future__ import annotations

import logging
import traceback
from enum import StrEnum

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.models import record
from payments import webhooks
from payments.gateway import PaymentError, PaymentGateway, WebhookEvent, get_gateway
from payments.models import StripeCustomer
from payments.models import WebhookEvent as StoredWebhookEvent

logger = logging.getLogger(__name__)

MAX_ERROR_LENGTH = 10_000


class WebhookProcessingFailed(Exception):
    """A handler raised; the error is stored on the event and the task retries."""


class ProcessingOutcome(StrEnum):
    PROCESSED = "processed"
    IGNORED = "ignored"
    ALREADY_DONE = "already_done"
    MISSING = "missing"


# --- Customers -------------------------------------------------------------------------------


def ensure_customer(member, *, gateway: PaymentGateway | None = None) -> StripeCustomer:
    """The member's StripeCustomer, creating the provider customer the first time.

    The provider is called outside any transaction or lock. Two concurrent first calls may
    both create a customer; the unique constraint lets one row win and the loser deletes its
    own customer (on Stripe the gateway's idempotency key, `<install id>-member-<pk>-customer`,
    usually makes both the same customer anyway; the install id keeps another database's
    member with the same pk from getting this one's customer).
    """
    existing = StripeCustomer.objects.filter(member=member).first()
    if existing is not None:
        return existing
    gateway = gateway or get_gateway()
    customer = gateway.create_customer(
        email=member.email, name=member.get_full_name() or member.email, member_id=member.pk
    )
    try:
        with transaction.atomic():
            return StripeCustomer.objects.create(member=member, customer_id=customer.id)
    except IntegrityError:
        winner = StripeCustomer.objects.get(member=member)
        if winner.customer_id != customer.id:
            _discard_customer(gateway, customer.id)
        return winner


def _discard_customer(gateway: PaymentGateway, customer_id: str) -> None:
    try:
        gateway.delete_customer(customer_id)
    except PaymentError:
        # An empty extra customer is harmless; say so in the logs rather than fail the member.
        logger.warning("could not delete surplus Stripe customer %s", customer_id)


# --- Webhook events --------------------------------------------------------------------------


def record_webhook_event(event: WebhookEvent) -> tuple[StoredWebhookEvent, bool]:
    """Store a verified event once and schedule its processing after commit.

    Returns (stored event, created). A redelivery changes nothing; it only schedules
    processing again if the event is not done yet (e.g. the first enqueue was lost).
    """
    with transaction.atomic():
        stored, created = StoredWebhookEvent.objects.get_or_create(
            event_id=event.id,
            defaults={
                "type": event.type,
                "payload": event.payload or _envelope(event),
                "created_at_provider": event.created,
            },
        )
        if not stored.is_done:
            _schedule_processing(stored.pk)
    return stored, created


def process_webhook_event(event_pk: int, *, force: bool = False) -> ProcessingOutcome:
    """Run the registered handlers for a stored event, once.

    Idempotent: an event already processed (or ignored) is left alone unless `force`.
    Raises WebhookProcessingFailed after recording the handler's error on the event.
    """
    failure = None
    with transaction.atomic():
        stored = StoredWebhookEvent.objects.select_for_update().filter(pk=event_pk).first()
        if stored is None:
            logger.warning("webhook event %s does not exist (any more)", event_pk)
            return ProcessingOutcome.MISSING
        if stored.is_done and not force:
            return ProcessingOutcome.ALREADY_DONE
        handlers = webhooks.handlers_for(stored.type)
        stored.attempts += 1
        if not handlers:
            _mark(stored, StoredWebhookEvent.Status.IGNORED)
            return ProcessingOutcome.IGNORED
        event = _as_gateway_event(stored)
        try:
            with transaction.atomic():  # a savepoint: a failing handler leaves no writes behind
                for handler in handlers:
                    handler(event)
        except Exception as exc:
            logger.exception("webhook handler failed for %s %s", stored.type, stored.event_id)
            failure = exc
            _mark(stored, StoredWebhookEvent.Status.FAILED, error=traceback.format_exc())
        else:
            _mark(stored, StoredWebhookEvent.Status.PROCESSED)
    if failure is not None:
        raise WebhookProcessingFailed(f"{stored.type} {stored.event_id}: {failure!r}") from failure
    return ProcessingOutcome.PROCESSED


def reprocess_webhook_events(events, *, by) -> int:
    """Run the handlers of these events again (forced), in tasks; returns how many."""
    events = list(events)
    with transaction.atomic():
        for stored in events:
            record(stored, action="webhook:reprocess", by=by, from_status=stored.status)
            _schedule_processing(stored.pk, force=True)
    return len(events)


def _schedule_processing(event_pk: int, *, force: bool = False) -> None:
    from payments.tasks import process_webhook_event as task

    kwargs = {"force": True} if force else {}
    transaction.on_commit(lambda: task.delay(event_pk, **kwargs))


def _mark(stored: StoredWebhookEvent, status, *, error="") -> None:
    stored.status = status
    stored.processed_at = timezone.now() if status in StoredWebhookEvent.DONE_STATUSES else None
    stored.processing_error = error[-MAX_ERROR_LENGTH:]
    stored.save(update_fields=["status", "processed_at", "processing_error", "attempts"])


def _envelope(event: WebhookEvent) -> dict:
    """The stored payload of an event built without one (tests)."""
    payload = {"id": event.id, "type": event.type, "data": {"object": event.data_object}}
    if event.account:
        payload["account"] = event.account
    return payload


def _as_gateway_event(stored: StoredWebhookEvent) -> WebhookEvent:
    payload = stored.payload or {}
    account = payload.get("account")
    return WebhookEvent(
        id=stored.event_id,
        type=stored.type,
        created=stored.created_at_provider,
        data_object=(payload.get("data") or {}).get("object") or {},
        payload=payload,
        # A Connect event's connected account: both endpoints share one store, told apart by it.
        account=account if isinstance(account, str) else "",
    )
