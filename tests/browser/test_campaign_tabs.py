"""The campaign page's tab bar on phones: every tab reachable, a visible hint when it scrolls."""

import pytest

from tests.factories import (
    BudgetItemFactory,
    CampaignFactory,
    RewardTierFactory,
    StretchGoalFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TABS = ["Story", "Budget", "Stretch goals", "Rewards", "Updates", "Comments"]


@pytest.fixture
def campaign_with_every_tab():
    campaign = CampaignFactory(live=True)
    BudgetItemFactory(campaign=campaign)
    StretchGoalFactory(campaign=campaign)
    RewardTierFactory(campaign=campaign)
    return campaign


def _tab_bar(page):
    tabs = page.locator(".cp-tabs")
    tabs.scroll_into_view_if_needed()
    return tabs


def _fully_inside(inner, outer):
    return inner["x"] >= outer["x"] - 0.5 and inner["x"] + inner["width"] <= (
        outer["x"] + outer["width"] + 0.5
    )


def test_every_tab_is_reachable_on_a_390px_phone(
    live_server, phone_page, campaign_with_every_tab, screenshot
):
    phone_page.goto(live_server.url + campaign_with_every_tab.get_absolute_url())
    tabs = _tab_bar(phone_page)
    assert [a.inner_text() for a in tabs.locator("a").all()] == TABS
    bar = tabs.bounding_box()
    # The first four show whole; Updates and Comments scroll into the bar (not the page).
    for tab in tabs.locator("a").all()[:4]:
        assert _fully_inside(tab.bounding_box(), bar), f"{tab.inner_text()} is cut off"
    screenshot(phone_page, "campaign-tabs-390")
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 390
    tabs.evaluate("t => t.scrollTo({left: t.scrollWidth, behavior: 'instant'})")
    phone_page.wait_for_function(
        """() => {
            const bar = document.querySelector(".cp-tabs").getBoundingClientRect();
            return [...document.querySelectorAll(".cp-tabs a")].slice(4).every(tab => {
                const box = tab.getBoundingClientRect();
                return box.left >= bar.left - 0.5 && box.right <= bar.right + 0.5;
            });
        }""",
        timeout=5_000,
    )


def test_a_narrower_phone_scrolls_the_tabs_with_a_shadow_hint(
    live_server, browser, campaign_with_every_tab, screenshot
):
    context = browser.new_context(viewport={"width": 320, "height": 700}, is_mobile=True)
    page = context.new_page()
    try:
        page.goto(live_server.url + campaign_with_every_tab.get_absolute_url())
        tabs = _tab_bar(page)
        scroll_width, client_width = tabs.evaluate("t => [t.scrollWidth, t.clientWidth]")
        assert scroll_width > client_width  # the tabs scroll inside their bar ...
        assert page.evaluate("document.documentElement.scrollWidth") <= 320  # ... not the page
        style = tabs.evaluate(
            "t => { const s = getComputedStyle(t); "
            "return [s.backgroundImage, s.backgroundAttachment, s.scrollSnapType]; }"
        )
        background, attachment, snap = style
        assert background.count("radial-gradient") == 2  # a shadow at each edge
        assert "local" in attachment and "scroll" in attachment  # shown only where tabs hide
        assert snap.startswith("x")
        # Scrolled to its end (snapping allowing), the last tab shows whole.
        tabs.evaluate("t => t.scrollTo({left: t.scrollWidth, behavior: 'instant'})")
        page.wait_for_function(
            """() => {
                const bar = document.querySelector(".cp-tabs").getBoundingClientRect();
                const tab = [...document.querySelectorAll(".cp-tabs a")].pop();
                const box = tab.getBoundingClientRect();
                return box.left >= bar.left - 0.5 && box.right <= bar.right + 0.5;
            }""",
            timeout=5_000,
        )
        screenshot(page, "campaign-tabs-320")
    finally:
        context.close()
