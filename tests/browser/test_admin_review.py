"""A reviewer works through the admin's review queue in headless Chromium: the queue fits a
1280-pixel screen without cutting columns off or wrapping titles a word a line, and the
campaign's own page approves it with a note."""

import pytest
from playwright.sync_api import expect

from campaigns.models import Campaign
from tests.factories import PASSWORD, BudgetItemFactory, CampaignFactory, ReviewerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TITLES = [
    "Little free libraries for every street in Mechelen-Noord",
    "Walking and physio afternoons for Namur's seniors",
    "A rooftop vegetable garden for our school",
]


def test_the_queue_fits_and_a_campaign_is_approved_from_its_page(live_server, page, screenshot):
    from django.contrib.auth.models import Permission

    reviewer = ReviewerFactory(display_name="Rita Reviewer")
    reviewer.user_permissions.add(*Permission.objects.filter(codename="view_campaigninreview"))
    campaigns = [CampaignFactory(in_review=True, title=title) for title in TITLES]
    for campaign in campaigns:
        BudgetItemFactory(campaign=campaign, amount_minor=140_000)
    base = live_server.url

    page.goto(base + "/admin/login/")
    page.get_by_label("Email").fill(reviewer.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(base + "/admin/campaigns/campaigninreview/")
    expect(page.get_by_text("3 campaigns in review")).to_be_visible()

    for width in (1280, 1600):
        page.set_viewport_size({"width": width, "height": 900})
        results = page.locator("#changelist .results")
        clipped = results.evaluate("box => box.scrollWidth - box.clientWidth")
        assert clipped <= 0, f"{clipped}px of the queue cut off at {width}px"
        line = page.locator("#result_list tbody th a").first.evaluate(
            "a => parseFloat(getComputedStyle(a).lineHeight)"
        )
        for title in TITLES:
            height = page.get_by_role("link", name=title).bounding_box()["height"]
            assert height <= 2.5 * line, f"“{title}” wraps to {height / line:.0f} lines"
        screenshot(page, f"admin-review-queue-{width}")

    page.get_by_role("link", name=TITLES[0]).click()
    page.get_by_role("link", name="Approve", exact=True).click()
    page.get_by_label("Note to the organizer").fill("Lovely, go!")
    screenshot(page, "admin-review-approve")
    page.get_by_role("button", name="Approve").click()

    expect(page.locator(".messagelist")).to_contain_text(f"Approved: “{TITLES[0]}”.")
    screenshot(page, "admin-review-approved")
    assert Campaign.objects.get(pk=campaigns[0].pk).status == Campaign.Status.APPROVED
