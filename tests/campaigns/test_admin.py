"""Moderation in the Django admin, through its HTTP endpoints: the review queue, the actions
with their note page, read-only money terms of live campaigns, draft-only deletion."""

import datetime as dt

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns.models import BudgetItem, Campaign
from core.models import AuditEvent
from pledges.models import Pledge
from tests.factories import (
    BudgetItemFactory,
    CampaignFactory,
    PledgeFactory,
    RewardTierFactory,
    StretchGoalFactory,
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
    admin_client, admin_user, django_capture_on_commit_callbacks, celery_eager
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
    admin_client, django_capture_on_commit_callbacks, celery_eager
):
    campaign = CampaignFactory(in_review=True)

    with django_capture_on_commit_callbacks(execute=True):
        _act(admin_client, "request_changes", [campaign], url=QUEUE, note="Add a budget.")

    campaign.refresh_from_db()
    assert (campaign.status, campaign.review_note) == (Status.DRAFT, "Add a budget.")
    assert _events(campaign, "status:draft").get().note == "Add a budget."
    assert "Add a budget." in mail.outbox[0].body
    assert "Changes requested" in mail.outbox[0].subject


def test_reject_needs_a_reason_then_rejects(
    admin_client, django_capture_on_commit_callbacks, celery_eager
):
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
    admin_client, admin_user, django_capture_on_commit_callbacks, celery_eager
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
    [to_organizer] = [m for m in mail.outbox if m.to == [campaign.organizer.email]]
    assert "Misleading claims." in to_organizer.body
    assert [m.to for m in mail.outbox if "released" in m.subject] == [[pledge.supporter.email]]


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
    RewardTierFactory(campaign=campaign, minimum_minor=2_000, title="Tote bag")
    url = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    data = {**_change_form_data(admin_client.get(url)), "_save": "Save"}
    assert data["goal_minor"] == "5000"  # typed in euros, not cents

    refused = admin_client.post(url, {**data, "goal_minor": "0"})
    assert refused.status_code == 200
    # A rule only the service knows, shown on the goal field:
    below_reward = admin_client.post(url, {**data, "goal_minor": "15"})
    assert below_reward.context["adminform"].form.errors["goal_minor"] == [
        "The reward “Tote bag” asks more than this goal; lower it first."
    ]
    campaign.refresh_from_db()
    assert campaign.goal_minor == 500_000

    admin_client.post(url, {**data, "goal_minor": "6000.50", "story": "New **story**."})
    campaign.refresh_from_db()
    assert campaign.goal_minor == 600_050
    assert "<strong>story</strong>" in campaign.story_html
    assert _events(campaign, "edited:funding").get().note == "goal_minor"
    assert _events(campaign, "edited:story").get().note == "story"


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


# --- buttons on a campaign's own page -------------------------------------------------------
def _change_url(campaign, model="campaign"):
    return reverse(f"admin:campaigns_{model}_change", args=[campaign.pk])


def _button_url(campaign, tool, model="campaign"):
    return reverse(f"admin:campaigns_{model}_actions", kwargs={"pk": campaign.pk, "tool": tool})


ALL_BUTTONS = ["approve", "request_changes", "reject", "unpublish", "feature", "unfeature"]


def _buttons(client, campaign, model="campaign"):
    html = client.get(_change_url(campaign, model)).content.decode()
    return [tool for tool in ALL_BUTTONS if _button_url(campaign, tool, model) in html]


def test_buttons_follow_the_campaigns_status(admin_client):
    assert _buttons(admin_client, CampaignFactory(in_review=True)) == [
        "approve",
        "request_changes",
        "reject",
    ]
    assert _buttons(admin_client, CampaignFactory(live=True)) == ["unpublish", "feature"]
    assert _buttons(admin_client, CampaignFactory(live=True, featured=True)) == [
        "unpublish",
        "unfeature",
    ]
    assert _buttons(admin_client, CampaignFactory()) == []
    # The review queue's own change page has them too.
    waiting = CampaignFactory(in_review=True)
    assert _buttons(admin_client, waiting, "campaigninreview") == [
        "approve",
        "request_changes",
        "reject",
    ]


