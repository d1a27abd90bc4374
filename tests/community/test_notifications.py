"""Notification settings, the signed one-click unsubscribe (RFC 8058), and every email going
through the outbox once per (event, recipient), money emails whatever the settings say."""

import time
from types import SimpleNamespace

import pytest
from django.core import mail, signing
from django.db import transaction
from django.test import Client
from django.urls import reverse

from campaigns import services as campaign_services
from community import follows, notifications, updates
from community.models import NotificationSettings, Update
from community.notifications import (
    UNSUBSCRIBE_SALT,
    Kind,
    read_unsubscribe_token,
    set_preferences,
    unsubscribe_token,
)
from core.models import OutboundEmail
from pledges import webhook_handlers
from tests.factories import CampaignFactory, MemberFactory, PledgeFactory, ReviewerFactory

pytestmark = pytest.mark.django_db

SETTINGS_URL = reverse("community:notification_settings")
ONE_CLICK = "List-Unsubscribe=One-Click"


def wants(member, kind):
    """What the member's settings say now (a fresh read: the member caches its settings row)."""
    return notifications.wants(type(member).objects.get(pk=member.pk), kind)


def unsubscribe_path(token):
    return reverse("community:unsubscribe", args=[token])


def mail_client():
    """A mail client's one-click POST: no cookies, no CSRF token, and CSRF checks on."""
    return Client(enforce_csrf_checks=True)


def one_click(token):
    return mail_client().post(
        unsubscribe_path(token), data=ONE_CLICK, content_type="application/x-www-form-urlencoded"
    )


def old_token(member, kind, *, days):
    """A link signed `days` ago (TimestampSigner with its clock set back)."""

    class SignedBefore(signing.TimestampSigner):
        def timestamp(self):
            return signing.b62_encode(int(time.time()) - days * 24 * 3600)

    return SignedBefore(salt=UNSUBSCRIBE_SALT).sign_object({"m": member.pk, "k": Kind(kind).value})


# --- the settings page ------------------------------------------------------------------------
def test_the_settings_page_lists_the_four_kinds_with_the_models_words(client, member):
    client.force_login(member)
    html = client.get(SETTINGS_URL).content.decode()
    for name in ("updates", "comments", "replies", "reminders"):
        field = NotificationSettings._meta.get_field(name)
        assert f'name="{name}"' in html
        assert str(field.help_text) in html
        assert str(field.verbose_name).capitalize() in html
    assert html.count("checked") == 4  # never saved: everything on
    assert "Emails about money are always sent" in html


def test_the_settings_page_saves_through_set_preferences(client, member):
    client.force_login(member)
    response = client.post(SETTINGS_URL, {"updates": "on", "replies": "on"})
    assert response.status_code == 302 and response["Location"] == SETTINGS_URL
    assert [wants(member, kind) for kind in Kind] == [True, False, True, False]
    html = client.get(SETTINGS_URL).content.decode()
    assert html.count("checked") == 2
    assert "Your notification settings were saved." in html


def test_the_settings_page_needs_a_login(client):
    response = client.get(SETTINGS_URL)
    assert response.status_code == 302 and reverse("account_login") in response["Location"]


def test_the_settings_page_lists_followed_campaigns_with_unfollow(client, member):
    live = CampaignFactory(live=True, title="Elm Street garden")
    soon = CampaignFactory(approved=True, title="Riverside benches")
    for campaign in (live, soon):
        follows.follow(campaign, by=member)
    client.force_login(member)

    html = client.get(SETTINGS_URL).content.decode()
    assert "Elm Street garden" in html and "Riverside benches" in html
    assert "Launching soon" in html
    unfollow = reverse("community:unfollow", args=[live.slug])
    assert f'action="{unfollow}"' in html

    response = client.post(unfollow, {"next": SETTINGS_URL})
    assert response["Location"] == SETTINGS_URL
    html = client.get(SETTINGS_URL).content.decode()
    assert "You no longer follow “Elm Street garden”." in html
    assert f'action="{unfollow}"' not in html


