"""campaigns.services: every lifecycle transition, the audit trail, and every bad input the
issue lists (goal, currency, cents, schedule, cover, rewards, story, budget, ownership,
double submits, terms frozen once live)."""

import datetime
import uuid
from io import BytesIO

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.test import override_settings
from django.utils import timezone
from PIL import Image

from campaigns import services
from campaigns.models import Campaign, RewardTier
from core.errors import DomainError, NotPermitted, TransitionError
from core.models import AuditEvent
from core.money import to_minor
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


def png_upload(size=(1200, 675), name="cover.png", fmt="PNG"):
    buffer = BytesIO()
    Image.new("RGB", size, (31, 111, 84)).save(buffer, fmt)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type=f"image/{fmt.lower()}")


def audit_rows(campaign, **filters):
    return AuditEvent.objects.filter(target_id=str(campaign.pk), **filters)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Every factory member hashes a password; the production hasher costs ~0.5 s each.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def staff():
    return ReviewerFactory()


def funding(campaign, **overrides):
    values = {
        "goal_minor": 500_000,
        "currency": "EUR",
        "funding_model": "all_or_nothing",
        "duration_days": 30,
        "end_date": None,
        **overrides,
    }
    return services.update_funding(campaign, by=campaign.organizer, **values)


# --- starting a draft -------------------------------------------------------------------------
def test_start_campaign_creates_a_draft_and_an_audit_row():
    member = MemberFactory(location="Leith")
    campaign = services.start_campaign(organizer=member, title="  Repair café  ")
    assert campaign.status == Status.DRAFT
    assert campaign.title == "Repair café"
    assert campaign.slug == "repair-cafe"
    assert campaign.location == "Leith"
    assert audit_rows(campaign, action="created", actor=member).count() == 1


def test_the_same_creation_token_twice_gives_one_campaign():
    member = MemberFactory()
    token = uuid.uuid4()
    first = services.start_campaign(organizer=member, title="Bike shed", creation_token=token)
    second = services.start_campaign(organizer=member, title="Bike shed", creation_token=token)
    assert first.pk == second.pk
    assert Campaign.objects.filter(organizer=member).count() == 1
    other = services.start_campaign(
        organizer=member, title="Bike shed", creation_token=uuid.uuid4()
    )
    assert other.pk != first.pk and other.slug == "bike-shed-2"


# --- legal transitions, each with its audit row ------------------------------------------------
def test_submit_moves_a_ready_draft_to_review_and_audits(django_capture_on_commit_callbacks):
    campaign = CampaignFactory(review_note="Old note")
    services.submit_for_review(campaign, by=campaign.organizer)
    campaign.refresh_from_db()
    assert campaign.status == Status.IN_REVIEW
    assert campaign.submitted_at is not None
    assert campaign.review_note == ""
    event = audit_rows(campaign, action="status:in_review").get()
    assert (event.from_status, event.to_status, event.actor) == (
        "draft",
        "in_review",
        campaign.organizer,
    )


def test_request_changes_returns_to_draft_with_the_note_and_emails(
    staff, django_capture_on_commit_callbacks, celery_eager
):
    campaign = CampaignFactory(in_review=True)
    with django_capture_on_commit_callbacks(execute=True):
        services.request_changes(campaign, by=staff, note="Add photos of the lot.")
    campaign.refresh_from_db()
    assert campaign.status == Status.DRAFT
    assert campaign.review_note == "Add photos of the lot."
    event = audit_rows(campaign, action="status:draft").get()
    assert (event.from_status, event.actor, event.note) == (
        "in_review",
        staff,
        "Add photos of the lot.",
    )
    assert [m.to for m in mail.outbox] == [[campaign.organizer.email]]


def test_request_changes_and_reject_need_a_note(staff):
    campaign = CampaignFactory(in_review=True)
    with pytest.raises(DomainError) as excinfo:
        services.request_changes(campaign, by=staff, note="  ")
    assert excinfo.value.field == "note"
    with pytest.raises(DomainError):
        services.reject(campaign, by=staff, note="")
    campaign.refresh_from_db()
    assert campaign.status == Status.IN_REVIEW
    assert not audit_rows(campaign).exists()


