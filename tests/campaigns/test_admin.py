"""Moderation in the Django admin, through its HTTP endpoints: the review queue, the actions
with their note page, read-only money terms of live campaigns, draft-only deletion."""

import datetime as dt

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign
from core.models import AuditEvent
from pledges.models import Pledge
from tests.factories import (
    BudgetItemFactory,
    CampaignFactory,
    PledgeFactory,
    RewardTierFactory,
)

pytestmark = pytest.mark.django_db

Status = Campaign.Status
CHANGELIST = reverse("admin:campaigns_campaign_changelist")
QUEUE = reverse("admin:campaigns_campaigninreview_changelist")


def _act(client, action, campaigns, *, url=CHANGELIST, note=None):
    """Post an action as the admin does: first from the list, then (note) from its own page."""
    data = {"action": action, ACTION_CHECKBOX_NAME: [c.pk for c in campaigns]}
    if note is None:
        return client.post(url, {**data, "index": 0})
    return client.post(url, {**data, "note": note, "apply": "1"})


def _events(campaign, action):
    return AuditEvent.objects.filter(target_id=str(campaign.pk), action=action)


def _messages(response):
    return [str(m) for m in response.wsgi_request._messages]


# --- the review queue -----------------------------------------------------------------------
def test_review_queue_lists_only_campaigns_in_review_oldest_first(admin_client):
    now = timezone.now()
    newer = CampaignFactory(in_review=True, submitted_at=now - dt.timedelta(hours=2))
    older = CampaignFactory(in_review=True, submitted_at=now - dt.timedelta(days=3))
    draft = CampaignFactory()
    live = CampaignFactory(live=True)

    response = admin_client.get(QUEUE)

    assert response.status_code == 200
    shown = list(response.context["cl"].result_list)
    assert [c.pk for c in shown] == [older.pk, newer.pk]
    html = response.content.decode()
    assert html.index(older.title) < html.index(newer.title)
    assert draft.title not in html and live.title not in html
    assert reverse("campaigns:preview", args=[older.pk]) in html
    assert older.get_absolute_url() in html


def test_review_queue_filters_and_search(admin_client):
    food = CampaignFactory(in_review=True, category="food", title="Orchard for Ledeberg")
    arts = CampaignFactory(in_review=True, category="arts", title="Mural on the station wall")

    by_category = admin_client.get(QUEUE, {"category__exact": "arts"})
    assert [c.pk for c in by_category.context["cl"].result_list] == [arts.pk]

    by_search = admin_client.get(QUEUE, {"q": "orchard"})
    assert [c.pk for c in by_search.context["cl"].result_list] == [food.pk]


def test_campaign_list_shows_formatted_goal_and_filters_by_status(admin_client):
    live = CampaignFactory(live=True, goal_minor=500_000)
    CampaignFactory()

    response = admin_client.get(CHANGELIST, {"status__exact": "live"})

    assert [c.pk for c in response.context["cl"].result_list] == [live.pk]
    assert "€5,000" in response.content.decode()


# --- approve / request changes / reject -----------------------------------------------------
def test_approve_shows_note_page_then_approves_audits_and_emails(
    admin_client, admin_user, django_capture_on_commit_callbacks
):
    campaign = CampaignFactory(in_review=True)

    page = _act(admin_client, "approve_campaigns", [campaign], url=QUEUE)
    assert page.status_code == 200
    assert b'name="apply"' in page.content
    assert campaign.title in page.content.decode()
    campaign.refresh_from_db()
    assert campaign.status == Status.IN_REVIEW  # nothing happens before "apply"

    with django_capture_on_commit_callbacks(execute=True):
        response = _act(
            admin_client, "approve_campaigns", [campaign], url=QUEUE, note="Lovely, go!"
        )

    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == Status.APPROVED
    assert campaign.review_note == "Lovely, go!"
    event = _events(campaign, "status:approved").get()
    assert (event.actor, event.from_status, event.note) == (admin_user, "in_review", "Lovely, go!")
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == [campaign.organizer.email]
    assert campaign.title in email.subject and "approved" in email.subject
    assert "Lovely, go!" in email.body
    assert reverse("campaigns:edit", args=[campaign.pk]) in email.body


