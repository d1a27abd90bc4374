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


# --- signed bodies that are not a well-formed event: 400, never 500 -----------------------
def _signed_body(created):
    event = stripe_event("customer.created", {"id": "cus_1"})
    return json.dumps(event).replace(f'"created": {event["created"]}', f'"created": {created}')


@pytest.mark.parametrize(
    "created",
    [
        "1e20",
        "Infinity",
        "-Infinity",
        "NaN",
        "100000000000000000000",
        "-1",
        "1.5",
        '"1700000000"',
        "true",
        "null",
        "[]",
        "1" + "0" * 5_000,
    ],
)
def test_signed_event_with_an_impossible_created_time_is_refused(post_stripe_webhook, created):
    body = _signed_body(created).encode()
    assert f'"created": {created[:20]}' in body.decode()
    response = post_stripe_webhook(body)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "error" in response.json()
    assert not WebhookEvent.objects.exists()


def _event_with(**changes):
    event = stripe_event("customer.created", {"id": "cus_1"})
    event.update(changes)
    return json.dumps(event).encode()


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe not utf-8",
        b"[]",
        b'"an event"',
        b"null",
        b"[" * 100_000,  # RecursionError in the decoder
        b'{"id": "evt_1", "type": "x", "created": 1, "data": {"object": ' + b"[" * 100_000 + b"}}",
        _event_with(id=12),
        _event_with(id=""),
        _event_with(id="evt_" + "x" * 300),
        _event_with(type=None),
        _event_with(type="t" * 101),
        _event_with(data={"object": "cus_1"}),
        _event_with(data=[]),
        _event_with(data=None),
        _event_with(data={"object": {"amount": float("inf")}}),  # json.dumps writes Infinity
        _event_with(data={"object": {"amount": float("nan")}}),
        b'{"id": "evt_1", "type": "x", "created": 1, "data": {"object": {"n": 1e999}}}',
        # Valid JSON that PostgreSQL's jsonb cannot store: a NUL, lone surrogates (value, key).
        _event_with(data={"object": {"name": "a\x00b"}}),
        b'{"id": "evt_1", "type": "x", "created": 1, "data": {"object": {"n": "\\ud800"}}}',
        b'{"id": "evt_1", "type": "x", "created": 1, "data": {"object": {"\\udfff": 1}}}',
    ],
)
def test_every_malformed_signed_body_is_a_400(post_stripe_webhook, body):
    response = post_stripe_webhook(body)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize(
    "signature",
    [
        "v1=abc",  # no t=
        "t=,v1=abc",
        "t=abc,v1=abc",
        "t=1e9,v1=abc",
        "t=" + "9" * 5_000 + ",v1=abc",
        "t=12345",  # no v1
        "garbage",
        ",,,,",
        "t=12345,v1=é",  # non-ASCII in the signature
        "t=١٢٣٤٥,v1=abc",  # non-ASCII digits in the time
        "t=12345,v1=\x00",
    ],
)
def test_malformed_signature_headers_are_a_400(post_stripe_webhook, signature):
    response = post_stripe_webhook(stripe_event("customer.created", {}), signature=signature)
    assert response.status_code == 400
    assert "signature" in response.json()["error"]
    assert not WebhookEvent.objects.exists()


def test_a_body_over_the_upload_limit_is_a_json_400(post_stripe_webhook, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    event = stripe_event("customer.created", {"id": "cus_1", "description": "d" * 2_000})
    response = post_stripe_webhook(event)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert not WebhookEvent.objects.exists()


def test_signatures_are_checked_by_the_stripe_sdk(post_stripe_webhook, monkeypatch):
    import stripe

    calls = []
    real = stripe.WebhookSignature.verify_header

    def spy(payload, header, secret, tolerance=None):
        calls.append((header, secret, tolerance))
        return real(payload, header, secret, tolerance)

    monkeypatch.setattr(stripe.WebhookSignature, "verify_header", spy)
    assert post_stripe_webhook(stripe_event("customer.created", {})).status_code == 200
    assert len(calls) == 1 and calls[0][1] == "whsec_groundswell_tests" and calls[0][2] == 300


def _gateways():
    from devtools.stripe_standin.inprocess import FakeGateway
    from payments.stripe_gateway import StripeGateway

    secret = "whsec_both"
    return [
        StripeGateway(secret_key="sk_test_x", api_base="http://localhost:1", webhook_secret=secret),
        FakeGateway(webhook_secret=secret),
    ]


@pytest.mark.parametrize("gateway", _gateways(), ids=["stripe", "fake"])
def test_both_gateways_read_signed_bodies_by_the_same_rules(gateway):
    from payments.gateway import InvalidWebhook
    from tests.stripe_fixtures import sign_stripe_payload

    good = _event_with()
    event = gateway.verify_webhook(good, sign_stripe_payload(good, gateway.webhook_secret))
    assert event.type == "customer.created" and event.data_object == {"id": "cus_1"}
    for body in (_signed_body("1e20").encode(), _signed_body("Infinity").encode(), b"[]"):
        with pytest.raises(InvalidWebhook):
            gateway.verify_webhook(body, sign_stripe_payload(body, gateway.webhook_secret))
