"""Campaign updates (community.updates): who may post them, who reads which (permalink, list,
feed, campaign page), the email to each member exactly once, and pages that do not grow in
queries with the number of updates."""

import re
from contextlib import contextmanager
from datetime import datetime, timedelta
from xml.etree import ElementTree

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from campaigns import page_cache
from campaigns.models import Campaign, Collaborator
from campaigns.rendering import render_story
from community import audience, notifications, updates
from community.models import Follow, Update
from core.errors import DomainError, NotPermitted
from core.models import AuditEvent, OutboundEmail
from pledges.models import Pledge
from tests.factories import CampaignFactory, MemberFactory, PledgeFactory
from tests.uploads import HTML, field_errors, files_under, image_bytes

pytestmark = pytest.mark.django_db

SUPPORTERS = Update.Audience.SUPPORTERS
PUBLIC = Update.Audience.PUBLIC


@pytest.fixture
def campaign():
    return CampaignFactory(live=True, title="Tool library & repair café")


@pytest.fixture
def organizer(campaign):
    return campaign.organizer


@pytest.fixture
def supporter(campaign):
    return PledgeFactory(campaign=campaign).supporter


@pytest.fixture
def follower(campaign):
    member = MemberFactory()
    Follow.objects.create(member=member, campaign=campaign)
    return member


@pytest.fixture
def run_tasks(celery_eager, django_capture_on_commit_callbacks):
    """Run what commits schedule (the fan-out task, then each email's send task) in-process."""

    @contextmanager
    def run():
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            yield callbacks

    return run


def co_organizer(campaign, *, accepted=True):
    member = MemberFactory()
    Collaborator.objects.create(
        campaign=campaign,
        email=member.email,
        member=member,
        invited_by=campaign.organizer,
        accepted_at=timezone.now() if accepted else None,
    )
    return member


def post(campaign, by, *, title="The shed is up", body="Thanks to you all.", **kwargs):
    kwargs.setdefault("audience", PUBLIC)
    return updates.post_update(campaign, by=by, title=title, body=body, **kwargs)


def recipients():
    return sorted(address for message in mail.outbox for address in message.to)


def permalink(update):
    return reverse("community:update", args=[update.campaign.slug, update.number])


# --- who may post ---------------------------------------------------------------------------
def test_the_organizer_posts_numbered_updates_with_an_audit_row(campaign, organizer):
    first = post(campaign, organizer, body="**Soil** is in.")
    second = post(campaign, organizer, title="Seeds")
    assert (first.number, second.number) == (1, 2)
    assert first.body_html == "<p><strong>Soil</strong> is in.</p>"
    assert first.author == organizer and first.emailed_at is None
    event = AuditEvent.objects.get(action="update:posted", target_id=str(first.pk))
    assert event.actor == organizer


def test_numbers_are_per_campaign(campaign, organizer):
    post(campaign, organizer)
    other = CampaignFactory(live=True)
    assert post(other, other.organizer).number == 1


def test_an_accepted_co_organizer_posts(campaign):
    assert post(campaign, co_organizer(campaign)).number == 1


@pytest.mark.parametrize("who", ["stranger", "invited", "supporter", "staff"])
def test_nobody_else_may_post(campaign, supporter, who):
    member = {
        "stranger": lambda: MemberFactory(),
        "invited": lambda: co_organizer(campaign, accepted=False),
        "supporter": lambda: supporter,
        "staff": lambda: MemberFactory(is_staff=True, is_superuser=True),
    }[who]()
    with pytest.raises(NotPermitted):
        post(campaign, member)
    assert not Update.objects.exists()


@pytest.mark.parametrize("who", ["stranger", "invited"])
def test_the_new_update_page_is_a_404_to_anyone_but_the_team(client, campaign, who):
    member = MemberFactory() if who == "stranger" else co_organizer(campaign, accepted=False)
    client.force_login(member)
    url = reverse("community:new_update", args=[campaign.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"title": "x", "body": "y", "audience": "public"}).status_code == 404
    assert not Update.objects.exists()


def test_updates_wait_for_the_campaign_to_be_public(organizer):
    draft = CampaignFactory(organizer=organizer)
    with pytest.raises(DomainError, match="once your campaign is live"):
        post(draft, organizer)
    assert not Update.objects.exists()


def test_the_organizer_posts_from_the_form(client, campaign, organizer, run_tasks, supporter):
    client.force_login(organizer)
    url = reverse("community:new_update", args=[campaign.pk])
    assert client.get(url).status_code == 200
    with run_tasks():
        response = client.post(
            url, {"title": "Shed", "body": "It *stands*.", "audience": "supporters"}
        )
    update = Update.objects.get()
    assert response.status_code == 302 and response["Location"] == permalink(update)
    assert update.audience == SUPPORTERS and update.body_html == "<p>It <em>stands</em>.</p>"
    assert recipients() == [supporter.email]


# --- what the text and the image may be -----------------------------------------------------
def test_scripts_and_event_handlers_are_removed_from_the_text(campaign, organizer):
    update = post(
        campaign,
        organizer,
        body='Hi <script>alert(1)</script><img src=x onerror="alert(2)">'
        '<a href="javascript:alert(3)" onclick="alert(4)">link</a>',
    )
    html = update.body_html.lower()
    assert "<script" not in html and "onerror" not in html and "onclick" not in html
    assert "javascript:" not in html and "<img" not in html


