"""A visitor finds a campaign on the home page and in Discover and reads its page (desktop, phone).

Campaigns are built with factories and real cover uploads (drawn with Pillow, saved through
services.update_story so the resized renditions exist); screenshots land in
test-artifacts/screenshots/ for people to look at.
"""

import datetime as dt
import random
from io import BytesIO

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import re_path
from django.utils import timezone
from django.views.static import serve
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from campaigns import services
from campaigns.models import Category, FundingModel
from config import urls as project_urls
from tests.factories import (
    BudgetItemFactory,
    CampaignFactory,
    MemberFactory,
    PledgeFactory,
    RewardTierFactory,
    StretchGoalFactory,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.urls(__name__),
]

# The project serves uploads only with DEBUG on; the live server needs them for the covers.
urlpatterns = [
    *project_urls.urlpatterns,
    re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT}),
]
handler404 = project_urls.handler404
handler500 = project_urls.handler500


def cover(sky, ground, accent, seed):
    """A simple landscape illustration: sky gradient, sun, rolling hills, a few shapes."""
    rng = random.Random(seed)
    width, height = 1280, 720
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    top, bottom = sky
    for y in range(height):
        t = y / height
        draw.line(
            [(0, y), (width, y)], fill=tuple(round(a + (b - a) * t) for a, b in zip(top, bottom))
        )
    sun_x, sun_y = rng.randint(200, 1080), rng.randint(90, 220)
    draw.ellipse([sun_x - 70, sun_y - 70, sun_x + 70, sun_y + 70], fill=accent)
    for layer in range(3):
        base = 380 + layer * 110
        shade = tuple(max(0, c - layer * 22) for c in ground)
        points = [(0, height)]
        for x in range(0, width + 80, 80):
            points.append((x, base + rng.randint(-50, 40)))
        points.append((width, height))
        draw.polygon(points, fill=shade)
    for _ in range(7):
        x, y = rng.randint(40, width - 80), rng.randint(520, 660)
        draw.rectangle([x, y, x + 36, y + 50], fill=tuple(min(255, c + 60) for c in ground))
        draw.polygon([(x - 6, y), (x + 18, y - 22), (x + 42, y)], fill=accent)
    buffer = BytesIO()
    image.save(buffer, "JPEG", quality=88)
    return SimpleUploadedFile(f"cover-{seed}.jpg", buffer.getvalue(), content_type="image/jpeg")


STORY = """\
Every Saturday the empty lot on **Elm Street** fills with kids looking for somewhere to play.
We want to turn it into a garden where neighbours grow food together.

## What we will build

- Twelve raised beds, two of them wheelchair-height
- A lockable tool shed everyone can use
- A rain-water tank so nobody carries buckets in August

> "I grew up on this street and there has never been a place to meet." — Marie, 71

## Who we are

Twenty-three neighbours, the primary school and the repair café next door. The city has
agreed to lend us the lot for ten years.
"""

CAMPAIGNS = [
    # title, summary, category, town, goal €, model, days left, pledged €, colours
    (
        "Elm Street community garden",
        "Raised beds, a tool shed and a rain tank to turn an empty lot into a shared garden.",
        Category.FOOD,
        "Ghent",
        5_000,
        FundingModel.ALL_OR_NOTHING,
        12,
        3_400,
        ((250, 214, 165), (255, 240, 214)),
        (92, 150, 84),
        (245, 170, 60),
    ),
    (
        "Repair café on wheels",
        "A cargo bike with tools so volunteers can fix toasters and bikes in every square.",
        Category.MOBILITY,
        "Leuven",
        3_200,
        FundingModel.FLEXIBLE,
        4,
        2_950,
        ((170, 215, 235), (230, 245, 250)),
        (70, 130, 150),
        (250, 200, 70),
    ),
    (
        "Summer festival in the park",
        "Three days of local bands, food stalls and a kids' stage, free for everyone.",
        Category.ARTS,
        "Antwerp",
        8_000,
        FundingModel.ALL_OR_NOTHING,
        25,
        2_100,
        ((255, 190, 170), (255, 232, 214)),
        (170, 80, 120),
        (255, 220, 90),
    ),
    (
        "Homework club for the north quarter",
        "Laptops, snacks and a warm room for thirty children after school.",
        Category.EDUCATION,
        "Brussels",
        4_500,
        FundingModel.ALL_OR_NOTHING,
        1,
        4_800,
        ((190, 200, 245), (235, 238, 255)),
        (80, 90, 170),
        (255, 200, 120),
    ),
    (
        "Riverbank clean-up boats",
        "Two small boats and nets so volunteers can clear plastic from the Leie.",
        Category.ENVIRONMENT,
        "Kortrijk",
        6_000,
        FundingModel.FLEXIBLE,
        18,
        900,
        ((160, 210, 230), (220, 240, 245)),
        (50, 120, 140),
        (255, 235, 150),
    ),
    (
        "Neighbourhood football pitch lights",
        "LED floodlights so the youth team can train after dark in winter.",
        Category.SPORT,
        "Mechelen",
        12_000,
        FundingModel.ALL_OR_NOTHING,
        40,
        5_200,
        ((40, 50, 90), (110, 120, 170)),
        (60, 140, 80),
        (255, 250, 210),
    ),
]


