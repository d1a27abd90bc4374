"""Follows: following and unfollowing (also before launch), the follow button on the campaign
page, and the follower sweep's launch email and deadline reminder, each sent once."""

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse
from django.utils import dateformat, timezone

from campaigns import page_cache
from campaigns import services as campaign_services
from campaigns.models import Campaign, Collaborator
from community import follows
from community.models import Follow
from community.notifications import Kind, set_preferences, unsubscribe_url
from core.errors import DomainError, NotPermitted
from core.models import OutboundEmail
from tests.factories import CampaignFactory, MemberFactory, PledgeFactory

pytestmark = pytest.mark.django_db

Status = Campaign.Status
HOURS = 48  # settings.DEADLINE_REMINDER_HOURS


def follow_url(campaign, name="follow"):
    return reverse(f"community:{name}", args=[campaign.slug])


def launch_keys():
    return sorted(
        OutboundEmail.objects.filter(template="campaign_launched").values_list("key", flat=True)
    )


def reminder_keys():
    return sorted(
        OutboundEmail.objects.filter(template="deadline_reminder").values_list("key", flat=True)
    )


def ending_in(hours, **kwargs):
    """A live campaign whose deadline is `hours` from now."""
    return CampaignFactory(
        live=True, deadline=timezone.now() + timedelta(hours=hours), goal_minor=10_000, **kwargs
    )


def followed_then_ending_in(hours, members, **kwargs):
    """A live campaign `members` followed a week before its reminder window, that now ends
    `hours` from now (the time passed)."""
    campaign = ending_in(hours + HOURS + 7 * 24, **kwargs)
    for member in members:
        follows.follow(campaign, by=member)
    Campaign.objects.filter(pk=campaign.pk).update(deadline=timezone.now() + timedelta(hours=hours))
    campaign.refresh_from_db()
    return campaign


# --- follow / unfollow ------------------------------------------------------------------------
def test_follow_and_unfollow_are_idempotent():
    campaign, member = CampaignFactory(live=True), MemberFactory()

    first = follows.follow(campaign, by=member)
    again = follows.follow(campaign, by=member)

    assert first.pk == again.pk
    assert Follow.objects.filter(member=member, campaign=campaign).count() == 1
    assert follows.unfollow(campaign, by=member) is True
    assert follows.unfollow(campaign, by=member) is False
    assert not Follow.objects.exists()


def test_following_an_approved_campaign_waits_for_its_launch_email():
    campaign = CampaignFactory(approved=True)
    followed = follows.follow(campaign, by=MemberFactory())
    assert followed.launch_emailed_at is None


@pytest.mark.parametrize("status", [Status.LIVE, Status.FUNDED])
def test_following_a_launched_campaign_needs_no_launch_email(status):
    campaign = CampaignFactory(live=True, status=status)
    followed = follows.follow(campaign, by=MemberFactory())
    assert followed.launch_emailed_at is not None


@pytest.mark.parametrize(
    "status", [Status.DRAFT, Status.IN_REVIEW, Status.REJECTED, Status.CANCELLED]
)
def test_campaigns_that_are_not_public_cannot_be_followed(client, status):
    campaign, member = CampaignFactory(status=status), MemberFactory()
    with pytest.raises(NotPermitted):
        follows.follow(campaign, by=member)
    with pytest.raises(NotPermitted):
        follows.unfollow(campaign, by=member)

    client.force_login(member)
    assert client.post(follow_url(campaign)).status_code == 404
    assert client.post(follow_url(campaign, "unfollow")).status_code == 404
    assert not Follow.objects.exists()


def test_a_follower_can_still_unfollow_a_cancelled_campaign():
    campaign, member = CampaignFactory(live=True), MemberFactory()
    follows.follow(campaign, by=member)
    Campaign.objects.filter(pk=campaign.pk).update(status=Status.CANCELLED)
    campaign.refresh_from_db()
    assert follows.unfollow(campaign, by=member) is True