def plain(markdown_source):
    """The plain-text email's text of an update written as `markdown_source`."""
    return updates.plain_text(render_story(markdown_source))


def test_the_plain_text_email_has_the_page_s_text_without_what_the_page_removes():
    source = (
        "Soil came!\n\n<script>alert(1)</script>\n\n\n\n* 8 beds <img src=x onerror=a()>\n* R&amp;D"
    )

    assert plain(source) == "Soil came!\n\n* 8 beds\n* R&D"


def test_the_plain_text_email_keeps_autolinks(campaign, organizer, supporter, run_tasks):
    source = "See <https://example.org/plan> or mail <info@example.org>."
    assert plain(source) == "See https://example.org/plan or mail info@example.org."

    with run_tasks():
        post(campaign, organizer, body=source)
    (message,) = mail.outbox
    assert "See https://example.org/plan or mail info@example.org." in message.body


def test_the_plain_text_email_shows_a_link_s_address_after_its_text():
    source = "Read [the plan](https://example.org/plan?a=1&b=2) and **come** on *Saturday*."

    assert plain(source) == (
        "Read the plan (https://example.org/plan?a=1&b=2) and **come** on *Saturday*."
    )


def test_the_plain_text_email_has_paragraphs_line_breaks_lists_and_quotes():
    source = (
        "Dear all,  \nthanks.\n\n1. Soil\n2. Seeds\n    * tomatoes\n\n"
        "## Next\n\n> Quoted\n\nUse `<br>` here."
    )

    assert plain(source) == (
        "Dear all,\nthanks.\n\n1. Soil\n2. Seeds\n   * tomatoes\n\n"
        "## Next\n\n> Quoted\n\nUse `<br>` here."
    )


def test_the_plain_text_email_never_has_a_script_or_a_handler(
    campaign, organizer, supporter, run_tasks
):
    body = (
        'Hi <script>alert("one")</script><img src=x onerror="alert(2)">'
        '<a href="javascript:alert(3)" onclick="alert(4)">link</a>'
    )
    with run_tasks():
        post(campaign, organizer, body=body)
    (message,) = mail.outbox
    assert "Hi link" in message.body
    assert "alert" not in message.body and "<script" not in message.body
    assert "onerror" not in message.body and "onclick" not in message.body
    # Even from HTML that was never sanitized, a script's content is no text.
    assert updates.plain_text("<p>Hi</p><script>alert(1)</script>") == "Hi"


def test_public_from_must_be_in_the_future(campaign, organizer):
    with pytest.raises(DomainError) as excinfo:
        post(campaign, organizer, audience=SUPPORTERS, public_from=timezone.now() - timedelta(1))
    assert excinfo.value.field == "public_from"
    assert not Update.objects.exists()


def test_public_from_is_only_for_supporters_only_updates(campaign, organizer):
    with pytest.raises(DomainError) as excinfo:
        post(campaign, organizer, audience=PUBLIC, public_from=timezone.now() + timedelta(1))
    assert excinfo.value.field == "public_from"


def test_a_past_public_from_is_a_form_error_and_nothing_is_saved(client, campaign, organizer):
    client.force_login(organizer)
    past = (timezone.localtime() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        reverse("community:new_update", args=[campaign.pk]),
        {"title": "Soon", "body": "Text", "audience": "supporters", "public_from": past},
    )
    assert response.status_code == 200
    assert field_errors(response, "public_from") == [
        "The date it turns public must be in the future."
    ]
    assert not Update.objects.exists()


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("page.png", HTML, "The image must be a JPEG, PNG or WebP image."),
        ("tiny.png", image_bytes((50, 50)), "The image must be at least 200×100 pixels."),
        ("cut.png", image_bytes((800, 600))[:200], "could not be read"),
    ],
)
def test_a_bad_image_is_refused_and_nothing_is_written(
    client, settings, campaign, organizer, name, content, message
):
    client.force_login(organizer)
    response = client.post(
        reverse("community:new_update", args=[campaign.pk]),
        {
            "title": "Pictures",
            "body": "Look",
            "audience": "public",
            "image": SimpleUploadedFile(name, content, "image/png"),
        },
    )
    assert response.status_code == 200
    errors = field_errors(response, "image")
    assert len(errors) == 1 and message in errors[0]
    assert not Update.objects.exists()
    assert files_under(settings.MEDIA_ROOT, f"updates/{campaign.public_id}") == []
    assert not OutboundEmail.objects.exists()


def test_an_image_is_stored_reencoded_with_a_1200_wide_rendition(settings, campaign, organizer):
    upload = SimpleUploadedFile("photo.png", image_bytes((2400, 1600)) + HTML, "image/png")
    update = post(campaign, organizer, image=upload)
    assert update.image.name.startswith(f"updates/{campaign.public_id}/")
    assert not update.image.name.endswith("photo.png")
    with update.image.open("rb") as master:
        stored = master.read()
    assert HTML not in stored  # re-encoded: the appended page is gone
    with Image.open(update.image_large.path) as large:
        assert (large.format, large.size) == ("JPEG", (1200, 800))


# --- who reads a supporters-only update -----------------------------------------------------
@pytest.fixture
def secret(campaign, organizer, supporter, follower, run_tasks):
    with run_tasks():
        update = post(campaign, organizer, title="Only for you", audience=SUPPORTERS)
    update.refresh_from_db()
    return update


