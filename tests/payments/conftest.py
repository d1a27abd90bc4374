"""Fixtures of the payments tests: the shared Stripe fixtures and a recording webhook handler."""

import pytest

from payments import webhooks
from tests.stripe_fixtures import (  # noqa: F401  (fixtures, re-exported for this directory)
    celery_eager,
    localstripe,
    localstripe_settings,
    post_stripe_webhook,
    stripe_webhook_secret,
)


@pytest.fixture(autouse=True)
def isolated_webhook_registry(monkeypatch):
    """These tests see only the handlers they register (other apps register theirs on start)."""
    monkeypatch.setattr(webhooks, "_handlers", {})


@pytest.fixture
def handle_events():
    """handle_events(type, fail=None) registers a handler for the test and returns its calls."""
    installed = []

    def install(event_type, *, fail=None, effect=None):
        calls = []

        def record_call(event):
            calls.append(event)
            if effect is not None:
                effect(event)
            if fail is not None:
                raise fail

        record_call.__qualname__ = f"test_handler_{event_type}_{len(installed)}"
        webhooks.register(event_type)(record_call)
        installed.append((event_type, record_call))
        return calls

    yield install
    for event_type, handler in installed:
        webhooks.unregister(event_type, handler)
