"""The embeddable widget (/c/<slug>/widget/: framed by anyone, cached, no cookies) and oEmbed
(/oembed/), and that every other page still refuses to be framed."""

import datetime as dt
import re
from html import unescape

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone, translation

from campaigns import page_cache
from campaigns.models import Campaign
from community import sharing
from tests.factories import CampaignFactory, PledgeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign(db):
    return CampaignFactory(live=True, title="Tool library & repair café", goal_minor=100_000)


def widget_url(campaign):
    return reverse("community:widget", args=[campaign.slug])


def directives(response):
    return dict(
        (part.split(" ", 1) + [""])[:2] for part in response["Content-Security-Policy"].split("; ")
    )


# --- the widget -----------------------------------------------------------------------------
def test_the_widget_may_be_framed_by_anyone(client, campaign, settings):
    PledgeFactory(campaign=campaign, amount_minor=25_000)
    response = client.get(widget_url(campaign))
    assert response.status_code == 200
    policy = directives(response)
    assert policy["frame-ancestors"] == "*"
    assert policy["default-src"] == "'none'" and "script-src" not in policy
    assert "X-Frame-Options" not in response
    html = response.content.decode()
    assert "Tool library &amp; repair café" in html
    assert "€250" in html and "€1,000" in html and "25%" in html
    assert re.search(r"<strong>1</strong> <span>supporter</span>", html)
    assert "days left" in html and "<script" not in html and "base.html" not in html
    back = re.search(
        r'<a class="widget-button" href="([^"]+)" target="_blank" rel="noopener">'
        r"Back this campaign</a>",
        html,
    )
    assert back and unescape(back[1]) == (
        f"{settings.SITE_URL}{campaign.get_absolute_url()}?utm_source=embed&utm_medium=widget"
    )


def test_the_widget_sets_no_cookie_and_may_be_cached_by_anyone(client, campaign):
    response = client.get(widget_url(campaign))
    assert not response.cookies
    assert "Cookie" not in response.get("Vary", "")
    assert response["Cache-Control"] == "public, max-age=10"
    assert "csrfmiddlewaretoken" not in response.content.decode()


def test_the_widget_is_cached_for_a_few_seconds(client, campaign, django_assert_num_queries):
    assert "€0" in client.get(widget_url(campaign)).content.decode()
    PledgeFactory(campaign=campaign, amount_minor=25_000)
    with django_assert_num_queries(0):
        again = client.get(widget_url(campaign))
    assert "€0" in again.content.decode()  # up to PAGE_CACHE_SECONDS old
    assert directives(again)["frame-ancestors"] == "*" and "X-Frame-Options" not in again
    assert 1 <= int(again["Cache-Control"].rsplit("=", 1)[1]) <= 10
    page_cache.forget(campaign)  # the page's writers forget the widget too
    assert "€250" in client.get(widget_url(campaign)).content.decode()


def test_the_widget_is_in_the_active_language(client, campaign):
    assert '<html lang="en">' in client.get(widget_url(campaign)).content.decode()
    page_cache.forget(campaign)
    with translation.override("nl"):
        assert '<html lang="nl">' in client.get(widget_url(campaign)).content.decode()


def test_the_widget_is_never_cached_past_the_deadline(client):
    soon = CampaignFactory(live=True, deadline=timezone.now() + dt.timedelta(seconds=4))
    response = client.get(widget_url(soon))
    assert 1 <= int(response["Cache-Control"].rsplit("=", 1)[1]) <= 4


def test_the_widget_costs_a_constant_number_of_queries(client, django_assert_max_num_queries):
    campaign = CampaignFactory(live=True)
    for _ in range(5):
        PledgeFactory(campaign=campaign)
    with django_assert_max_num_queries(1):
        assert client.get(widget_url(campaign)).status_code == 200


