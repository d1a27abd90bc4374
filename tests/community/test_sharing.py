"""Share links (utm_source, the sharer's referral code) on campaign pages and updates, the
anonymous page cache they must not break (a shared link's visit is served from it), and where a
supporter came from captured at pledge time (pledges.referrals: a signed cookie)."""

import re
import time
import uuid
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns import page_cache
from community import sharing, updates
from community.models import Update
from pledges import referrals
from pledges.models import Pledge
from tests.factories import CampaignFactory, MemberFactory

pytestmark = pytest.mark.django_db

CHANNELS = {"copy", "email", "facebook", "x", "whatsapp", "linkedin"}


@pytest.fixture
def fake_gateway(monkeypatch):
    """Our in-memory provider as the configured one (as in tests/pledges/conftest.py)."""
    from devtools.stripe_standin.inprocess import FakeGateway
    from tests.stripe_fixtures import TEST_WEBHOOK_SECRET

    gateway = FakeGateway(webhook_secret=TEST_WEBHOOK_SECRET)
    monkeypatch.setattr("payments.gateway._gateway_for", lambda *settings: gateway)
    return gateway


@pytest.fixture
def campaign(db):
    return CampaignFactory(live=True, title="Tool library & repair café")


def share_section(response):
    html = response.content.decode()
    match = re.search(r'<section class="sharing".*?</section>', html, re.S)
    assert match, "the campaign page has no share box"
    return match[0]


def hrefs(html):
    return [unescape(h) for h in re.findall(r'href="([^"]+)"', html)]


def shared_urls(links):
    """The tagged campaign URL inside each ShareLink's href, by channel."""
    return {link.channel: parse_qs(urlsplit(link.url).query) for link in links}


# --- share links ----------------------------------------------------------------------------
def test_a_members_links_carry_the_channel_and_their_code_not_their_email(client, campaign):
    member = MemberFactory(email="jo.peeters@example.org")
    links = sharing.share_links(campaign.get_absolute_url(), campaign.title, member=member)
    assert {link.channel for link in links} == CHANNELS
    code = referrals.code_for(member)
    for channel, query in shared_urls(links).items():
        assert query == {"utm_source": [channel], "utm_medium": ["share"], "ref": [code]}
    assert "jo.peeters" not in code and referrals.member_id_for(code) == member.pk

    client.force_login(member)
    section = share_section(client.get(campaign.get_absolute_url()))
    assert "jo.peeters" not in section and "example.org" not in section
    assert f"ref%3D{code}" in section  # inside the networks' share URLs
    assert f"ref={code}" in unescape(section)  # the link to copy
    by_host = {urlsplit(h).netloc or urlsplit(h).scheme: h for h in hrefs(section)}
    assert set(by_host) >= {"www.facebook.com", "twitter.com", "wa.me", "www.linkedin.com"}
    assert "mailto" in by_host
    assert "utm_source%3Dwhatsapp" in by_host["wa.me"]
    # Plain links that open in a new tab without handing the page to the network.
    assert section.count('target="_blank" rel="noopener"') == 4
    assert "<script" not in section


def test_links_to_any_page_are_absolute_and_keep_its_query_and_fragment(settings):
    settings.SITE_URL = "https://groundswell.example"
    member = MemberFactory()
    (copy, *_rest) = sharing.share_links("/c/x/updates/3/?a=1#top", "An update", member=member)
    parts = urlsplit(copy.url)
    assert (parts.scheme, parts.netloc, parts.path, parts.fragment) == (
        "https",
        "groundswell.example",
        "/c/x/updates/3/",
        "top",
    )
    assert parse_qs(parts.query)["a"] == ["1"]


def test_the_template_tag_for_other_pages(rf, campaign):
    request = rf.get("/")
    request.user = MemberFactory()
    html = Template(
        "{% load community_share %}{% share_links request url title as links %}"
        "{% for link in links %}{{ link.channel }}={{ link.url }}|{% endfor %}"
        "{% share_buttons request url title %}"
    ).render(Context({"request": request, "url": "/c/x/updates/1/", "title": "News"}))
    assert "facebook=http" in html and "utm_source=facebook" in html
    assert referrals.code_for(request.user) in html
    assert 'class="sharing-links"' in html


def test_codes_cannot_be_forged_or_guessed():
    member = MemberFactory()
    code = referrals.code_for(member)
    assert code == referrals.code_for(member)  # stable
    assert re.fullmatch(r"m[0-9a-z]+-[0-9a-f]{6}", code)
    other_id = member.pk + 1
    forged = code.replace(code[1 : code.index("-")], format(other_id, "x"), 1)
    assert referrals.member_id_for(forged) is None
    assert referrals.member_id_for("abc") is None and referrals.member_id_for("") is None