def test_reject_and_approve(staff):
    rejected = CampaignFactory(in_review=True)
    services.reject(rejected, by=staff, note="Not a community project.")
    assert Campaign.objects.get(pk=rejected.pk).status == Status.REJECTED
    assert audit_rows(rejected, action="status:rejected", to_status="rejected").count() == 1

    approved = CampaignFactory(in_review=True)
    services.approve(approved, by=staff)
    assert Campaign.objects.get(pk=approved.pk).status == Status.APPROVED
    assert audit_rows(approved, action="status:approved", from_status="in_review").count() == 1


def test_only_staff_review(member):
    campaign = CampaignFactory(in_review=True)
    with pytest.raises(NotPermitted):
        services.approve(campaign, by=campaign.organizer)
    with pytest.raises(NotPermitted):
        services.approve(campaign, by=member)
    assert Campaign.objects.get(pk=campaign.pk).status == Status.IN_REVIEW


def test_approving_twice_is_harmless_and_audits_once(staff):
    campaign = CampaignFactory(in_review=True)
    services.approve(campaign, by=staff)
    services.approve(campaign, by=staff)
    assert audit_rows(campaign, action="status:approved").count() == 1


def test_launch_sets_the_deadline_from_the_duration():
    campaign = CampaignFactory(approved=True, duration_days=21)
    now = timezone.now()
    services.launch(campaign, by=campaign.organizer, now=now)
    campaign.refresh_from_db()
    assert campaign.status == Status.LIVE
    assert campaign.launched_at == now
    assert campaign.deadline == now + datetime.timedelta(days=21)
    assert audit_rows(campaign, action="status:live", from_status="approved").count() == 1


def test_launch_with_an_end_date_ends_at_the_end_of_that_day():
    end = timezone.localdate() + datetime.timedelta(days=10)
    campaign = CampaignFactory(approved=True, duration_days=None, end_date=end)
    services.launch(campaign, by=campaign.organizer)
    campaign.refresh_from_db()
    deadline = timezone.localtime(campaign.deadline)
    assert deadline.date() == end
    assert (deadline.hour, deadline.minute) == (23, 59)


def test_a_co_organizer_may_launch():
    campaign = CampaignFactory(approved=True)
    helper = MemberFactory()
    campaign.collaborators.create(
        email=helper.email, member=helper, invited_by=campaign.organizer, accepted_at=timezone.now()
    )
    services.launch(campaign, by=helper)
    assert Campaign.objects.get(pk=campaign.pk).status == Status.LIVE


@pytest.mark.parametrize("trait", [{}, {"approved": True}, {"live": True}])
def test_the_organizer_cancels_a_draft_approved_or_live_campaign(trait):
    campaign = CampaignFactory(**trait)
    before = campaign.status
    services.cancel(campaign, by=campaign.organizer, reason="The council gave us the lot.")
    campaign.refresh_from_db()
    assert campaign.status == Status.CANCELLED
    assert campaign.cancellation_reason == "The council gave us the lot."
    assert campaign.ended_at is not None
    assert audit_rows(campaign, action="status:cancelled", from_status=before).count() == 1


def test_cancelling_a_live_campaign_releases_its_pledges(
    django_capture_on_commit_callbacks, celery_eager
):
    campaign = CampaignFactory(live=True)
    pledges = PledgeFactory.create_batch(2, campaign=campaign)
    with django_capture_on_commit_callbacks() as callbacks:
        services.cancel(campaign, by=campaign.organizer)
    # Only the campaign's row changes in the request; a task releases the pledges afterwards.
    assert Pledge.objects.filter(campaign=campaign, status=Pledge.Status.ACTIVE).count() == 2
    with django_capture_on_commit_callbacks(execute=True):
        for callback in callbacks:
            callback()
    assert {p.status for p in Pledge.objects.filter(pk__in=[p.pk for p in pledges])} == {
        Pledge.Status.RELEASED
    }


def test_only_the_organizer_or_staff_cancels():
    campaign = CampaignFactory(live=True)
    helper = MemberFactory()
    campaign.collaborators.create(
        email=helper.email, member=helper, invited_by=campaign.organizer, accepted_at=timezone.now()
    )
    with pytest.raises(NotPermitted):
        services.cancel(campaign, by=helper)
    assert Campaign.objects.get(pk=campaign.pk).status == Status.LIVE