def test_request_changes_without_a_note_is_refused_and_changes_nothing(admin_client):
    campaign = CampaignFactory(in_review=True)

    response = _act(admin_client, "request_changes", [campaign], url=QUEUE, note="   ")

    assert response.status_code == 200  # the note page again, with the error
    assert "What should change is required." in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.status == Status.IN_REVIEW
    assert not _events(campaign, "status:draft").exists()
    assert mail.outbox == []


def test_request_changes_with_a_note_sends_it_back_to_draft(
    admin_client, django_capture_on_commit_callbacks
):
    campaign = CampaignFactory(in_review=True)

    with django_capture_on_commit_callbacks(execute=True):
        _act(admin_client, "request_changes", [campaign], url=QUEUE, note="Add a budget.")

    campaign.refresh_from_db()
    assert (campaign.status, campaign.review_note) == (Status.DRAFT, "Add a budget.")
    assert _events(campaign, "status:draft").get().note == "Add a budget."
    assert "Add a budget." in mail.outbox[0].body
    assert "Changes requested" in mail.outbox[0].subject


def test_reject_needs_a_reason_then_rejects(admin_client, django_capture_on_commit_callbacks):
    campaign = CampaignFactory(in_review=True)

    _act(admin_client, "reject_campaigns", [campaign], note="")
    campaign.refresh_from_db()
    assert campaign.status == Status.IN_REVIEW

    with django_capture_on_commit_callbacks(execute=True):
        _act(admin_client, "reject_campaigns", [campaign], note="Not a community project.")

    campaign.refresh_from_db()
    assert campaign.status == Status.REJECTED
    assert _events(campaign, "status:rejected").get().note == "Not a community project."
    assert "Not a community project." in mail.outbox[0].body
    assert "not approved" in mail.outbox[0].subject


def test_an_illegal_transition_is_reported_by_name_and_the_others_still_processed(
    admin_client,
):
    waiting = CampaignFactory(in_review=True, title="Waiting campaign")
    draft = CampaignFactory(title="Unfinished draft")

    response = _act(admin_client, "approve_campaigns", [waiting, draft], note="")

    waiting.refresh_from_db()
    draft.refresh_from_db()
    assert waiting.status == Status.APPROVED
    assert draft.status == Status.DRAFT
    messages = _messages(response)
    assert any("Unfinished draft" in m and "cannot become approved" in m for m in messages)
    assert any(m.startswith("Approved") and "Waiting campaign" in m for m in messages)


# --- unpublish, feature ---------------------------------------------------------------------
def test_unpublish_cancels_a_live_campaign_releases_pledges_and_emails(
    admin_client, admin_user, django_capture_on_commit_callbacks
):
    campaign = CampaignFactory(live=True)
    pledge = PledgeFactory(campaign=campaign)

    _act(admin_client, "unpublish_campaigns", [campaign], note="")
    campaign.refresh_from_db()
    assert campaign.status == Status.LIVE  # the reason is required

    with django_capture_on_commit_callbacks(execute=True):
        _act(admin_client, "unpublish_campaigns", [campaign], note="Misleading claims.")

    campaign.refresh_from_db()
    pledge.refresh_from_db()
    assert campaign.status == Status.CANCELLED
    assert campaign.cancellation_reason == "Misleading claims."
    assert pledge.status == Pledge.Status.RELEASED
    event = _events(campaign, "status:cancelled").get()
    assert (event.actor, event.note) == (admin_user, "Misleading claims.")
    assert mail.outbox[-1].to == [campaign.organizer.email]
    assert "Misleading claims." in mail.outbox[-1].body


