"""The organizer's workspace over HTTP: login, 404 for other people's campaigns, each step's
form (saving, errors next to fields, frozen terms), the lifecycle buttons and invitations."""

import datetime
import re
import uuid
from io import BytesIO

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from campaigns import services
from campaigns.models import Campaign, Collaborator, RewardTier
from core import money as core_money
from core.models import AuditEvent
from pledges.models import Pledge
from tests.factories import (
    BudgetItemFactory,
    CampaignFactory,
    MemberFactory,
    PledgeFactory,
    ReviewerFactory,
    RewardTierFactory,
    StretchGoalFactory,
)

pytestmark = pytest.mark.django_db
Status = Campaign.Status


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Every factory member hashes a password; the production hasher costs ~0.5 s each.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def organizer_client(client):
    def log_in(campaign):
        client.force_login(campaign.organizer)
        return client

    return log_in


def url(name, campaign, *args):
    return reverse(f"campaigns:{name}", args=[campaign.pk, *args])


def field_errors(response, field):
    """The error messages shown next to one field (includes/field.html)."""
    html = response.content.decode()
    match = re.search(rf'<ul class="errorlist" id="id_{field}_errors"[^>]*>(.*?)</ul>', html, re.S)
    return re.findall(r"<li>(.*?)</li>", match.group(1)) if match else []


def png(size=(1200, 675)):
    buffer = BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(buffer, "PNG")
    return SimpleUploadedFile("cover.png", buffer.getvalue(), content_type="image/png")


STEP_URLS = [
    "edit",
    "edit_basics",
    "edit_story",
    "edit_funding",
    "edit_rewards",
    "edit_budget",
    "edit_stretch_goals",
    "edit_team",
    "review",
    "preview",
    "cancel",
]


