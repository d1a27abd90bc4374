"""Core tasks: a ping that proves a worker consumes the broker, beat's heartbeat, and the email
outbox (send one stored email; the sweep for emails whose message was lost)."""

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from core import emails

HEARTBEAT_CACHE_KEY = "groundswell:worker-heartbeat"


@shared_task(name="core.tasks.ping")
def ping():
    return "pong"


@shared_task(name="core.tasks.heartbeat")
def heartbeat():
    cache.set(HEARTBEAT_CACHE_KEY, timezone.now().isoformat(), timeout=None)
    return True


@shared_task(
    name="core.tasks.send_outbound_email",
    autoretry_for=(emails.EmailNotSent,),
    retry_backoff=emails.RETRY_BACKOFF,
    retry_backoff_max=emails.RETRY_BACKOFF_MAX,
    retry_jitter=True,
    # The row's own attempt count decides when it is failed (core.emails.deliver); this is
    # the same ceiling, so Celery never gives up on a row that is still queued.
    max_retries=emails.MAX_SEND_ATTEMPTS - 1,
)
def send_outbound_email(email_id):
    """Send one OutboundEmail; safe to run twice (the second run finds it claimed or sent)."""
    return str(emails.deliver(email_id))


@shared_task(name="core.tasks.send_queued_emails")
def send_queued_emails():
    """Beat's sweep: a new message for queued emails whose task was lost."""
    return emails.dispatch_stale()
