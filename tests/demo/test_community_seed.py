"""The demo's community (demo.community), seeded against the Stripe stand-in like the rest of the
demo: updates (one supporters-only, one turning public later), comments from supporters and
passers-by with the team's replies, a hidden comment (audited), an open report, follows (also of
the approved campaign), rewards marked sent, pledges with where they came from; all through the
services, and a second run makes nothing.

Seeded once for the module with real commits (as ./bin/dev does), flushed at the end.
"""

import datetime as dt
import io

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core import mail
from django.core.management import call_command
from django.test.utils import override_settings
from django.utils import timezone

from campaigns.models import Campaign
from community import comments as comment_services
from community import dashboard
from community import reports as report_services
from community import updates as update_services
from community.audience import is_supporter, team_ids
from community.models import Comment, Follow, Report, Update
from core.models import AuditEvent, OutboundEmail
from demo import community as demo_community
from demo.community import COMMUNITY, LAUNCHING_SOON, PASSER_BY, SUPPORTER
from members.models import Member
from pledges.models import Pledge
from pledges.referrals import member_id_for
from tests.stripe_fixtures import STANDIN_PUBLISHABLE_KEY, STANDIN_SECRET_KEY

pytestmark = pytest.mark.django_db

FAST_HASHING = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MODELS = [Update, Comment, Report, Follow, Pledge, AuditEvent, OutboundEmail]
SLUGS = [plan.slug for plan in COMMUNITY]
LIVE = ["repair-cafe-on-wheels", "rooftop-garden-sint-amandsberg", "leuven-bike-library"]
FUNDED = "liege-parish-hall-solar"


def _seed():
    out = io.StringIO()
    with override_settings(PASSWORD_HASHERS=FAST_HASHING):
        call_command("seed_demo", stdout=out)
    return out.getvalue()


def _counts():
    return {model.__name__: model.objects.count() for model in MODELS}


@pytest.fixture(scope="module")
def standin_for_module(stripe_standin):
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
    """Seed once, committed; what the command printed and how many emails reached a backend
    that keeps them (the test settings' locmem outbox)."""
    with django_db_blocker.unblock():
        try:
            mail.outbox = []
            output = _seed()
            yield {"output": output, "delivered": len(mail.outbox)}
        finally:
            call_command("flush", interactive=False, verbosity=0)


def _campaign(slug):
    return Campaign.objects.select_related("organizer").get(slug=slug)


# --- the plan itself ------------------------------------------------------------------------------
@pytest.mark.django_db(databases=[])
def test_the_plan_tells_a_consistent_story():
    for plan in COMMUNITY:
        assert 2 <= len(plan.updates) <= 4, plan.slug
        bodies = [c.body for c in plan.comments]
        assert len(set(bodies)) == len(bodies), plan.slug  # comments are found by their text
        assert len({u.title for u in plan.updates}) == len(plan.updates)
        for index, comment in enumerate(plan.comments):
            if comment.reply_to is not None:
                parent = plan.comments[comment.reply_to]
                assert comment.reply_to < index
                gap_minutes = (comment.day - parent.day) * 24 * 60
                assert gap_minutes > demo_community.COMMENT_MINUTES  # still after it

                assert parent.on_update == comment.on_update and not parent.hidden_for
            if comment.on_update is not None:
                update = plan.updates[comment.on_update]
                assert update.day < comment.day, comment.body
                if update.audience == Update.Audience.SUPPORTERS:
                    assert comment.by != PASSER_BY  # passers-by cannot read it
            assert not (comment.reported_as and comment.by == SUPPORTER)  # reported by one


# --- what seeding made ----------------------------------------------------------------------------
def test_the_command_says_what_the_community_got(seeded):
    assert "community: 12 updates" in seeded["output"]
    assert "(1 hidden, 1 reported)" in seeded["output"]


def test_organizers_posted_updates_one_supporters_only_one_public_later(seeded):
    now = timezone.now()
    for slug in SLUGS:
        campaign = _campaign(slug)
        updates = list(campaign.updates.order_by("number"))
        assert 2 <= len(updates) <= 4, slug
        assert [u.number for u in updates] == list(range(1, len(updates) + 1))
        team = team_ids(campaign)
        for update in updates:
            assert update.author_id in team
            assert campaign.launched_at < update.published_at < now, slug
            assert any(tag in update.body_html for tag in ("<ul>", "<ol>", "<a ")), update.title
            assert update.emailed_at is not None  # fanned out once, at posting
            assert AuditEvent.objects.filter(
                action="update:posted", target_id=str(update.pk)
            ).exists()
        times = [u.published_at for u in updates]
        assert times == sorted(times)
    supporters_only = Update.objects.filter(audience=Update.Audience.SUPPORTERS)
    assert supporters_only.filter(public_from__isnull=True).exists()
    later = supporters_only.get(public_from__isnull=False)
    assert later.public_from > now and not later.is_public
    # Someone who does not support it reads the other updates, not this one.
    visible = update_services.visible_updates(later.campaign, AnonymousUser())
    assert later not in visible and visible.count() == later.campaign.updates.count() - 1
    # The co-organizer posted one of the Repair Café's.
    repair = _campaign("repair-cafe-on-wheels")
    assert repair.updates.exclude(author=repair.organizer).exists()


