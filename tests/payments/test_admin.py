"""The webhook events admin: read-only, filterable, searchable, with a reprocess action."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from core.models import AuditEvent
from payments.models import WebhookEvent
from tests.factories import MemberFactory, pass_two_factor
from tests.stripe_fixtures import stripe_event

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:payments_webhookevent_changelist")


def make_event(event_type="setup_intent.succeeded", status=WebhookEvent.Status.PENDING):
    payload = stripe_event(event_type, {"id": "seti_1"})
    done = status in WebhookEvent.DONE_STATUSES
    return WebhookEvent.objects.create(
        event_id=payload["id"],
        type=event_type,
        payload=payload,
        created_at_provider="2026-01-01T00:00:00Z",
        status=status,
        processed_at="2026-01-01T00:00:01Z" if done else None,
    )


@pytest.fixture
def superuser_client(client):
    pass_two_factor(client, MemberFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def viewer_client(client):
    viewer = MemberFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_webhookevent"))
    client.force_login(viewer)
    return client


def test_list_filters_by_type_and_status_and_searches_by_event_id(superuser_client):
    handled = make_event("setup_intent.succeeded", WebhookEvent.Status.PROCESSED)
    ignored = make_event("invoice.paid", WebhookEvent.Status.IGNORED)
    failed = make_event("setup_intent.succeeded", WebhookEvent.Status.FAILED)

    def listed(**query):
        response = superuser_client.get(CHANGELIST, query)
        assert response.status_code == 200
        return {event.pk for event in response.context["cl"].result_list}

    assert listed() == {handled.pk, ignored.pk, failed.pk}
    assert listed(type="setup_intent.succeeded") == {handled.pk, failed.pk}
    assert listed(status="failed") == {failed.pk}
    assert listed(status="ignored", type="invoice.paid") == {ignored.pk}
    assert listed(q=handled.event_id) == {handled.pk}


def test_events_cannot_be_added_changed_or_deleted(superuser_client):
    event = make_event()
    change_url = reverse("admin:payments_webhookevent_change", args=[event.pk])
    assert superuser_client.get(reverse("admin:payments_webhookevent_add")).status_code == 403
    page = superuser_client.get(change_url)
    assert page.status_code == 200 and event.event_id in page.text
    assert 'name="_save"' not in page.text
    assert superuser_client.post(change_url, {"type": "changed"}).status_code == 403
    delete_url = reverse("admin:payments_webhookevent_delete", args=[event.pk])
    assert superuser_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert WebhookEvent.objects.get().type == "setup_intent.succeeded"


def test_reprocess_action_reruns_handlers_and_is_audited(
    superuser_client, handle_events, celery_eager, django_capture_on_commit_callbacks
):
    calls = handle_events("setup_intent.succeeded")
    processed = make_event(status=WebhookEvent.Status.PROCESSED)
    failed = make_event(status=WebhookEvent.Status.FAILED)
    untouched = make_event(status=WebhookEvent.Status.PENDING)

    with django_capture_on_commit_callbacks(execute=True):
        response = superuser_client.post(
            CHANGELIST,
            {"action": "reprocess_selected", "_selected_action": [processed.pk, failed.pk]},
            follow=True,
        )

    assert response.status_code == 200
    assert "2 event(s) queued for reprocessing." in response.text
    assert sorted(call.id for call in calls) == sorted([processed.event_id, failed.event_id])
    for event in (processed, failed):
        event.refresh_from_db()
        assert event.status == WebhookEvent.Status.PROCESSED and event.attempts == 1
    untouched.refresh_from_db()
    assert untouched.status == WebhookEvent.Status.PENDING
    audited = AuditEvent.objects.filter(action="webhook:reprocess")
    assert sorted(int(a.target_id) for a in audited) == sorted([processed.pk, failed.pk])
    assert {a.actor.is_superuser for a in audited} == {True}


def test_staff_who_may_only_view_cannot_reprocess(
    viewer_client, handle_events, django_capture_on_commit_callbacks
):
    calls = handle_events("setup_intent.succeeded")
    event = make_event(status=WebhookEvent.Status.PROCESSED)
    page = viewer_client.get(CHANGELIST)
    assert page.status_code == 200
    assert "reprocess_selected" not in page.text

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        viewer_client.post(
            CHANGELIST, {"action": "reprocess_selected", "_selected_action": [event.pk]}
        )
    assert callbacks == [] and calls == []
    assert not AuditEvent.objects.filter(action="webhook:reprocess").exists()
