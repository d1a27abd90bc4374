"""Share links (utm_source, the sharer's referral code), the anonymous page cache they must not
break, and where a supporter came from captured at pledge time (pledges.referrals)."""

import re
import time
import uuid
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.core.cache import cache
from django.template import Context, Template
from django.urls import reverse

from campaigns import page_cache
from community import sharing
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


def test_a_share_link_visit_is_stored_on_the_pledge(fake_gateway, client, campaign):
    sharer = MemberFactory()
    code = referrals.code_for(sharer)
    # An anonymous visitor follows a shared link, then signs in and pledges.
    response = client.get(campaign.get_absolute_url(), {"ref": code, "utm_source": "facebook"})
    assert response.status_code == 200
    assert "sessionid" in response.cookies  # remembered in a new session
    client.force_login(MemberFactory())
    made = pledge(client, campaign)
    assert (made.referral_code, made.referral_source) == (code, "facebook")
    assert referrals.member_id_for(made.referral_code) == sharer.pk


def test_plain_codes_and_sources_are_kept_as_given(fake_gateway, client, campaign):
    client.force_login(MemberFactory())
    client.get(campaign.get_absolute_url() + "?ref=abc&utm_source=Facebook")
    made = pledge(client, campaign)
    assert (made.referral_code, made.referral_source) == ("abc", "facebook")


def test_the_pledge_page_captures_too_and_the_last_touch_wins(fake_gateway, client, campaign):
    client.force_login(MemberFactory())
    client.get(campaign.get_absolute_url(), {"ref": "abc", "utm_source": "facebook"})
    client.get(reverse("pledges:new", args=[campaign.slug]), {"utm_source": "email"})
    made = pledge(client, campaign)
    assert (made.referral_code, made.referral_source) == ("", "email")


def test_a_visit_to_another_campaign_does_not_count(fake_gateway, client, campaign):
    client.force_login(MemberFactory())
    client.get(CampaignFactory(live=True).get_absolute_url(), {"ref": "abc"})
    made = pledge(client, campaign)
    assert (made.referral_code, made.referral_source) == ("", "")


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
        "ref=&utm_source=",  # empty
    ],
)
def test_bad_values_are_ignored_and_set_no_cookie(fake_gateway, client, campaign, query):
    response = client.get(f"{campaign.get_absolute_url()}?{query}")
    assert response.status_code == 200
    assert "sessionid" not in response.cookies  # nothing was written for this visitor
    client.force_login(MemberFactory())
    client.get(f"{reverse('pledges:new', args=[campaign.slug])}?{query}")
    assert referrals.SESSION_KEY not in client.session
    made = pledge(client, campaign)
    assert (made.referral_code, made.referral_source) == ("", "")


def test_a_64_character_code_is_kept(rf, campaign):
    request = rf.get("/", {"ref": "a" * 64, "utm_source": "b.c_d-e"})
    request.session = SessionStore()
    assert referrals.remember(request, campaign)
    request.user = MemberFactory()
    assert referrals.for_pledge(request, campaign) == ("a" * 64, "b.c_d-e")


def test_a_touch_is_forgotten_after_thirty_days(rf, campaign):
    request = rf.get("/", {"ref": "abc"})
    request.session = SessionStore()
    request.user = MemberFactory()
    now = time.time()
    referrals.remember(request, campaign, now=now - 31 * 86_400)
    assert referrals.for_pledge(request, campaign, now=now) == ("", "")
    referrals.remember(request, campaign, now=now - 29 * 86_400)
    assert referrals.for_pledge(request, campaign, now=now) == ("abc", "")


def test_the_session_keeps_a_bounded_number_of_campaigns(rf):
    campaigns = [CampaignFactory(live=True) for _ in range(referrals.MAX_CAMPAIGNS + 3)]
    request = rf.get("/", {"utm_source": "facebook"})
    request.session = SessionStore()
    request.user = MemberFactory()
    for number, campaign in enumerate(campaigns):
        referrals.remember(request, campaign, now=time.time() - 100 + number)
    kept = request.session[referrals.SESSION_KEY]
    assert len(kept) == referrals.MAX_CAMPAIGNS
    assert referrals.for_pledge(request, campaigns[0]) == ("", "")
    assert referrals.for_pledge(request, campaigns[-1]) == ("", "facebook")


def test_a_tampered_session_value_is_ignored(rf, campaign):
    request = rf.get("/")
    request.session = SessionStore()
    request.user = MemberFactory()
    request.session[referrals.SESSION_KEY] = {str(campaign.pk): {"ref": "<b>", "source": 3}}
    assert referrals.for_pledge(request, campaign) == ("", "")
    request.session[referrals.SESSION_KEY] = "nonsense"
    assert referrals.for_pledge(request, campaign) == ("", "")