# --- illegal transitions ------------------------------------------------------------------------
ILLEGAL = [
    ("launch a draft", {}, lambda c, staff: services.launch(c, by=c.organizer), "live"),
    (
        "submit a live campaign",
        {"live": True},
        lambda c, staff: services.submit_for_review(c, by=c.organizer),
        "in review",
    ),
    (
        "cancel one in review",
        {"in_review": True},
        lambda c, staff: services.cancel(c, by=c.organizer),
        "cancelled",
    ),
    ("approve a draft", {}, lambda c, staff: services.approve(c, by=staff), "approved"),
    (
        "request changes on a live campaign",
        {"live": True},
        lambda c, staff: services.request_changes(c, by=staff, note="x"),
        "draft",
    ),
    (
        "launch a rejected campaign",
        {"status": Status.REJECTED},
        lambda c, staff: services.launch(c, by=c.organizer),
        "live",
    ),
    (
        "launch one in review",
        {"in_review": True},
        lambda c, staff: services.launch(c, by=c.organizer),
        "live",
    ),
]


@pytest.mark.parametrize(
    "traits,attempt,target", [case[1:] for case in ILLEGAL], ids=[case[0] for case in ILLEGAL]
)
def test_illegal_transitions_raise_a_clear_error_and_write_no_audit_row(
    staff, traits, attempt, target
):
    campaign = CampaignFactory(**traits)
    before = campaign.status
    with pytest.raises(TransitionError) as excinfo:
        attempt(campaign, staff)
    current = Campaign.Status(before).label.lower()
    assert excinfo.value.message == f"A campaign that is {current} cannot become {target}."
    assert Campaign.objects.get(pk=campaign.pk).status == before
    assert not audit_rows(campaign).exists()


def test_submitting_an_incomplete_draft_says_what_is_missing():
    campaign = CampaignFactory(summary="", goal_minor=None, story="Short.")
    with pytest.raises(DomainError) as excinfo:
        services.submit_for_review(campaign, by=campaign.organizer)
    assert "Add a short summary." in excinfo.value.message
    assert "Set a funding goal." in excinfo.value.message
    assert "Tell your story" in excinfo.value.message
    assert Campaign.objects.get(pk=campaign.pk).status == Status.DRAFT
    assert not audit_rows(campaign).exists()


def test_readiness_problems_of_a_complete_draft_is_empty():
    assert services.readiness_problems(CampaignFactory()) == []
    no_rewards = CampaignFactory(allow_no_reward=False)
    assert services.readiness_problems(no_rewards) == [
        "Add a reward, or allow support without a reward."
    ]


def test_launching_after_the_end_date_passed_is_refused_without_audit():
    campaign = CampaignFactory(
        approved=True, duration_days=None, end_date=timezone.localdate() - datetime.timedelta(1)
    )
    with pytest.raises(DomainError, match="end date has passed"):
        services.launch(campaign, by=campaign.organizer)
    assert Campaign.objects.get(pk=campaign.pk).status == Status.APPROVED
    assert not audit_rows(campaign).exists()


# --- bad input: the goal and money ------------------------------------------------------------
@pytest.mark.parametrize("goal", [0, -100])
def test_a_goal_of_zero_or_less_is_refused(goal):
    campaign = CampaignFactory(goal_minor=None)
    with pytest.raises(DomainError) as excinfo:
        funding(campaign, goal_minor=goal)
    assert excinfo.value.field == "goal"
    assert Campaign.objects.get(pk=campaign.pk).goal_minor is None


@override_settings(MAX_GOAL_MINOR=1_000_000)
def test_a_goal_above_the_maximum_is_refused():
    campaign = CampaignFactory(goal_minor=None)
    with pytest.raises(DomainError, match="maximum") as excinfo:
        funding(campaign, goal_minor=1_000_001)
    assert excinfo.value.field == "goal"
    funding(campaign, goal_minor=1_000_000)
    assert Campaign.objects.get(pk=campaign.pk).goal_minor == 1_000_000


def test_fractional_minor_units_are_refused():
    assert to_minor("5000.50", "EUR") == 500_050
    assert to_minor("25", "GBP") == 2_500
    with pytest.raises(DomainError, match="at most 2 decimal places"):
        to_minor("10.005", "EUR")
    with pytest.raises(DomainError):
        to_minor("ten", "EUR")


