"""Exactly-once settlement while the stand-in's webhooks arrive twice, out of order and late,
at a real web process (gunicorn), and charges answered with a 500 make some of them the first
news of a charge. Events only point at an attempt (the task asks the provider), so the outcome
is the same whatever order, and however often, they come in."""

import pytest
from django.urls import reverse

from payments import webhooks
from payments.gateway import get_gateway
from payments.models import WebhookEvent
from tests.conftest import wait_for
from tests.factories import CampaignFactory
from tests.faults.harness import (
    assert_exactly_once,
    deadline_passes,
    expected_statuses,
    mixed_cards,
    pledges_with_cards,
    provider_charges,
    wait_until_settled,
    went_unknown,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

FINAL_EVENTS = ("payment_intent.succeeded", "payment_intent.payment_failed")


def _final_events_processed(charge_ids):
    """Each PaymentIntent's last event was received and processed (not failed)."""
    done = WebhookEvent.objects.filter(type__in=FINAL_EVENTS, status__in=WebhookEvent.DONE_STATUSES)
    seen = {event.payload["data"]["object"]["id"] for event in done.only("payload")}
    return set(charge_ids) <= seen


def _missing_events(charge_ids):
    events = list(WebhookEvent.objects.values_list("type", "status", "payload"))
    seen = {payload["data"]["object"]["id"]: (kind, status) for kind, status, payload in events}
    return {charge_id: seen.get(charge_id) for charge_id in charge_ids if charge_id not in seen}, [
        (kind, status) for kind, status, _ in events
    ]


def test_webhooks_duplicated_shuffled_and_delayed(cluster, standin):
    web = cluster.start_web()
    started = cluster.start_standard()
    campaign = CampaignFactory(live=True, goal_minor=1_000)
    cards = mixed_cards(30)
    pledges_with_cards(campaign, standin.base_url, cards)
    cluster.wait_ready(web, *started)
    get_gateway().ensure_webhook_endpoint(
        web.base_url + reverse("payments:stripe-webhook"), webhooks.registered_types()
    )
    standin.set_faults(webhook_duplicate_rate=0.5, webhook_shuffle=True, webhook_delay_s=1.0)
    # The first charges are made but answered with a 500 (kept under their keys): a
    # webhook, or reconciliation's search, is the first news of them, whichever comes first.
    standin.set_faults(error_after_next=6)
    deadline_passes(campaign)
    assert wait_for(lambda: went_unknown(campaign) >= 6, timeout=30), cluster.logs()

    took = wait_until_settled(campaign, cluster)

    charge_ids = [charge.id for charge in provider_charges(campaign)]
    assert wait_for(lambda: _final_events_processed(charge_ids), timeout=20), _missing_events(
        charge_ids
    )
    assert_exactly_once(campaign, expect=expected_statuses(cards))
    assert not WebhookEvent.objects.exclude(status__in=WebhookEvent.DONE_STATUSES).exists()
    deliveries = standin.stats()["webhook_deliveries"]
    assert deliveries.get("duplicated", 0) > 0 and deliveries.get("delivered", 0) > 0
    assert deliveries.get("failed", 0) == 0, deliveries
    assert '" 500 ' not in web.log(), web.tail()
    print(f"webhooks: {deliveries}, settled {took:.1f}s after the faults stopped")