def test_updates_were_emailed_to_their_audience_into_the_outbox_not_a_real_backend(seeded):
    later = Update.objects.get(public_from__isnull=False)
    emailed = OutboundEmail.objects.filter(key__startswith=f"update:{later.pk}:member:")
    supporters = Pledge.objects.filter(campaign=later.campaign, status="active").count()
    assert emailed.count() == supporters  # supporters only: its followers wait for the date
    # Seeding's email went to the dummy backend (demo.seeding.quiet_side_effects): none here.
    assert seeded["delivered"] == 0
    assert OutboundEmail.objects.filter(status=OutboundEmail.Status.QUEUED).count() == 0


def test_comments_have_replies_and_both_badges(seeded):
    for slug in SLUGS:
        campaign = _campaign(slug)
        thread = comment_services.comment_thread(campaign, AnonymousUser())
        everyone = [c for top in thread.comments for c in (top, *top.thread_replies)]
        badges = {c.badge for c in everyone}
        assert {"organizer", "supporter", ""} <= badges, slug  # passers-by have no badge
        replies = [r for top in thread.comments for r in top.thread_replies]
        assert replies and all(r.badge == "organizer" for r in replies), slug
        for comment in everyone:
            assert campaign.launched_at < comment.created_at < timezone.now()
            if comment.parent_id:
                assert comment.created_at > comment.parent.created_at
    # Comments in an update's thread, also on a supporters-only update (by supporters).
    on_updates = Comment.objects.filter(update__isnull=False).select_related("update")
    assert on_updates.filter(update__audience=Update.Audience.SUPPORTERS).exists()
    for comment in on_updates.filter(update__audience=Update.Audience.SUPPORTERS):
        campaign = comment.campaign
        assert comment.author_id in team_ids(campaign) or is_supporter(comment.author, campaign)
        assert comment.created_at > comment.update.published_at


def test_comments_are_spread_over_members(seeded):
    # No member said more than a few things: the throttle never had a reason to refuse one.
    for slug in SLUGS:
        campaign = _campaign(slug)
        authors = list(
            Comment.objects.filter(campaign=campaign)
            .exclude(author_id__in=team_ids(campaign))
            .values_list("author_id", flat=True)
        )
        assert len(set(authors)) >= len(authors) - 2, slug


def test_the_organizer_hid_a_comment_with_a_reason_and_it_is_audited(seeded):
    hidden = Comment.objects.select_related("campaign").get(hidden_at__isnull=False)
    campaign = hidden.campaign
    assert hidden.hidden_by == campaign.organizer and hidden.hidden_reason
    assert hidden.hidden_at > hidden.created_at
    event = AuditEvent.objects.get(action="comment:hidden", target_id=str(hidden.pk))
    assert event.actor == campaign.organizer and event.note == hidden.hidden_reason
    thread = comment_services.comment_thread(campaign, AnonymousUser())
    shown = [c for c in thread.comments if c.pk == hidden.pk]
    assert shown and shown[0].hidden_by_team


def test_a_members_report_waits_in_the_admins_queue(seeded):
    queue = list(report_services.open_reports())
    assert len(queue) == 1
    report = queue[0]
    assert report.comment is not None and report.reason == Report.Reason.SPAM
    assert report.reporter != report.comment.author
    assert is_supporter(report.reporter, report.campaign)
    assert report.created_at > report.comment.created_at


def test_members_follow_live_campaigns_and_the_one_launching_soon(seeded):
    for slug in LIVE:
        assert Follow.objects.filter(campaign__slug=slug).count() >= 3, slug
    soon = _campaign(LAUNCHING_SOON)
    assert soon.status == Campaign.Status.APPROVED
    followers = Follow.objects.filter(campaign=soon)
    assert followers.count() == len(demo_community.LAUNCHING_SOON_FOLLOWERS)
    assert followers.filter(member__email="supporter@groundswell.local").exists()
    # Nobody was told of its launch yet (it has not launched); live ones need no launch email.
    assert not followers.filter(launch_emailed_at__isnull=False).exists()
    assert not Follow.objects.filter(
        campaign__status=Campaign.Status.LIVE, launch_emailed_at__isnull=True
    ).exists()
    # The campaign ending within a day has its 48-hour reminders queued (into the outbox).
    bikes = _campaign("leuven-bike-library")
    reminders = OutboundEmail.objects.filter(key__startswith=f"campaign:{bikes.pk}:reminder:")
    assert reminders.exists()
    assert not Follow.objects.filter(campaign=bikes, reminder_emailed_at__isnull=True).exists()