def build_campaigns():
    now = timezone.now()
    organizer = MemberFactory(display_name="Olivia Martens", location="Ghent")
    supporters = [MemberFactory() for _ in range(24)]
    built = []
    for index, row in enumerate(CAMPAIGNS):
        title, summary, category, town, goal, model, days, pledged, sky, ground, accent = row
        campaign = CampaignFactory(
            live=True,
            organizer=organizer if index == 0 else MemberFactory(location=town),
            title=title,
            summary=summary,
            category=category,
            location=town,
            goal_minor=goal * 100,
            funding_model=model,
            featured=index in (0, 2, 5),
            launched_at=now - dt.timedelta(days=60 - days - index),
            deadline=now + dt.timedelta(days=days, hours=3),
        )
        services.update_story(
            campaign,
            by=campaign.organizer,
            story=STORY if index == 0 else f"{summary}\n\nEvery euro goes to the costs below.",
            cover=cover(sky, ground, accent, seed=index),
        )
        count = 6 if index else 18
        share, remainder = divmod(pledged * 100, count)
        for n, supporter in enumerate(supporters[:count]):
            amount = share + (remainder if n == 0 else 0)
            PledgeFactory(campaign=campaign, supporter=supporter, amount_minor=amount)
        built.append(campaign)
    garden = built[0]
    rewards = [
        ("Thank-you postcard", "A hand-drawn postcard from the gardeners.", 10, None, 0),
        (
            "Seed packet",
            "Seeds saved from our first harvest, in a letterpress envelope.",
            25,
            40,
            8,
        ),
        ("Name on the shed", "Your name painted on the shed door.", 60, 6, 6),
        (
            "Your own raised bed",
            "A bed of your own for the first season, tools included.",
            150,
            12,
            4,
        ),
    ]
    for position, (title, description, minimum, limit, claimed) in enumerate(rewards):
        reward = RewardTierFactory(
            campaign=garden,
            title=title,
            description=description,
            minimum_minor=minimum * 100,
            quantity_limit=limit,
            estimated_delivery=dt.date(now.year + 1, 5, 1),
            position=position,
        )
        unassigned = garden.pledges.filter(reward=None).values_list("pk", flat=True)[:claimed]
        garden.pledges.filter(pk__in=list(unassigned)).update(reward=reward)
    for position, (label, amount, required) in enumerate(
        [
            ("Twelve raised beds (timber and soil)", 1_800, True),
            ("Tool shed with a lock", 1_200, True),
            ("Rain-water tank and gutters", 900, True),
            ("Seeds, plants and compost", 450, True),
            ("Wheelchair-height bed", 600, False),
            ("Bench and shade sail", 750, False),
        ]
    ):
        BudgetItemFactory(
            campaign=garden,
            label=label,
            amount_minor=amount * 100,
            required=required,
            position=position,
        )
    for amount, description in [
        (6_500, "A greenhouse for seedlings in spring"),
        (8_000, "Two beehives and a beekeeping course"),
    ]:
        StretchGoalFactory(campaign=garden, amount_minor=amount * 100, description=description)
    return built


def test_home_discover_and_campaign_page(live_server, page, phone_page, screenshot):
    page.goto(live_server.url + "/")  # before any campaign exists
    expect(page.get_by_role("heading", name="No campaigns are open yet")).to_be_visible()
    screenshot(page, "public-home-empty")

    campaigns = build_campaigns()
    garden = campaigns[0]

    page.goto(live_server.url + "/")
    featured = page.locator("section", has=page.get_by_role("heading", name="Campaigns we love"))
    assert featured.locator(".campaign-card").count() == 3
    expect(page.get_by_role("heading", name="Ending soon")).to_be_visible()
    screenshot(page, "public-home")

    page.get_by_role("link", name="See all campaigns").first.click()
    page.wait_for_url("**/discover/")
    assert page.locator(".campaign-card").count() == len(campaigns)
    screenshot(page, "public-discover")

    page.get_by_role("searchbox", name="Search").fill("garden")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/discover/?q=garden*")
    assert page.locator(".campaign-card").count() == 1
    page.get_by_label("Category").select_option("arts")  # applies at once (static/js/public.js)
    page.wait_for_url("**category=arts*")
    expect(page.get_by_role("heading", name="No campaigns match your search")).to_be_visible()
    screenshot(page, "public-discover-empty")

    page.goto(live_server.url + "/discover/?q=garden")
    page.get_by_role("link", name=garden.title).click()
    page.wait_for_url(f"**{garden.get_absolute_url()}")
    assert page.get_by_role("heading", level=1).inner_text() == garden.title
    assert page.locator(".cp-pledged strong").inner_text() == "€3,400"
    expect(
        page.get_by_text("You are only charged if this campaign reaches €5,000 by")
    ).to_be_visible()
    expect(page.get_by_text("Sold out")).to_be_visible()
    assert page.get_by_role("link", name="Back this campaign").get_attribute("href") == (
        f"/c/{garden.slug}/pledge/"
    )
    assert page.locator(".fund-marker").count() == 3  # goal + two stretch goals
    cover_loaded = page.locator(".cp-cover img").evaluate("img => img.naturalWidth")
    assert cover_loaded == 1200
    screenshot(page, "public-campaign")

    page.get_by_role("link", name=garden.organizer.display_name).click()
    page.wait_for_url(f"**{garden.organizer.get_absolute_url()}")
    assert page.locator(".campaign-card").count() == 1
    screenshot(page, "public-profile")

    phone_page.goto(live_server.url + "/")
    screenshot(phone_page, "public-home-phone")
    phone_page.goto(live_server.url + "/discover/")
    screenshot(phone_page, "public-discover-phone")
    phone_page.goto(live_server.url + garden.get_absolute_url())
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the campaign page scrolls sideways on a phone ({width}px)"
    screenshot(phone_page, "public-campaign-phone")
