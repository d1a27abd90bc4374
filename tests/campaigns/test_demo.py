"""The quick start's demo data: every campaign state, sane numbers, covers stored, idempotent."""

import datetime as dt
import io

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import transaction
from django.db.models import Count
from django.test.utils import override_settings
from django.utils import timezone
from PIL import Image

from campaigns import selectors
from campaigns.demo import CAMPAIGNS, DEMO_SUPPORTERS
from campaigns.models import MAX_DURATION_DAYS, BudgetItem, Campaign, RewardTier, StretchGoal
from core.models import AuditEvent
from members.models import Member
from pledges.models import Pledge

pytestmark = pytest.mark.django_db

Status = Campaign.Status
MODELS = [Campaign, RewardTier, BudgetItem, StretchGoal, Pledge, Member, AuditEvent]


def _seed():
    call_command("seed_demo", stdout=io.StringIO())


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """Seed once for the whole module (seeding draws 15 covers), rolled back at the end."""
    fast_hashing = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with (
        django_db_blocker.unblock(),
        override_settings(PASSWORD_HASHERS=fast_hashing),
        transaction.atomic(),
    ):
        _seed()
        yield
        transaction.set_rollback(True)


def _counts():
    return {model.__name__: model.objects.count() for model in MODELS}


def test_seeding_again_creates_nothing_and_keeps_live_campaigns_live(seeded):
    before = _counts()
    assert before["Campaign"] == len(CAMPAIGNS) >= 12
    assert before["Member"] == 3 + len(DEMO_SUPPORTERS)
    # A week later the "ends within a day" campaign would have ended; seeding again moves the
    # live campaigns' dates on, and creates nothing.
    Campaign.objects.filter(status=Status.LIVE).update(
        launched_at=timezone.now() - dt.timedelta(days=40),
        deadline=timezone.now() - dt.timedelta(days=1),
    )
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        _seed()

    assert _counts() == before
    ending = Campaign.objects.get(slug="leuven-bike-library")
    assert timezone.now() < ending.deadline < timezone.now() + dt.timedelta(days=1)
    assert all(c.is_live for c in Campaign.objects.filter(status=Status.LIVE))


def test_every_state_of_the_lifecycle_is_there(seeded):
    statuses = set(Campaign.objects.values_list("status", flat=True))
    # Settling lasts seconds in real life (the sweeper moves it on): no demo campaign sits there.
    assert statuses == set(Status.values) - {Status.SETTLING}
    assert Campaign.objects.filter(status=Status.DRAFT).exclude(review_note="").exists()
    assert {c.funding_model for c in Campaign.objects.all()} == {"all_or_nothing", "flexible"}
    assert Campaign.objects.values("category").distinct().count() >= 8
    assert Campaign.objects.values("location").distinct().count() >= 6
    # Every status change left an audit event.
    for campaign in Campaign.objects.exclude(status=Status.DRAFT, review_note=""):
        assert AuditEvent.objects.filter(
            target_id=str(campaign.pk), action=f"status:{campaign.status}"
        ).exists(), campaign.slug


def test_review_queue_has_two_campaigns_submitted_on_different_days(seeded):
    waiting = list(Campaign.objects.filter(status=Status.IN_REVIEW).order_by("submitted_at"))
    assert len(waiting) == 2
    assert waiting[1].submitted_at - waiting[0].submitted_at > dt.timedelta(days=1)


def test_covers_and_thumbnails_exist_in_storage(seeded):
    for campaign in Campaign.objects.all():
        for image in (campaign.cover, campaign.cover_large, campaign.cover_card):
            assert image.name and default_storage.exists(image.name), campaign.slug
        with default_storage.open(campaign.cover_card.name) as handle:
            assert Image.open(handle).size == (640, 360)


def test_live_campaigns_have_consistent_dates_and_progress(seeded):
    now = timezone.now()
    live = list(selectors.with_totals(Campaign.objects.live()))
    assert len(live) >= 5
    for campaign in live:
        assert campaign.launched_at < now < campaign.deadline, campaign.slug
        assert campaign.deadline - campaign.launched_at <= dt.timedelta(
            days=MAX_DURATION_DAYS, hours=24
        )
        assert campaign.supporters_count > 0
    progress = sorted(c.pledged_minor / c.goal_minor for c in live)
    assert progress[0] <= 0.1 and progress[-1] >= 1.3  # from barely started to overfunded
    assert any(c.deadline - now < dt.timedelta(days=1) for c in live)
    featured = list(Campaign.objects.filter(featured=True))
    assert 2 <= len(featured) <= 3 and all(c.status == Status.LIVE for c in featured)


def test_ended_campaigns_are_in_the_past(seeded):
    now = timezone.now()
    for campaign in Campaign.objects.filter(status__in=[Status.FUNDED, Status.FAILED]):
        assert campaign.deadline < now and campaign.ended_at == campaign.deadline
    funded = selectors.with_totals(Campaign.objects.filter(status=Status.FUNDED)).get()
    assert funded.pledged_minor >= funded.goal_minor
    # Pledges of a failed or cancelled campaign are released, never charged.
    assert not Pledge.objects.filter(
        campaign__status__in=[Status.FAILED, Status.CANCELLED],
        status__in=Pledge.COUNTED_STATUSES,
    ).exists()


def test_pledges_respect_the_money_rules(seeded):
    pledges = Pledge.objects.select_related("campaign", "reward")
    assert pledges.filter(status=Pledge.Status.ACTIVE).count() > 50
    for pledge in pledges:
        assert pledge.currency == pledge.campaign.currency
        assert pledge.supporter_id != pledge.campaign.organizer_id
        if pledge.reward:
            assert pledge.reward.campaign_id == pledge.campaign_id
            assert pledge.amount_minor >= pledge.reward.minimum_minor
    open_per_member = (
        Pledge.objects.filter(status__in=Pledge.OPEN_STATUSES)
        .values("campaign", "supporter")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    assert not open_per_member.exists()


def test_limited_rewards_never_oversell_and_one_is_sold_out(seeded):
    limited = selectors.rewards_with_stock(RewardTier.objects.filter(quantity_limit__isnull=False))
    assert all(r.claimed <= r.quantity_limit for r in limited)
    assert any(r.claimed == r.quantity_limit for r in limited)


def test_a_live_campaigns_page_data_is_sane(seeded):
    campaign = selectors.campaign_for_page("rooftop-garden-sint-amandsberg", AnonymousUser())

    assert campaign.is_live and campaign.cover_large
    assert campaign.pledged_minor > campaign.goal_minor
    assert campaign.supporters_count == campaign.pledges.filter(status="active").count()
    rewards = list(campaign.rewards.all())
    assert rewards and all(r.claimed <= (r.quantity_limit or r.claimed) for r in rewards)
    required = sum(i.amount_minor for i in campaign.budget_items.all() if i.required)
    assert 0 < required <= campaign.goal_minor
    assert all(g.amount_minor > campaign.goal_minor for g in campaign.stretch_goals.all())
    assert "<script" not in campaign.story_html and "<h2>" in campaign.story_html


def test_drafts_stay_hidden_from_the_public(seeded):
    visible = Campaign.objects.visible_to(AnonymousUser())
    assert not visible.filter(
        status__in=[Status.DRAFT, Status.IN_REVIEW, Status.APPROVED, Status.REJECTED]
    ).exists()