def test_the_settings_page_query_count_does_not_grow_with_follows(client, member):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(member)

    def count():
        client.get(SETTINGS_URL)
        with CaptureQueriesContext(connection) as queries:
            client.get(SETTINGS_URL)
        return len(queries)

    follows.follow(CampaignFactory(live=True), by=member)
    few = count()
    for _ in range(10):
        follows.follow(CampaignFactory(live=True), by=member)
    assert count() == few


# --- unsubscribe --------------------------------------------------------------------------------
def test_opening_the_link_asks_and_changes_nothing(client, member):
    token = unsubscribe_token(member, Kind.UPDATES)

    response = client.get(unsubscribe_path(token))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Unsubscribe from updates from campaigns you support or follow?" in html
    assert html.count("<button") == 1  # one button, posting to the same link
    assert wants(member, Kind.UPDATES)
    assert not NotificationSettings.objects.exists()
    assert response["X-Robots-Tag"] == "noindex"


def test_the_one_click_post_turns_the_kind_off_without_cookies_or_csrf(member):
    token = unsubscribe_token(member, Kind.REMINDERS)

    response = one_click(token)

    assert response.status_code == 200
    html = response.content.decode()
    assert "You will no longer get launch and deadline reminders for campaigns you follow." in html
    assert f'href="{SETTINGS_URL}"' in html
    assert not wants(member, Kind.REMINDERS)
    assert all(wants(member, kind) for kind in Kind if kind != Kind.REMINDERS)
    assert one_click(token).status_code == 200  # again: still off, no error


def test_the_pages_button_unsubscribes_too(member):
    token = unsubscribe_token(member, Kind.COMMENTS)
    page = mail_client().get(unsubscribe_path(token)).content.decode()
    assert f'action="{unsubscribe_path(token)}"' in page
    assert 'name="List-Unsubscribe" value="One-Click"' in page

    response = mail_client().post(unsubscribe_path(token), {"List-Unsubscribe": "One-Click"})

    assert response.status_code == 200
    assert not wants(member, Kind.COMMENTS)


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_tampered_link_is_refused_and_changes_nothing(member, method):
    token = unsubscribe_token(member, Kind.UPDATES)
    other = MemberFactory()
    forged = signing.dumps({"m": other.pk, "k": "updates"}, salt="another-salt")
    for bad in (token[:-3] + "abc", forged, "nonsense"):
        response = getattr(mail_client(), method)(unsubscribe_path(bad))
        assert response.status_code == 400
        assert "This unsubscribe link is not valid" in response.content.decode()
    assert wants(member, Kind.UPDATES) and wants(other, Kind.UPDATES)
    assert not NotificationSettings.objects.exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_an_expired_link_says_so_and_changes_nothing(member, settings, method):
    settings.COMMUNITY_UNSUBSCRIBE_MAX_AGE_DAYS = 30
    still_good = old_token(member, Kind.UPDATES, days=29)
    expired = old_token(member, Kind.UPDATES, days=31)

    response = getattr(mail_client(), method)(unsubscribe_path(expired))

    assert response.status_code == 400
    assert "This link has expired" in response.content.decode()
    assert wants(member, Kind.UPDATES)
    assert one_click(still_good).status_code == 200
    assert not wants(member, Kind.UPDATES)


def test_a_link_for_a_member_who_is_gone_is_refused(member):
    token = unsubscribe_token(member, Kind.UPDATES)
    member.delete()
    assert one_click(token).status_code == 400
    assert not NotificationSettings.objects.exists()


def test_a_deactivated_members_link_still_turns_the_kind_off(member):
    """It only turns a kind off; refusing it would keep emails coming to someone whose
    account is closed."""
    token = unsubscribe_token(member, Kind.UPDATES)
    type(member).objects.filter(pk=member.pk).update(is_active=False)
    assert mail_client().get(unsubscribe_path(token)).status_code == 200
    assert one_click(token).status_code == 200
    assert not wants(member, Kind.UPDATES)


