"""POST /payments/stripe/webhook/: verify, store once, answer 200, process in a task."""

import json
import time

import pytest
from django.urls import reverse

from payments.gateway import WebhookEvent as VerifiedEvent
from payments.models import WebhookEvent
from tests.stripe_fixtures import stripe_event

pytestmark = pytest.mark.django_db

SETUP_INTENT = {"id": "seti_123", "object": "setup_intent", "metadata": {"pledge": "p-1"}}


def test_the_url():
    assert reverse("payments:stripe-webhook") == "/payments/stripe/webhook/"


def test_signed_event_is_stored_answered_and_processed(
    post_stripe_webhook, handle_events, celery_eager, django_capture_on_commit_callbacks
):
    calls = handle_events("setup_intent.succeeded")
    event = stripe_event("setup_intent.succeeded", SETUP_INTENT)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = post_stripe_webhook(event)

    assert response.status_code == 200
    assert response.json() == {"received": True}
    assert len(callbacks) == 1, "processing is dispatched after commit"
    stored = WebhookEvent.objects.get()
    assert (stored.event_id, stored.type) == (event["id"], "setup_intent.succeeded")
    assert stored.payload == event
    assert stored.status == WebhookEvent.Status.PROCESSED and stored.processed_at
    assert stored.attempts == 1 and stored.processing_error == ""
    assert len(calls) == 1
    assert isinstance(calls[0], VerifiedEvent)
    assert (calls[0].id, calls[0].data_object) == (event["id"], SETUP_INTENT)


def test_answer_does_not_wait_for_processing(post_stripe_webhook, handle_events):
    calls = handle_events("setup_intent.succeeded")
    response = post_stripe_webhook(stripe_event("setup_intent.succeeded", SETUP_INTENT))
    assert response.status_code == 200
    # The test transaction never commits, so the task was not even dispatched yet.
    assert calls == []
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PENDING


def test_bad_signature_is_refused_and_nothing_is_stored(post_stripe_webhook, handle_events):
    calls = handle_events("setup_intent.succeeded")
    event = stripe_event("setup_intent.succeeded", SETUP_INTENT)
    response = post_stripe_webhook(event, secret="whsec_not_ours")
    assert response.status_code == 400
    assert "signature" in response.json()["error"]
    assert not WebhookEvent.objects.exists() and calls == []


def test_missing_signature_is_refused(post_stripe_webhook):
    response = post_stripe_webhook(stripe_event("customer.created", {}), signature="")
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


def test_stale_timestamp_is_refused(post_stripe_webhook):
    event = stripe_event("customer.created", {"id": "cus_1"})
    response = post_stripe_webhook(event, timestamp=int(time.time()) - 301)
    assert response.status_code == 400
    assert "too old" in response.json()["error"]
    assert not WebhookEvent.objects.exists()


def test_signed_body_that_is_not_an_event_is_refused(post_stripe_webhook):
    assert post_stripe_webhook(b"{not json").status_code == 400
    assert post_stripe_webhook(json.dumps({"id": "evt_1"}).encode()).status_code == 400
    assert not WebhookEvent.objects.exists()


def test_only_post_is_allowed(client):
    assert client.get(reverse("payments:stripe-webhook")).status_code == 405


def test_no_csrf_token_is_needed(post_stripe_webhook, client):
    client.handler.enforce_csrf_checks = True
    assert post_stripe_webhook(stripe_event("customer.created", {})).status_code == 200


def test_replay_answers_200_and_changes_nothing(
    post_stripe_webhook, handle_events, celery_eager, django_capture_on_commit_callbacks
):
    calls = handle_events("setup_intent.succeeded")
    event = stripe_event("setup_intent.succeeded", SETUP_INTENT)
    with django_capture_on_commit_callbacks(execute=True):
        assert post_stripe_webhook(event).status_code == 200
    first = WebhookEvent.objects.get()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        replay = post_stripe_webhook(event)

    assert replay.status_code == 200
    assert callbacks == [], "a processed event is not dispatched again"
    assert WebhookEvent.objects.count() == 1
    again = WebhookEvent.objects.get()
    assert (again.processed_at, again.attempts, again.received_at) == (
        first.processed_at,
        first.attempts,
        first.received_at,
    )
    assert len(calls) == 1


def test_redelivery_of_an_unprocessed_event_dispatches_it_again(
    post_stripe_webhook, handle_events, celery_eager, django_capture_on_commit_callbacks
):
    # E.g. the broker was down after the first delivery was stored: the dispatch was lost.
    calls = handle_events("setup_intent.succeeded")
    event = stripe_event("setup_intent.succeeded", SETUP_INTENT)
    with django_capture_on_commit_callbacks(execute=False):
        post_stripe_webhook(event)
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PENDING

    with django_capture_on_commit_callbacks(execute=True):
        assert post_stripe_webhook(event).status_code == 200

    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED
    assert len(calls) == 1


def test_unknown_type_is_stored_and_ignored(
    post_stripe_webhook, celery_eager, django_capture_on_commit_callbacks
):
    event = stripe_event("invoice.finalized", {"id": "in_1"})
    with django_capture_on_commit_callbacks(execute=True):
        assert post_stripe_webhook(event).status_code == 200
    stored = WebhookEvent.objects.get()
    assert stored.status == WebhookEvent.Status.IGNORED
    assert stored.processed_at is not None and stored.attempts == 1


def test_localstripe_style_payload_is_accepted(post_stripe_webhook):
    # localstripe sends json.dumps(..., indent=2, sort_keys=True) and signs those exact bytes.
    event = stripe_event("customer.created", {"id": "cus_9", "object": "customer"})
    body = json.dumps(event, indent=2, sort_keys=True).encode()
    assert post_stripe_webhook(body).status_code == 200
    assert WebhookEvent.objects.get().event_id == event["id"]
