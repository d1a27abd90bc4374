"""Celery tasks of the payments app: processing stored webhook events."""

from celery import shared_task

from payments import services


@shared_task(
    name="payments.tasks.process_webhook_event",
    autoretry_for=(services.WebhookProcessingFailed,),
    retry_backoff=5,
    retry_backoff_max=30 * 60,
    retry_jitter=True,
    max_retries=10,
)
def process_webhook_event(event_pk, force=False):
    """Run the handlers of one stored event; safe to run twice (see services)."""
    # After the last retry the event stays `failed` with its error, for an admin to reprocess.
    return str(services.process_webhook_event(event_pk, force=force))