def test_an_unpublished_campaign_disappears_at_once_for_visitors(admin_client):
    campaign = CampaignFactory(live=True)
    visitor = Client()  # no cookies: the visitor that gets the cached page
    assert visitor.get(campaign.get_absolute_url()).status_code == 200

    _act(admin_client, "unpublish_campaigns", [campaign], note="Fraudulent.")

    assert visitor.get(campaign.get_absolute_url()).status_code == 404


def test_unpublish_leaves_campaigns_that_are_not_live(admin_client):
    draft = CampaignFactory(title="A quiet draft")

    response = _act(admin_client, "unpublish_campaigns", [draft], note="Spam.")

    draft.refresh_from_db()
    assert draft.status == Status.DRAFT
    assert any("A quiet draft" in m for m in _messages(response))


def test_feature_and_unfeature(admin_client):
    campaign = CampaignFactory(live=True)

    _act(admin_client, "feature_campaigns", [campaign])
    campaign.refresh_from_db()
    assert campaign.featured
    assert _events(campaign, "featured").exists()

    _act(admin_client, "unfeature_campaigns", [campaign])
    campaign.refresh_from_db()
    assert not campaign.featured


# --- the change form ------------------------------------------------------------------------
def _change_form_data(response):
    """What the browser would post back for the change form as rendered (unchanged)."""
    data = {}
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        forms.append(formset.management_form)
        forms.extend(formset.forms)
    for form in forms:
        for name in form.fields:
            value = form[name].value()
            if value is None or value is False:
                continue
            data[form[name].html_name] = "on" if value is True else value
    return data


def test_money_terms_of_a_live_campaign_are_read_only(admin_client):
    campaign = CampaignFactory(live=True, goal_minor=500_000, funding_model="all_or_nothing")
    RewardTierFactory(campaign=campaign, minimum_minor=2_000)
    BudgetItemFactory(campaign=campaign)
    url = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    deadline = campaign.deadline

    page = admin_client.get(url)
    form = page.context["adminform"].form
    for frozen in ("goal_minor", "currency", "funding_model", "duration_days", "status", "slug"):
        assert frozen not in form.fields
    data = _change_form_data(page)
    data.update(
        title="A better title",
        goal_minor="100",
        currency="USD",
        funding_model="flexible",
        status="cancelled",
        deadline_0="2030-01-01",
        slug="hijacked",
        _save="Save",
    )
    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    campaign.refresh_from_db()
    assert campaign.title == "A better title"  # other fields do save
    assert (campaign.goal_minor, campaign.currency) == (500_000, "EUR")
    assert campaign.funding_model == "all_or_nothing"
    assert (campaign.status, campaign.deadline) == (Status.LIVE, deadline)
    assert campaign.slug != "hijacked"
    assert campaign.rewards.get().minimum_minor == 2_000


def test_a_drafts_goal_is_editable_and_validated(admin_client):
    campaign = CampaignFactory(goal_minor=500_000)
    url = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    data = {**_change_form_data(admin_client.get(url)), "_save": "Save"}

    refused = admin_client.post(url, {**data, "goal_minor": "0"})
    assert refused.status_code == 200
    campaign.refresh_from_db()
    assert campaign.goal_minor == 500_000

    admin_client.post(url, {**data, "goal_minor": "600000", "story": "New **story**."})
    campaign.refresh_from_db()
    assert campaign.goal_minor == 600_000
    assert "<strong>story</strong>" in campaign.story_html


def test_only_drafts_can_be_deleted(admin_client):
    live = CampaignFactory(live=True)
    draft = CampaignFactory()

    refused = admin_client.post(
        reverse("admin:campaigns_campaign_delete", args=[live.pk]), {"post": "yes"}
    )
    assert refused.status_code == 403
    assert Campaign.objects.filter(pk=live.pk).exists()
    actions = admin_client.get(CHANGELIST).context["action_form"].fields["action"].choices
    assert "delete_selected" not in [name for name, _ in actions]

    admin_client.post(reverse("admin:campaigns_campaign_delete", args=[draft.pk]), {"post": "yes"})
    assert not Campaign.objects.filter(pk=draft.pk).exists()


