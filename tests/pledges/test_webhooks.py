"""Stripe events for pledges, signed with Stripe's scheme and posted to our endpoint."""

import pytest

from core.models import AuditEvent
from payments.models import WebhookEvent
from pledges import services
from pledges.models import Pledge, PledgeFailure
from tests.factories import PledgeFactory
from tests.stripe_fixtures import stripe_event

pytestmark = [pytest.mark.django_db]


def test_setup_intent_succeeded_activates_the_pledge_without_the_page(
    standin_settings,
    campaign,
    supporter,
    confirm_in_browser,
    post_stripe_webhook,
    celery_eager,
    django_capture_on_commit_callbacks,
):
    pledge = services.start_pledge(campaign, supporter=supporter, amount_minor=1_500)
    intent = confirm_in_browser(pledge.setup_intent_id)  # then the supporter closes the tab
    event = stripe_event("setup_intent.succeeded", intent)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_stripe_webhook(event)
    assert response.status_code == 200
    assert Pledge.objects.get(pk=pledge.pk).status == Pledge.Status.ACTIVE

    # A replay of the same event and the page's own confirmation are both no-ops.
    with django_capture_on_commit_callbacks(execute=True):
        assert post_stripe_webhook(event).status_code == 200
    services.confirm_card(Pledge.objects.get(pk=pledge.pk), by=supporter)
    assert WebhookEvent.objects.filter(event_id=event["id"]).count() == 1
    assert AuditEvent.objects.filter(target_id=str(pledge.pk), to_status="active").count() == 1


def test_setup_intent_failed_is_logged_for_admins(
    campaign, supporter, post_stripe_webhook, celery_eager, django_capture_on_commit_callbacks
):
    pledge = PledgeFactory(
        campaign=campaign,
        supporter=supporter,
        status=Pledge.Status.PENDING,
        setup_intent_id="seti_failed_1",
    )
    intent = {
        "id": "seti_failed_1",
        "object": "setup_intent",
        "status": "requires_payment_method",
        "metadata": {"pledge_id": str(pledge.pk)},
        "last_setup_error": {"message": "Your card was declined."},
    }
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            post_stripe_webhook(stripe_event("setup_intent.setup_failed", intent)).status_code
            == 200
        )
    assert PledgeFailure.objects.get(member=supporter).reason == "Your card was declined."
    assert Pledge.objects.get(pk=pledge.pk).status == Pledge.Status.PENDING


def test_detached_card_asks_the_supporter_for_a_new_one(
    campaign,
    supporter,
    post_stripe_webhook,
    celery_eager,
    django_capture_on_commit_callbacks,
    mailoutbox,
):
    pledge = PledgeFactory(campaign=campaign, supporter=supporter, payment_method_id="pm_gone")
    event = stripe_event("payment_method.detached", {"id": "pm_gone", "object": "payment_method"})
    with django_capture_on_commit_callbacks(execute=True):
        assert post_stripe_webhook(event).status_code == 200
    assert AuditEvent.objects.filter(target_id=str(pledge.pk), action="card_detached").exists()
    assert [m.to for m in mailoutbox] == [[supporter.email]]
    assert "needs a card" in mailoutbox[0].subject


def test_bad_signature_is_rejected(post_stripe_webhook, campaign):
    event = stripe_event("setup_intent.succeeded", {"id": "seti_x", "metadata": {}})
    assert post_stripe_webhook(event, secret="whsec_wrong").status_code == 400
    assert not WebhookEvent.objects.exists()
