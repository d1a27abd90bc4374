"""Public campaign pages: who may see what, the figures they show, Discover, home and profiles."""

import datetime as dt
import html as html_lib
import re
from io import BytesIO

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from campaigns import page_cache, services
from campaigns.models import Campaign, Category, Collaborator, FundingModel
from campaigns.templatetags.campaign_public import funding_sentence, time_left
from campaigns.views.public import CARDS_PER_PAGE
from pledges.models import Pledge
from tests.factories import (
    BudgetItemFactory,
    CampaignFactory,
    MemberFactory,
    PledgeFactory,
    RewardTierFactory,
    StretchGoalFactory,
)

pytestmark = pytest.mark.django_db
Status = Campaign.Status
# Pages only their organizers and staff see; an approved campaign's page is everyone's (a
# "Launching soon" page to follow), but no list shows it before launch.
HIDDEN_STATUSES = [
    Status.DRAFT,
    Status.IN_REVIEW,
    Status.REJECTED,
    Status.CANCELLED,
]
UNLISTED_STATUSES = [*HIDDEN_STATUSES, Status.APPROVED]


def text(response):
    """The page's visible text with tags dropped and whitespace collapsed."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", body))).strip()


def ended_campaign(status=Status.LIVE, **kwargs):
    now = timezone.now()
    return CampaignFactory(
        live=True,
        status=status,
        launched_at=now - dt.timedelta(days=31),
        deadline=now - dt.timedelta(days=1),
        **kwargs,
    )


def cover_upload(color=(40, 120, 90)):
    buffer = BytesIO()
    Image.new("RGB", (1280, 720), color).save(buffer, "PNG")
    return SimpleUploadedFile("cover.png", buffer.getvalue(), content_type="image/png")


# --- visibility --------------------------------------------------------------------------------
@pytest.mark.parametrize("status", HIDDEN_STATUSES)
def test_unpublished_campaign_is_404_for_anonymous_and_other_members(client, status):
    campaign = CampaignFactory(status=status)
    assert client.get(campaign.get_absolute_url()).status_code == 404
    client.force_login(MemberFactory())
    response = client.get(campaign.get_absolute_url())
    assert response.status_code == 404
    assert campaign.title not in response.content.decode()


@pytest.mark.parametrize("status", HIDDEN_STATUSES)
def test_unpublished_campaign_is_shown_to_its_organizer_and_staff(client, status):
    campaign = CampaignFactory(status=status)
    for viewer in (campaign.organizer, MemberFactory(is_staff=True)):
        client.force_login(viewer)
        response = client.get(campaign.get_absolute_url())
        assert response.status_code == 200
        page = text(response)
        assert campaign.title in page
        assert "only its organizers and platform staff can see" in page.lower()
        assert '<meta name="robots" content="noindex">' in response.content.decode()


def test_an_approved_campaign_is_a_launching_soon_page_for_everyone(client):
    campaign = CampaignFactory(approved=True, title="Riverside benches")
    follow = reverse("community:follow", args=[campaign.slug])
    login = reverse("account_login") + "?next=" + campaign.get_absolute_url()

    response = client.get(campaign.get_absolute_url())  # anonymous, no cookies
    assert response.status_code == 200
    page, html = text(response), response.content.decode()
    assert "Launching soon — follow it to get an email when it launches." in page
    assert "Not public yet" not in page
    assert "only its organizers and platform staff can see" not in page.lower()
    assert reverse("pledges:new", args=[campaign.slug]) not in html  # no pledge buttons
    assert f'href="{login}"' in html and "Notify me when it launches" in page
    assert page_cache.get(campaign.slug) is None  # only public pages are cached

    client.force_login(MemberFactory())
    html = client.get(campaign.get_absolute_url()).content.decode()
    assert f'action="{follow}"' in html and "Notify me when it launches" in html

    client.force_login(campaign.organizer)
    page = text(client.get(campaign.get_absolute_url()))
    assert "Launching soon" in page and "Anyone with the link can see this page" in page


def test_the_preview_of_an_approved_campaign_says_who_sees_it(rf):
    from campaigns.selectors import campaign_for_page
    from campaigns.views.public import render_campaign_page

    campaign = CampaignFactory(approved=True)
    request = rf.get("/")
    request.user = campaign.organizer
    response = render_campaign_page(
        request, campaign_for_page(campaign.pk, campaign.organizer), preview=True
    )
    assert "anyone with its link sees it as launching soon" in response.content.decode()


def test_accepted_co_organizer_sees_the_draft_and_an_edit_link(client):
    campaign = CampaignFactory()
    helper = MemberFactory()
    Collaborator.objects.create(
        campaign=campaign,
        email=helper.email,
        member=helper,
        invited_by=campaign.organizer,
        accepted_at=timezone.now(),
    )
    client.force_login(helper)
    response = client.get(campaign.get_absolute_url())
    assert response.status_code == 200
    assert reverse("campaigns:edit", args=[campaign.pk]) in response.content.decode()


@pytest.mark.parametrize("status", [Status.SETTLING, Status.FUNDED, Status.FAILED])
def test_ended_public_campaigns_stay_visible(client, status):
    campaign = ended_campaign(status=status)
    response = client.get(campaign.get_absolute_url())
    assert response.status_code == 200
    assert "Ended" in text(response)


def test_live_campaign_is_public_without_edit_link_for_others(client):
    campaign = CampaignFactory(live=True)
    response = client.get(campaign.get_absolute_url())
    assert response.status_code == 200
    assert reverse("campaigns:edit", args=[campaign.pk]) not in response.content.decode()
    assert "noindex" not in response.content.decode()


def test_unknown_slug_is_404(client):
    assert client.get("/c/no-such-campaign/").status_code == 404


# --- figures -----------------------------------------------------------------------------------
def test_totals_count_only_counted_pledges(client):
    campaign = CampaignFactory(live=True, goal_minor=10_000)
    PledgeFactory(campaign=campaign, amount_minor=2_500)
    PledgeFactory(campaign=campaign, amount_minor=1_500, status=Pledge.Status.COLLECTED)
    PledgeFactory(campaign=campaign, amount_minor=9_900, status=Pledge.Status.PENDING)
    PledgeFactory(campaign=campaign, amount_minor=7_700, status=Pledge.Status.CANCELLED)
    PledgeFactory(campaign=campaign, amount_minor=5_000, status=Pledge.Status.RELEASED)
    PledgeFactory(amount_minor=4_000)  # another campaign's

    response = client.get(campaign.get_absolute_url())
    page = text(response)
    assert "€40 pledged of €100 goal" in page
    assert "40% funded" in page
    assert "2 supporters" in page
    assert 'aria-valuenow="40"' in response.content.decode()


def test_overfunded_bar_is_clamped_but_percentage_is_not(client):
    campaign = CampaignFactory(live=True, goal_minor=1_000)
    PledgeFactory(campaign=campaign, amount_minor=2_500)
    response = client.get(campaign.get_absolute_url())
    assert "250% funded" in text(response)
    assert "width: 100.0%" in response.content.decode()


def test_reward_stock_counts_claimed_pledges(client):
    campaign = CampaignFactory(live=True)
    limited = RewardTierFactory(campaign=campaign, title="Seed packet", quantity_limit=5)
    sold_out = RewardTierFactory(campaign=campaign, title="Name on the shed", quantity_limit=2)
    RewardTierFactory(campaign=campaign, title="Thank-you card", quantity_limit=None)
    for _ in range(2):
        PledgeFactory(campaign=campaign, reward=limited)
        PledgeFactory(campaign=campaign, reward=sold_out)
    PledgeFactory(campaign=campaign, reward=limited, status=Pledge.Status.PENDING)
    PledgeFactory(campaign=campaign, reward=limited, status=Pledge.Status.CANCELLED)

    page = text(client.get(campaign.get_absolute_url()))
    assert "Seed packet" in page and "3 left of 5" in page
    assert "Sold out All 2 claimed" in page
    assert page.count(" left of ") == 1  # the unlimited tier shows no stock


def test_rewards_show_minimum_delivery_month_and_no_reward_option(client):
    campaign = CampaignFactory(live=True, allow_no_reward=True)
    RewardTierFactory(
        campaign=campaign,
        title="Seed packet",
        minimum_minor=2_500,
        estimated_delivery=dt.date(2031, 5, 1),
    )
    page = text(client.get(campaign.get_absolute_url()))
    assert "Pledge €25 or more Seed packet" in page
    assert "Estimated delivery May 2031" in page
    assert "Pledge without a reward" in page

    campaign.allow_no_reward = False
    campaign.save()
    cache.clear()  # the anonymous page cache; see test_cookieless_visitors_get_a_cached_copy
    assert "Pledge without a reward" not in text(client.get(campaign.get_absolute_url()))


def test_budget_breakdown_and_stretch_goals(client):
    campaign = CampaignFactory(live=True, goal_minor=500_000)
    BudgetItemFactory(campaign=campaign, label="Soil and seeds", amount_minor=150_000)
    BudgetItemFactory(campaign=campaign, label="Tool shed", amount_minor=250_000)
    BudgetItemFactory(campaign=campaign, label="Paint", amount_minor=625)
    BudgetItemFactory(campaign=campaign, label="Rain tank", amount_minor=80_000, required=False)
    StretchGoalFactory(campaign=campaign, amount_minor=750_000, description="A greenhouse")
    StretchGoalFactory(campaign=campaign, amount_minor=1_000_000, description="Beehives")
    PledgeFactory(campaign=campaign, amount_minor=800_000)

    response = client.get(campaign.get_absolute_url())
    page = text(response)
    assert "Soil and seeds €1,500 30%" in page
    assert "Paint €6.25 0.1%" in page
    assert "Total required €4,006.25 80.1%" in page
    assert "the remaining €993.75 covers fees" in page
    assert "If we raise more" in page and "Rain tank €800" in page
    assert "A greenhouse" in page and "Beehives" in page
    html = response.content.decode()
    # Markers on a scale of the top stretch goal (€10,000): goal at 50%, greenhouse at 75%.
    assert 'left: 50.0%" title="Goal: €5,000"' in html
    assert 'left: 75.0%" title="Stretch goal 1: €7,500"' in html
    assert 'left: 100.0%" title="Stretch goal 2: €10,000"' in html
    # The goal and the first stretch goal are reached, the second is not.
    assert len(re.findall(r'class="fund-marker[^"]*is-reached', html)) == 2
    assert "width: 80.0%" in html  # €8,000 pledged of the €10,000 scale


def test_story_html_is_sanitized(client):
    campaign = CampaignFactory(live=True)
    services.update_story(
        campaign,
        by=campaign.organizer,
        story=(
            "We **grow** food.\n\n<script>alert('x')</script>\n\n"
            '<img src="https://example.org/a.png" onerror="alert(1)">\n\n'
            "[click](javascript:alert(2))"
        ),
    )
    html = client.get(campaign.get_absolute_url()).content.decode()
    assert "<strong>grow</strong>" in html
    assert "<script>alert" not in html and "onerror" not in html
    assert "javascript:alert" not in html


def test_time_left_wording():
    now = timezone.now()
    campaign = CampaignFactory.build(deadline=now + dt.timedelta(days=12, hours=3))
    assert time_left(campaign, now) == "12 days left"
    campaign.deadline = now + dt.timedelta(days=1, minutes=1)
    assert time_left(campaign, now) == "1 day left"
    campaign.deadline = now + dt.timedelta(hours=5, minutes=30)
    assert time_left(campaign, now) == "5 hours left"
    campaign.deadline = now + dt.timedelta(seconds=30)
    assert time_left(campaign, now) == "1 minute left"
    campaign.deadline = now - dt.timedelta(seconds=1)
    assert time_left(campaign, now) == "Ended"
    campaign.deadline = None
    assert time_left(campaign, now) == ""


def test_page_says_ended_after_the_deadline_even_before_settlement(client):
    campaign = ended_campaign()
    page = text(client.get(campaign.get_absolute_url()))
    assert "Ended" in page and "days left" not in page
    assert "This campaign ended on" in page
    assert "Back this campaign" not in page and "Pledging has closed" in page
    assert reverse("pledges:new", args=[campaign.slug]) not in page


def test_live_page_shows_time_left_and_the_rewards_anchor(client):
    campaign = CampaignFactory(
        live=True, deadline=timezone.now() + dt.timedelta(hours=5, minutes=5)
    )
    response = client.get(campaign.get_absolute_url())
    page = text(response)
    assert "5 hours left" in page
    assert 'href="#rewards"' in response.content.decode()


def test_funding_model_sentences():
    tz = timezone.get_current_timezone()
    now = dt.datetime(2031, 2, 20, 12, tzinfo=tz)
    campaign = CampaignFactory.build(
        goal_minor=500_000, currency="EUR", deadline=dt.datetime(2031, 3, 12, 23, 59, tzinfo=tz)
    )
    assert funding_sentence(campaign, now) == (
        "You are only charged if this campaign reaches €5,000 by 12 March."
    )
    campaign.funding_model = FundingModel.FLEXIBLE
    campaign.currency = "GBP"
    assert funding_sentence(campaign, now) == (
        "You will be charged when the campaign ends, 12 March, whatever the total."
    )
    later = dt.datetime(2030, 12, 1, tzinfo=tz)
    assert "12 March 2031" in funding_sentence(campaign, later)
    # A draft (preview) has no deadline yet: the duration stands in for it.
    draft = CampaignFactory.build(goal_minor=120_000, duration_days=30)
    assert funding_sentence(draft) == (
        "You are only charged if this campaign reaches €1,200 within 30 days of launch."
    )


def test_funding_sentence_on_the_page(client):
    campaign = CampaignFactory(live=True, funding_model=FundingModel.FLEXIBLE, currency="USD")
    assert "You will be charged when the campaign ends," in text(
        client.get(campaign.get_absolute_url())
    )


def test_open_graph_and_description_tags(client, settings):
    settings.SITE_URL = "https://groundswell.example"
    campaign = CampaignFactory(live=True, title="Repair café", summary="Fix it, don't bin it.")
    services.update_story(campaign, by=campaign.organizer, story="Hi", cover=cover_upload())
    html = client.get(campaign.get_absolute_url()).content.decode()
    url = f"https://groundswell.example/c/{campaign.slug}/"
    assert '<meta property="og:type" content="website">' in html
    assert '<meta property="og:title" content="Repair café">' in html
    assert '<meta property="og:description" content="Fix it, don&#x27;t bin it.">' in html
    assert '<meta name="description" content="Fix it, don&#x27;t bin it.">' in html
    assert f'<meta property="og:url" content="{url}">' in html
    image = re.search(r'<meta property="og:image" content="([^"]+)">', html).group(1)
    assert image.startswith("https://groundswell.example/media/campaigns/")
    campaign.refresh_from_db()
    assert image == f"https://groundswell.example{campaign.cover_large.url}"
    assert image.endswith(".jpg")
    assert '<meta name="twitter:card" content="summary_large_image">' in html
    assert f'<link rel="canonical" href="{url}">' in html


def test_page_without_cover_uses_placeholder_and_small_twitter_card(client):
    campaign = CampaignFactory(live=True)
    html = client.get(campaign.get_absolute_url()).content.decode()
    assert "cover-placeholder" in html
    assert "og:image" not in html
    assert '<meta name="twitter:card" content="summary">' in html


def test_render_campaign_page_preview_banner(rf):
    from campaigns.selectors import campaign_for_page
    from campaigns.views.public import render_campaign_page

    campaign = CampaignFactory()
    request = rf.get("/")
    request.user = campaign.organizer
    response = render_campaign_page(
        request, campaign_for_page(campaign.pk, campaign.organizer), preview=True
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "This is how your campaign will look to the public" in html
    assert "It is draft" in html
    assert 'content="noindex"' in html
    assert reverse("pledges:new", args=[campaign.slug]) not in html


# --- the anonymous page cache -------------------------------------------------------------------
def test_cookieless_visitors_get_a_cached_copy(client, django_assert_num_queries):
    campaign = CampaignFactory(live=True, goal_minor=10_000)
    url = campaign.get_absolute_url()
    assert "€0 pledged" in text(client.get(url))
    PledgeFactory(campaign=campaign, amount_minor=2_000)
    with django_assert_num_queries(0):
        assert "€0 pledged" in text(client.get(url))  # up to PAGE_CACHE_SECONDS old
    # A shared link's tracking parameters change nothing on the page: the cached copy too.
    with django_assert_num_queries(0):
        shared = client.get(url + "?utm_source=facebook&utm_medium=share&ref=abc&fbclid=x")
    assert "€0 pledged" in text(shared)
    # With a cookie (any session), another query parameter, or once forgotten: fresh figures.
    client.cookies.clear()
    client.cookies["sessionid"] = "nothing"
    assert "€20 pledged" in text(client.get(url))
    del client.cookies["sessionid"]
    assert "€20 pledged" in text(client.get(url + "?comments_page=2"))
    assert "€20 pledged" in text(client.get(url + "?utm_source=share&page=2"))
    page_cache.forget(campaign)
    assert "€20 pledged" in text(client.get(url))


def test_members_and_organizers_never_get_the_cached_copy(client):
    campaign = CampaignFactory(live=True, goal_minor=10_000)
    client.get(campaign.get_absolute_url())
    PledgeFactory(campaign=campaign, amount_minor=2_000)
    client.force_login(campaign.organizer)
    response = client.get(campaign.get_absolute_url())
    assert "€20 pledged" in text(response)
    assert reverse("campaigns:edit", args=[campaign.pk]) in response.content.decode()


def test_unpublished_campaigns_are_never_cached(client):
    campaign = CampaignFactory(live=True)
    campaign.status = Status.CANCELLED
    campaign.save()
    assert client.get(campaign.get_absolute_url()).status_code == 404
    assert page_cache.get(campaign.slug) is None


def test_cache_entry_never_outlives_the_deadline(client, monkeypatch):
    stored = {}
    monkeypatch.setattr(
        page_cache.cache, "set", lambda key, value, timeout: stored.update(t=timeout)
    )
    soon = CampaignFactory(live=True, deadline=timezone.now() + dt.timedelta(seconds=4))
    client.get(soon.get_absolute_url())
    assert 1 <= stored["t"] <= 4
    later = CampaignFactory(live=True)
    client.get(later.get_absolute_url())
    assert stored["t"] == page_cache.PAGE_CACHE_SECONDS


def test_a_page_that_issued_a_csrf_token_is_not_cached(rf):
    campaign = CampaignFactory(live=True)
    request = rf.get("/")
    request.META["CSRF_COOKIE_NEEDS_UPDATE"] = True
    page_cache.put(request, campaign, b"<html>token</html>")
    assert page_cache.get(campaign.slug) is None
    page_cache.put(rf.get("/"), campaign, b"<html>shared</html>")
    assert page_cache.get(campaign.slug) == b"<html>shared</html>"


def test_each_variant_is_its_own_entry_and_forget_drops_them_all(rf):
    campaign = CampaignFactory(live=True)
    assert page_cache.put(rf.get("/"), campaign, b"page") == page_cache.PAGE_CACHE_SECONDS
    assert page_cache.put(rf.get("/"), campaign, "widget", variant="widget") > 0
    assert page_cache.get(campaign.slug) == b"page"
    content, seconds = page_cache.lookup(campaign.slug, variant="widget")
    assert content == "widget" and 1 <= seconds <= page_cache.PAGE_CACHE_SECONDS
    page_cache.forget(campaign)
    assert page_cache.get(campaign.slug) is None
    assert page_cache.get(campaign.slug, variant="widget") is None
    with pytest.raises(ValueError):
        page_cache.get(campaign.slug, variant="unknown")


def test_a_session_write_keeps_the_page_out_of_the_cache(rf):
    from django.contrib.sessions.backends.db import SessionStore

    campaign = CampaignFactory(live=True)
    request = rf.get("/")
    request.session = SessionStore()
    request.session["seen"] = True
    assert page_cache.put(request, campaign, b"personal") == 0
    assert page_cache.get(campaign.slug) is None


# --- query counts ------------------------------------------------------------------------------
def _grow(campaign, n):
    from community.models import Comment, Follow, Update

    for i in range(n):
        reward = RewardTierFactory(campaign=campaign, quantity_limit=50)
        BudgetItemFactory(campaign=campaign, amount_minor=1_000, required=i % 2 == 0)
        StretchGoalFactory(campaign=campaign)
        pledge = PledgeFactory(campaign=campaign, reward=reward)
        # The community sections: updates, a comment with a reply from a supporter, followers.
        Update.objects.create(
            campaign=campaign,
            number=i + 1,
            author=campaign.organizer,
            title=f"News {i}",
            body="b",
            body_html="<p>b</p>",
        )
        comment = Comment.objects.create(
            campaign=campaign, author=pledge.supporter, body="c", body_html="<p>c</p>"
        )
        Comment.objects.create(
            campaign=campaign,
            author=campaign.organizer,
            parent=comment,
            body="r",
            body_html="<p>r</p>",
        )
        Follow.objects.create(member=pledge.supporter, campaign=campaign)


def _count_queries(client, url):
    client.get(url)  # warm up per-process caches (content types, templates)
    cache.clear()  # count a fresh render, not the anonymous page cache
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("viewer", ["anonymous", "member", "organizer"])
def test_campaign_page_query_count_does_not_grow(client, viewer):
    small, big = CampaignFactory(live=True), CampaignFactory(live=True)
    _grow(small, 1)
    _grow(big, 20)
    if viewer == "member":
        client.force_login(MemberFactory())
    counts = []
    for campaign in (small, big):
        if viewer == "organizer":
            client.force_login(campaign.organizer)
        counts.append(_count_queries(client, campaign.get_absolute_url()))
    assert counts[0] == counts[1]
    # 8 for the campaign itself; the community sections add follows (1), updates (1-2) and
    # comments (5: counts, a page of comments, their replies, the team, the supporters).
    assert counts[0] <= 15


def test_discover_query_count_does_not_grow(client):
    def count():
        return _count_queries(client, reverse("campaigns:discover") + "?sort=closest")

    for _ in range(2):
        _grow(CampaignFactory(live=True), 2)
    few = count()
    for _ in range(CARDS_PER_PAGE + 3):
        _grow(CampaignFactory(live=True), 3)
    assert count() == few <= 3


def test_home_query_count_does_not_grow(client):
    CampaignFactory(live=True, featured=True)
    few = _count_queries(client, "/")
    for _ in range(8):
        PledgeFactory(campaign=CampaignFactory(live=True, featured=True))
    assert _count_queries(client, "/") == few


# --- Discover ----------------------------------------------------------------------------------
def discover(client, **params):
    response = client.get(reverse("campaigns:discover"), params)
    assert response.status_code == 200
    return response


def titles(response):
    return [c.title for c in response.context["page"].object_list]


def test_discover_lists_only_live_campaigns_before_their_deadline(client):
    live = CampaignFactory(live=True, title="Open garden")
    ended_campaign(title="Ended garden")
    for status in UNLISTED_STATUSES:
        CampaignFactory(status=status, title=f"Hidden {status}")
    assert titles(discover(client)) == [live.title]
    assert titles(discover(client, show="ended")) == ["Ended garden"]


def test_discover_search_matches_title_and_summary(client):
    CampaignFactory(live=True, title="Repair café", summary="Fix toasters")
    CampaignFactory(live=True, title="Street party", summary="Music and a repair stand")
    CampaignFactory(live=True, title="Bike library", summary="Lend bikes")
    assert sorted(titles(discover(client, q="repair"))) == ["Repair café", "Street party"]
    assert titles(discover(client, q="  bike ")) == ["Bike library"]
    response = discover(client, q="zeppelin")
    assert titles(response) == []
    assert "No campaigns match your search" in text(response)


def test_discover_filters(client):
    CampaignFactory(live=True, title="Ghent garden", category=Category.FOOD, location="Ghent")
    CampaignFactory(
        live=True,
        title="Leuven choir",
        category=Category.ARTS,
        location="Leuven",
        funding_model=FundingModel.FLEXIBLE,
    )
    assert titles(discover(client, category="arts")) == ["Leuven choir"]
    assert titles(discover(client, location="ghe")) == ["Ghent garden"]
    assert titles(discover(client, funding_model="flexible")) == ["Leuven choir"]
    assert titles(discover(client, category="food", funding_model="flexible")) == []


def test_discover_sorts(client):
    now = timezone.now()
    soon = CampaignFactory(
        live=True,
        title="Soon",
        goal_minor=100_000,
        launched_at=now - dt.timedelta(days=20),
        deadline=now + dt.timedelta(days=1),
    )
    rich = CampaignFactory(
        live=True,
        title="Rich",
        goal_minor=1_000_000,
        launched_at=now - dt.timedelta(days=10),
        deadline=now + dt.timedelta(days=20),
    )
    close = CampaignFactory(
        live=True,
        title="Close",
        goal_minor=10_000,
        launched_at=now - dt.timedelta(days=1),
        deadline=now + dt.timedelta(days=10),
    )
    PledgeFactory(campaign=rich, amount_minor=50_000)
    PledgeFactory(campaign=close, amount_minor=9_000)
    PledgeFactory(campaign=soon, amount_minor=1_000)
    assert titles(discover(client)) == ["Close", "Rich", "Soon"]  # newest launched first
    assert titles(discover(client, sort="ending")) == ["Soon", "Close", "Rich"]
    assert titles(discover(client, sort="most_funded")) == ["Rich", "Close", "Soon"]
    assert titles(discover(client, sort="closest")) == ["Close", "Rich", "Soon"]


def test_discover_ignores_bad_parameters(client):
    CampaignFactory(live=True, title="Garden")
    response = discover(
        client,
        category="spaceships",
        sort="random'; DROP TABLE",
        funding_model="maybe",
        page="abc",
        q="garden " * 500,
    )
    assert titles(response) == ["Garden"]  # an over-long search is cut to its first words
    response = discover(client, category="spaceships", sort="nope", funding_model="?", page="9")
    assert titles(response) == ["Garden"]


def test_discover_paginates_and_keeps_the_query_string(client):
    for i in range(CARDS_PER_PAGE + 2):
        CampaignFactory(live=True, title=f"Garden {i}", category=Category.FOOD)
    CampaignFactory(live=True, title="Choir", category=Category.ARTS)
    first = discover(client, q="garden", category="food")
    assert len(titles(first)) == CARDS_PER_PAGE
    html = first.content.decode()
    assert "?q=garden&amp;category=food&amp;page=2" in html
    assert "14 campaigns match your search" in text(first)
    second = discover(client, q="garden", category="food", page=2)
    assert len(titles(second)) == 2
    assert "?q=garden&amp;category=food&amp;page=1" in second.content.decode()


def test_discover_cards_show_figures(client):
    campaign = CampaignFactory(
        live=True,
        title="Seed library",
        goal_minor=20_000,
        location="Mechelen",
        deadline=timezone.now() + dt.timedelta(days=9, hours=2),
    )
    PledgeFactory(campaign=campaign, amount_minor=5_000)
    page = text(discover(client))
    assert "Seed library" in page and "Mechelen" in page
    assert "€50 pledged 25% funded 9 days left" in page
    assert "All or nothing" in page


def test_discover_empty_state(client):
    page = text(discover(client))
    assert "No campaigns are open right now" in page


# --- home and profiles -------------------------------------------------------------------------
def test_home_shows_featured_and_ending_soon(client):
    now = timezone.now()
    featured = CampaignFactory(live=True, featured=True, title="Featured garden")
    ending = CampaignFactory(
        live=True, title="Last-minute choir", deadline=now + dt.timedelta(hours=20, minutes=5)
    )
    CampaignFactory(featured=True, title="Draft but featured")
    ended_campaign(featured=True, title="Ended but featured")
    response = client.get("/")
    assert [c.title for c in response.context["featured"]] == [featured.title]
    assert [c.title for c in response.context["ending_soon"]] == [ending.title]
    page = text(response)
    assert "Campaigns we love right now" in page and "Ending soon" in page
    assert "Draft but featured" not in page and "Ended but featured" not in page
    assert "20 hours left" in page
    assert reverse("campaigns:discover") in response.content.decode()


def test_home_with_no_campaigns_invites_to_start_one(client):
    response = client.get("/")
    page = text(response)
    assert "Small pledges from neighbours" in page  # the hero stays
    assert "No campaigns are open yet" in page
    assert "Campaigns we love" not in page


def test_profile_lists_public_campaigns_to_others_and_drafts_to_the_organizer(client):
    organizer = MemberFactory()
    CampaignFactory(organizer=organizer, live=True, title="Live garden")
    CampaignFactory(organizer=organizer, title="Secret draft")
    CampaignFactory(organizer=organizer, approved=True, title="Launching soon garden")
    CampaignFactory(live=True, title="Somebody else's")
    url = organizer.get_absolute_url()

    page = text(client.get(url))
    assert "Live garden" in page
    assert "Secret draft" not in page and "Somebody else's" not in page
    assert "Launching soon garden" not in page

    client.force_login(organizer)
    page = text(client.get(url))
    assert "Live garden" in page and "Secret draft" in page


def test_robots_txt(client):
    response = client.get("/robots.txt")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.decode().startswith("User-agent: *")


def test_profile_without_campaigns(client):
    member = MemberFactory(display_name="Nora")
    assert "Nora does not organize any public campaigns yet" in text(
        client.get(member.get_absolute_url())
    )