def test_anonymous_visitors_get_one_page_without_a_ref(client, campaign):
    url = campaign.get_absolute_url()
    first = client.get(url)
    assert page_cache.get(campaign.slug) == first.content  # the share box keeps it cacheable
    second = client.get(url)  # from the page cache
    cache.clear()
    fresh = client.get(url)  # rendered again for another visitor
    assert first.content == second.content == fresh.content
    section = share_section(first)
    assert "utm_source%3Dfacebook" in section and "ref%3D" not in section
    assert not re.search(r"[?&]ref=", unescape(section))
    assert not first.cookies and not fresh.cookies


def test_the_page_offers_the_embed_code(client, campaign, settings):
    html = share_section(client.get(campaign.get_absolute_url()))
    code = unescape(re.search(r"<textarea[^>]*>(.*?)</textarea>", html, re.S)[1])
    widget = settings.SITE_URL + reverse("community:widget", args=[campaign.slug])
    assert code == (
        f'<iframe src="{widget}" width="340" height="420" style="border:0" '
        f'title="Tool library &amp; repair café on Groundswell" loading="lazy"></iframe>'
    )


def test_no_share_box_on_a_private_page(client):
    draft = CampaignFactory()
    client.force_login(draft.organizer)
    response = client.get(draft.get_absolute_url())
    assert response.status_code == 200
    assert 'class="sharing"' not in response.content.decode()