@pytest.mark.parametrize(
    "status", [Campaign.Status.DRAFT, Campaign.Status.IN_REVIEW, Campaign.Status.CANCELLED]
)
def test_no_widget_for_a_campaign_that_is_not_public(client, status):
    hidden = CampaignFactory(status=status)
    response = client.get(widget_url(hidden))
    assert response.status_code == 404
    # The error page is an ordinary page: it may not be framed.
    assert response["X-Frame-Options"] == "DENY"
    assert directives(response)["frame-ancestors"] == "'none'"
    client.force_login(hidden.organizer)  # not even for its organizer
    assert client.get(widget_url(hidden)).status_code == 404
    assert client.get("/c/no-such-campaign/widget/").status_code == 404


def test_after_the_deadline_the_widget_shows_what_was_collected(client, monkeypatch):
    ended = CampaignFactory(
        live=True, status=Campaign.Status.SETTLING, deadline=timezone.now() - dt.timedelta(days=1)
    )
    monkeypatch.setattr(
        "campaigns.selectors.collected_by_campaign", lambda ids: dict.fromkeys(ids, 40_000)
    )
    html = client.get(widget_url(ended)).content.decode()
    assert "€400" in html and "collected of €5,000 goal" in html
    assert "collecting payments" in html and "Back this campaign" not in html


@pytest.mark.parametrize("url_name", ["home", "campaigns:discover"])
def test_other_pages_still_may_not_be_framed(client, url_name):
    response = client.get(reverse(url_name))
    assert response["X-Frame-Options"] == "DENY"
    assert directives(response)["frame-ancestors"] == "'none'"


def test_the_campaign_page_may_not_be_framed(client, campaign):
    for _ in range(2):  # a fresh render, then the page cache's copy
        response = client.get(campaign.get_absolute_url())
        assert response["X-Frame-Options"] == "DENY"
        assert directives(response)["frame-ancestors"] == "'none'"


# --- oEmbed ---------------------------------------------------------------------------------
def oembed(client, **params):
    return client.get(reverse("community:oembed"), params)


def page_url(campaign, settings):
    return settings.SITE_URL + campaign.get_absolute_url()


