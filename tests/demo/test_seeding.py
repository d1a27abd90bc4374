"""The quick start's demo data, seeded against the Stripe stand-in: every campaign state, sane
numbers, covers stored, pledges on cards saved at the provider, ended campaigns settled by the
real settlement (attempts, ledger), idempotent.

Seeded once for the module with real commits (as ./bin/dev does: the services' after-commit
work runs), and flushed at the end.
"""

import datetime as dt
import io

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db.models import Count
from django.test.utils import override_settings
from django.utils import timezone
from PIL import Image

from campaigns import selectors
from campaigns.models import MAX_DURATION_DAYS, BudgetItem, Campaign, RewardTier, StretchGoal
from core.models import AuditEvent, OutboundEmail
from demo.specs import CAMPAIGNS, DEMO_SUPPORTERS, ENDING_SOON
from ledger import selectors as ledger_selectors
from ledger.models import Transaction
from members.models import Member
from payments.models import StripeCustomer
from payouts.models import Payout, PayoutConcern, Refund
from pledges.models import PaymentAttempt, Pledge
from tests import localstripe_server
from tests.stripe_fixtures import STANDIN_PUBLISHABLE_KEY, STANDIN_SECRET_KEY

pytestmark = pytest.mark.django_db

Status = Campaign.Status
MODELS = [
    Campaign,
    RewardTier,
    BudgetItem,
    StretchGoal,
    Pledge,
    PaymentAttempt,
    Member,
    StripeCustomer,
    AuditEvent,
    OutboundEmail,
    Transaction,
    Payout,
    PayoutConcern,
    Refund,
]
FAST_HASHING = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _seed():
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


@pytest.fixture(scope="module")
def standin_for_module(stripe_standin):
    """standin_settings for a whole module: the STRIPE_* settings on the session's stand-in."""
    stripe_standin.reset()
    with override_settings(
        STRIPE_API_BASE=stripe_standin.base_url,
        STRIPE_SECRET_KEY=STANDIN_SECRET_KEY,
        STRIPE_PUBLISHABLE_KEY=STANDIN_PUBLISHABLE_KEY,
        STRIPE_JS_URL=f"{stripe_standin.base_url}/js.stripe.com/v3/",
    ):
        yield stripe_standin


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker, standin_for_module):
    """Seed once, committed (seeding draws 16 covers and saves 195 cards), flushed at the end."""
    with django_db_blocker.unblock(), override_settings(PASSWORD_HASHERS=FAST_HASHING):
        try:
            yield _seed()
        finally:
            call_command("flush", interactive=False, verbosity=0)


def _counts():
    return {model.__name__: model.objects.count() for model in MODELS}


def test_the_command_says_what_it_made(seeded):
    assert f"campaigns: {len(CAMPAIGNS) + 1} created" in seeded
    assert "supporter@groundswell.local  /  groundswell-demo" in seeded
    assert "treasurer@groundswell.local  /  groundswell-demo" in seeded
    assert "manage.py demo_totp treasurer" in seeded
    assert f"/c/{ENDING_SOON.slug}/" in seeded


def test_seeding_again_creates_nothing_and_keeps_live_campaigns_live(seeded):
    before = _counts()
    assert before["Campaign"] == len(CAMPAIGNS) + 1 >= 13
    assert before["Member"] == 4 + len(DEMO_SUPPORTERS)  # with the treasurer (demo.staff)
    # A week later the "ends within a day" campaign would have ended; seeding again moves the
    # live campaigns' dates on, and creates nothing (the two-minute one is still live).
    Campaign.objects.filter(status=Status.LIVE).exclude(slug=ENDING_SOON.slug).update(
        launched_at=timezone.now() - dt.timedelta(days=40),
        deadline=timezone.now() - dt.timedelta(days=1),
    )
    with override_settings(PASSWORD_HASHERS=FAST_HASHING):
        output = _seed()

    assert _counts() == before
    assert "(still live)" in output
    ending = Campaign.objects.get(slug="leuven-bike-library")
    assert timezone.now() < ending.deadline < timezone.now() + dt.timedelta(days=1)
    assert all(c.is_live for c in Campaign.objects.filter(status=Status.LIVE))
    # The pledges' times moved with their campaigns.
    for campaign in Campaign.objects.filter(status=Status.LIVE):
        for pledge in campaign.pledges.all():
            assert campaign.launched_at <= pledge.activated_at <= timezone.now(), campaign.slug


def test_once_the_two_minute_campaign_has_ended_seeding_makes_a_new_one(seeded):
    first = Campaign.objects.get(slug=ENDING_SOON.slug)
    # Its deadline passed while ./bin/dev was not running: beat will settle it when it runs.
    Campaign.objects.filter(pk=first.pk).update(deadline=timezone.now() - dt.timedelta(seconds=1))
    with override_settings(PASSWORD_HASHERS=FAST_HASHING):
        output = _seed()

    assert "(new)" in output
    second = Campaign.objects.get(slug=f"{ENDING_SOON.slug}-2")
    left = second.deadline - timezone.now()
    assert dt.timedelta(seconds=90) < left <= dt.timedelta(minutes=2)
    assert second.pledges.filter(status=Pledge.Status.ACTIVE).count() == 3
    first.refresh_from_db()
    assert first.status == Status.LIVE  # left to the settlement sweep, untouched
    assert first.pledges.filter(status=Pledge.Status.ACTIVE).count() == 3


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
        assert campaign.created_at < campaign.submitted_at < campaign.launched_at
    progress = sorted(c.pledged_minor / c.goal_minor for c in live)
    assert progress[0] <= 0.1 and progress[-1] >= 1.3  # from barely started to overfunded
    assert any(c.deadline - now < dt.timedelta(days=1) for c in live)
    featured = list(Campaign.objects.filter(featured=True))
    assert 2 <= len(featured) <= 3 and all(c.status == Status.LIVE for c in featured)