def test_follow_and_unfollow_over_http_go_back_to_the_page(client):
    campaign, member = CampaignFactory(live=True), MemberFactory()
    client.force_login(member)

    response = client.post(follow_url(campaign))
    assert response.status_code == 302
    assert response["Location"] == campaign.get_absolute_url()
    assert client.post(follow_url(campaign)).status_code == 302  # twice: still one
    assert Follow.objects.filter(member=member, campaign=campaign).count() == 1

    settings_page = reverse("community:notification_settings")
    response = client.post(follow_url(campaign, "unfollow"), {"next": settings_page})
    assert response["Location"] == settings_page
    assert not Follow.objects.exists()
    # Another site as `next` is ignored.
    client.post(follow_url(campaign))
    response = client.post(follow_url(campaign, "unfollow"), {"next": "https://evil.example/"})
    assert response["Location"] == campaign.get_absolute_url()


def co_organizer_of(campaign):
    member = MemberFactory()
    Collaborator.objects.create(
        campaign=campaign,
        email=member.email,
        member=member,
        invited_by=campaign.organizer,
        accepted_at=timezone.now(),
    )
    return member


@pytest.mark.parametrize("trait", ["approved", "live"])
def test_the_team_cannot_follow_its_own_campaign(client, trait):
    campaign = CampaignFactory(**{trait: True})
    for member in (campaign.organizer, co_organizer_of(campaign)):
        with pytest.raises(DomainError, match="on this campaign's team"):
            follows.follow(campaign, by=member)
    client.force_login(campaign.organizer)
    response = client.post(follow_url(campaign), follow=True)
    assert response.redirect_chain[0] == (campaign.get_absolute_url(), 302)
    assert "so you cannot follow it" in response.content.decode()
    assert not Follow.objects.exists()


def test_follow_needs_a_post_and_a_member(client):
    campaign = CampaignFactory(live=True)
    response = client.post(follow_url(campaign))
    assert response.status_code == 302 and reverse("account_login") in response["Location"]
    client.force_login(MemberFactory())
    assert client.get(follow_url(campaign)).status_code == 405
    assert not Follow.objects.exists()


# --- the follow button ------------------------------------------------------------------------
def test_the_campaign_page_has_the_follow_button_and_the_count(client):
    campaign, member = CampaignFactory(live=True), MemberFactory()
    client.force_login(member)

    html = client.get(campaign.get_absolute_url()).content.decode()
    assert f'action="{follow_url(campaign)}"' in html
    assert ">Follow</button>" in html

    client.post(follow_url(campaign))
    html = client.get(campaign.get_absolute_url()).content.decode()
    assert "Following ✓" in html
    assert f'action="{follow_url(campaign, "unfollow")}"' in html
    assert "1 follower<" in html


def test_anonymous_visitors_get_a_login_link_and_the_page_stays_cached(client):
    campaign = CampaignFactory(live=True)
    follows.follow(campaign, by=MemberFactory())
    follows.follow(campaign, by=MemberFactory())

    response = client.get(campaign.get_absolute_url())

    html = response.content.decode()
    login = reverse("account_login") + "?next=" + campaign.get_absolute_url()
    assert f'href="{login}"' in html
    assert "2 followers" in html
    assert "csrfmiddlewaretoken" not in html
    assert not response.cookies  # nothing personal: no CSRF cookie, no session
    assert page_cache.get(campaign.slug) == response.content


def test_the_team_sees_the_count_but_no_button(client):
    campaign = CampaignFactory(live=True)
    follows.follow(campaign, by=MemberFactory())
    for member in (campaign.organizer, co_organizer_of(campaign)):
        client.force_login(member)
        html = client.get(campaign.get_absolute_url()).content.decode()
        assert follow_url(campaign) not in html
        assert "1 follower<" in html