def test_an_unknown_currency_is_refused_and_nothing_is_saved():
    with pytest.raises(DomainError) as excinfo:
        to_minor("10", "XYZ")
    assert excinfo.value.field == "currency"
    campaign = CampaignFactory(currency="EUR")
    # update_funding itself leaves the currency check to the forms and the database's
    # campaign_currency_known constraint; either way nothing is stored.
    with pytest.raises((DomainError, IntegrityError)), transaction.atomic():
        funding(campaign, currency="XYZ")
    assert Campaign.objects.get(pk=campaign.pk).currency == "EUR"


def test_funding_saves_valid_terms():
    campaign = CampaignFactory(goal_minor=None, duration_days=None)
    funding(
        campaign, goal_minor=750_050, currency="GBP", funding_model="flexible", duration_days=45
    )
    campaign.refresh_from_db()
    assert (campaign.goal_minor, campaign.currency, campaign.funding_model) == (
        750_050,
        "GBP",
        "flexible",
    )
    assert (campaign.duration_days, campaign.end_date) == (45, None)


# --- bad input: the schedule ------------------------------------------------------------------
@pytest.mark.parametrize(
    "schedule,field",
    [
        ({"duration_days": 61}, "duration_days"),
        ({"duration_days": 0, "end_date": None}, "duration_days"),
        ({"duration_days": None, "end_date": "+61"}, "end_date"),
        ({"duration_days": None, "end_date": "-1"}, "end_date"),
        ({"duration_days": None, "end_date": "+0"}, "end_date"),
        ({"duration_days": 10, "end_date": "+10"}, "duration_days"),
        ({"duration_days": None, "end_date": None}, "duration_days"),
    ],
)
def test_deadlines_beyond_60_days_or_in_the_past_are_refused(schedule, field):
    if isinstance(schedule.get("end_date"), str):
        offset = int(schedule["end_date"])
        schedule = {**schedule, "end_date": timezone.localdate() + datetime.timedelta(offset)}
    campaign = CampaignFactory(duration_days=30)
    with pytest.raises(DomainError) as excinfo:
        funding(campaign, **schedule)
    assert excinfo.value.field == field
    campaign.refresh_from_db()
    assert (campaign.duration_days, campaign.end_date) == (30, None)


def test_an_end_date_60_days_away_is_accepted():
    campaign = CampaignFactory()
    end = timezone.localdate() + datetime.timedelta(days=60)
    funding(campaign, duration_days=None, end_date=end)
    assert Campaign.objects.get(pk=campaign.pk).end_date == end


# --- bad input: the cover ---------------------------------------------------------------------
def test_a_valid_cover_is_stored_with_resized_copies():
    campaign = CampaignFactory()
    services.update_story(
        campaign, by=campaign.organizer, story=campaign.story, cover=png_upload((1600, 900))
    )
    campaign.refresh_from_db()
    assert campaign.cover.name.startswith(f"campaigns/{campaign.public_id}/")
    with Image.open(campaign.cover_card) as card:
        assert card.size == (640, 360)
    with Image.open(campaign.cover_large) as large:
        assert large.size == (1200, 675)


@pytest.mark.parametrize(
    "upload,message",
    [
        (
            SimpleUploadedFile("big.png", b"\x89PNG" + b"0" * (5 * 1024 * 1024), "image/png"),
            "5 MB or smaller",
        ),
        (SimpleUploadedFile("cover.png", b"<script>alert(1)</script>", "image/png"), "JPEG, PNG"),
        (SimpleUploadedFile("notes.pdf", b"%PDF-1.4 not an image", "application/pdf"), "JPEG"),
        (None, "at least 600×300"),
    ],
    ids=["oversized", "not-an-image", "pdf", "too-small"],
)
def test_a_bad_cover_is_refused_and_nothing_is_saved(upload, message):
    upload = upload or png_upload((300, 200))
    campaign = CampaignFactory(story="The old story, long enough to count as a real story here.")
    with pytest.raises(DomainError, match=message) as excinfo:
        services.update_story(campaign, by=campaign.organizer, story="A new story", cover=upload)
    assert excinfo.value.field == "cover"
    stored = Campaign.objects.get(pk=campaign.pk)
    assert not stored.cover
    assert stored.story.startswith("The old story")