def test_change_page_shows_history_and_links(admin_client):
    campaign = CampaignFactory(in_review=True)
    _act(admin_client, "reject_campaigns", [campaign], note="Duplicate of another campaign.")

    html = admin_client.get(
        reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    ).content.decode()

    assert "status:rejected" in html and "Duplicate of another campaign." in html
    assert reverse("campaigns:preview", args=[campaign.pk]) in html


# --- other admins ---------------------------------------------------------------------------
def test_audit_log_is_read_only_and_filterable(admin_client):
    campaign = CampaignFactory(in_review=True)
    _act(admin_client, "reject_campaigns", [campaign], note="Needle in the haystack")
    CampaignFactory(live=True)
    url = reverse("admin:core_auditevent_changelist")

    found = admin_client.get(url, {"q": "needle"})
    assert [e.action for e in found.context["cl"].result_list] == ["status:rejected"]
    by_action = admin_client.get(url, {"action": "status:rejected"})
    assert by_action.context["cl"].result_count == 1

    event = AuditEvent.objects.get(action="status:rejected")
    assert admin_client.get(reverse("admin:core_auditevent_add")).status_code == 403
    assert (
        admin_client.post(
            reverse("admin:core_auditevent_delete", args=[event.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    admin_client.post(
        reverse("admin:core_auditevent_change", args=[event.pk]), {"note": "rewritten"}
    )
    event.refresh_from_db()
    assert event.note == "Needle in the haystack"


def test_pledge_list_filters_and_searches(admin_client):
    active = PledgeFactory(supporter__email="lotte@example.org")
    PledgeFactory(status=Pledge.Status.CANCELLED)
    url = reverse("admin:pledges_pledge_changelist")

    by_status = admin_client.get(url, {"status__exact": "active"})
    assert [p.pk for p in by_status.context["cl"].result_list] == [active.pk]
    found = admin_client.get(url, {"q": "lotte@"})
    assert [p.pk for p in found.context["cl"].result_list] == [active.pk]
    assert admin_client.get(reverse("admin:pledges_pledge_add")).status_code == 403


def test_non_staff_cannot_use_the_admin(member_client):
    response = member_client.get(QUEUE)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_view_only_staff_cannot_review_or_unpublish(client):
    from django.contrib.auth.models import Permission

    from campaigns import services
    from core.errors import NotPermitted
    from tests.factories import MemberFactory

    viewer = MemberFactory(is_staff=True)
    viewer.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_campaign", "view_campaigninreview"])
    )
    client.force_login(viewer)
    live = CampaignFactory(live=True)
    waiting = CampaignFactory(in_review=True)
    PledgeFactory(campaign=live)

    _act(client, "unpublish_campaigns", [live], note="Because I can.")
    client.post(
        QUEUE, {"action": "approve_campaigns", ACTION_CHECKBOX_NAME: [waiting.pk], "apply": "1"}
    )
    assert Campaign.objects.get(pk=live.pk).status == Status.LIVE
    assert Campaign.objects.get(pk=waiting.pk).status == Status.IN_REVIEW
    assert Pledge.objects.get(campaign=live).status == Pledge.Status.ACTIVE
    # The services refuse too, whatever calls them.
    for attempt in (
        lambda: services.approve(waiting, by=viewer),
        lambda: services.cancel(live, by=viewer, reason="x"),
        lambda: services.set_featured(live, by=viewer, featured=True),
    ):
        with pytest.raises(NotPermitted):
            attempt()


def test_reviewers_can_preview_a_campaign_in_review(client):
    from tests.factories import MemberFactory, ReviewerFactory

    campaign = CampaignFactory(in_review=True, title="Little free libraries")
    url = reverse("campaigns:preview", args=[campaign.pk])
    client.force_login(ReviewerFactory())
    response = client.get(url)
    assert response.status_code == 200 and "Little free libraries" in response.content.decode()
    client.force_login(MemberFactory())
    assert client.get(url).status_code == 404
