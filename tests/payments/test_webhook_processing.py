"""Processing stored webhook events: handler registry, idempotency, failures and retries."""

from datetime import UTC, datetime

import pytest

from payments import services, webhooks
from payments.gateway import WebhookEvent as VerifiedEvent
from payments.models import StripeCustomer, WebhookEvent
from payments.tasks import process_webhook_event
from tests.factories import MemberFactory
from tests.stripe_fixtures import stripe_event

pytestmark = pytest.mark.django_db


def stored_event(event_type="setup_intent.succeeded", data_object=None):
    payload = stripe_event(event_type, data_object or {"id": "seti_1"})
    verified = VerifiedEvent(
        id=payload["id"],
        type=event_type,
        created=datetime.fromtimestamp(payload["created"], tz=UTC),
        data_object=payload["data"]["object"],
        payload=payload,
    )
    stored, created = services.record_webhook_event(verified)
    assert created
    return stored


def test_processing_runs_each_handler_once(handle_events):
    first = handle_events("setup_intent.succeeded")
    second = handle_events("setup_intent.succeeded")
    other = handle_events("payment_method.detached")
    event = stored_event()

    assert services.process_webhook_event(event.pk) == services.ProcessingOutcome.PROCESSED
    assert services.process_webhook_event(event.pk) == services.ProcessingOutcome.ALREADY_DONE

    assert (len(first), len(second), len(other)) == (1, 1, 0)
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.PROCESSED and event.attempts == 1


def test_forced_reprocessing_runs_the_handlers_again(handle_events):
    calls = handle_events("setup_intent.succeeded")
    event = stored_event()
    services.process_webhook_event(event.pk)
    first_processed_at = WebhookEvent.objects.get().processed_at

    assert services.process_webhook_event(event.pk, force=True) == "processed"

    event.refresh_from_db()
    assert len(calls) == 2 and event.attempts == 2
    assert event.processed_at > first_processed_at


def test_an_event_ignored_earlier_is_handled_when_forced_after_a_handler_registers(
    handle_events,
):
    event = stored_event("payment_method.detached")
    assert services.process_webhook_event(event.pk) == services.ProcessingOutcome.IGNORED
    calls = handle_events("payment_method.detached")
    assert services.process_webhook_event(event.pk) == services.ProcessingOutcome.ALREADY_DONE
    assert services.process_webhook_event(event.pk, force=True) == "processed"
    assert len(calls) == 1


def test_a_failing_handler_leaves_no_writes_and_records_the_error(handle_events):
    member = MemberFactory()

    def write_then_fail(event):
        StripeCustomer.objects.create(member=member, customer_id="cus_from_handler")

    handle_events("setup_intent.succeeded", effect=write_then_fail, fail=ValueError("boom"))
    event = stored_event()

    with pytest.raises(services.WebhookProcessingFailed):
        services.process_webhook_event(event.pk)

    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.FAILED and event.processed_at is None
    assert "ValueError: boom" in event.processing_error and event.attempts == 1
    assert not StripeCustomer.objects.exists(), "the handler's writes were rolled back"


def test_a_failed_event_is_processed_by_a_later_attempt(handle_events):
    failing = handle_events("setup_intent.succeeded", fail=RuntimeError("database hiccup"))
    event = stored_event()
    with pytest.raises(services.WebhookProcessingFailed):
        services.process_webhook_event(event.pk)
    webhooks.unregister("setup_intent.succeeded", _only_handler("setup_intent.succeeded"))
    healthy = handle_events("setup_intent.succeeded")

    assert services.process_webhook_event(event.pk) == "processed"

    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.PROCESSED
    assert event.processing_error == "" and event.attempts == 2
    assert (len(failing), len(healthy)) == (1, 1)


def _only_handler(event_type):
    (handler,) = webhooks.handlers_for(event_type)
    return handler


def test_the_task_processes_and_is_safe_to_run_twice(handle_events):
    calls = handle_events("setup_intent.succeeded")
    event = stored_event()
    assert process_webhook_event.apply(args=[event.pk]).get() == "processed"
    assert process_webhook_event.apply(args=[event.pk]).get() == "already_done"
    assert process_webhook_event.apply(args=[event.pk + 1000]).get() == "missing"
    assert len(calls) == 1


def test_the_task_retries_a_failing_handler_up_to_a_ceiling(handle_events):
    calls = handle_events("setup_intent.succeeded", fail=RuntimeError("down"))
    event = stored_event()

    # Eager mode runs the retries at once instead of after the backoff countdown.
    result = process_webhook_event.apply(args=[event.pk])

    assert result.failed()
    assert len(calls) == process_webhook_event.max_retries + 1
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.FAILED
    assert event.attempts == len(calls) and "RuntimeError: down" in event.processing_error
    assert process_webhook_event.retry_backoff and process_webhook_event.retry_backoff_max


def test_register_is_idempotent_and_covers_several_types():
    def on_setup(event):
        pass

    webhooks.register("setup_intent.succeeded", "setup_intent.setup_failed")(on_setup)
    webhooks.register("setup_intent.succeeded")(on_setup)
    try:
        assert webhooks.handlers_for("setup_intent.succeeded").count(on_setup) == 1
        assert on_setup in webhooks.handlers_for("setup_intent.setup_failed")
        assert "setup_intent.setup_failed" in webhooks.registered_types()
    finally:
        webhooks.unregister("setup_intent.succeeded", on_setup)
        webhooks.unregister("setup_intent.setup_failed", on_setup)
    assert webhooks.handlers_for("setup_intent.succeeded") == ()