def test_pledges_came_from_share_links_and_the_dashboard_lists_referrers(seeded):
    for slug in ("repair-cafe-on-wheels", FUNDED):
        campaign = _campaign(slug)
        board = dashboard.dashboard(campaign)
        sources = {row["referral_source"] for row in board.referrers}
        assert {"facebook", "whatsapp", "email"} <= sources, (slug, sources)
        assert any(row["direct"] for row in board.referrers)
        codes = {row["referral_code"] for row in board.referrers if row["referral_code"]}
        assert codes, slug
        supporters = set(campaign.pledges.values_list("supporter_id", flat=True))
        for code in codes:  # codes of the organizer or of supporters who shared it
            assert member_id_for(code) in supporters | {campaign.organizer_id}
        for pledge in campaign.pledges.exclude(referral_code=""):
            assert member_id_for(pledge.referral_code) != pledge.supporter_id
            assert pledge.referral_source  # a share link always says where
    consenting = Pledge.objects.filter(share_email_with_organizer=True)
    assert consenting.count() >= 10
    assert not consenting.filter(reward__isnull=True).exists()


def test_the_funded_campaigns_rewards_are_marked_sent_with_tracking(seeded):
    campaign = _campaign(FUNDED)
    sent = list(campaign.pledges.filter(reward_sent_at__isnull=False).select_related("reward"))
    tracking = {"Sunny thank-you": "bpost ", "Co-op share": "Share register no. "}
    assert sorted(p.reward.title for p in sent) == ["Co-op share"] * 5 + ["Sunny thank-you"] * 4
    for pledge in sent:
        assert pledge.reward_tracking.startswith(tracking[pledge.reward.title])
        assert campaign.deadline < pledge.reward_sent_at < timezone.now()
        assert AuditEvent.objects.filter(
            action="reward:sent", target_id=str(pledge.pk), actor=campaign.organizer
        ).exists()
    # Never a pledge whose money was not collected (the refunded one included).
    assert all(p.status == Pledge.Status.COLLECTED for p in sent)
    # Some are still to send: the fulfilment page has work left.
    assert campaign.pledges.filter(
        status=Pledge.Status.COLLECTED, reward__isnull=False, reward_sent_at__isnull=True
    ).exists()


def test_seeding_again_makes_nothing_and_keeps_the_story_in_order(seeded):
    before = _counts()
    # Two weeks later: the live campaigns' dates are far behind (demo.seeding moves them on,
    # and the community's times move with them).
    later = timezone.now() - dt.timedelta(days=14)
    for campaign in Campaign.objects.filter(slug__in=LIVE):
        Campaign.objects.filter(pk=campaign.pk).update(
            launched_at=campaign.launched_at - dt.timedelta(days=14),
            deadline=max(later, campaign.deadline - dt.timedelta(days=14)),
        )
    output = _seed()

    assert _counts() == before
    assert "community: 0 updates, 0 comments (0 hidden, 0 reported), 0 follows" in output
    now = timezone.now()
    for slug in LIVE:
        campaign = _campaign(slug)
        for update in campaign.updates.all():
            assert campaign.launched_at < update.published_at < now, slug
        for comment in campaign.comments.select_related("parent"):
            assert campaign.launched_at < comment.created_at < now, slug
            if comment.parent_id:
                assert comment.created_at > comment.parent.created_at
            if comment.hidden_at:
                assert comment.created_at < comment.hidden_at < now
        for report in Report.objects.filter(campaign=campaign).select_related("comment"):
            assert report.comment.created_at < report.created_at < now


def test_what_moderators_did_is_not_undone_by_seeding_again(seeded):
    admin = Member.objects.get(email="admin@groundswell.local")
    report = Report.objects.get(status=Report.Status.OPEN)
    report_services.resolve_report(report, by=admin, outcome=Report.Status.DISMISSED, note="Fine.")
    hidden = Comment.objects.get(hidden_at__isnull=False)
    comment_services.unhide_comment(hidden, by=admin, note="It was a joke.")
    before = _counts()

    _seed()

    assert _counts() == before
    assert not Report.objects.filter(status=Report.Status.OPEN).exists()
    hidden.refresh_from_db()
    assert not hidden.is_hidden