def test_a_supporter_reads_and_is_emailed_a_supporters_only_update(client, secret, supporter):
    assert recipients() == [supporter.email]  # not the follower, not the organizer
    client.force_login(supporter)
    page = client.get(permalink(secret))
    assert page.status_code == 200
    assert "Supporters only" in page.content.decode()
    listing = client.get(reverse("community:updates", args=[secret.campaign.slug]))
    assert "Only for you" in listing.content.decode()
    campaign_page = client.get(secret.campaign.get_absolute_url()).content.decode()
    assert "Only for you" in campaign_page


@pytest.mark.parametrize("who", ["anonymous", "member", "follower", "released supporter"])
def test_anyone_else_gets_a_404_and_sees_it_nowhere(client, secret, follower, who):
    campaign = secret.campaign
    if who == "member":
        client.force_login(MemberFactory())
    elif who == "follower":
        client.force_login(follower)
    elif who == "released supporter":
        client.force_login(
            PledgeFactory(campaign=campaign, status=Pledge.Status.RELEASED).supporter
        )
    assert client.get(permalink(secret)).status_code == 404
    listing = client.get(reverse("community:updates", args=[campaign.slug]))
    assert listing.status_code == 200 and "Only for you" not in listing.content.decode()
    feed = client.get(reverse("community:updates_feed", args=[campaign.slug]))
    assert feed.status_code == 200 and "Only for you" not in feed.content.decode()
    page = client.get(campaign.get_absolute_url()).content.decode()
    assert "Only for you" not in page


def test_the_team_reads_supporters_only_updates(client, secret):
    client.force_login(co_organizer(secret.campaign))
    assert client.get(permalink(secret)).status_code == 200


def test_update_pages_of_a_campaign_that_is_not_public_are_404(client, secret, organizer):
    Campaign.objects.filter(pk=secret.campaign.pk).update(status=Campaign.Status.CANCELLED)
    client.force_login(organizer)
    public = Update.objects.create(
        campaign=secret.campaign, number=2, author=organizer, title="t", body="b", body_html="b"
    )
    assert client.get(permalink(public)).status_code == 404
    assert client.get(reverse("community:updates", args=[secret.campaign.slug])).status_code == 404
    feed = reverse("community:updates_feed", args=[secret.campaign.slug])
    assert client.get(feed).status_code == 404


@pytest.mark.parametrize("who", ["anonymous", "organizer", "co-organizer", "invited", "supporter",
                                 "released", "stranger"])  # fmt: skip
def test_viewer_standing_agrees_with_the_audience_rules(campaign, supporter, who):
    from django.contrib.auth.models import AnonymousUser

    viewer = {
        "anonymous": AnonymousUser,
        "organizer": lambda: campaign.organizer,
        "co-organizer": lambda: co_organizer(campaign),
        "invited": lambda: co_organizer(campaign, accepted=False),
        "supporter": lambda: supporter,
        "released": lambda: (
            PledgeFactory(campaign=campaign, status=Pledge.Status.RELEASED).supporter
        ),
        "stranger": MemberFactory,
    }[who]()
    assert updates.viewer_standing(campaign, viewer) == (
        audience.is_team(viewer, campaign),
        audience.can_read_supporters_only(viewer, campaign),
    )


# --- public updates, the feed and the emails ------------------------------------------------
def test_a_public_update_is_emailed_to_supporters_and_followers_not_the_author(
    campaign, organizer, supporter, follower, run_tasks
):
    both = PledgeFactory(campaign=campaign).supporter
    Follow.objects.create(member=both, campaign=campaign)
    Follow.objects.create(member=organizer, campaign=campaign)
    with run_tasks():
        update = post(campaign, organizer)
    assert recipients() == sorted([supporter.email, follower.email, both.email])
    update.refresh_from_db()
    assert update.emailed_at is not None
    bodies = {message.to[0]: message.body for message in mail.outbox}
    assert 'because you support "Tool library & repair café"' in bodies[supporter.email]
    assert 'because you follow "Tool library & repair café"' in bodies[follower.email]
    assert "because you support" in bodies[both.email]


def test_the_email_has_the_text_the_permalink_and_a_one_click_unsubscribe(
    settings, campaign, organizer, supporter, run_tasks
):
    with run_tasks():
        update = post(campaign, organizer, title="Open day", body="Come on **Saturday**.")
    (message,) = mail.outbox
    url = settings.SITE_URL.rstrip("/") + permalink(update)
    assert "Open day" in message.subject and campaign.title in message.subject
    assert "Come on **Saturday**." in message.body and url in message.body
    unsubscribe = re.search(r"<(.+)>", message.extra_headers["List-Unsubscribe"]).group(1)
    assert "/unsubscribe/" in unsubscribe or "unsubscribe" in unsubscribe
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert "<strong>Saturday</strong>" in html and url in html
    assert unsubscribe.replace("&", "&amp;") in html or unsubscribe in html


def test_a_member_who_turned_updates_off_gets_nothing(campaign, organizer, supporter, run_tasks):
    notifications.set_preferences(supporter, updates=False)
    other = PledgeFactory(campaign=campaign).supporter
    with run_tasks():
        post(campaign, organizer)
    assert recipients() == [other.email]


def test_fan_out_twice_sends_once(campaign, organizer, supporter, follower, run_tasks):
    with run_tasks():
        update = post(campaign, organizer)
    assert updates.fan_out(update.pk) == 0  # emailed already: nothing to do
    Update.objects.filter(pk=update.pk).update(emailed_at=None)  # as if the run died
    with run_tasks():
        updates.fan_out(update.pk)  # every member's email is already stored: none goes again
    assert recipients() == sorted([supporter.email, follower.email])
    assert OutboundEmail.objects.count() == 2