def test_an_approved_campaign_offers_to_notify_at_launch():
    campaign, member = CampaignFactory(approved=True), MemberFactory()
    request = RequestFactory().get(campaign.get_absolute_url())
    request.user = member

    def button():
        return render_to_string(
            "community/_follow.html", {"campaign": campaign, "user": member}, request=request
        )

    assert "Notify me when it launches" in button()
    follows.follow(campaign, by=member)
    assert "We will email you when it launches." in button()


def test_the_page_query_count_does_not_grow_with_followers(client, django_assert_num_queries):
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    def count(campaign):
        client.get(campaign.get_absolute_url())
        with CaptureQueriesContext(db) as queries:
            client.get(campaign.get_absolute_url())
        return len(queries)

    client.force_login(MemberFactory())
    few, many = CampaignFactory(live=True), CampaignFactory(live=True)
    follows.follow(few, by=MemberFactory())
    for _ in range(15):
        follows.follow(many, by=MemberFactory())
    assert count(few) == count(many)


# --- the launch email ---------------------------------------------------------------------------
def test_followers_get_one_launch_email(celery_eager, django_capture_on_commit_callbacks, settings):
    settings.SITE_URL = "https://groundswell.example"
    campaign = CampaignFactory(approved=True, title="Elm Street garden")
    early = MemberFactory()
    follows.follow(campaign, by=early)
    campaign_services.launch(campaign, by=campaign.organizer)
    late = MemberFactory()
    follows.follow(Campaign.objects.get(pk=campaign.pk), by=late)  # after launch: no email

    with django_capture_on_commit_callbacks(execute=True):
        first = follows.send_follower_emails()
    with django_capture_on_commit_callbacks(execute=True):
        second = follows.send_follower_emails()

    assert first["launch"] == {"queued": 1, "marked": 0}
    assert second["launch"] == {"queued": 0, "marked": 0}
    assert launch_keys() == [f"campaign:{campaign.pk}:launched:member:{early.pk}"]
    (message,) = mail.outbox
    assert message.to == [early.email]
    assert message.subject == "[Groundswell] “Elm Street garden” has launched"
    page = "https://groundswell.example" + campaign.get_absolute_url()
    assert page in message.body
    link = unsubscribe_url(early, Kind.REMINDERS)
    assert link in message.body
    assert message.extra_headers["List-Unsubscribe"] == f"<{link}>"
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    ((html, mimetype),) = message.alternatives
    assert mimetype == "text/html"
    assert f'href="{link}"' in html and f'href="{page}"' in html
    assert Follow.objects.filter(launch_emailed_at__isnull=True).count() == 0


def test_no_launch_email_for_members_who_turned_reminders_off_or_already_back_it():
    campaign = CampaignFactory(approved=True)
    quiet, backer = MemberFactory(), MemberFactory()
    set_preferences(quiet, reminders=False)
    for member in (quiet, backer):
        follows.follow(campaign, by=member)
    campaign_services.launch(campaign, by=campaign.organizer)
    PledgeFactory(campaign=campaign, supporter=backer)

    result = follows.send_follower_emails()

    assert result["launch"] == {"queued": 0, "marked": 2}
    assert launch_keys() == []
    assert not Follow.objects.filter(launch_emailed_at__isnull=True).exists()


def test_a_launch_inside_the_reminder_window_sends_one_email_with_the_deadline(
    celery_eager, django_capture_on_commit_callbacks
):
    """A campaign that runs for less than the window: its launch email gives the deadline
    and is the reminder too, so the same sweep sends no "ends on …"."""
    campaign = CampaignFactory(approved=True, duration_days=1, title="Elm Street garden")
    member = MemberFactory()
    follows.follow(campaign, by=member)
    campaign_services.launch(campaign, by=campaign.organizer)

    with django_capture_on_commit_callbacks(execute=True):
        result = follows.send_follower_emails()

    assert result == {
        "launch": {"queued": 1, "marked": 0},
        "reminder": {"queued": 0, "marked": 0},
    }
    assert reminder_keys() == []
    (message,) = mail.outbox
    assert "has launched" in message.subject
    campaign.refresh_from_db()
    deadline = dateformat.format(timezone.localtime(campaign.deadline), "j F Y, H:i")
    assert f"It takes pledges until {deadline}." in message.body
    assert Follow.objects.get().reminder_emailed_at is not None
    assert follows.send_follower_emails()["reminder"] == {"queued": 0, "marked": 0}