# --- access -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["start", "mine"])
def test_the_workspace_needs_a_login(client, name):
    response = client.get(reverse(f"campaigns:{name}"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_a_step_needs_a_login(client):
    response = client.get(url("edit_basics", CampaignFactory()))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.parametrize("name", STEP_URLS)
def test_someone_elses_campaign_is_a_404(member_client, name):
    campaign = CampaignFactory()
    assert member_client.get(url(name, campaign)).status_code == 404


def test_posting_to_someone_elses_campaign_is_a_404_and_changes_nothing(member_client):
    campaign = CampaignFactory(approved=True)
    reward = RewardTierFactory(campaign=campaign)
    posts = [
        (url("edit_basics", campaign), {"title": "Hijacked", "category": "food"}),
        (url("edit_funding", campaign), {"goal": "1", "currency": "EUR"}),
        (url("delete_reward", campaign, reward.pk), {}),
        (url("launch", campaign), {}),
        (url("cancel", campaign), {}),
        (url("submit", campaign), {}),
    ]
    for path, data in posts:
        assert member_client.post(path, data).status_code == 404, path
    stored = Campaign.objects.get(pk=campaign.pk)
    assert (stored.title, stored.status) == (campaign.title, Status.APPROVED)
    assert RewardTier.objects.filter(pk=reward.pk).exists()


def test_a_reward_of_another_campaign_is_a_404(organizer_client):
    campaign = CampaignFactory()
    other = RewardTierFactory()
    client = organizer_client(campaign)
    assert client.get(url("edit_reward", campaign, other.pk)).status_code == 404
    assert client.post(url("delete_reward", campaign, other.pk)).status_code == 404
    assert RewardTier.objects.filter(pk=other.pk).exists()


# --- start and the list -----------------------------------------------------------------------
def test_start_creates_one_draft_even_when_submitted_twice(member_client, member):
    page = member_client.get(reverse("campaigns:start"))
    token = re.search(
        r'name="creation_token" value="([0-9a-f-]{36})"', page.content.decode()
    ).group(1)
    data = {"title": "Tool library", "creation_token": token}
    first = member_client.post(reverse("campaigns:start"), data)
    second = member_client.post(reverse("campaigns:start"), data)
    campaign = Campaign.objects.get(organizer=member)
    assert first["Location"] == second["Location"] == url("edit_basics", campaign)
    assert campaign.title == "Tool library" and campaign.status == Status.DRAFT
    # A fresh form (a new token) is a new campaign.
    member_client.post(
        reverse("campaigns:start"), {"title": "Second", "creation_token": str(uuid.uuid4())}
    )
    assert Campaign.objects.filter(organizer=member).count() == 2


def test_start_needs_a_title(member_client, member):
    response = member_client.post(
        reverse("campaigns:start"), {"title": "", "creation_token": str(uuid.uuid4())}
    )
    assert response.status_code == 200
    assert field_errors(response, "title") == ["This field is required."]
    assert not Campaign.objects.filter(organizer=member).exists()


def test_mine_lists_own_and_co_organized_campaigns_with_totals(member_client, member):
    own = CampaignFactory(organizer=member, live=True, title="Our own garden")
    PledgeFactory(campaign=own, amount_minor=12_345)
    shared = CampaignFactory(title="Shared repair café")
    shared.collaborators.create(
        email=member.email, member=member, invited_by=shared.organizer, accepted_at=timezone.now()
    )
    CampaignFactory(title="Someone else's")
    response = member_client.get(reverse("campaigns:mine"))
    html = response.content.decode()
    assert "Our own garden" in html and "Shared repair café" in html
    assert "Someone else" not in html
    assert "€123.45" in html
    assert 'class="ws-badge ws-badge-live"' in html
    assert own.get_absolute_url() in html  # public page link for the live one
    assert url("preview", shared) in html and url("edit", own) in html


def test_edit_goes_to_the_first_step_for_drafts_and_to_review_otherwise(organizer_client):
    draft = CampaignFactory()
    assert organizer_client(draft).get(url("edit", draft))["Location"] == url("edit_basics", draft)
    live = CampaignFactory(live=True)
    assert organizer_client(live).get(url("edit", live))["Location"] == url("review", live)


# --- the steps --------------------------------------------------------------------------------
def test_basics_save_and_continue_goes_to_the_next_step(organizer_client):
    campaign = CampaignFactory()
    client = organizer_client(campaign)
    data = {"title": "Bee hotel", "summary": "Homes for bees.", "category": "environment",
            "location": " Leith ", "continue": "1"}  # fmt: skip
    response = client.post(url("edit_basics", campaign), data)
    assert response["Location"] == url("edit_story", campaign)
    campaign.refresh_from_db()
    assert (campaign.title, campaign.category, campaign.location) == (
        "Bee hotel",
        "environment",
        "Leith",
    )
    data.pop("continue")
    response = client.post(url("edit_basics", campaign), {**data, "save": "1"})
    assert response["Location"] == url("edit_basics", campaign)


def test_every_step_shows_the_status_the_steps_and_the_reviewers_note(organizer_client):
    campaign = CampaignFactory(review_note="Please add a photo of the site.")
    client = organizer_client(campaign)
    for name in STEP_URLS[1:-2]:
        html = client.get(url(name, campaign)).content.decode()
        assert "The reviewer asked for changes" in html, name
        assert "Please add a photo of the site." in html, name
        assert 'class="ws-badge ws-badge-draft">Draft<' in html, name
        assert 'aria-current="step"' in html, name


def test_a_summary_over_140_characters_is_shown_next_to_the_field(organizer_client):
    campaign = CampaignFactory(summary="Before.")
    response = organizer_client(campaign).post(
        url("edit_basics", campaign),
        {"title": "T", "summary": "x" * 141, "category": "food", "location": ""},
    )
    assert response.status_code == 200
    assert field_errors(response, "summary") == [
        "Ensure this value has at most 140 characters (it has 141)."
    ]
    assert Campaign.objects.get(pk=campaign.pk).summary == "Before."


def test_story_is_sanitized_and_the_cover_saved(organizer_client):
    campaign = CampaignFactory()
    client = organizer_client(campaign)
    story = "We **plant** trees.<script>alert(1)</script><img src=x onerror=alert(2)>"
    response = client.post(url("edit_story", campaign), {"story": story, "cover": png()})
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert "<strong>plant</strong>" in campaign.story_html
    assert "<script" not in campaign.story_html and "onerror" not in campaign.story_html
    assert campaign.cover and campaign.cover_card
    html = client.get(url("edit_story", campaign)).content.decode()
    assert campaign.cover_card.url in html


@pytest.mark.parametrize(
    "upload,error",
    [
        (
            SimpleUploadedFile("x.png", b"not really a png", "image/png"),
            "The cover must be a JPEG, PNG or WebP image.",
        ),
        (None, "The cover must be at least 600×300 pixels."),
    ],
)
def test_a_bad_cover_is_shown_next_to_the_field_and_nothing_saved(organizer_client, upload, error):
    campaign = CampaignFactory(story="Original story that is long enough to be a story.")
    response = organizer_client(campaign).post(
        url("edit_story", campaign), {"story": "Changed", "cover": upload or png((200, 100))}
    )
    assert response.status_code == 200
    assert field_errors(response, "cover") == [error]
    stored = Campaign.objects.get(pk=campaign.pk)
    assert stored.story.startswith("Original") and not stored.cover


@override_settings(MAX_GOAL_MINOR=10_000_000)
def test_funding_saves_major_units_as_minor_units(organizer_client):
    campaign = CampaignFactory(goal_minor=None, duration_days=None)
    response = organizer_client(campaign).post(
        url("edit_funding", campaign),
        {"goal": "5,000.50", "currency": "GBP", "funding_model": "flexible",
         "schedule": "days", "duration_days": "45", "end_date": "2099-01-01", "continue": "1"},
    )  # fmt: skip
    assert response["Location"] == url("edit_rewards", campaign)
    campaign.refresh_from_db()
    assert (campaign.goal_minor, campaign.currency, campaign.funding_model) == (
        500_050,
        "GBP",
        "flexible",
    )
    # The unchosen schedule field is ignored.
    assert (campaign.duration_days, campaign.end_date) == (45, None)


def test_funding_with_an_end_date(organizer_client):
    campaign = CampaignFactory()
    end = timezone.localdate() + datetime.timedelta(days=20)
    organizer_client(campaign).post(
        url("edit_funding", campaign),
        {"goal": "5000", "currency": "EUR", "funding_model": "all_or_nothing",
         "schedule": "date", "duration_days": "30", "end_date": end.isoformat()},
    )  # fmt: skip
    campaign.refresh_from_db()
    assert (campaign.duration_days, campaign.end_date) == (None, end)


def _funding_post(client, campaign, **overrides):
    data = {"goal": "5000", "currency": "EUR", "funding_model": "all_or_nothing",
            "schedule": "days", "duration_days": "30", "end_date": "", **overrides}  # fmt: skip
    return client.post(url("edit_funding", campaign), data)


@pytest.mark.parametrize(
    "overrides,field,error",
    [
        ({"goal": "0"}, "goal", "The goal must be more than zero."),
        ({"goal": "-5"}, "goal", "The goal must be more than zero."),
        ({"goal": "1000001"}, "goal", "The goal is above the platform&#x27;s maximum."),
        ({"goal": "10.0055"}, "goal", "EUR amounts can have at most 2 decimal places."),
        ({"goal": "5,000"}, "goal", core_money.AMBIGUOUS_AMOUNT),
        ({"goal": "lots"}, "goal", "Enter an amount such as 25 or 12.50."),
        (
            {"currency": "XYZ"},
            "currency",
            "Select a valid choice. XYZ is not one of the available choices.",
        ),
        (
            {"duration_days": "61"},
            "duration_days",
            "Ensure this value is less than or equal to 60.",
        ),
        (
            {"schedule": "date", "end_date": "+61"},
            "end_date",
            "The end date can be at most 60 days from today.",
        ),
        (
            {"schedule": "date", "end_date": "-1"},
            "end_date",
            "The end date must be in the future.",
        ),
        ({"schedule": "date", "end_date": ""}, "end_date", "Pick the day your campaign ends."),
        ({"funding_model": "maybe"}, "funding_model", None),
    ],
)
def test_bad_funding_input_is_shown_next_to_its_field_and_saves_nothing(
    organizer_client, overrides, field, error
):
    if overrides.get("end_date", "").startswith(("+", "-")):
        offset = datetime.timedelta(days=int(overrides["end_date"]))
        overrides = {**overrides, "end_date": (timezone.localdate() + offset).isoformat()}
    campaign = CampaignFactory(goal_minor=300_000, duration_days=20)
    response = _funding_post(organizer_client(campaign), campaign, **overrides)
    assert response.status_code == 200
    errors = field_errors(response, field) if field != "funding_model" else None
    if error is not None:
        assert errors == [error]
    else:
        assert "Select a valid choice" in response.content.decode()
    stored = Campaign.objects.get(pk=campaign.pk)
    assert (stored.goal_minor, stored.currency, stored.duration_days, stored.end_date) == (
        300_000,
        "EUR",
        20,
        None,
    )


def test_funding_explains_both_models_in_plain_words(organizer_client):
    campaign = CampaignFactory()
    html = organizer_client(campaign).get(url("edit_funding", campaign)).content.decode()
    assert "If you don't, nobody pays." in html
    assert "you keep what you raise." in html
    assert 'name="goal" value="5000"' in html


def test_live_terms_are_read_only_and_a_post_changes_nothing(organizer_client):
    campaign = CampaignFactory(live=True)
    client = organizer_client(campaign)
    html = client.get(url("edit_funding", campaign)).content.decode()
    assert '<fieldset class="ws-fieldset" disabled>' in html
    assert "cannot change once a campaign is live" in html
    assert "Save and continue" not in html
    response = _funding_post(client, campaign, goal="100", funding_model="flexible")
    assert response.status_code == 200
    assert "cannot change once a campaign is live" in response.content.decode()
    stored = Campaign.objects.get(pk=campaign.pk)
    assert (stored.goal_minor, stored.funding_model) == (500_000, "all_or_nothing")


# --- rewards ----------------------------------------------------------------------------------
def _reward_post(client, campaign, **overrides):
    data = {"action": "add_reward", "title": "Tote bag", "description": "Screen printed.",
            "minimum": "25", "quantity_limit": "3", "estimated_delivery": "2026-09",
            **overrides}  # fmt: skip
    return client.post(url("edit_rewards", campaign), data)


def test_add_a_reward_with_a_delivery_month(organizer_client):
    campaign = CampaignFactory()
    response = _reward_post(organizer_client(campaign), campaign)
    assert response["Location"] == url("edit_rewards", campaign)
    reward = campaign.rewards.get()
    assert (reward.title, reward.minimum_minor, reward.quantity_limit) == ("Tote bag", 2_500, 3)
    assert reward.estimated_delivery == datetime.date(2026, 9, 1)


@pytest.mark.parametrize(
    "overrides,field,error",
    [
        (
            {"minimum": "5000.01"},
            "minimum",
            "A reward cannot ask more than the campaign&#x27;s goal.",
        ),
        ({"minimum": "2.5555"}, "minimum", "EUR amounts can have at most 2 decimal places."),
        (
            {"quantity_limit": "0"},
            "quantity_limit",
            "Ensure this value is greater than or equal to 1.",
        ),
        (
            {"estimated_delivery": "September"},
            "estimated_delivery",
            "Enter a month such as 2026-09.",
        ),
    ],
)
def test_bad_reward_input_is_shown_next_to_the_field(organizer_client, overrides, field, error):
    campaign = CampaignFactory(goal_minor=500_000)
    response = _reward_post(organizer_client(campaign), campaign, **overrides)
    assert response.status_code == 200
    assert field_errors(response, field) == [error]
    assert not campaign.rewards.exists()


def test_rewards_show_remaining_stock(organizer_client):
    campaign = CampaignFactory(live=True)
    reward = RewardTierFactory(campaign=campaign, title="Seed pack", quantity_limit=3)
    RewardTierFactory(campaign=campaign, title="Thanks", quantity_limit=None)
    PledgeFactory(campaign=campaign, reward=reward)
    PledgeFactory(campaign=campaign, reward=reward, status=Pledge.Status.CANCELLED)
    html = organizer_client(campaign).get(url("edit_rewards", campaign)).content.decode()
    assert "2 of 3 left" in html
    assert "Unlimited" in html


def test_allow_no_reward_checkbox(organizer_client):
    campaign = CampaignFactory(allow_no_reward=True)
    response = organizer_client(campaign).post(
        url("edit_rewards", campaign), {"action": "allow_no_reward", "continue": "1"}
    )
    assert response["Location"] == url("edit_budget", campaign)
    assert Campaign.objects.get(pk=campaign.pk).allow_no_reward is False


def test_a_live_reward_takes_only_a_new_description(organizer_client):
    campaign = CampaignFactory(live=True)
    reward = RewardTierFactory(campaign=campaign, title="Mug", minimum_minor=3_000)
    client = organizer_client(campaign)
    html = client.get(url("edit_reward", campaign, reward.pk)).content.decode()
    assert re.search(r'name="minimum"[^>]*disabled', html)
    response = client.post(
        url("edit_reward", campaign, reward.pk),
        {"title": "Cheaper mug", "minimum": "1", "description": "Now glazed blue."},
    )
    assert response["Location"] == url("edit_rewards", campaign)
    reward.refresh_from_db()
    assert (reward.title, reward.minimum_minor, reward.description) == (
        "Mug",
        3_000,
        "Now glazed blue.",
    )
    # New tiers are still welcome; removing one is not.
    _reward_post(client, campaign, title="Late tier", quantity_limit="")
    assert campaign.rewards.count() == 2
    client.post(url("delete_reward", campaign, reward.pk))
    assert RewardTier.objects.filter(pk=reward.pk).exists()


def test_edit_a_draft_reward(organizer_client):
    campaign = CampaignFactory()
    reward = RewardTierFactory(campaign=campaign, estimated_delivery=datetime.date(2026, 5, 1))
    client = organizer_client(campaign)
    html = client.get(url("edit_reward", campaign, reward.pk)).content.decode()
    assert 'type="month" name="estimated_delivery" value="2026-05"' in html
    client.post(
        url("edit_reward", campaign, reward.pk),
        {"title": "Poster", "minimum": "12.50", "estimated_delivery": "2026-11"},
    )
    reward.refresh_from_db()
    assert (reward.title, reward.minimum_minor, reward.estimated_delivery) == (
        "Poster",
        1_250,
        datetime.date(2026, 11, 1),
    )


def test_deleting_needs_a_post(organizer_client):
    campaign = CampaignFactory()
    reward = RewardTierFactory(campaign=campaign)
    item = BudgetItemFactory(campaign=campaign)
    goal = StretchGoalFactory(campaign=campaign)
    client = organizer_client(campaign)
    for path in (
        url("delete_reward", campaign, reward.pk),
        url("delete_budget_item", campaign, item.pk),
        url("delete_stretch_goal", campaign, goal.pk),
        url("submit", campaign),
        url("launch", campaign),
    ):
        assert client.get(path).status_code == 405, path
    assert client.post(url("delete_reward", campaign, reward.pk)).status_code == 302
    assert client.post(url("delete_budget_item", campaign, item.pk)).status_code == 302
    assert client.post(url("delete_stretch_goal", campaign, goal.pk)).status_code == 302
    assert not (
        campaign.rewards.exists()
        or campaign.budget_items.exists()
        or campaign.stretch_goals.exists()
    )


# --- budget and stretch goals -----------------------------------------------------------------
def test_budget_items_and_the_required_total_against_the_goal(organizer_client):
    campaign = CampaignFactory(goal_minor=100_000)
    client = organizer_client(campaign)
    client.post(url("edit_budget", campaign), {"label": "Soil", "amount": "600", "required": "1"})
    client.post(url("edit_budget", campaign), {"label": "Tank", "amount": "900", "required": "0"})
    response = client.post(
        url("edit_budget", campaign), {"label": "Shed", "amount": "400.01", "required": "1"}
    )
    assert field_errors(response, "amount") == [
        "Required items would add up to €1,000.01, more than the goal of €1,000.00."
    ]
    html = response.content.decode()
    assert "Required items: €600.00" in html and "€1,000 goal" in html
    assert "optional items €900.00" in html
    assert sorted(campaign.budget_items.values_list("label", "required")) == [
        ("Soil", True),
        ("Tank", False),
    ]


def test_stretch_goals(organizer_client):
    campaign = CampaignFactory(goal_minor=100_000)
    client = organizer_client(campaign)
    response = client.post(
        url("edit_stretch_goals", campaign), {"amount": "900", "description": "Below the goal"}
    )
    assert field_errors(response, "amount") == [
        "A stretch goal must be above the campaign&#x27;s goal."
    ]
    client.post(url("edit_stretch_goals", campaign), {"amount": "1500", "description": "A bench"})
    assert list(campaign.stretch_goals.values_list("amount_minor", "description")) == [
        (150_000, "A bench")
    ]


# --- team ---------------------------------------------------------------------------------------
def test_invite_a_co_organizer_who_accepts_from_the_email(
    client, organizer_client, django_capture_on_commit_callbacks, celery_eager
):
    campaign = CampaignFactory()
    owner_client = organizer_client(campaign)
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            url("edit_team", campaign), {"action": "invite", "email": "friend@example.org"}
        )
    assert response["Location"] == url("edit_team", campaign)
    (message,) = mail.outbox
    link = re.search(r"http://localhost:8000(/invitations/[0-9a-f-]+/)", message.body).group(1)
    assert "friend@example.org" in owner_client.get(url("edit_team", campaign)).content.decode()

    stranger = MemberFactory()
    client.force_login(stranger)
    mismatch = client.get(link)
    assert mismatch.status_code == 404
    assert "invitation is for another account" in mismatch.content.decode()

    friend = MemberFactory(email="friend@example.org")
    client.force_login(friend)
    response = client.get(link)
    assert response["Location"] == url("edit", campaign)
    assert client.get(url("edit_basics", campaign)).status_code == 200
    # A co-organizer edits, but does not manage the team or cancel.
    html = client.get(url("edit_team", campaign)).content.decode()
    assert "Send invitation" not in html
    assert client.get(url("cancel", campaign)).status_code == 404
    assert client.post(url("cancel", campaign)).status_code == 404


def test_duplicate_invitation_error_next_to_the_field(organizer_client):
    campaign = CampaignFactory()
    services.invite_collaborator(campaign, by=campaign.organizer, email="a@example.org")
    response = organizer_client(campaign).post(
        url("edit_team", campaign), {"action": "invite", "email": "a@example.org"}
    )
    assert field_errors(response, "email") == ["This person has already been invited."]


def test_remove_a_co_organizer(organizer_client):
    campaign = CampaignFactory()
    invitation = services.invite_collaborator(
        campaign, by=campaign.organizer, email="b@example.org"
    )
    client = organizer_client(campaign)
    client.post(url("edit_team", campaign), {"action": "remove", "collaborator": "nope"})
    assert Collaborator.objects.filter(pk=invitation.pk).exists()
    client.post(url("edit_team", campaign), {"action": "remove", "collaborator": invitation.pk})
    assert not Collaborator.objects.filter(pk=invitation.pk).exists()


def test_accept_invitation_needs_a_login(client):
    response = client.get(reverse("campaigns:accept_invitation", args=[uuid.uuid4()]))
    assert response.status_code == 302


# --- review, submit, launch, cancel -------------------------------------------------------------
def test_review_lists_what_is_missing_and_submit_is_refused(organizer_client):
    campaign = CampaignFactory(summary="", goal_minor=None)
    client = organizer_client(campaign)
    html = client.get(url("review", campaign)).content.decode()
    assert "Add a short summary." in html and "Set a funding goal." in html
    response = client.post(url("submit", campaign), follow=True)
    assert "Not ready for review yet" in response.content.decode()
    assert Campaign.objects.get(pk=campaign.pk).status == Status.DRAFT


def test_submit_then_changes_requested_then_resubmit(organizer_client):
    campaign = CampaignFactory()
    client = organizer_client(campaign)
    response = client.post(url("submit", campaign))
    assert response["Location"] == url("review", campaign)
    assert Campaign.objects.get(pk=campaign.pk).status == Status.IN_REVIEW
    assert "Editing is paused" in client.get(url("edit_basics", campaign)).content.decode()

    services.request_changes(campaign, by=ReviewerFactory(), note="Say where.")
    html = client.get(url("edit_basics", campaign)).content.decode()
    assert "The reviewer asked for changes" in html and "Say where." in html
    client.post(url("submit", campaign))
    assert Campaign.objects.get(pk=campaign.pk).status == Status.IN_REVIEW


def test_approved_review_shows_the_deadline_launch_would_set_and_launch_works(organizer_client):
    campaign = CampaignFactory(approved=True, duration_days=30)
    client = organizer_client(campaign)
    html = client.get(url("review", campaign)).content.decode()
    expected = timezone.localtime(timezone.now() + datetime.timedelta(days=30))
    assert expected.strftime("%-d %B %Y") in html
    assert "Launch now" in html
    response = client.post(url("launch", campaign))
    campaign.refresh_from_db()
    assert campaign.status == Status.LIVE
    assert response["Location"] == campaign.get_absolute_url()
    assert AuditEvent.objects.filter(
        target_id=str(campaign.pk), action="status:live", actor=campaign.organizer
    ).exists()


def test_launching_a_draft_is_refused_with_a_message(organizer_client):
    campaign = CampaignFactory()
    response = organizer_client(campaign).post(url("launch", campaign), follow=True)
    assert "A campaign that is draft cannot become live." in response.content.decode()
    assert Campaign.objects.get(pk=campaign.pk).status == Status.DRAFT


def test_cancelling_a_live_campaign_confirms_and_releases_pledges(
    organizer_client, django_capture_on_commit_callbacks, celery_eager
):
    campaign = CampaignFactory(live=True)
    pledge = PledgeFactory(campaign=campaign)
    client = organizer_client(campaign)
    html = client.get(url("cancel", campaign)).content.decode()
    assert "All pledges will be released." in html
    assert Campaign.objects.get(pk=campaign.pk).status == Status.LIVE  # GET changes nothing
    with django_capture_on_commit_callbacks(execute=True):  # the release task runs after commit
        response = client.post(url("cancel", campaign), {"reason": "Venue fell through."})
    assert response["Location"] == reverse("campaigns:mine")
    campaign.refresh_from_db()
    assert (campaign.status, campaign.cancellation_reason) == (
        Status.CANCELLED,
        "Venue fell through.",
    )
    assert Pledge.objects.get(pk=pledge.pk).status == Pledge.Status.RELEASED


def test_cancelling_in_review_is_refused_on_the_form(organizer_client):
    campaign = CampaignFactory(in_review=True)
    response = organizer_client(campaign).post(url("cancel", campaign))
    assert response.status_code == 200
    assert "cannot become cancelled" in response.content.decode()
    assert Campaign.objects.get(pk=campaign.pk).status == Status.IN_REVIEW


def test_preview_renders_the_public_page_with_a_banner(organizer_client):
    campaign = CampaignFactory(title="Pocket park")
    response = organizer_client(campaign).get(url("preview", campaign))
    assert response.status_code == 200
    assert response.context["preview"] is True
    assert "Pocket park" in response.content.decode()