def test_fan_out_reads_recipients_in_chunks(campaign, organizer, monkeypatch, run_tasks):
    for _ in range(5):
        PledgeFactory(campaign=campaign)
    monkeypatch.setattr(updates, "FAN_OUT_CHUNK", 2)
    with run_tasks():
        post(campaign, organizer)
    assert len(mail.outbox) == 5


def test_the_turned_public_sweep_emails_followers_once(
    client, campaign, organizer, supporter, follower, run_tasks
):
    with run_tasks():
        update = post(
            campaign,
            organizer,
            title="Early news",
            audience=SUPPORTERS,
            public_from=timezone.now() + timedelta(hours=1),
        )
    assert recipients() == [supporter.email]
    feed = reverse("community:updates_feed", args=[campaign.slug])
    assert "Early news" not in client.get(feed).content.decode()
    assert updates.fan_out_turned_public() == 0  # not yet

    Update.objects.filter(pk=update.pk).update(public_from=timezone.now() - timedelta(minutes=1))
    mail.outbox.clear()
    with run_tasks():
        assert updates.fan_out_turned_public() == 1
        assert updates.fan_out_turned_public() == 0
    assert recipients() == [follower.email]  # the supporter had it already
    update.refresh_from_db()
    assert update.public_emailed_at is not None
    assert "Early news" in client.get(feed).content.decode()
    assert client.get(permalink(update)).status_code == 200  # anonymous, now public


def age(update, **delta):
    """As if `update` had been created that long ago (its task message lost since)."""
    Update.objects.filter(pk=update.pk).update(created_at=timezone.now() - timedelta(**delta))


@pytest.fixture
def queued_fan_outs(monkeypatch):
    """The fan-out task messages sent, (args, kwargs) each, instead of sending them."""
    from community.tasks import fan_out_update

    sent = []
    monkeypatch.setattr(
        fan_out_update, "delay", lambda *args, **kwargs: sent.append((args, kwargs))
    )
    return sent


def test_the_sweep_fans_out_an_update_whose_task_was_lost(
    campaign, organizer, supporter, celery_eager
):
    update = post(campaign, organizer)  # no on-commit run: the task message never went
    assert updates.fan_out_lost() == 0  # too recent to call lost
    age(update, hours=1)
    assert updates.fan_out_lost() == 1
    assert OutboundEmail.objects.get().to == supporter.email
    assert updates.fan_out_lost() == 0


def test_a_back_dated_update_is_not_lost_at_once(campaign, organizer, queued_fan_outs):
    # The demo posts its story at past days (post_update(now=...)): that is no lost message.
    post(campaign, organizer, now=timezone.now() - timedelta(days=3))
    assert updates.fan_out_lost() == 0
    assert queued_fan_outs == []


def test_the_sweep_queues_a_lost_fan_out_with_its_claim_and_runs_none_itself(
    campaign, organizer, supporter, queued_fan_outs
):
    update = post(campaign, organizer)
    age(update, hours=1)

    assert updates.fan_out_lost() == 1
    assert not OutboundEmail.objects.exists()  # queued, not fanned out in the beat sweep
    ((args, kwargs),) = queued_fan_outs
    assert args == (update.pk,) and set(kwargs) == {"claim"}
    # The next sweeps leave it to the queued task while its claim holds; so does a late
    # message without the claim (the post's own, say).
    assert updates.fan_out_lost() == 0 and len(queued_fan_outs) == 1
    assert updates.fan_out(update.pk) == 0
    # The queued task takes the sweep's claim over.
    assert updates.fan_out(update.pk, **kwargs) == 1
    update.refresh_from_db()
    assert update.emailed_at is not None and update.fan_out_claimed_at is None
    assert OutboundEmail.objects.get().to == supporter.email


def test_a_claim_whose_lease_expired_is_taken_over(campaign, organizer, supporter, queued_fan_outs):
    update = post(campaign, organizer)
    age(update, hours=1)
    expired = timezone.now() - updates.FAN_OUT_LEASE - timedelta(minutes=1)
    Update.objects.filter(pk=update.pk).update(fan_out_claimed_at=expired)  # a run that died

    assert updates.fan_out_lost() == 1
    assert len(queued_fan_outs) == 1


def test_a_second_run_while_one_is_going_does_nothing(
    campaign, organizer, supporter, monkeypatch, queued_fan_outs
):
    PledgeFactory(campaign=campaign)
    update = post(campaign, organizer)
    age(update, hours=1)
    real_notify = updates.notify
    during = []

    def notify_while_others_try(*args, **kwargs):
        if not during:
            during.append("started")
            # Another worker's message for the same update, and the beat sweep, meanwhile.
            during.append((updates.fan_out(update.pk), updates.fan_out_lost()))
        return real_notify(*args, **kwargs)

    monkeypatch.setattr(updates, "notify", notify_while_others_try)
    assert updates.fan_out(update.pk) == 2
    assert during == ["started", (0, 0)]
    assert queued_fan_outs == [] and OutboundEmail.objects.count() == 2