def test_ended_campaigns_are_in_the_past_and_settled(seeded):
    now = timezone.now()
    ended = Campaign.objects.filter(status__in=[Status.FUNDED, Status.FAILED])
    assert ended.count() == 2
    for campaign in ended:
        assert campaign.deadline < now and campaign.ended_at == campaign.deadline
        assert campaign.pledged_at_deadline_minor == sum(
            campaign.pledges.values_list("amount_minor", flat=True)
        )
        # Settled when the demo was made, not back-dated (the module docstring of demo.seeding).
        assert now - dt.timedelta(minutes=10) < campaign.settled_at <= now
        for pledge in campaign.pledges.all():
            assert campaign.launched_at < pledge.activated_at < campaign.deadline
    funded = selectors.with_totals(Campaign.objects.filter(status=Status.FUNDED)).get()
    assert funded.pledged_minor >= funded.goal_minor
    # Pledges of a failed or cancelled campaign are released, never charged.
    assert not Pledge.objects.filter(
        campaign__status__in=[Status.FAILED, Status.CANCELLED],
        status__in=Pledge.COUNTED_STATUSES,
    ).exists()
    assert not PaymentAttempt.objects.filter(
        pledge__campaign__status__in=[Status.FAILED, Status.CANCELLED]
    ).exists()


def test_collected_pledges_were_charged_once_and_are_in_the_ledger(seeded):
    # Collected, or collected and then refunded (demo.payouts refunds one).
    collected = Pledge.objects.filter(status__in=Pledge.TAKEN_STATUSES)
    assert collected.count() > 20
    assert collected.filter(status=Pledge.Status.REFUNDED).count() == 1
    assert set(collected.values_list("campaign__status", flat=True)) == {Status.FUNDED}
    contributed = set(ledger_selectors.contributed_pledge_ids())
    for pledge in collected.prefetch_related("attempts"):
        attempts = list(pledge.attempts.all())
        assert [a.status for a in attempts] == [PaymentAttempt.Status.SUCCEEDED], pledge.pk
        assert attempts[0].amount_minor == pledge.amount_minor
        assert attempts[0].payment_intent_id and pledge.collected_at
        assert pledge.pk in contributed
    funded = Campaign.objects.get(status=Status.FUNDED)
    assert ledger_selectors.collected_minor(funded.pk) == sum(
        collected.values_list("amount_minor", flat=True)
    )


def test_the_ledger_verifies(seeded):
    out = io.StringIO()
    call_command("verify_ledger", stdout=out, stderr=out)  # raises on a violation
    assert "no violations" in out.getvalue()


def test_every_open_pledge_has_a_card_saved_at_the_provider(seeded, standin_for_module):
    open_pledges = Pledge.objects.filter(status__in=[Pledge.Status.ACTIVE, Pledge.Status.PENDING])
    assert not open_pledges.filter(status=Pledge.Status.PENDING).exists()
    customers = dict(StripeCustomer.objects.values_list("member_id", "customer_id"))
    for pledge in open_pledges:
        assert pledge.payment_method_id and pledge.supporter_id in customers, pledge.pk
    # The provider has each card on the supporter's customer.
    for pledge in open_pledges:
        status, card = localstripe_server.api(
            standin_for_module.base_url,
            "GET",
            f"/v1/payment_methods/{pledge.payment_method_id}",
            secret_key=STANDIN_SECRET_KEY,
        )
        assert status == 200 and card["customer"] == customers[pledge.supporter_id], card


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


def test_the_home_page_shows_the_demo(seeded, client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"Repair Caf" in response.content
    assert ENDING_SOON.title.encode() in response.content  # it ends soonest


def test_the_funded_campaign_has_its_payouts_refund_and_concern(seeded):
    from payouts.models import PayoutAccount
    from payouts.selectors import payout_breakdown

    funded = Campaign.objects.get(status=Status.FUNDED)
    account = PayoutAccount.objects.get(member=funded.organizer)
    assert account.is_verified and account.stripe_account_id.startswith("acct_")
    paid, requested = funded.payouts.order_by("requested_at")
    # Paid: window waived by the admin, approved by the treasurer (four eyes), transferred.
    assert paid.status == Payout.Status.PAID and paid.transfer_id.startswith("tr_")
    assert paid.window_waived_by.email == "admin@groundswell.local"
    assert paid.approved_by.email == "treasurer@groundswell.local"
    assert paid.receipts.count() == 1 and paid.allocations.count() == 2
    # In its review window, with a supporter's concern answered by the organizer.
    assert requested.status == Payout.Status.REQUESTED
    concern = PayoutConcern.objects.get(payout=requested)
    assert concern.answer and concern.answered_by == funded.organizer
    refund = Refund.objects.get()
    assert refund.status == Refund.Status.SUCCEEDED and refund.pledge.campaign == funded
    breakdown = payout_breakdown(funded)
    assert breakdown.paid_out == paid.amount_minor
    assert breakdown.refunds == refund.amount_minor
    assert breakdown.available == breakdown.held - requested.amount_minor