def test_buttons_need_the_permission_and_their_urls_refuse_without_it(client):
    from django.contrib.auth.models import Permission

    from tests.factories import MemberFactory

    viewer = MemberFactory(is_staff=True)
    viewer.user_permissions.add(*Permission.objects.filter(codename="view_campaign"))
    client.force_login(viewer)
    waiting = CampaignFactory(in_review=True)
    live = CampaignFactory(live=True)

    assert _buttons(client, waiting) == [] and _buttons(client, live) == []
    for campaign, tool in [(waiting, "approve"), (live, "unpublish"), (live, "feature")]:
        assert client.post(_button_url(campaign, tool), {"note": "x"}).status_code == 403
    assert Campaign.objects.get(pk=waiting.pk).status == Status.IN_REVIEW
    live.refresh_from_db()
    assert (live.status, live.featured) == (Status.LIVE, False)


def test_approve_button_asks_for_a_note_then_approves_through_the_service(
    admin_client, admin_user, django_capture_on_commit_callbacks, celery_eager
):
    campaign = CampaignFactory(in_review=True, title="Little free libraries")
    url = _button_url(campaign, "approve", "campaigninreview")

    page = admin_client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="note"' in html and "Little free libraries" in html
    assert _change_url(campaign) in html  # "No, take me back"
    campaign.refresh_from_db()
    assert campaign.status == Status.IN_REVIEW  # nothing happens on GET

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, {"note": "Lovely, go!"})

    assert response.status_code == 302
    assert response["Location"] == _change_url(campaign)  # the campaign's page, not the queue's
    assert _messages(response) == ["Approved: “Little free libraries”."]
    campaign.refresh_from_db()
    assert (campaign.status, campaign.review_note) == (Status.APPROVED, "Lovely, go!")
    event = _events(campaign, "status:approved").get()
    assert (event.actor, event.note) == (admin_user, "Lovely, go!")
    assert "Lovely, go!" in mail.outbox[0].body


def test_request_changes_and_reject_buttons_need_a_note(admin_client):
    campaign = CampaignFactory(in_review=True)

    for tool, message in [
        ("request_changes", "What should change is required."),
        ("reject", "Reason for the rejection is required."),
    ]:
        response = admin_client.post(_button_url(campaign, tool), {"note": "  "})
        assert response.status_code == 200
        assert message in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.status == Status.IN_REVIEW

    admin_client.post(_button_url(campaign, "request_changes"), {"note": "Add a budget."})
    campaign.refresh_from_db()
    assert (campaign.status, campaign.review_note) == (Status.DRAFT, "Add a budget.")
    assert _events(campaign, "status:draft").get().note == "Add a budget."


def test_unpublish_button_cancels_a_live_campaign_and_releases_its_pledges(
    admin_client, django_capture_on_commit_callbacks, celery_eager
):
    campaign = CampaignFactory(live=True)
    pledge = PledgeFactory(campaign=campaign)
    visitor = Client()
    assert visitor.get(campaign.get_absolute_url()).status_code == 200

    # The pledges are released by a task after the cancellation commits (batch work).
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(_button_url(campaign, "unpublish"), {"note": "Misleading."})

    assert response["Location"] == _change_url(campaign)
    campaign.refresh_from_db()
    pledge.refresh_from_db()
    assert (campaign.status, campaign.cancellation_reason) == (Status.CANCELLED, "Misleading.")
    assert pledge.status == Pledge.Status.RELEASED
    assert _events(campaign, "status:cancelled").get().note == "Misleading."
    assert visitor.get(campaign.get_absolute_url()).status_code == 404  # no stale cached page


def test_a_button_for_another_status_changes_nothing(admin_client):
    draft = CampaignFactory(title="A quiet draft")

    response = admin_client.post(_button_url(draft, "approve"), {"note": ""})

    assert response.status_code == 302
    assert any("A quiet draft" in m and "draft" in m for m in _messages(response))
    draft.refresh_from_db()
    assert draft.status == Status.DRAFT
    assert not AuditEvent.objects.filter(target_id=str(draft.pk)).exists()