# --- who gets optional emails -----------------------------------------------------------------
def test_deactivated_members_get_no_optional_emails(member):
    member.is_active = False
    email = notifications.notify(
        member, Kind.REPLIES, key="reply:1:member:1", template="comment_reply", context={}
    )
    assert email is None
    assert not OutboundEmail.objects.exists()


def test_members_who_want_leaves_out_deactivated_members_and_those_who_turned_it_off():
    keen, quiet = MemberFactory(), MemberFactory()
    gone = MemberFactory(is_active=False)
    set_preferences(quiet, updates=False)
    members = type(keen).objects.filter(pk__in=[keen.pk, quiet.pk, gone.pk])
    assert list(notifications.members_who_want(members, Kind.UPDATES)) == [keen]
    assert set(notifications.members_who_want(members, Kind.REPLIES)) == {keen, quiet}


def test_an_update_is_not_emailed_to_a_deactivated_supporter():
    campaign = CampaignFactory(live=True)
    keen, gone = MemberFactory(), MemberFactory()
    for supporter in (keen, gone):
        PledgeFactory(campaign=campaign, supporter=supporter)
    type(gone).objects.filter(pk=gone.pk).update(is_active=False)
    update = Update.objects.create(
        campaign=campaign,
        number=1,
        author=campaign.organizer,
        title="News",
        body="News.",
        body_html="<p>News.</p>",
    )
    assert updates.fan_out(update.pk) == 1
    assert list(OutboundEmail.objects.values_list("to", flat=True)) == [keen.email]


def test_two_unsubscribes_at_once_keep_each_others_choice(member, monkeypatch):
    """Two one-click unsubscribes of different kinds, each row read before the other saved."""
    set_preferences(member, updates=True)  # the row exists
    first, second = (NotificationSettings.objects.get(member=member) for _ in range(2))
    read = iter([first, second])
    monkeypatch.setattr(
        NotificationSettings.objects, "get_or_create", lambda **kwargs: (next(read), False)
    )

    notifications.unsubscribe(member, Kind.UPDATES)
    notifications.unsubscribe(member, Kind.REPLIES)

    row = NotificationSettings.objects.get(member=member)
    assert (row.updates, row.comments, row.replies, row.reminders) == (False, True, False, True)