def test_a_launch_before_the_window_still_gets_its_reminder_later():
    campaign = CampaignFactory(approved=True, duration_days=10)
    follows.follow(campaign, by=MemberFactory())
    campaign_services.launch(campaign, by=campaign.organizer)
    follows.send_follower_emails()
    campaign.refresh_from_db()
    assert Follow.objects.get().reminder_emailed_at is None
    inside = campaign.deadline - timedelta(hours=HOURS - 1)
    assert follows.send_follower_emails(now=inside)["reminder"] == {"queued": 1, "marked": 0}


def test_the_team_gets_no_launch_email_or_reminder_from_an_old_follow():
    """A follow made before they were on the team (or before the team could not follow)."""
    campaign = CampaignFactory(approved=True, duration_days=10)
    co_organizer = co_organizer_of(campaign)
    for member in (campaign.organizer, co_organizer):
        Follow.objects.create(member=member, campaign=campaign)
    campaign_services.launch(campaign, by=campaign.organizer)
    campaign.refresh_from_db()

    assert follows.send_follower_emails()["launch"] == {"queued": 0, "marked": 2}
    inside = campaign.deadline - timedelta(hours=HOURS - 1)
    assert follows.send_follower_emails(now=inside)["reminder"] == {"queued": 0, "marked": 2}
    assert not OutboundEmail.objects.exists()


def test_a_cancelled_or_still_approved_campaign_sends_no_launch_email():
    waiting, cancelled = CampaignFactory(approved=True), CampaignFactory(approved=True)
    for campaign in (waiting, cancelled):
        follows.follow(campaign, by=MemberFactory())
    campaign_services.cancel(cancelled, by=cancelled.organizer)

    assert follows.send_follower_emails()["launch"] == {"queued": 0, "marked": 0}
    assert launch_keys() == []


# --- the deadline reminder ----------------------------------------------------------------------
def test_the_reminder_goes_once_inside_the_window(celery_eager, django_capture_on_commit_callbacks):
    campaign = ending_in(HOURS + 24, title="Elm Street garden")
    member = MemberFactory()
    follows.follow(campaign, by=member)
    PledgeFactory(campaign=campaign, amount_minor=2_500)

    assert follows.send_follower_emails()["reminder"] == {"queued": 0, "marked": 0}  # too early
    inside = campaign.deadline - timedelta(hours=HOURS - 1)
    with django_capture_on_commit_callbacks(execute=True):
        first = follows.send_follower_emails(now=inside)
    with django_capture_on_commit_callbacks(execute=True):
        second = follows.send_follower_emails(now=inside + timedelta(minutes=1))

    assert first["reminder"] == {"queued": 1, "marked": 0}
    assert second["reminder"] == {"queued": 0, "marked": 0}
    assert reminder_keys() == [f"campaign:{campaign.pk}:reminder:member:{member.pk}"]
    (message,) = mail.outbox
    assert message.to == [member.email]
    assert "“Elm Street garden” ends on" in message.subject
    assert "So far €25 is pledged of its €100 goal (25%)." in message.body
    assert message.extra_headers["List-Unsubscribe"].startswith("<http")
    assert unsubscribe_url(member, Kind.REMINDERS) in message.alternatives[0][0]


def test_a_follow_inside_the_window_gets_no_reminder_a_minute_later():
    campaign, member = ending_in(HOURS - 1), MemberFactory()
    followed = follows.follow(campaign, by=member)
    assert followed.reminder_emailed_at is not None
    assert follows.send_follower_emails()["reminder"] == {"queued": 0, "marked": 0}
    assert reminder_keys() == []
    # Before the window, the reminder waits for it.
    assert follows.follow(ending_in(HOURS + 1), by=member).reminder_emailed_at is None