def test_a_long_fan_out_renews_its_claim(campaign, organizer, monkeypatch):
    for _ in range(5):
        PledgeFactory(campaign=campaign)
    update = post(campaign, organizer)
    monkeypatch.setattr(updates, "FAN_OUT_CHUNK", 2)
    claims = []
    real_notify = updates.notify

    def notify_and_look(*args, **kwargs):
        claims.append(Update.objects.values_list("fan_out_claimed_at", flat=True).get())
        return real_notify(*args, **kwargs)

    monkeypatch.setattr(updates, "notify", notify_and_look)
    assert updates.fan_out(update.pk) == 5
    assert None not in claims and len(set(claims)) == 3  # taken, renewed after 2 and 4


def failing_email_audience(monkeypatch, *, fails):
    """Make the fan-out of the updates `fails(update)` says fail (a broken template, say)."""
    real_email_audience = updates._email_audience
    failures = []

    def email_audience(update, members, **kwargs):
        if fails(update):
            failures.append(update.pk)
            raise RuntimeError("the template broke")
        return real_email_audience(update, members, **kwargs)

    monkeypatch.setattr(updates, "_email_audience", email_audience)
    return failures


def test_a_failed_fan_out_keeps_its_claim_for_its_retry(
    campaign, organizer, supporter, monkeypatch, queued_fan_outs
):
    update = post(campaign, organizer)
    age(update, hours=1)
    failures = failing_email_audience(monkeypatch, fails=lambda update: True)
    with pytest.raises(updates.FanOutInterrupted) as interrupted:
        updates.fan_out(update.pk)
    assert failures == [update.pk]

    # Until its retry runs, nobody else takes the update: no sweep, no other message.
    assert updates.fan_out_lost() == 0 and queued_fan_outs == []
    monkeypatch.undo()
    assert updates.fan_out(update.pk) == 0
    assert updates.fan_out(update.pk, claim=interrupted.value.claim) == 1
    assert OutboundEmail.objects.get().to == supporter.email


def test_the_task_retries_a_failed_fan_out_with_its_claim(
    campaign, organizer, supporter, monkeypatch
):
    from community.tasks import fan_out_update

    update = post(campaign, organizer)
    failures = failing_email_audience(monkeypatch, fails=lambda update: len(failures) < 2)

    result = fan_out_update.apply(args=[update.pk])  # in-process, its retries too

    assert result.get() == 1 and len(failures) == 2
    assert OutboundEmail.objects.get().to == supporter.email


def test_an_update_whose_fan_out_fails_never_stops_the_sweep(
    campaign, organizer, supporter, monkeypatch, celery_eager
):
    from community.tasks import sweep

    broken = post(campaign, organizer, title="Broken")
    fine = post(campaign, organizer, title="Fine")
    for update in (broken, fine):
        age(update, hours=1)
    failing_email_audience(monkeypatch, fails=lambda update: update.pk == broken.pk)

    result = sweep()  # a task failing in-process (eager) stands for one failing in a worker

    assert result["updates_fanned_out_late"] == 1
    emailed = Update.objects.filter(emailed_at__isnull=False).values_list("title", flat=True)
    assert list(emailed) == ["Fine"]


def test_a_sweep_queues_a_bounded_batch_and_the_next_one_the_rest(
    campaign, organizer, queued_fan_outs
):
    first, second = post(campaign, organizer), post(campaign, organizer)
    age(first, hours=2)
    age(second, hours=1)
    assert updates.fan_out_lost(limit=1) == 1
    assert updates.fan_out_lost(limit=1) == 1
    assert [args for args, _kwargs in queued_fan_outs] == [(first.pk,), (second.pk,)]
    assert updates.fan_out_lost(limit=1) == 0


def test_the_feed_lists_public_updates_with_their_permalinks(client, settings, campaign, organizer):
    update = post(campaign, organizer, title="Shed <built>")
    post(campaign, organizer, title="Secret", audience=SUPPORTERS)
    response = client.get(reverse("community:updates_feed", args=[campaign.slug]))
    assert response["Content-Type"].startswith("application/atom+xml")
    body = response.content.decode()
    assert "Shed &lt;built&gt;" in body and "Secret" not in body
    assert settings.SITE_URL.rstrip("/") + permalink(update) in body


def feed_entries(client, campaign):
    """(title, published, updated) of each entry of the campaign's Atom feed, in its order."""
    response = client.get(reverse("community:updates_feed", args=[campaign.slug]))
    atom = {"atom": "http://www.w3.org/2005/Atom"}
    return [
        (
            entry.findtext("atom:title", namespaces=atom),
            datetime.fromisoformat(entry.findtext("atom:published", namespaces=atom)),
            datetime.fromisoformat(entry.findtext("atom:updated", namespaces=atom)),
        )
        for entry in ElementTree.fromstring(response.content).findall("atom:entry", atom)
    ]


def test_the_feed_dates_an_update_from_when_its_date_made_it_public(client, campaign, organizer):
    now = timezone.now().replace(microsecond=0)
    early = post(
        campaign,
        organizer,
        title="Early news",
        audience=SUPPORTERS,
        public_from=now + timedelta(hours=1),
        now=now - timedelta(days=7),
    )
    post(campaign, organizer, title="Later news", now=now - timedelta(days=2))
    turned = now - timedelta(hours=1)
    Update.objects.filter(pk=early.pk).update(public_from=turned)

    entries = feed_entries(client, campaign)

    assert [title for title, _published, _updated in entries] == ["Early news", "Later news"]
    assert entries[0][1:] == (turned, turned)
    assert entries[1][1] == now - timedelta(days=2)


