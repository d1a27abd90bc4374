"""Issue 13 end to end in headless Chromium: the organizer posts a supporters-only update from
the workspace (its HTML removed); the outbox emails it to supporters only (HTML and text, a
one-click unsubscribe); a supporter reads it on the campaign page and at its permalink, anyone
else gets a 404 and finds it nowhere (campaign page, Atom feed); beat's community sweep emails
a follower the 48-hour reminder once, and its unsubscribe link turns reminders off with one
button (the GET alone changes nothing); the organizer's dashboard draws its SVG chart; the
widget shows the campaign inside a page of another origin.

Pledges are made with the factory (active, no card flow); every task runs in-process (eager),
in the live server's thread too (the fan-out after the update's commit, each email's send).
Screenshots (full page) go to test-artifacts/screenshots/community-journey-<nn>-<step>.png.
"""

import re
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.etree import ElementTree

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from community import follows, notifications, updates
from community.models import Update
from core.models import OutboundEmail
from tests.browser_fixtures import SCREENSHOTS
from tests.factories import PASSWORD, CampaignFactory, MemberFactory, PledgeFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ATOM = "{http://www.w3.org/2005/Atom}"
UPDATE_TITLE = "Soil delivered, beds in"
UPDATE_TEXT = """The **raised beds** are in and the soil came on Saturday.

<script>alert("script")</script>
<img src="x" onerror="alert('onerror')">

- 8 beds
- 6 m3 of soil

Thank you for making it happen."""


@pytest.fixture
def community(settings, celery_eager, live_server):
    """Links in emails point at the live server; emails land in mail.outbox; tasks run eagerly."""
    settings.SITE_URL = live_server.url
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.REDIS_URL = ""
    return celery_eager


@pytest.fixture
def shoot():
    """shoot(page, number, step): a full-page screenshot, community-journey-<nn>-<step>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, number, step):
        # From the top: a full-page shot of a scrolled page draws the sticky header mid-page.
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(
            path=str(SCREENSHOTS / f"community-journey-{number:02d}-{step}.png"), full_page=True
        )

    return take


@pytest.fixture
def person(browser):
    """person(): a new browser context (own cookies) and its page, closed after the test. Any
    JavaScript dialog (an alert from a script that got through) is recorded in `alerts`."""
    contexts = []
    alerts = []

    def open_page():
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on("dialog", lambda dialog: (alerts.append(dialog.message), dialog.dismiss()))
        return page

    open_page.alerts = alerts
    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def other_site():
    """A blog on another origin (its own server on 127.0.0.1; the live server is localhost):
    other_site.embed(page, src) shows it with an iframe of `src`."""
    served = {}

    class Blog(BaseHTTPRequestHandler):
        def do_GET(self):
            body = served["html"].encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Blog)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    class Site:
        origin = f"http://127.0.0.1:{server.server_port}"

        def embed(self, page, src):
            served["html"] = (
                "<!DOCTYPE html><title>Elm Street news</title><h1>Our street's news</h1>"
                "<p>The garden needs you:</p>"
                f'<iframe src="{src}" width="340" height="420" style="border:0" '
                'title="Elm Street community garden"></iframe>'
            )
            page.goto(self.origin + "/news/garden")
            page.wait_for_load_state("load")

    yield Site()
    server.shutdown()
    server.server_close()


# --- set-up through the services -------------------------------------------------------------
def garden():
    """A live campaign (launched 6 days ago, €1,000 of €4,000 pledged by three supporters on
    three days, one public update already), a follower who is not a supporter, and a second
    campaign the follower follows that ends in 30 hours."""
    now = timezone.now()
    organizer = MemberFactory(display_name="Olivia Martens", email="olivia@journey.test")
    campaign = CampaignFactory(
        live=True,
        organizer=organizer,
        title="Elm Street community garden",
        slug="elm-street-community-garden",
        goal_minor=400_000,
        launched_at=now - timedelta(days=6),
    )
    marie = MemberFactory(display_name="Marie Claes", email="marie@journey.test")
    supporters = [marie, MemberFactory(), MemberFactory()]
    for member, amount, days_ago in zip(supporters, (60_000, 25_000, 15_000), (5, 3, 1)):
        PledgeFactory(
            campaign=campaign,
            supporter=member,
            amount_minor=amount,
            activated_at=now - timedelta(days=days_ago),
        )
    finn = MemberFactory(display_name="Finn Janssens", email="finn@journey.test")
    follows.follow(campaign, by=finn)
    updates.post_update(
        campaign,
        by=organizer,
        title="The lot is ours",
        body="The city signed the lease: the garden can start.",
        audience=Update.Audience.PUBLIC,
    )
    benches = CampaignFactory(
        live=True, title="Benches for the square", deadline=now + timedelta(hours=30)
    )
    follows.follow(benches, by=finn, now=now - timedelta(days=1))  # before its last 48 hours
    return campaign, supporters, finn, benches


def log_in(page, base, member):
    page.goto(base + "/accounts/login/")
    page.get_by_label("Email").fill(member.email)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(base + "/")


def messages_to(member, subject_part):
    return [m for m in mail.outbox if m.to == [member.email] and subject_part in m.subject]


def unsubscribe_link(message):
    return re.fullmatch(r"<(.+)>", message.extra_headers["List-Unsubscribe"]).group(1)


def feed_titles(page, url):
    response = page.request.get(url)
    assert response.status == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    root = ElementTree.fromstring(response.body())
    return [entry.findtext(f"{ATOM}title") for entry in root.iter(f"{ATOM}entry")]


def run_beat_entry(celery_app, name):
    """Run beat's schedule entry `name` as beat would send it (task by name, its options),
    in-process (the app is eager); returns the task's result."""
    entry = celery_app.conf.beat_schedule[name]
    task = celery_app.tasks[entry["task"]]
    return task.apply_async(
        args=entry.get("args", ()), kwargs=entry.get("kwargs", {}), **entry.get("options", {})
    ).get()


