# ruff: noqa: F811  (the fixtures imported from test_settlement are parameters here)
"""Pledges and charge attempts in the admin: read-only lists with filters, and the two buttons
(Retry now, Reconcile) that confirm first, call the settlement services and leave audit rows."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from core.models import AuditEvent
from pledges.models import PaymentAttempt, Pledge
from tests.factories import PASSWORD, CampaignFactory, MemberFactory
from tests.pledges.test_settlement import (  # noqa: F401  (fixtures)
    bucket,
    charging,
    gateway,
    held_tasks,
)

pytestmark = pytest.mark.django_db(transaction=True)


def staff_client(*permissions):
    member = MemberFactory(is_staff=True)
    for codename in ("view_pledge", "view_paymentattempt", *permissions):
        member.user_permissions.add(Permission.objects.get(codename=codename))
    client = Client()
    assert client.login(email=member.email, password=PASSWORD)
    return client, member


def test_lists_filter_by_campaign_and_status_and_cannot_be_edited(gateway, held_tasks):
    campaign = CampaignFactory(live=True, goal_minor=1_000)
    pledge = charging(gateway, campaign, amount=2_000)
    from pledges import settlement

    settlement.charge_pledge(pledge.pk)
    client, _ = staff_client()
    pledges_url = reverse("admin:pledges_pledge_changelist")
    response = client.get(pledges_url, {"status": "collected", "campaign__id__exact": campaign.pk})
    assert response.status_code == 200 and campaign.title in response.content.decode()
    attempts = client.get(
        reverse("admin:pledges_paymentattempt_changelist"), {"status": "succeeded"}
    )
    assert attempts.status_code == 200 and "€20.00" in attempts.content.decode()
    page = client.get(reverse("admin:pledges_pledge_change", args=[pledge.pk])).content.decode()
    assert "charge attempt" in page.lower() and 'name="_save"' not in page


def test_retry_now_confirms_then_charges_with_an_audit_row(gateway, celery_eager, held_tasks):
    from payments.gateway import Charge, ChargeStatus
    from pledges import settlement

    campaign = CampaignFactory(live=True, goal_minor=1_000)
    pledge = charging(gateway, campaign, amount=2_000)
    attempt, _ = settlement._claim_attempt(pledge.pk, trigger=PaymentAttempt.Trigger.DEADLINE)
    settlement.record_outcome(
        attempt, Charge(id=None, status=ChargeStatus.FAILED, decline_code="insufficient_funds")
    )
    pledge.refresh_from_db()
    assert pledge.status == Pledge.Status.RETRYING
    url = reverse("admin:pledges_pledge_actions", args=[pledge.pk, "retry_now"])

    viewer, _ = staff_client()
    assert viewer.post(url).status_code == 403  # needs pledges.retry_pledge

    client, admin = staff_client("retry_pledge")
    confirm = client.get(url)
    assert confirm.status_code == 200 and "Yes, charge the card now" in confirm.content.decode()
    assert PaymentAttempt.objects.filter(pledge=pledge).count() == 1  # GET changes nothing
    client.post(url)
    [(pledge_id, trigger)] = held_tasks["charge_pledge"][-1:]
    assert (pledge_id, trigger) == (pledge.pk, PaymentAttempt.Trigger.ADMIN)
    settlement.charge_pledge(pledge_id, trigger=trigger)
    pledge.refresh_from_db()
    assert pledge.status == Pledge.Status.COLLECTED
    assert AuditEvent.objects.filter(action="retry_requested", actor=admin).count() == 1

    # Collected: the button is gone and a typed URL is refused with a message, nothing charged.
    page = client.get(reverse("admin:pledges_pledge_change", args=[pledge.pk])).content.decode()
    assert "Retry now" not in page
    response = client.post(url, follow=True)
    assert "already been collected" in response.content.decode()
    assert PaymentAttempt.objects.filter(pledge=pledge).count() == 2


def test_reconcile_asks_the_provider_and_records_the_answer(gateway, held_tasks):
    from pledges import settlement

    campaign = CampaignFactory(live=True, goal_minor=1_000)
    pledge = charging(gateway, campaign, amount=2_000)
    attempt, _ = settlement._claim_attempt(pledge.pk, trigger=PaymentAttempt.Trigger.DEADLINE)
    gateway.charge_saved_card(**settlement.charge_request(attempt))  # the answer was lost
    PaymentAttempt.objects.filter(pk=attempt.pk).update(status=PaymentAttempt.Status.UNKNOWN)
    client, admin = staff_client("retry_pledge")
    url = reverse("admin:pledges_paymentattempt_actions", args=[attempt.pk, "reconcile"])

    assert "Yes, ask the provider" in client.get(url).content.decode()
    client.post(url)

    attempt.refresh_from_db()
    assert attempt.status == PaymentAttempt.Status.SUCCEEDED
    assert AuditEvent.objects.filter(action="reconcile_requested", actor=admin).exists()
    assert len([pi for pi in gateway.payment_intents.values() if pi.status == "succeeded"]) == 1