def test_the_feed_dates_an_update_an_edit_made_public_from_the_edit(client, campaign, organizer):
    now = timezone.now()
    update = post(campaign, organizer, title="Soon", audience=SUPPORTERS, now=now - timedelta(7))
    edited = updates.edit_update(
        update, by=organizer, title="Soon", body=update.body, audience=PUBLIC
    )

    ((title, published, updated),) = feed_entries(client, campaign)

    assert published == edited.made_public_at == edited.edited_at and published >= now
    assert updated == published


def test_an_update_public_since_its_date_keeps_that_date_when_edited_to_everyone(
    campaign, organizer
):
    update = post(
        campaign,
        organizer,
        audience=SUPPORTERS,
        public_from=timezone.now() + timedelta(hours=1),
        now=timezone.now() - timedelta(days=7),
    )
    passed = timezone.now() - timedelta(days=1)
    Update.objects.filter(pk=update.pk).update(public_from=passed)
    update.refresh_from_db()

    edited = updates.edit_update(update, by=organizer, title="t", body="b", audience=PUBLIC)

    assert edited.public_from is None and edited.made_public_at == passed
    assert updates.public_updates(campaign).get().public_since == passed


# --- editing --------------------------------------------------------------------------------
def test_editing_changes_the_update_and_emails_nobody_again(
    client, campaign, organizer, supporter, run_tasks
):
    with run_tasks():
        update = post(campaign, organizer)
    mail.outbox.clear()
    client.force_login(organizer)
    url = reverse("community:edit_update", args=[campaign.pk, update.number])
    assert client.get(url).status_code == 200
    with run_tasks():
        response = client.post(
            url,
            {"title": "Shed, corrected", "body": "New <script>x</script>", "audience": "public"},
        )
    assert response.status_code == 302
    update.refresh_from_db()
    assert update.title == "Shed, corrected" and "<script" not in update.body_html
    assert update.edited_at is not None and mail.outbox == []
    assert AuditEvent.objects.filter(action="update:edited", target_id=str(update.pk)).exists()


def test_making_a_supporters_only_update_public_emails_the_followers_and_says_so(
    client, campaign, organizer, supporter, follower, run_tasks
):
    with run_tasks():
        update = post(campaign, organizer, audience=SUPPORTERS)
    mail.outbox.clear()
    client.force_login(organizer)
    url = reverse("community:edit_update", args=[campaign.pk, update.number])

    with run_tasks():
        response = client.post(
            url, {"title": update.title, "body": update.body, "audience": "public"}, follow=True
        )

    assert [m.to for m in mail.outbox] == [[follower.email]]
    assert "followers who have not had it get it by email" in response.content.decode()


def test_only_the_team_edits(client, campaign, organizer, supporter):
    update = post(campaign, organizer)
    with pytest.raises(NotPermitted):
        updates.edit_update(update, by=supporter, title="x", body="y", audience=PUBLIC)
    client.force_login(supporter)
    url = reverse("community:edit_update", args=[campaign.pk, update.number])
    assert client.get(url).status_code == 404


def test_an_edit_may_keep_a_passed_public_from_but_not_set_one(campaign, organizer):
    update = post(
        campaign, organizer, audience=SUPPORTERS, public_from=timezone.now() + timedelta(hours=1)
    )
    passed = timezone.now() - timedelta(minutes=5)
    Update.objects.filter(pk=update.pk).update(public_from=passed)
    update.refresh_from_db()
    edited = updates.edit_update(
        update, by=organizer, title="New title", body="b", audience=SUPPORTERS, public_from=passed
    )
    assert edited.public_from == passed
    with pytest.raises(DomainError):
        updates.edit_update(
            update,
            by=organizer,
            title="t",
            body="b",
            audience=SUPPORTERS,
            public_from=passed - timedelta(days=1),
        )


def test_making_an_emailed_supporters_only_update_public_emails_its_followers_once(
    campaign, organizer, supporter, follower, run_tasks
):
    with run_tasks():
        update = post(campaign, organizer, title="Only for you", audience=SUPPORTERS)
    assert recipients() == [supporter.email]
    mail.outbox.clear()

    with run_tasks():
        updates.edit_update(
            update, by=organizer, title="For everyone", body=update.body, audience=PUBLIC
        )

    assert recipients() == [follower.email]  # the supporter had it already
    update.refresh_from_db()
    assert update.public_emailed_at is not None
    mail.outbox.clear()
    with run_tasks():
        assert updates.fan_out_turned_public() == 0
        updates.edit_update(update, by=organizer, title="Again", body="b", audience=SUPPORTERS)
        updates.edit_update(update, by=organizer, title="Again", body="b", audience=PUBLIC)
    assert mail.outbox == []


def test_the_sweep_emails_the_followers_when_the_edit_s_task_was_lost(
    campaign, organizer, supporter, follower, run_tasks
):
    with run_tasks():
        update = post(campaign, organizer, audience=SUPPORTERS)
    mail.outbox.clear()
    updates.edit_update(update, by=organizer, title="t", body="b", audience=PUBLIC)  # no commit

    with run_tasks():
        assert updates.fan_out_turned_public() == 1
        assert updates.fan_out_turned_public() == 0
    assert recipients() == [follower.email]


def test_the_sweep_never_fans_out_a_public_update_again(
    campaign, organizer, supporter, follower, run_tasks
):
    with run_tasks():
        update = post(campaign, organizer)
    update.refresh_from_db()
    assert update.public_emailed_at is not None  # everyone had it at once
    Follow.objects.create(member=MemberFactory(), campaign=campaign)  # a new follower
    mail.outbox.clear()
    with run_tasks():
        assert updates.fan_out_turned_public() == 0
        assert updates.fan_out_lost() == 0
    assert mail.outbox == []