def test_a_gif_cover_is_refused():
    campaign = CampaignFactory()
    with pytest.raises(DomainError, match="JPEG, PNG or WebP"):
        services.update_story(
            campaign, by=campaign.organizer, story="", cover=png_upload(fmt="GIF", name="a.gif")
        )


# --- bad input: story, rewards, budget, stretch goals -----------------------------------------
def test_html_and_javascript_in_the_story_are_sanitized():
    campaign = CampaignFactory()
    story = (
        "## Our plan\n\nWe **build** a shed. <script>alert('x')</script>\n\n"
        '<img src="x.png" onerror="alert(1)"> <a href="javascript:alert(2)">click</a> '
        "[docs](javascript:alert(3)) [site](https://example.org)\n\n"
        '<p style="color:red" onclick="steal()">Hi</p><iframe src="https://evil.test"></iframe>'
    )
    services.update_story(campaign, by=campaign.organizer, story=story)
    campaign.refresh_from_db()
    html = campaign.story_html
    assert campaign.story == story  # the organizer's source is kept as written
    assert "<h2>Our plan</h2>" in html and "<strong>build</strong>" in html
    assert '<a href="https://example.org" rel="noopener noreferrer nofollow ugc">site</a>' in html
    for forbidden in ("<script", "onerror", "onclick", "javascript:", "<iframe", "style="):
        assert forbidden not in html


def test_a_reward_asking_more_than_the_goal_is_refused():
    campaign = CampaignFactory(goal_minor=100_000)
    with pytest.raises(DomainError) as excinfo:
        services.save_reward(
            campaign, by=campaign.organizer, title="Name on the wall", description="",
            minimum_minor=100_001,
        )  # fmt: skip
    assert excinfo.value.field == "minimum"
    assert not RewardTier.objects.filter(campaign=campaign).exists()


@pytest.mark.parametrize("minimum", [0, 50])
def test_a_reward_minimum_below_the_platform_minimum_is_refused(minimum):
    campaign = CampaignFactory()
    with pytest.raises(DomainError) as excinfo:
        services.save_reward(
            campaign, by=campaign.organizer, title="Sticker", description="",
            minimum_minor=minimum,
        )  # fmt: skip
    assert excinfo.value.field == "minimum"


def test_a_reward_is_saved_with_its_limit_and_delivery_month():
    campaign = CampaignFactory()
    reward = services.save_reward(
        campaign,
        by=campaign.organizer,
        title=" Tote bag ",
        description="Printed locally.",
        minimum_minor=2_500,
        quantity_limit=50,
        estimated_delivery=datetime.date(2026, 9, 1),
    )
    assert (reward.title, reward.quantity_limit, reward.estimated_delivery) == (
        "Tote bag",
        50,
        datetime.date(2026, 9, 1),
    )


def test_lowering_the_goal_under_a_reward_or_the_required_budget_is_refused():
    campaign = CampaignFactory(goal_minor=500_000)
    RewardTierFactory(campaign=campaign, title="Big one", minimum_minor=300_000)
    with pytest.raises(DomainError, match="Big one") as excinfo:
        funding(campaign, goal_minor=200_000)
    assert excinfo.value.field == "goal"
    BudgetItemFactory(campaign=campaign, amount_minor=400_000, required=True)
    with pytest.raises(DomainError, match="required budget"):
        funding(campaign, goal_minor=350_000)
    assert Campaign.objects.get(pk=campaign.pk).goal_minor == 500_000


def test_the_required_budget_must_fit_within_the_goal():
    campaign = CampaignFactory(goal_minor=100_000)
    services.save_budget_item(
        campaign, by=campaign.organizer, label="Soil", amount_minor=60_000, required=True
    )
    with pytest.raises(DomainError, match="more than the goal") as excinfo:
        services.save_budget_item(
            campaign, by=campaign.organizer, label="Shed", amount_minor=40_001, required=True
        )
    assert excinfo.value.field == "amount"
    # Optional items may go beyond the goal: they are what more money would buy.
    services.save_budget_item(
        campaign, by=campaign.organizer, label="Rain tank", amount_minor=90_000, required=False
    )
    assert sorted(campaign.budget_items.values_list("label", flat=True)) == ["Rain tank", "Soil"]