def test_feature_buttons_post_only_and_audit(admin_client):
    campaign = CampaignFactory(live=True)

    assert admin_client.get(_button_url(campaign, "feature")).status_code == 405
    response = admin_client.post(_button_url(campaign, "feature"))
    assert response["Location"] == _change_url(campaign)
    campaign.refresh_from_db()
    assert campaign.featured and _events(campaign, "featured").exists()

    admin_client.post(_button_url(campaign, "unfeature"))
    campaign.refresh_from_db()
    assert not campaign.featured and _events(campaign, "unfeatured").exists()


# --- the queue and the pages read well -----------------------------------------------------
def test_queue_counts_campaigns_in_review_in_words(admin_client):
    CampaignFactory.create_batch(3, in_review=True)

    html = admin_client.get(QUEUE).content.decode()
    assert "3 campaigns in review" in html
    assert "Review queue" not in html

    index = admin_client.get(reverse("admin:index")).content.decode()
    assert "Campaigns in review" in index


def test_admin_is_branded_and_links_back_to_the_site(admin_client):
    html = admin_client.get(reverse("admin:index")).content.decode()

    assert "<title>Groundswell admin | Groundswell admin</title>" in html
    assert '<a href="/admin/">Groundswell admin</a>' in html
    assert '<a href="/">View site</a>' in html
    assert "Django administration" not in html
    assert "css/admin.css" in html


def test_dates_read_day_month_year(admin_client):
    when = timezone.make_aware(dt.datetime(2026, 3, 4, 14, 5))
    CampaignFactory(in_review=True, submitted_at=when)

    html = admin_client.get(QUEUE).content.decode()

    assert "4 Mar 2026, 14:05" in html
    assert "March 4, 2026" not in html and "Mar. 4, 2026" not in html


def test_money_in_rewards_budget_and_stretch_goals_shows_in_major_units(admin_client):
    campaign = CampaignFactory(in_review=True, goal_minor=500_000)
    RewardTierFactory(campaign=campaign, minimum_minor=1_500)
    BudgetItemFactory(campaign=campaign, amount_minor=140_000)
    StretchGoalFactory(campaign=campaign, amount_minor=650_000)

    html = admin_client.get(_change_url(campaign)).content.decode()

    for amount in ("€15.00", "€1,400.00", "€6,500.00", "€5,000"):
        assert amount in html
    assert "Minimum minor" not in html and "Amount minor" not in html
    assert ">1500<" not in html.replace(" ", "").replace("\n", "")


def test_a_drafts_rewards_are_typed_in_major_units(admin_client, admin_user):
    campaign = CampaignFactory(goal_minor=500_000)
    reward = RewardTierFactory(campaign=campaign, minimum_minor=1_500, title="Bookmark")
    url = _change_url(campaign)
    data = _change_form_data(admin_client.get(url))
    assert data["rewards-0-minimum_minor"] == "15"

    response = admin_client.post(url, {**data, "rewards-0-minimum_minor": "20.50", "_save": "1"})

    assert response.status_code == 302
    reward.refresh_from_db()
    assert reward.minimum_minor == 2_050
    event = _events(campaign, "reward:changed").get()
    assert (event.actor, event.note) == (admin_user, "“Bookmark”: minimum_minor")


def test_the_review_page_shows_the_rendered_story_not_its_markdown(admin_client):
    from campaigns.rendering import render_story

    story = "We need **wood**.\n\n<script>alert(1)</script>"
    campaign = CampaignFactory(in_review=True, story=story, story_html=render_story(story))

    html = admin_client.get(_change_url(campaign)).content.decode()

    assert "<strong>wood</strong>" in html
    assert "We need **wood**" not in html  # no raw Markdown while it cannot be edited
    assert "<script>alert(1)</script>" not in html
    assert 'name="_save"' not in html  # nothing on the page can be saved while in review

    draft = CampaignFactory(
        story="A **draft** story.", story_html="<p>A <strong>draft</strong></p>"
    )
    draft_html = admin_client.get(_change_url(draft)).content.decode()
    assert "A <strong>draft</strong>" in draft_html  # rendered, and
    assert "A **draft** story.</textarea>" in draft_html  # the source, in its own section