def with_image(campaign, organizer):
    upload = SimpleUploadedFile("photo.png", image_bytes((800, 600)), "image/png")
    update = post(campaign, organizer, audience=SUPPORTERS, image=upload)
    files = [update.image.name, update.image_large.name]
    assert all(update.image.storage.exists(name) for name in files)
    return update, files


def test_removing_the_image_deletes_its_files_after_commit(
    settings, campaign, organizer, django_capture_on_commit_callbacks
):
    update, files = with_image(campaign, organizer)
    storage = update.image.storage

    with django_capture_on_commit_callbacks(execute=True):
        edited = updates.edit_update(
            update, by=organizer, title="t", body="b", audience=SUPPORTERS, remove_image=True
        )
        assert all(storage.exists(name) for name in files)  # not before the commit

    assert not edited.image and not edited.image_large
    assert not any(storage.exists(name) for name in files)
    assert files_under(settings.MEDIA_ROOT, f"updates/{campaign.public_id}") == []


def test_a_new_image_deletes_the_old_files_and_keeps_its_own(
    settings, campaign, organizer, django_capture_on_commit_callbacks
):
    update, files = with_image(campaign, organizer)
    storage = update.image.storage
    upload = SimpleUploadedFile("other.png", image_bytes((900, 600)), "image/png")

    with django_capture_on_commit_callbacks(execute=True):
        edited = updates.edit_update(
            update, by=organizer, title="t", body="b", audience=SUPPORTERS, image=upload
        )

    assert not any(storage.exists(name) for name in files)
    kept = [edited.image.name, edited.image_large.name]
    assert all(storage.exists(name) for name in kept)
    stored = files_under(settings.MEDIA_ROOT, f"updates/{campaign.public_id}")
    assert sorted(path.name for path in stored) == sorted(name.rsplit("/")[-1] for name in kept)


def test_a_file_that_cannot_be_deleted_never_fails_the_edit(
    campaign, organizer, monkeypatch, django_capture_on_commit_callbacks
):
    update, files = with_image(campaign, organizer)
    refused = []

    def refuse(name):
        refused.append(name)
        raise OSError("read-only file system")

    monkeypatch.setattr(update.image.storage, "delete", refuse)
    with django_capture_on_commit_callbacks(execute=True):
        updates.edit_update(update, by=organizer, title="New", body="b", audience=SUPPORTERS,
                            remove_image=True)  # fmt: skip
    update.refresh_from_db()
    assert update.title == "New" and not update.image
    assert refused == files  # tried both, and the edit stands (the error is logged)


def test_an_edit_that_keeps_the_image_deletes_nothing(
    campaign, organizer, django_capture_on_commit_callbacks
):
    update, files = with_image(campaign, organizer)
    with django_capture_on_commit_callbacks(execute=True):
        updates.edit_update(update, by=organizer, title="New", body="b", audience=SUPPORTERS)
    assert all(update.image.storage.exists(name) for name in files)


# --- pages ----------------------------------------------------------------------------------
def _many_updates(campaign, count, *, audience=PUBLIC):
    author = campaign.organizer
    Update.objects.bulk_create(
        Update(
            campaign=campaign,
            number=number,
            author=author,
            title=f"Update title {number}",
            body="Body",
            body_html="<p>Body</p>",
            audience=audience if number % 2 else PUBLIC,
            published_at=timezone.now() - timedelta(minutes=count - number),
        )
        for number in range(1, count + 1)
    )


def test_the_list_is_paginated_ten_a_page_newest_first(client, campaign):
    _many_updates(campaign, 23)
    url = reverse("community:updates", args=[campaign.slug])
    first = client.get(url).content.decode()
    assert first.index("Update title 23") < first.index("Update title 14")
    assert "Update title 13" not in first
    third = client.get(url, {"page": 3}).content.decode()
    assert "Update title 3<" in third and "Update title 4<" not in third


def test_the_permalink_has_a_canonical_link_and_the_feed(client, settings, campaign, organizer):
    update = post(campaign, organizer)
    html = client.get(permalink(update)).content.decode()
    canonical = settings.SITE_URL.rstrip("/") + permalink(update)
    assert f'<link rel="canonical" href="{canonical}">' in html
    feed = reverse("community:updates_feed", args=[campaign.slug])
    assert 'type="application/atom+xml"' in html and feed in html
    assert "Supporters only" not in html


def test_the_campaign_page_shows_the_latest_three_and_the_team_a_post_button(
    client, campaign, organizer
):
    _many_updates(campaign, 5)
    page = client.get(campaign.get_absolute_url()).content.decode()
    section = page[page.index('id="updates"') :]
    assert "Update title 5" in section and "Update title 3" in section
    assert "Update title 2<" not in section
    assert "All 5 updates" in section and "Post an update" not in section
    client.force_login(organizer)
    page = client.get(campaign.get_absolute_url()).content.decode()
    assert reverse("community:new_update", args=[campaign.pk]) in page