def test_oembed_answers_a_public_campaign_page(client, campaign, settings):
    response = oembed(client, url=page_url(campaign, settings), format="json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    answer = response.json()
    widget = settings.SITE_URL + widget_url(campaign)
    assert answer == {
        "version": "1.0",
        "type": "rich",
        "provider_name": "Groundswell",
        "provider_url": settings.SITE_URL,
        "title": "Tool library & repair café",
        "author_name": campaign.organizer.display_name,
        "author_url": settings.SITE_URL + campaign.organizer.get_absolute_url(),
        "html": (
            f'<iframe src="{widget}" width="340" height="420" style="border:0" '
            'title="Tool library &amp; repair café on Groundswell" loading="lazy"></iframe>'
        ),
        "width": 340,
        "height": 420,
        "cache_age": sharing.OEMBED_CACHE_SECONDS,
    }
    # Without format (JSON is the default), with a shared link's query string, or no slash.
    shared = page_url(campaign, settings) + "?utm_source=x&ref=abc"
    assert oembed(client, url=shared).json()["html"] == answer["html"]
    assert oembed(client, url=page_url(campaign, settings).rstrip("/")).status_code == 200


def test_maxwidth_and_maxheight_bound_the_embed(client, campaign, settings, monkeypatch):
    monkeypatch.setattr(type(campaign.cover_card), "url", property(lambda f: "/media/c.jpg"))
    Campaign.objects.filter(pk=campaign.pk).update(cover_card="covers/c.jpg")
    url = page_url(campaign, settings)
    answer = oembed(client, url=url, maxwidth="300", maxheight="1000").json()
    assert (answer["width"], answer["height"]) == (300, 420)
    assert 'width="300" height="420"' in answer["html"]
    assert "thumbnail_url" not in answer  # 640 wide: it would not fit either
    roomy = oembed(client, url=url, maxwidth="800", maxheight="400").json()
    assert (roomy["width"], roomy["height"]) == (340, 400)
    assert roomy["thumbnail_url"] == settings.SITE_URL + "/media/c.jpg"
    assert (roomy["thumbnail_width"], roomy["thumbnail_height"]) == (640, 360)


@pytest.mark.parametrize(
    "params, status",
    [
        ({"format": "xml"}, 501),
        ({"maxwidth": "wide"}, 400),
        ({"maxwidth": "0"}, 400),
        ({"maxheight": "-20"}, 400),
        ({"maxheight": "1e3"}, 400),
        ({"url": ""}, 400),
        ({"url": "https://elsewhere.example/c/{slug}/"}, 404),
        ({"url": "{site}/discover/"}, 404),
        ({"url": "{site}/c/no-such-campaign/"}, 404),
        ({"url": "javascript:alert(1)"}, 404),
        ({"url": "{site}/c/{slug}/widget/"}, 404),
    ],
)
def test_oembed_refusals(client, campaign, settings, params, status):
    query = {"url": page_url(campaign, settings), "format": "json"}
    query.update(
        {k: v.format(site=settings.SITE_URL, slug=campaign.slug) for k, v in params.items()}
    )
    response = oembed(client, **query)
    assert response.status_code == status
    assert response["Content-Type"] == "application/json" and response.json()["error"]


def test_oembed_knows_nothing_of_campaigns_that_are_not_public(client, settings):
    draft = CampaignFactory()
    client.force_login(draft.organizer)
    assert oembed(client, url=page_url(draft, settings)).status_code == 404


def test_the_discovery_link_points_at_the_answer(client, campaign, settings):
    href = Template("{% load community_share %}{% oembed_url campaign %}").render(
        Context({"campaign": campaign})
    )
    assert href.startswith(settings.SITE_URL + "/oembed/?url=")
    response = client.get(unescape(href).removeprefix(settings.SITE_URL))
    assert response.status_code == 200 and response.json()["type"] == "rich"


# --- in a real browser ----------------------------------------------------------------------
@pytest.fixture
def blog_page(page):
    """A page on another site (a server of its own on 127.0.0.1; ours is localhost): `embed(src)`
    shows it with an iframe of `src` and returns the frame."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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

    def embed(src):
        served["html"] = (
            "<!DOCTYPE html><title>A blog</title><h1>Our street's news</h1>"
            f'<iframe src="{src}" width="340" height="420" style="border:0"></iframe>'
        )
        page.goto(f"http://127.0.0.1:{server.server_port}/post")
        page.wait_for_load_state("load")
        return page.frames[1]

    yield embed
    server.shutdown()
    server.server_close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_another_site_shows_the_widget_but_not_our_pages(live_server, blog_page, screenshot):
    from io import BytesIO

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image
    from playwright.sync_api import expect

    from campaigns import services

    campaign = CampaignFactory(live=True, title="Repair café on wheels", goal_minor=320_000)
    picture = BytesIO()
    Image.new("RGB", (1280, 720), (92, 150, 84)).save(picture, "JPEG")
    cover = SimpleUploadedFile("cover.jpg", picture.getvalue(), content_type="image/jpeg")
    services.update_story(campaign, by=campaign.organizer, story=campaign.story, cover=cover)
    PledgeFactory(campaign=campaign, amount_minor=215_000)
    frame = blog_page(live_server.url + widget_url(campaign))
    back = frame.get_by_role("link", name="Back this campaign")
    expect(back).to_be_visible()
    assert back.get_attribute("target") == "_blank"
    expect(frame.locator(".widget-cover img")).to_have_js_property("naturalWidth", 640)
    assert frame.evaluate("getComputedStyle(document.body).fontFamily").startswith("system-ui")
    # The card fits its frame without scrolling.
    assert frame.evaluate("document.documentElement.scrollHeight") <= 420
    screenshot(frame.page, "community-widget-on-another-site")

    blocked = blog_page(live_server.url + campaign.get_absolute_url())
    assert blocked.evaluate("document.querySelector('.campaign-page') === null")