# --- admin edits go through the services -----------------------------------------------------
def _post_change(client, campaign, **changes):
    url = _change_url(campaign)
    return client.post(url, {**_change_form_data(client.get(url)), **changes, "_save": "Save"})


def test_admin_edits_write_audit_events_like_the_organizers(admin_client, admin_user):
    campaign = CampaignFactory(live=True, title="Old title")
    RewardTierFactory(campaign=campaign, description="Old words", title="Card")

    response = _post_change(
        admin_client,
        campaign,
        title="New title",
        **{"rewards-0-description": "New words"},
    )

    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.title == "New title"
    assert _events(campaign, "edited:basics").get().note == "title"
    reward_event = _events(campaign, "reward:changed").get()
    assert (reward_event.actor, reward_event.note) == (admin_user, "“Card”: description")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("rewards-0-minimum_minor", "6000", "A reward cannot ask more than the campaign's goal."),
        ("rewards-0-minimum_minor", "0.50", "The minimum pledge is at least €1.00."),
        ("budget_items-0-amount_minor", "5000.01", "more than the goal of €5,000.00"),
        (
            "stretch_goals-0-amount_minor",
            "4000",
            "A stretch goal must be above the campaign's goal.",
        ),
    ],
)
def test_a_rule_the_service_refuses_is_shown_on_its_field_and_nothing_is_saved(
    admin_client, field, value, message
):
    campaign = CampaignFactory(goal_minor=500_000, title="Before")
    RewardTierFactory(campaign=campaign, minimum_minor=1_500)
    BudgetItemFactory(campaign=campaign, amount_minor=100_000)
    StretchGoalFactory(campaign=campaign, amount_minor=600_000)
    before = AuditEvent.objects.count()

    response = _post_change(admin_client, campaign, title="After", **{field: value})

    assert response.status_code == 200
    formset_prefix, _, name = field.rpartition("-")
    inline = next(
        i
        for i in response.context["inline_admin_formsets"]
        if i.formset.prefix == formset_prefix.rsplit("-", 1)[0]
    )
    errors = inline.formset.forms[0].errors[name]
    assert any(message in error for error in errors), errors
    campaign.refresh_from_db()
    assert campaign.title == "Before"  # the whole save was rolled back
    assert AuditEvent.objects.count() == before
    assert campaign.rewards.get().minimum_minor == 1_500
    assert campaign.budget_items.get().amount_minor == 100_000
    assert campaign.stretch_goals.get().amount_minor == 600_000


def test_a_new_reward_and_a_removed_budget_item_go_through_the_services(admin_client):
    campaign = CampaignFactory(goal_minor=500_000)
    item = BudgetItemFactory(campaign=campaign, label="Paint")
    url = _change_url(campaign)
    data = _change_form_data(admin_client.get(url))
    data.update(
        {
            "rewards-TOTAL_FORMS": "1",
            "rewards-0-title": "A tote bag",
            "rewards-0-minimum_minor": "25",
            "budget_items-0-DELETE": "on",
            "_save": "Save",
        }
    )

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert campaign.rewards.get().minimum_minor == 2_500
    assert not BudgetItem.objects.filter(pk=item.pk).exists()
    assert _events(campaign, "reward:added").get().note == "A tote bag"
    assert _events(campaign, "budget:removed").get().note == "Paint"