def test_no_reminder_after_the_deadline():
    campaign = followed_then_ending_in(HOURS - 1, [MemberFactory()])
    after = campaign.deadline + timedelta(minutes=1)
    assert follows.send_follower_emails(now=after)["reminder"] == {"queued": 0, "marked": 0}
    assert reminder_keys() == []


def test_no_reminder_to_supporters_or_members_with_reminders_off_but_both_are_marked():
    backer, quiet, keen = MemberFactory(), MemberFactory(), MemberFactory()
    set_preferences(quiet, reminders=False, updates=True)
    campaign = followed_then_ending_in(HOURS - 1, [backer, quiet, keen])
    PledgeFactory(campaign=campaign, supporter=backer)

    assert follows.send_follower_emails()["reminder"] == {"queued": 1, "marked": 2}
    assert reminder_keys() == [f"campaign:{campaign.pk}:reminder:member:{keen.pk}"]
    assert not Follow.objects.filter(reminder_emailed_at__isnull=True).exists()
    assert follows.send_follower_emails()["reminder"] == {"queued": 0, "marked": 0}


def test_a_sweep_takes_a_bounded_batch_and_the_next_one_the_rest():
    members = [MemberFactory() for _ in range(3)]
    followed_then_ending_in(HOURS - 1, members)

    assert follows.send_follower_emails(limit=2)["reminder"] == {"queued": 2, "marked": 0}
    assert follows.send_follower_emails(limit=2)["reminder"] == {"queued": 1, "marked": 0}
    assert len(reminder_keys()) == 3


def test_the_sweep_task_runs_the_follower_emails():
    from community.tasks import sweep

    followed_then_ending_in(HOURS - 1, [MemberFactory()])
    result = sweep()
    assert result["follower_emails"]["reminder"] == {"queued": 1, "marked": 0}


def test_an_email_already_in_the_outbox_is_not_queued_again():
    """A sweep that died after queueing but before marking (or a second sweep racing it on a
    database without row locks): the outbox key keeps it to one email."""
    member = MemberFactory()
    campaign = followed_then_ending_in(HOURS - 1, [member])
    follows.send_follower_emails()
    Follow.objects.update(reminder_emailed_at=None)

    follows.send_follower_emails()

    assert reminder_keys() == [f"campaign:{campaign.pk}:reminder:member:{member.pk}"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_claim_different_follows_and_email_each_follower_once(monkeypatch):
    members = [MemberFactory() for _ in range(3)]
    campaign = followed_then_ending_in(HOURS - 1, members)
    holding, release = threading.Event(), threading.Event()
    results = {}
    real_notify = follows.notify

    def notify_then_hold(*args, **kwargs):
        email = real_notify(*args, **kwargs)
        if threading.current_thread().name == "first":
            holding.set()  # the first sweep holds its claimed row, uncommitted
            assert release.wait(timeout=20)
        return email

    monkeypatch.setattr(follows, "notify", notify_then_hold)

    def first():
        try:
            results["first"] = follows.send_follower_emails(limit=1)
        finally:
            connection.close()

    thread = threading.Thread(target=first, name="first")
    thread.start()
    try:
        assert holding.wait(timeout=20)
        results["second"] = follows.send_follower_emails()  # skips the locked row
    finally:
        release.set()
        thread.join(timeout=20)

    assert results["first"]["reminder"] == {"queued": 1, "marked": 0}
    assert results["second"]["reminder"] == {"queued": 2, "marked": 0}
    assert reminder_keys() == sorted(
        f"campaign:{campaign.pk}:reminder:member:{member.pk}" for member in members
    )
    assert not Follow.objects.filter(reminder_emailed_at__isnull=True).exists()