def test_stretch_goals_must_be_above_the_goal_and_distinct():
    campaign = CampaignFactory(goal_minor=100_000)
    with pytest.raises(DomainError, match="above") as excinfo:
        services.save_stretch_goal(
            campaign, by=campaign.organizer, amount_minor=100_000, description="More"
        )
    assert excinfo.value.field == "amount"
    services.save_stretch_goal(
        campaign, by=campaign.organizer, amount_minor=150_000, description="Rain tank"
    )
    with pytest.raises(DomainError, match="already"):
        services.save_stretch_goal(
            campaign, by=campaign.organizer, amount_minor=150_000, description="Bench"
        )
    assert campaign.stretch_goals.count() == 1


def test_summary_longer_than_140_characters_is_refused():
    campaign = CampaignFactory(summary="Short.")
    with pytest.raises(DomainError) as excinfo:
        services.update_basics(
            campaign, by=campaign.organizer, title="T", summary="x" * 141, category="food",
            location="Ghent",
        )  # fmt: skip
    assert excinfo.value.field == "summary"
    assert Campaign.objects.get(pk=campaign.pk).summary == "Short."


# --- someone else's campaign --------------------------------------------------------------------
def test_editing_someone_elses_campaign_is_not_permitted(member):
    campaign = CampaignFactory(goal_minor=500_000)
    reward = RewardTierFactory(campaign=campaign)
    attempts = [
        lambda: services.update_basics(
            campaign, by=member, title="Mine now", summary="", category="food", location=""
        ),
        lambda: services.update_story(campaign, by=member, story="Mine"),
        lambda: services.update_funding(
            campaign,
            by=member,
            goal_minor=1,
            currency="EUR",
            funding_model="flexible",
            duration_days=5,
            end_date=None,
        ),  # fmt: skip
        lambda: services.save_reward(
            campaign, by=member, title="x", description="", minimum_minor=1_000
        ),
        lambda: services.delete_reward(reward, by=member),
        lambda: services.save_budget_item(campaign, by=member, label="x", amount_minor=100),
        lambda: services.save_stretch_goal(
            campaign, by=member, amount_minor=900_000, description="x"
        ),
        lambda: services.set_allow_no_reward(campaign, by=member, allowed=False),
        lambda: services.submit_for_review(campaign, by=member),
        lambda: services.invite_collaborator(campaign, by=member, email="x@example.org"),
        lambda: services.cancel(campaign, by=member),
    ]
    for attempt in attempts:
        with pytest.raises(NotPermitted):
            attempt()
    stored = Campaign.objects.get(pk=campaign.pk)
    assert (stored.title, stored.goal_minor, stored.status) == (
        campaign.title,
        500_000,
        Status.DRAFT,
    )
    assert RewardTier.objects.filter(pk=reward.pk).exists()


def test_a_reward_of_another_campaign_cannot_be_edited_through_mine():
    mine = CampaignFactory()
    theirs = RewardTierFactory()
    with pytest.raises(NotPermitted):
        services.save_reward(
            mine, theirs, by=mine.organizer, title="x", description="", minimum_minor=1_000
        )


# --- terms frozen once submitted / live ---------------------------------------------------------
@pytest.mark.parametrize(
    "traits,message",
    [
        ({"approved": True}, "submitted for review"),
        ({"live": True}, "cannot change once a campaign is live"),
    ],
)
def test_money_terms_are_frozen_after_submission(traits, message):
    campaign = CampaignFactory(**traits)
    with pytest.raises(DomainError, match=message):
        funding(campaign, goal_minor=900_000, currency="EUR", funding_model="flexible")
    with pytest.raises(DomainError, match=message):
        services.save_budget_item(
            campaign, by=campaign.organizer, label="Late item", amount_minor=1_000
        )
    stored = Campaign.objects.get(pk=campaign.pk)
    assert (stored.goal_minor, stored.funding_model) == (500_000, "all_or_nothing")
    assert not stored.budget_items.exists()


