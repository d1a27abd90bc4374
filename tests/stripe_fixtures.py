"""Stripe test fixtures for every app: a private Stripe stand-in server and localstripe, signed
webhooks, eager Celery.

Fixtures: `stripe_standin` (session; our own stand-in server, devtools/stripe_standin, started
once on a free port), `standin_settings` (points the STRIPE_* settings at it and resets it),
`localstripe` (session; base URL of a running localstripe, the contract suite's second
witness), `localstripe_settings`, `stripe_webhook_secret`, `post_stripe_webhook` (posts a signed
event to our endpoint) and `celery_eager` (tasks run in-process). Helpers `stripe_event()` and
`sign_stripe_payload()` build payloads signed with Stripe's scheme.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid

import pytest
from django.urls import reverse

from devtools.stripe_standin import process as standin_process
from tests import localstripe_server
from tests.conftest import service_unavailable

LOCALSTRIPE_SECRET_KEY = "sk_test_localstripe"
TEST_WEBHOOK_SECRET = "whsec_groundswell_tests"
STANDIN_SECRET_KEY = "sk_test_groundswell_standin"
STANDIN_PUBLISHABLE_KEY = "pk_test_groundswell_standin"


@pytest.fixture(scope="session")
def stripe_standin():
    """Our Stripe stand-in, in its own process for the whole run (its webhook endpoints sign
    with TEST_WEBHOOK_SECRET). It is our own code: failing to start is an error, not a skip."""
    server = standin_process.start(
        ["--webhook-secret", TEST_WEBHOOK_SECRET, "--webhook-retry-base", "0.2"]
    )
    yield server
    server.stop()


@pytest.fixture
def standin_settings(settings, stripe_standin, stripe_webhook_secret):
    """Point the STRIPE_* settings at the session's stand-in, emptied; returns the server."""
    stripe_standin.reset()
    settings.STRIPE_API_BASE = stripe_standin.base_url
    settings.STRIPE_SECRET_KEY = STANDIN_SECRET_KEY
    settings.STRIPE_PUBLISHABLE_KEY = STANDIN_PUBLISHABLE_KEY
    settings.STRIPE_JS_URL = f"{stripe_standin.base_url}/js.stripe.com/v3/"
    return stripe_standin


# One server per test process, however many conftest files import the fixture.
_server: localstripe_server.LocalStripeServer | None = None
_start_failure: str | None = None


def _shared_server(config) -> localstripe_server.LocalStripeServer | None:
    global _server, _start_failure
    if _server is None and _start_failure is None:
        try:
            _server = localstripe_server.start()
        except localstripe_server.LocalStripeUnavailable as exc:
            _start_failure = str(exc)
        else:
            config.add_cleanup(_stop_server)
    return _server


def _stop_server():
    global _server
    if _server is not None:
        _server.stop()
        _server = None


@pytest.fixture(scope="session")
def localstripe(request):
    """Base URL of a localstripe started for this test run (own port, --from-scratch)."""
    server = _shared_server(request.config)
    if server is None:
        service_unavailable(f"localstripe could not start: {_start_failure}")
    if server.process.poll() is not None:
        service_unavailable(f"localstripe died during the run:\n{server.log_tail()}")
    return server.base_url


@pytest.fixture
def stripe_webhook_secret(settings):
    settings.STRIPE_WEBHOOK_SECRET = TEST_WEBHOOK_SECRET
    return TEST_WEBHOOK_SECRET


@pytest.fixture
def localstripe_settings(settings, localstripe, stripe_webhook_secret):
    """Point STRIPE_API_BASE and the keys at the session's localstripe; returns its URL."""
    settings.STRIPE_API_BASE = localstripe
    settings.STRIPE_SECRET_KEY = LOCALSTRIPE_SECRET_KEY
    return localstripe


@pytest.fixture
def celery_eager():
    """Run tasks in-process at .delay() (and raise their errors), for this test only."""
    from config.celery import app

    saved = {key: app.conf.get(key) for key in ("task_always_eager", "task_eager_propagates")}
    app.conf.update(task_always_eager=True, task_eager_propagates=True)
    yield app
    app.conf.update(saved)


def stripe_event(event_type, data_object, *, event_id=None, created=None):
    """A Stripe event as Stripe sends it (only the fields we read, plus the usual envelope)."""
    return {
        "id": event_id or f"evt_test_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": int(time.time()) if created is None else created,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
        "data": {"object": data_object},
    }


def sign_stripe_payload(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The Stripe-Signature header: t=<time>,v1=HMAC-SHA256(secret, "<time>.<payload>")."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.".encode() + payload
    signature = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={signature}"


@pytest.fixture
def post_stripe_webhook(client, stripe_webhook_secret):
    """post(event_or_body, secret=…, timestamp=…, signature=…) -> response of our endpoint."""

    def post(event, *, secret=None, timestamp=None, signature=None):
        body = event if isinstance(event, bytes) else json.dumps(event, indent=2).encode()
        if signature is None:
            signature = sign_stripe_payload(body, secret or stripe_webhook_secret, timestamp)
        headers = {"Stripe-Signature": signature} if signature else {}
        return client.post(
            reverse("payments:stripe-webhook"),
            data=body,
            content_type="application/json",
            headers=headers,
        )

    return post