# --- the journey -------------------------------------------------------------------------------
def test_the_community_journey(live_server, person, shoot, community, other_site):
    base = live_server.url
    campaign, supporters, finn, benches = garden()
    organizer, marie = campaign.organizer, supporters[0]
    assert len(mail.outbox) == 4  # the public update: three supporters and the follower
    mail.outbox.clear()
    campaign_url = base + campaign.get_absolute_url()

    # 1. The organizer posts a supporters-only update from the workspace.
    olivia = person()
    log_in(olivia, base, organizer)
    olivia.goto(base + reverse("campaigns:mine"))
    olivia.get_by_role("link", name=campaign.title).click()
    olivia.get_by_role("link", name="Post an update").click()
    olivia.wait_for_url(base + reverse("community:new_update", args=[campaign.pk]))
    olivia.get_by_label("Title").fill(UPDATE_TITLE)
    olivia.get_by_label("Text").fill(UPDATE_TEXT)
    olivia.get_by_label("Supporters only").check()
    shoot(olivia, 1, "post-update-form")
    olivia.get_by_role("button", name="Post update").click()
    permalink = base + reverse("community:update", args=[campaign.slug, 2])
    olivia.wait_for_url(permalink)
    expect(olivia.locator(".messages")).to_contain_text("Your update is posted for supporters.")
    expect(olivia.locator("h1")).to_have_text(UPDATE_TITLE)
    expect(olivia.locator(".cu-update-head .cu-tag-supporters")).to_have_text("Supporters only")
    body = olivia.locator(".cu-body")
    expect(body.locator("strong")).to_have_text("raised beds")
    expect(body.locator("li")).to_have_count(2)
    expect(body).to_contain_text("Thank you for making it happen.")
    expect(body.locator("script, img, [onerror]")).to_have_count(0)
    shoot(olivia, 2, "update-permalink-organizer")
    update = Update.objects.get(campaign=campaign, number=2)
    assert update.audience == Update.Audience.SUPPORTERS and update.author == organizer
    assert "<script" not in update.body_html and "onerror" not in update.body_html
    assert "<img" not in update.body_html and update.emailed_at is not None

    # 2. The outbox emailed it to the supporters (the organizer wrote it), not the follower.
    emailed = sorted(address for m in mail.outbox if UPDATE_TITLE in m.subject for address in m.to)
    assert emailed == sorted(member.email for member in supporters)
    assert messages_to(finn, UPDATE_TITLE) == []
    assert not OutboundEmail.objects.filter(to=finn.email, subject__contains=UPDATE_TITLE).exists()
    assert set(
        OutboundEmail.objects.filter(subject__contains=UPDATE_TITLE).values_list(
            "status", flat=True
        )
    ) == {OutboundEmail.Status.SENT}
    (message,) = messages_to(marie, UPDATE_TITLE)
    unsubscribe = unsubscribe_link(message)
    assert unsubscribe.startswith(base + "/unsubscribe/")
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Hello Marie Claes," in message.body and permalink in message.body
    assert unsubscribe in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert "<strong>raised beds</strong>" in html and "Supporters only" in html
    assert permalink in html and "<script" not in html and "onerror" not in html

    # 3. A supporter reads it on the campaign page and at its permalink.
    marie_page = person()
    log_in(marie_page, base, marie)
    marie_page.goto(campaign_url)
    section = marie_page.locator("#updates")
    expect(section.locator(".cu-count")).to_have_text("2")
    newest = section.locator(".cu-item").first
    expect(newest.locator(".cu-title")).to_have_text(UPDATE_TITLE)
    expect(newest.locator(".cu-tag-supporters")).to_have_text("Supporters only")
    section.scroll_into_view_if_needed()
    shoot(marie_page, 3, "campaign-page-supporter")
    newest.get_by_role("link", name=UPDATE_TITLE, exact=True).click()
    marie_page.wait_for_url(permalink)
    expect(marie_page.locator("h1")).to_have_text(UPDATE_TITLE)
    expect(marie_page.locator(".cu-audience-note")).to_contain_text("Only supporters")
    expect(marie_page.get_by_role("link", name="Edit update")).to_have_count(0)
    shoot(marie_page, 4, "update-permalink-supporter")

    # 4. Anyone else: a 404 at the permalink, and the update is on no page nor in the feed.
    finn_page = person()
    log_in(finn_page, base, finn)
    response = finn_page.goto(permalink)
    assert response.status == 404
    expect(finn_page.locator("main")).not_to_contain_text(UPDATE_TITLE)
    shoot(finn_page, 5, "update-permalink-404-non-supporter")
    finn_page.goto(campaign_url)
    section = finn_page.locator("#updates")
    expect(section.locator(".cu-count")).to_have_text("1")
    expect(section.locator(".cu-title")).to_have_text(["The lot is ours"])
    expect(finn_page.locator("body")).not_to_contain_text(UPDATE_TITLE)
    feed = base + reverse("community:updates_feed", args=[campaign.slug])
    assert feed_titles(finn_page, feed) == ["The lot is ours"]
    visitor = person()  # nor to someone who is not logged in
    assert visitor.goto(permalink).status == 404
    assert feed_titles(visitor, feed) == ["The lot is ours"]

    # 5. Beat's community sweep: the follower of a campaign ending within 48 hours is reminded
    # once, however often it runs.
    entry = community.conf.beat_schedule["community-sweep"]
    assert entry["task"] == "community.sweep"
    first = run_beat_entry(community, "community-sweep")
    assert first["follower_emails"]["reminder"] == {"queued": 1, "marked": 0}
    run_beat_entry(community, "community-sweep")
    (reminder,) = messages_to(finn, benches.title)
    assert reminder.subject.startswith("[Groundswell] ") and "ends on" in reminder.subject
    assert len(mail.outbox) == 1 + len(supporters)  # nothing else was sent
    assert benches.title in reminder.body and (base + benches.get_absolute_url()) in reminder.body
    unsubscribe = unsubscribe_link(reminder)
    assert unsubscribe in reminder.body
    assert reminder.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    stranger = person()  # the link needs no login
    response = stranger.goto(unsubscribe)
    assert response.status == 200
    assert response.headers["x-robots-tag"] == "noindex"
    expect(stranger.locator("h1")).to_have_text(
        "Unsubscribe from launch and deadline reminders for campaigns you follow?"
    )
    finn.refresh_from_db()
    assert notifications.wants(finn, notifications.Kind.REMINDERS)  # the GET changed nothing
    shoot(stranger, 6, "unsubscribe-ask")
    stranger.get_by_role("button", name="Unsubscribe").click()
    expect(stranger.locator("h1")).to_have_text("You are unsubscribed")
    expect(stranger.locator("main")).to_contain_text(
        "You will no longer get launch and deadline reminders for campaigns you follow."
    )
    shoot(stranger, 7, "unsubscribed")
    finn.refresh_from_db()
    preferences = finn.notification_settings
    assert preferences.reminders is False
    assert preferences.updates and preferences.comments and preferences.replies

    # 6. The organizer's dashboard draws its charts as SVG.
    olivia.goto(base + reverse("community:dashboard", args=[campaign.pk]))
    expect(olivia.locator(".db-figures")).to_contain_text("€1,000")
    chart = olivia.locator("svg.db-svg").first
    expect(chart).to_be_visible()
    expect(chart.locator("title")).to_have_text("Pledged over time")
    box = chart.bounding_box()
    assert box and box["width"] > 100 and box["height"] > 50, box
    assert olivia.locator("svg.db-svg").count() == 2  # pledged over time, pledges per day
    shoot(olivia, 8, "dashboard")

    # 7. The widget, inside a page on another origin.
    blog = person()
    other_site.embed(blog, base + reverse("community:widget", args=[campaign.slug]))
    widget = blog.frame_locator("iframe")
    expect(widget.locator(".widget-title")).to_have_text(campaign.title)
    expect(widget.locator(".widget-amount")).to_contain_text("€1,000")
    expect(widget.locator(".widget-amount")).to_contain_text("pledged of €4,000 goal")
    expect(widget.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "25")
    expect(widget.locator(".widget-stats")).to_contain_text("25%")
    expect(widget.get_by_role("link", name="Back this campaign")).to_be_visible()
    assert blog.frames[1].url.startswith(base) and not blog.url.startswith(base)
    shoot(blog, 9, "widget-on-another-site")

    assert person.alerts == []  # no script of the update ever ran