def _page_queries(client, campaign):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(campaign.get_absolute_url())
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("who", ["anonymous", "supporter", "organizer"])
def test_the_campaign_page_is_constant_in_queries(client, who):
    # 2 updates show one (to anonymous visitors) or two, 3 and 100 show three: the same count.
    campaigns = [CampaignFactory(live=True) for _ in range(3)]
    for campaign, count in zip(campaigns, (2, 3, 100), strict=True):
        _many_updates(campaign, count, audience=SUPPORTERS)
    member = MemberFactory()
    if who == "supporter":
        for campaign in campaigns:
            PledgeFactory(campaign=campaign, supporter=member)
    elif who == "organizer":
        Campaign.objects.filter(pk__in=[c.pk for c in campaigns]).update(organizer=member)
    if who != "anonymous":
        client.force_login(member)
    counts = [_page_queries(client, campaign) for campaign in campaigns]
    assert counts[0] == counts[1] == counts[2]


def test_the_updates_list_is_constant_in_queries(client, supporter, campaign):
    other = CampaignFactory(live=True)
    PledgeFactory(campaign=other, supporter=supporter)
    _many_updates(campaign, 3)
    _many_updates(other, 30)
    client.force_login(supporter)

    def queries(target):
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("community:updates", args=[target.slug])).status_code == 200
        return len(captured)

    assert queries(campaign) == queries(other)


def test_a_future_public_from_from_the_form_is_kept_in_local_time(client, campaign, organizer):
    client.force_login(organizer)
    later = (timezone.localtime() + timedelta(days=2)).replace(second=0, microsecond=0)
    response = client.post(
        reverse("community:new_update", args=[campaign.pk]),
        {
            "title": "Soon public",
            "body": "Text",
            "audience": "supporters",
            "public_from": later.strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert response.status_code == 302
    assert Update.objects.get().public_from == later


def test_a_new_update_shows_at_once_on_the_cached_campaign_page(
    client, campaign, organizer, run_tasks
):
    assert "Fresh news" not in client.get(campaign.get_absolute_url()).content.decode()
    assert page_cache.get(campaign.slug) is not None  # the anonymous page is cached
    with run_tasks():
        post(campaign, organizer, title="Fresh news")
    assert "Fresh news" in client.get(campaign.get_absolute_url()).content.decode()


@pytest.mark.parametrize("who", ["anonymous", "supporter", "organizer"])
def test_the_updates_section_costs_at_most_two_queries(
    campaign, supporter, who, django_assert_max_num_queries
):
    from django.contrib.auth.models import AnonymousUser
    from django.template.loader import render_to_string

    _many_updates(campaign, 100, audience=SUPPORTERS)
    viewer = {"anonymous": AnonymousUser(), "supporter": supporter, "organizer": campaign.organizer}
    with django_assert_max_num_queries(2 if who == "supporter" else 1):
        html = render_to_string(
            "community/_campaign_updates.html", {"campaign": campaign, "user": viewer[who]}
        )
    assert ("All 100 updates" in html) is (who != "anonymous")
    assert ("All 50 updates" in html) is (who == "anonymous")


# --- a fan-out that fails again and again -----------------------------------------------------
def test_a_fan_out_that_keeps_failing_is_given_up_shown_to_admins_and_sent_again_on_request(
    campaign, organizer, supporter, monkeypatch, queued_fan_outs, admin_client, celery_eager
):
    update = post(campaign, organizer)
    age(update, hours=1)
    failing_email_audience(monkeypatch, fails=lambda update: True)
    expired = timezone.now() - updates.FAN_OUT_LEASE - timedelta(minutes=1)
    for _run in range(updates.FAN_OUT_MAX_FAILURES):
        with pytest.raises(updates.FanOutInterrupted):
            updates.fan_out(update.pk)
        Update.objects.filter(pk=update.pk).update(fan_out_claimed_at=expired)  # lease ended

    update.refresh_from_db()
    assert update.fan_out_failures == updates.FAN_OUT_MAX_FAILURES
    assert update.fan_out_error == "RuntimeError: the template broke"
    # The sweep stops: no task queued for it any more, however long it waits.
    assert updates.fan_out_lost() == 0 and queued_fan_outs == []
    changelist = reverse("admin:community_update_changelist")
    listed = admin_client.get(changelist).content.decode()
    assert "1 update was not emailed" in listed and "Not sent" in listed

    monkeypatch.undo()  # fixed; an admin asks for it again
    response = admin_client.post(
        changelist, {"action": "email_again", "_selected_action": [update.pk]}, follow=True
    )

    assert "1 update queued to be emailed again." in response.content.decode()
    assert AuditEvent.objects.filter(
        action="update:fan_out_retried", target_id=str(update.pk)
    ).exists()
    update.refresh_from_db()
    assert update.fan_out_failures == 0
    assert updates.fan_out(update.pk) == 1  # what the queued task runs
    update.refresh_from_db()
    assert update.emailed_at is not None and update.fan_out_error == ""
    assert OutboundEmail.objects.get().to == supporter.email


def test_a_queued_run_that_finds_nothing_due_frees_the_sweep_s_claim(
    campaign, organizer, supporter, follower, queued_fan_outs
):
    update = post(campaign, organizer, audience=SUPPORTERS)
    updates.fan_out(update.pk)  # the supporters have it
    Update.objects.filter(pk=update.pk).update(public_from=timezone.now() - timedelta(minutes=1))
    assert updates.fan_out_turned_public() == 1
    ((_args, kwargs),) = queued_fan_outs
    # Before the task runs, the organizer moves the date into the future again.
    Update.objects.filter(pk=update.pk).update(public_from=timezone.now() + timedelta(days=2))

    assert updates.fan_out(update.pk, **kwargs) == 0

    update.refresh_from_db()
    assert update.fan_out_claimed_at is None