def test_staff_edit_through_the_services_only_with_the_change_permission():
    from django.contrib.auth.models import Permission

    from campaigns import services
    from core.errors import NotPermitted
    from tests.factories import MemberFactory

    campaign = CampaignFactory()
    change = Permission.objects.get(codename="change_campaign")
    editor = MemberFactory(is_staff=True)
    editor.user_permissions.add(change)
    reviewer_only = MemberFactory(is_staff=True)  # staff, but no change permission
    not_staff = MemberFactory()
    not_staff.user_permissions.add(change)  # a permission without staff status is not enough

    services.update_basics(
        campaign, by=editor, title="Edited by staff", summary="", category="food", location=""
    )
    assert Campaign.objects.get(pk=campaign.pk).title == "Edited by staff"
    for member in (reviewer_only, not_staff, MemberFactory()):
        with pytest.raises(NotPermitted):
            services.save_budget_item(campaign, by=member, label="x", amount_minor=100)
    # Organizers are unchanged: they edit; staff editing does not make them staff.
    services.update_basics(
        campaign, by=campaign.organizer, title="Mine", summary="", category="food", location=""
    )
    assert not services.can_edit(campaign, editor)  # the organizer's workspace stays theirs
    assert [e.actor for e in _events(campaign, "edited:basics").order_by("id")] == [
        editor,
        campaign.organizer,
    ]


def test_a_reviewer_sees_the_rewards_and_budget_of_the_campaign_they_review(client):
    from tests.factories import ReviewerFactory

    reviewer = ReviewerFactory()  # campaign permissions only, none on rewards or budget items
    client.force_login(reviewer)
    campaign = CampaignFactory(in_review=True)
    RewardTierFactory(campaign=campaign, title="A hand-printed bookmark", minimum_minor=500)
    BudgetItemFactory(campaign=campaign, label="Wood and glass", amount_minor=140_000)

    html = client.get(_change_url(campaign)).content.decode()

    assert "A hand-printed bookmark" in html and "€5.00" in html
    assert "Wood and glass" in html and "€1,400.00" in html
    assert 'name="rewards-0-description"' not in html  # seen, not edited
    assert "Story source" not in html  # no Markdown source for someone who cannot edit it
    assert _buttons(client, campaign) == ["approve", "request_changes", "reject"]


@pytest.mark.parametrize("status", [s for s in Status.values if s != Status.SETTLING])
def test_every_campaign_page_of_the_admin_answers_for_every_status(admin_client, status):
    traits = {"live": {"live": True}, "in_review": {"in_review": True}}.get(status, {})
    campaign = CampaignFactory(**traits)
    if status not in ("live", "in_review", "draft"):
        launched = {"launched_at": timezone.now() - dt.timedelta(days=40)}
        deadline = {"deadline": timezone.now() - dt.timedelta(days=10)}
        Campaign.objects.filter(pk=campaign.pk).update(status=status, **launched, **deadline)
    RewardTierFactory(campaign=campaign)
    BudgetItemFactory(campaign=campaign)
    StretchGoalFactory(campaign=campaign)

    pages = [CHANGELIST, QUEUE, _change_url(campaign), reverse("admin:index")]
    pages.append(reverse("admin:campaigns_campaign_history", args=[campaign.pk]))
    if status == "in_review":
        pages.append(_change_url(campaign, "campaigninreview"))
    for tool in _buttons(admin_client, campaign):
        if tool not in ("feature", "unfeature"):  # those two are POST-only
            pages.append(_button_url(campaign, tool))
    for url in pages:
        assert admin_client.get(url).status_code == 200, url
    # Saving the page unchanged changes nothing and writes no audit row.
    before = AuditEvent.objects.count()
    response = _post_change(admin_client, campaign)
    assert response.status_code == 302, response.context and response.context["errors"]
    assert AuditEvent.objects.count() == before


def test_staff_who_may_edit_still_cannot_submit_or_launch_for_the_organizer():
    from django.contrib.auth.models import Permission

    from campaigns import services
    from core.errors import NotPermitted
    from tests.factories import MemberFactory

    editor = MemberFactory(is_staff=True)
    editor.user_permissions.add(Permission.objects.get(codename="change_campaign"))
    draft = CampaignFactory()
    approved = CampaignFactory(status=Campaign.Status.APPROVED)
    with pytest.raises(NotPermitted):
        services.submit_for_review(draft, by=editor)
    with pytest.raises(NotPermitted):
        services.launch(approved, by=editor)
    assert Campaign.objects.get(pk=draft.pk).status == Campaign.Status.DRAFT
    assert Campaign.objects.get(pk=approved.pk).status == Campaign.Status.APPROVED