# --- capture at pledge time -----------------------------------------------------------------
def pledge(client, campaign, **query):
    data = {
        "reward": "",
        "amount": "10",
        "public_name": "",
        "message": "",
        "idempotency_key": uuid.uuid4().hex,
    }
    response = client.post(reverse("pledges:new", args=[campaign.slug]), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    return Pledge.objects.get(campaign=campaign)


def ref_cookie(response):
    """The referral cookie `response` sets, or None."""
    morsel = response.cookies.get(referrals.COOKIE_NAME)
    return None if morsel is None or not morsel.value else morsel


def test_a_share_link_visit_is_stored_on_the_pledge(fake_gateway, client, campaign):
    sharer = MemberFactory()
    code = referrals.code_for(sharer)
    # An anonymous visitor follows a shared link, then signs in and pledges.
    response = client.get(campaign.get_absolute_url(), {"ref": code, "utm_source": "facebook"})
    assert response.status_code == 200
    assert ref_cookie(response) and "sessionid" not in response.cookies  # no session for it
    assert not Session.objects.exists()
    client.force_login(MemberFactory())
    made = pledge(client, campaign)
    assert (made.referral_code, made.referral_source) == (code, "facebook")
    assert referrals.member_id_for(made.referral_code) == sharer.pk


def test_share_link_visits_are_served_from_the_page_cache(
    fake_gateway, client, campaign, settings, django_assert_num_queries
):
    code = referrals.code_for(MemberFactory())
    url = f"{campaign.get_absolute_url()}?utm_source=facebook&utm_medium=share&ref={code}"
    plain = client.get(campaign.get_absolute_url())  # the page everyone gets
    cache.clear()
    first = client.get(url)
    assert ref_cookie(first)
    # The cached copy is the page alone: the same as the plain one, without the cookie.
    assert page_cache.get(campaign.slug) == first.content == plain.content
    assert code not in first.content.decode()
    for _ in range(2):  # crawlers and clicks come without cookies
        client.cookies.clear()
        with django_assert_num_queries(0):
            again = client.get(url)
        assert again.content == first.content
        cookie = ref_cookie(again)
        assert cookie and cookie["httponly"] and cookie["samesite"] == "Lax"
        assert cookie["max-age"] == referrals.REFERRAL_DAYS * 86_400
        assert bool(cookie["secure"]) == settings.SESSION_COOKIE_SECURE
    assert not Session.objects.exists()
    client.force_login(MemberFactory())
    made = pledge(client, campaign)
    assert (made.referral_code, made.referral_source) == (code, "facebook")


def test_a_visitor_with_only_the_referral_cookie_still_gets_the_cached_page(
    fake_gateway, client, campaign, django_assert_num_queries
):
    code = referrals.code_for(MemberFactory())
    client.get(campaign.get_absolute_url(), {"ref": code, "utm_source": "x"})
    assert set(client.cookies) == {referrals.COOKIE_NAME}
    client.get(campaign.get_absolute_url())  # cached by this visit, if not already

    with django_assert_num_queries(0):
        later = client.get(campaign.get_absolute_url())  # the same visitor, days later

    assert later.status_code == 200 and code not in later.content.decode()
    # Any other cookie (a session, a CSRF token) still gets a fresh page.
    client.cookies["csrftoken"] = "x" * 32
    with CaptureQueriesContext(connection) as queries:
        client.get(campaign.get_absolute_url())
    assert len(queries) > 0


def test_other_parameters_still_bypass_the_page_cache(rf, client, campaign):
    page_cache.put(rf.get("/"), campaign, b"cached")  # what a cached visit would get
    assert client.get(campaign.get_absolute_url() + "?utm_source=x&fbclid=1").content == b"cached"
    for query in ("?comments_page=2", "?utm_source=x&comments_page=2", "?other=1"):
        response = client.get(campaign.get_absolute_url() + query)
        assert response.status_code == 200 and response.content != b"cached"


def test_a_forged_or_tampered_cookie_is_ignored(fake_gateway, client, campaign):
    response = client.get(campaign.get_absolute_url(), {"ref": "abc", "utm_source": "x"})
    signed = ref_cookie(response).value
    value, _signature = signed.rsplit(":", 1)
    unsigned = f"{campaign.slug}~evil~x~{int(time.time())}"
    client.force_login(MemberFactory())
    for forged in (
        unsigned,  # not signed
        unsigned + value[value.index(":") :] + ":" + _signature,  # another value, old signature
        signed[:-2] + ("AA" if not signed.endswith("AA") else "BB"),  # a bad signature
        "nonsense",
    ):
        client.cookies[referrals.COOKIE_NAME] = forged
        assert pledge(client, campaign).referral_code == ""
        Pledge.objects.all().delete()
    client.cookies[referrals.COOKIE_NAME] = signed  # the genuine one still counts
    assert (pledge(client, campaign).referral_code, Pledge.objects.get().referral_source) == (
        "abc",
        "x",
    )


def test_plain_codes_and_sources_are_kept_as_given(fake_gateway, client, campaign):
    client.force_login(MemberFactory())
    client.get(campaign.get_absolute_url() + "?ref=abc&utm_source=Facebook")
    made = pledge(client, campaign)
    assert (made.referral_code, made.referral_source) == ("abc", "facebook")


def test_the_pledge_page_captures_too_and_the_last_touch_wins(fake_gateway, client, campaign):
    client.force_login(MemberFactory())
    client.get(campaign.get_absolute_url(), {"ref": "abc", "utm_source": "facebook"})
    response = client.get(reverse("pledges:new", args=[campaign.slug]), {"utm_source": "email"})
    assert response.status_code == 200 and ref_cookie(response)
    made = pledge(client, campaign)
    assert (made.referral_code, made.referral_source) == ("", "email")


def test_a_visit_to_another_campaign_does_not_count(fake_gateway, client, campaign):
    client.force_login(MemberFactory())
    client.get(CampaignFactory(live=True).get_absolute_url(), {"ref": "abc"})
    made = pledge(client, campaign)
    assert (made.referral_code, made.referral_source) == ("", "")


def test_visits_to_several_campaigns_are_kept_apart(fake_gateway, client, campaign):
    other = CampaignFactory(live=True)
    client.get(campaign.get_absolute_url(), {"ref": "abc"})
    client.get(other.get_absolute_url(), {"utm_source": "x"})
    client.force_login(MemberFactory())
    assert pledge(client, campaign).referral_code == "abc"
    assert Pledge.objects.get(campaign=campaign).referral_source == ""


def test_a_members_own_link_is_not_a_referral(fake_gateway, client, campaign):
    member = MemberFactory()
    client.force_login(member)
    client.get(campaign.get_absolute_url(), {"ref": referrals.code_for(member), "utm_source": "x"})
    made = pledge(client, campaign)
    assert (made.referral_code, made.referral_source) == ("", "x")


@pytest.mark.parametrize(
    "query",
    [
        "ref=" + "a" * 65 + "&utm_source=" + "b" * 65,  # overlong
        "ref=caf%C3%A9&utm_source=f%C3%A1cebook",  # not ASCII
        "ref=%3Cb%3Ehi%3C%2Fb%3E&utm_source=%22%3E%3Cscript%3E",  # HTML
        "ref=a&ref=b&utm_source=x&utm_source=y",  # given twice
        "ref=a%20b&utm_source=a%0Ab",  # spaces, a newline
        "ref=a~b|c&utm_source=x~1|y",  # the cookie's separators
        "ref=&utm_source=",  # empty
    ],
)
def test_bad_values_are_ignored_and_set_no_cookie(fake_gateway, client, campaign, query):
    response = client.get(f"{campaign.get_absolute_url()}?{query}")
    assert response.status_code == 200
    assert not response.cookies  # nothing was written for this visitor
    client.force_login(MemberFactory())
    response = client.get(f"{reverse('pledges:new', args=[campaign.slug])}?{query}")
    assert referrals.COOKIE_NAME not in response.cookies
    made = pledge(client, campaign)
    assert (made.referral_code, made.referral_source) == ("", "")


def visit(rf, query, campaign, *, cookie=None, now=None):
    """remember() for a request with `query` and `cookie`: the cookie it sets."""
    request = rf.get("/", query)
    if cookie:
        request.COOKIES[referrals.COOKIE_NAME] = cookie
    response = HttpResponse()
    referrals.remember(request, response, campaign.slug, now=now)
    return ref_cookie(response).value


def reading(rf, cookie, member=None):
    request = rf.post("/")
    request.COOKIES[referrals.COOKIE_NAME] = cookie
    request.user = member or MemberFactory()
    return request


def test_a_64_character_code_is_kept(rf, campaign):
    cookie = visit(rf, {"ref": "a" * 64, "utm_source": "b.c_d-e"}, campaign)
    assert referrals.for_pledge(reading(rf, cookie), campaign) == ("a" * 64, "b.c_d-e")


def test_a_touch_is_forgotten_after_thirty_days(rf, campaign):
    now = time.time()
    cookie = visit(rf, {"ref": "abc"}, campaign, now=now - 31 * 86_400)
    assert referrals.for_pledge(reading(rf, cookie), campaign, now=now) == ("", "")
    cookie = visit(rf, {"ref": "abc"}, campaign, now=now - 29 * 86_400)
    assert referrals.for_pledge(reading(rf, cookie), campaign, now=now) == ("abc", "")


def test_the_cookie_keeps_a_bounded_number_of_campaigns(rf):
    campaigns = [
        CampaignFactory(live=True, slug="s" * 70 + str(n))
        for n in range(referrals.MAX_CAMPAIGNS + 3)
    ]
    cookie = None
    query = {"ref": "r" * 64, "utm_source": "u" * 64}
    for number, campaign in enumerate(campaigns):
        cookie = visit(rf, query, campaign, cookie=cookie, now=time.time() - 100 + number)
    header = HttpResponse()
    header.set_cookie(referrals.COOKIE_NAME, cookie)
    assert len(header.cookies.output()) < 4000  # browsers keep 4 KB per cookie
    request = reading(rf, cookie)
    kept = [c for c in campaigns if referrals.for_pledge(request, c) != ("", "")]
    assert kept == campaigns[-referrals.MAX_CAMPAIGNS :]  # the oldest were dropped


def test_a_malformed_value_in_a_signed_cookie_is_ignored(rf, campaign):
    # Even a value signed with our key (e.g. one from an older release) is checked.
    for value in (
        f"{campaign.slug}~<b>~x~{int(time.time())}",
        f"{campaign.slug}~abc~x",
        f"{campaign.slug}~abc~x~soon",
        "nonsense",
    ):
        response = HttpResponse()
        response.set_signed_cookie(referrals.COOKIE_NAME, value, salt=referrals.COOKIE_SALT)
        request = reading(rf, response.cookies[referrals.COOKIE_NAME].value)
        assert referrals.for_pledge(request, campaign) == ("", "")
    other_salt = HttpResponse()
    other_salt.set_signed_cookie(
        referrals.COOKIE_NAME, f"{campaign.slug}~abc~x~{int(time.time())}", salt="other"
    )
    request = reading(rf, other_salt.cookies[referrals.COOKIE_NAME].value)
    assert referrals.for_pledge(request, campaign) == ("", "")


# --- updates ----------------------------------------------------------------------------------
def post(campaign, audience=Update.Audience.PUBLIC):
    return updates.post_update(
        campaign,
        by=campaign.organizer,
        title="The van is ours",
        body="Thank you!",
        audience=audience,
    )


def test_an_update_has_share_links_and_its_visits_count(fake_gateway, client, campaign):
    update = post(campaign)
    sharer = MemberFactory()
    client.force_login(sharer)
    response = client.get(update.get_absolute_url())
    html = response.content.decode()
    section = share_section(response)
    assert "Share this update" in section
    tagged = unescape(re.search(r'class="sharing-copy-input"[^>]*value="([^"]+)"', section)[1])
    parts = urlsplit(tagged)
    assert parts.path == update.get_absolute_url()
    code = referrals.code_for(sharer)
    assert parse_qs(parts.query) == {"utm_source": ["copy"], "utm_medium": ["share"], "ref": [code]}
    assert "css/sharing.css" in html and "js/share.js" in html

    client.logout()
    client.cookies.clear()
    visited = client.get(f"{parts.path}?{parts.query}")  # a friend follows the link
    assert ref_cookie(visited) and not Session.objects.exists()
    client.force_login(MemberFactory())
    made = pledge(client, campaign)
    assert (made.referral_code, made.referral_source) == (code, "copy")


def test_a_supporters_only_update_offers_no_share_links(client, campaign):
    update = post(campaign, Update.Audience.SUPPORTERS)
    client.force_login(campaign.organizer)
    response = client.get(update.get_absolute_url())
    assert response.status_code == 200
    assert 'class="sharing"' not in response.content.decode()
