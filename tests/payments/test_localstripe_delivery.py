"""End to end: localstripe signs and delivers a real event to our endpoint, which stores it."""

import time

import pytest
from django.urls import reverse

from payments.gateway import get_gateway
from payments.models import WebhookEvent
from tests import localstripe_server

pytestmark = [pytest.mark.localstripe, pytest.mark.django_db(transaction=True)]

HOOK_NAME = "groundswell-payments-tests"


def wait_for(condition, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    return None


@pytest.fixture
def localstripe_delivers_to_us(localstripe_settings, live_server, stripe_webhook_secret):
    url = live_server.url + reverse("payments:stripe-webhook")
    localstripe_server.register_webhook(
        localstripe_settings, HOOK_NAME, url, stripe_webhook_secret, events=["customer.created"]
    )
    yield
    # localstripe cannot forget a webhook: point it at a closed port for the rest of the run.
    localstripe_server.register_webhook(
        localstripe_settings, HOOK_NAME, "http://127.0.0.1:9/", "whsec_unused"
    )


def test_event_sent_by_localstripe_is_verified_stored_and_processed(
    localstripe_delivers_to_us, handle_events, celery_eager
):
    calls = handle_events("customer.created")
    customer = get_gateway().create_customer(email="e2e@example.org", name="E2E", member_id="e2e")

    def delivered():
        return next(
            (
                event
                for event in WebhookEvent.objects.filter(type="customer.created")
                if event.payload["data"]["object"]["id"] == customer.id
            ),
            None,
        )

    stored = wait_for(delivered)
    assert stored is not None, "localstripe did not deliver customer.created"
    assert wait_for(lambda: WebhookEvent.objects.get(pk=stored.pk).processed_at)
    assert WebhookEvent.objects.get(pk=stored.pk).status == WebhookEvent.Status.PROCESSED
    # Customers created by earlier tests may be delivered too (sent a second after creation).
    assert [call.data_object["id"] for call in calls].count(customer.id) == 1