def test_the_emails_own_link_and_headers_unsubscribe(
    settings, celery_eager, django_capture_on_commit_callbacks
):
    """End to end: a follower's launch email, its List-Unsubscribe URL posted as a mail
    client does, and the HTML alternative carrying the same link."""
    campaign, member = CampaignFactory(approved=True), MemberFactory()
    follows.follow(campaign, by=member)
    campaign_services.launch(campaign, by=campaign.organizer)
    with django_capture_on_commit_callbacks(execute=True):
        follows.send_follower_emails()

    (message,) = mail.outbox
    link = message.extra_headers["List-Unsubscribe"].strip("<>")
    token = link.rstrip("/").rsplit("/", 1)[-1]
    assert read_unsubscribe_token(token) == (member.pk, Kind.REMINDERS)
    assert message.extra_headers["List-Unsubscribe-Post"] == ONE_CLICK
    assert message.message()["List-Unsubscribe-Post"] == ONE_CLICK
    assert f'href="{link}"' in message.alternatives[0][0]
    path = link.removeprefix(settings.SITE_URL.rstrip("/"))
    response = mail_client().post(
        path, data=ONE_CLICK, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    assert not wants(member, Kind.REMINDERS)


# --- money emails ignore the settings -----------------------------------------------------------
def test_money_emails_are_sent_with_every_kind_off(
    celery_eager, django_capture_on_commit_callbacks
):
    pledge = PledgeFactory(payment_method_id="pm_gone")
    set_preferences(pledge.supporter, **{kind.value: False for kind in Kind})
    event = SimpleNamespace(data_object={"id": "pm_gone", "object": "payment_method"})

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        webhook_handlers.payment_method_detached(event)

    (message,) = mail.outbox
    assert message.to == [pledge.supporter.email]
    assert "needs a card" in message.subject
    assert "List-Unsubscribe" not in message.extra_headers
    assert OutboundEmail.objects.get().key == f"pledge:{pledge.pk}:card_removed:pm_gone"


# --- the emails that used to be sent at once ----------------------------------------------------
def test_each_review_outcome_is_its_own_email_once(
    celery_eager, django_capture_on_commit_callbacks
):
    """A campaign sent back for changes twice gets two emails; a retried decision none more."""
    staff, campaign = ReviewerFactory(), CampaignFactory(in_review=True)
    with django_capture_on_commit_callbacks(execute=True):
        campaign_services.request_changes(campaign, by=staff, note="Add photos.")
        campaign_services.request_changes(campaign, by=staff, note="Add photos.")  # no move
    campaign_services.submit_for_review(campaign, by=campaign.organizer)
    with django_capture_on_commit_callbacks(execute=True):
        campaign_services.request_changes(campaign, by=staff, note="And a budget.")
    campaign_services.submit_for_review(campaign, by=campaign.organizer)
    with django_capture_on_commit_callbacks(execute=True):
        campaign_services.approve(campaign, by=staff)

    keys = list(OutboundEmail.objects.order_by("pk").values_list("key", flat=True))
    assert len(keys) == len(set(keys)) == 3
    assert [key.split(":")[2] for key in keys] == [
        "campaign_changes_requested",
        "campaign_changes_requested",
        "campaign_approved",
    ]
    assert all(key.startswith(f"campaign:{campaign.pk}:") for key in keys)
    assert [m.to for m in mail.outbox] == [[campaign.organizer.email]] * 3
    assert "Add photos." in mail.outbox[0].body and "And a budget." in mail.outbox[1].body
    assert all(m.alternatives and m.alternatives[0][1] == "text/html" for m in mail.outbox)


def test_an_unpublished_campaign_emails_its_organizer_once(
    celery_eager, django_capture_on_commit_callbacks
):
    staff, campaign = ReviewerFactory(), CampaignFactory(live=True)
    with django_capture_on_commit_callbacks(execute=True):
        campaign_services.cancel(campaign, by=staff, reason="Misleading claims.")
        campaign_services.cancel(campaign, by=staff, reason="Misleading claims.")
    emails = OutboundEmail.objects.filter(template="campaign_cancelled")
    assert emails.count() == 1
    assert emails.get().to == campaign.organizer.email


def test_a_rolled_back_decision_sends_nothing(monkeypatch):
    staff, campaign = ReviewerFactory(), CampaignFactory(in_review=True)

    with pytest.raises(RuntimeError), transaction.atomic():
        campaign_services.approve(campaign, by=staff)
        raise RuntimeError("the admin action failed afterwards")

    assert not OutboundEmail.objects.exists()


def test_an_invitation_is_queued_once_per_collaborator(
    celery_eager, django_capture_on_commit_callbacks
):
    campaign = CampaignFactory()
    with django_capture_on_commit_callbacks(execute=True):
        invitation = campaign_services.invite_collaborator(
            campaign, by=campaign.organizer, email="friend@example.org"
        )
    email = OutboundEmail.objects.get()
    assert email.key == f"collaborator:{invitation.pk}:invited"
    assert email.status == OutboundEmail.Status.SENT
    assert mail.outbox[0].to == ["friend@example.org"]


def test_a_card_removed_twice_at_stripe_emails_once_per_card(celery_eager):
    pledge = PledgeFactory(payment_method_id="pm_one")
    event = SimpleNamespace(data_object={"id": "pm_one", "object": "payment_method"})
    with transaction.atomic():
        webhook_handlers.payment_method_detached(event)
        webhook_handlers.payment_method_detached(event)  # a second event for the same card
    assert list(OutboundEmail.objects.values_list("key", flat=True)) == [
        f"pledge:{pledge.pk}:card_removed:pm_one"
    ]