def test_a_live_campaign_keeps_its_rewards_terms_but_takes_new_words_and_tiers():
    campaign = CampaignFactory(live=True)
    reward = RewardTierFactory(campaign=campaign, minimum_minor=2_000, quantity_limit=10)
    with pytest.raises(DomainError, match="only a reward's description"):
        services.save_reward(
            campaign, reward, by=campaign.organizer, title=reward.title, description="New",
            minimum_minor=1_000, quantity_limit=10,
        )  # fmt: skip
    services.save_reward(
        campaign, reward, by=campaign.organizer, title=reward.title, description="New words",
        minimum_minor=2_000, quantity_limit=10,
    )  # fmt: skip
    reward.refresh_from_db()
    assert (reward.description, reward.minimum_minor) == ("New words", 2_000)
    services.save_reward(
        campaign, by=campaign.organizer, title="Late tier", description="", minimum_minor=5_000
    )
    assert campaign.rewards.count() == 2
    with pytest.raises(DomainError, match="cannot be removed"):
        services.delete_reward(reward, by=campaign.organizer)
    # The story, the cover and stretch goals still change while live.
    services.update_story(
        campaign, by=campaign.organizer, story="Updated story", cover=png_upload()
    )
    services.save_stretch_goal(
        campaign, by=campaign.organizer, amount_minor=900_000, description="A bench"
    )
    stored = Campaign.objects.get(pk=campaign.pk)
    assert stored.story == "Updated story" and stored.cover


def test_nothing_is_editable_in_review_or_after_it_ends():
    for campaign in (
        CampaignFactory(in_review=True),
        CampaignFactory(status=Status.CANCELLED),
        CampaignFactory(
            live=True,
            launched_at=timezone.now() - datetime.timedelta(days=31),
            deadline=timezone.now() - datetime.timedelta(days=1),
        ),
    ):
        with pytest.raises(DomainError, match="can no longer be edited"):
            services.update_story(campaign, by=campaign.organizer, story="Changed")
        assert Campaign.objects.get(pk=campaign.pk).story != "Changed"


def test_allow_no_reward_setting():
    campaign = CampaignFactory(allow_no_reward=True)
    services.set_allow_no_reward(campaign, by=campaign.organizer, allowed=False)
    assert Campaign.objects.get(pk=campaign.pk).allow_no_reward is False
    cancelled = CampaignFactory(status=Status.CANCELLED)
    with pytest.raises(DomainError):
        services.set_allow_no_reward(cancelled, by=cancelled.organizer, allowed=False)


def test_changing_the_currency_with_amounts_in_the_old_one_is_refused():
    campaign = CampaignFactory(goal_minor=500_000)
    StretchGoalFactory(campaign=campaign, amount_minor=700_000)
    with pytest.raises(DomainError, match="currency") as excinfo:
        funding(campaign, currency="USD")
    assert excinfo.value.field == "currency"


# --- team ---------------------------------------------------------------------------------------
def test_invite_accept_and_remove_a_co_organizer(django_capture_on_commit_callbacks, celery_eager):
    campaign = CampaignFactory()
    owner = campaign.organizer
    friend = MemberFactory(email="friend@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        invitation = services.invite_collaborator(campaign, by=owner, email=" Friend@Example.org ")
    assert invitation.email == "friend@example.org"
    (message,) = mail.outbox
    assert message.to == ["friend@example.org"]
    assert campaign.title in message.subject
    assert f"http://localhost:8000/invitations/{invitation.token}/" in message.body

    assert not services.can_edit(campaign, friend)
    services.accept_invitation(invitation.token, member=friend)
    assert services.can_edit(campaign, friend)
    assert audit_rows(campaign, action="collaborator_joined", actor=friend).count() == 1

    with pytest.raises(NotPermitted):  # co-organizers edit; only the owner manages the team
        services.invite_collaborator(campaign, by=friend, email="third@example.org")
    services.remove_collaborator(invitation, by=owner)
    assert not services.can_edit(campaign, friend)


def test_invitations_refuse_duplicates_self_and_the_wrong_account():
    campaign = CampaignFactory()
    owner = campaign.organizer
    with pytest.raises(DomainError, match="already organize") as excinfo:
        services.invite_collaborator(campaign, by=owner, email=owner.email.upper())
    assert excinfo.value.field == "email"
    invitation = services.invite_collaborator(campaign, by=owner, email="a@example.org")
    with pytest.raises(DomainError, match="already been invited"):
        services.invite_collaborator(campaign, by=owner, email="a@example.org")
    with pytest.raises(NotPermitted):
        services.accept_invitation(invitation.token, member=MemberFactory())
    invitation.refresh_from_db()
    assert invitation.accepted_at is None
