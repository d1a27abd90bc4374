"""After the deadline in a browser (1280 px): a visitor reads the honest figures of a campaign
that is collecting payments, and its organizer follows up a declined card on the
payment-recovery page and sends a reminder (once; the second is refused).

Settlement runs through the real services against the in-process Stripe stand-in; screenshots
land in test-artifacts/screenshots/ for people to look at.
"""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from campaigns.models import Campaign
from core.models import OutboundEmail
from pledges import services, settlement
from pledges.models import Pledge
from tests.factories import PASSWORD, CampaignFactory, MemberFactory, RewardTierFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DECLINES_WHEN_CHARGED = "pm_card_chargeCustomerFail"
NEEDS_AUTHENTICATION = "pm_card_authenticationRequired"


@pytest.fixture
def gateway(monkeypatch, celery_eager, settings):
    from devtools.stripe_standin.inprocess import FakeGateway
    from tests.stripe_fixtures import TEST_WEBHOOK_SECRET

    settings.REDIS_URL = ""
    settings.CHARGE_RATE_PER_SECOND = 1000
    fake = FakeGateway(webhook_secret=TEST_WEBHOOK_SECRET)
    monkeypatch.setattr("payments.gateway._gateway_for", lambda *settings: fake)
    return fake


def pledge_with_card(gateway, campaign, *, card="pm_card_visa", amount, **options):
    supporter = MemberFactory()
    pledge = services.start_pledge(
        campaign, supporter=supporter, amount_minor=amount, gateway=gateway, **options
    )
    intent = gateway.confirm_setup_intent(pledge.setup_intent_id, card)
    if intent.status == "requires_action":
        gateway.authenticate_setup_intent(pledge.setup_intent_id)
    return services.confirm_card(pledge, by=supporter, gateway=gateway)


def settling_campaign(gateway):
    """€4,100 pledged by six supporters, €3,150 collected; €950 still being collected."""
    organizer = MemberFactory(display_name="Olivia Martens")
    campaign = CampaignFactory(
        live=True,
        organizer=organizer,
        title="Elm Street community garden",
        summary="Raised beds, a tool shed and a rain tank to turn an empty lot into a garden.",
        location="Ghent",
        goal_minor=400_000,
    )
    RewardTierFactory(campaign=campaign, title="Seed packet", minimum_minor=1_000)
    for amount, name in ((150_000, "Marie"), (100_000, "Jonas"), (65_000, "")):
        pledge_with_card(gateway, campaign, amount=amount, public_name=name)
    pledge_with_card(
        gateway, campaign, card=DECLINES_WHEN_CHARGED, amount=50_000, public_name="Declan D."
    )
    pledge_with_card(gateway, campaign, card=DECLINES_WHEN_CHARGED, amount=25_000, anonymous=True)
    pledge_with_card(gateway, campaign, card=NEEDS_AUTHENTICATION, amount=20_000)
    Campaign.objects.filter(pk=campaign.pk).update(deadline=timezone.now() - timedelta(hours=2))
    settlement.sweep()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SETTLING
    return campaign


def test_a_settling_campaign_and_its_payment_recovery_page(live_server, page, screenshot, gateway):
    campaign = settling_campaign(gateway)
    base = live_server.url

    # A visitor: what was collected leads, with what was pledged at the deadline beside it.
    page.goto(base + campaign.get_absolute_url())
    banner = page.locator(".status-banner")
    expect(banner).to_contain_text("collecting payments")
    funding = page.locator(".cp-funding")
    expect(funding.locator(".cp-pledged")).to_contain_text("€3,150")
    expect(funding.locator(".cp-pledged")).to_contain_text("collected of €4,000 goal")
    expect(funding.locator(".cp-at-deadline")).to_have_text("€4,100 pledged at the deadline")
    expect(funding.locator(".cp-settlement")).to_contain_text("€3,150 collected from 3 supporters")
    expect(funding.locator(".cp-settlement")).to_contain_text("€950 still being collected (3)")
    bar = funding.get_by_role("progressbar")
    expect(bar).to_have_attribute("aria-valuenow", "78")
    # The collected bar sits in front of the wider pledged-at-the-deadline one.
    collected_width = bar.locator(".fund-bar-fill").bounding_box()["width"]
    pledged_width = bar.locator(".fund-bar-at-deadline").bounding_box()["width"]
    assert 0 < collected_width < pledged_width
    assert funding.get_by_role("link", name="Back this campaign").count() == 0
    screenshot(page, "settled-01-campaign-page-collecting")

    # Discover's "Ended" tab lists it with what it collected.
    page.goto(base + "/discover/")
    page.get_by_role("link", name="Ended", exact=True).click()
    page.wait_for_url(re.compile(r"show=ended"))
    card = page.locator(".campaign-card", has_text=campaign.title)
    expect(card.locator(".card-stats")).to_contain_text("€3,150")
    expect(card.locator(".card-stats")).to_contain_text("collected")
    screenshot(page, "settled-02-discover-ended")

    # The organizer logs in, opens the workspace, then the payments page.
    page.goto(base + "/accounts/login/")
    page.get_by_label("Email").fill(campaign.organizer.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(base + "/")
    page.goto(base + f"/campaigns/{campaign.pk}/review/")
    page.locator(".ws-head-actions").get_by_role("link", name="Payments").click()
    page.wait_for_url(f"**/campaigns/{campaign.pk}/payments/")

    summary = page.locator(".pay-figures")
    expect(summary).to_contain_text("€4,100")
    expect(summary).to_contain_text("€3,150")
    expect(summary).to_contain_text("€950")
    rows = page.locator(".pay-table").first.locator("tbody tr")
    expect(rows).to_have_count(3)
    declan = rows.filter(has_text="Declan D.")
    expect(declan).to_contain_text("Card declined: The bank declined the payment")
    expect(declan).to_contain_text("never")
    expect(rows.filter(has_text="Anonymous")).to_have_count(1)
    expect(page.locator("main")).not_to_contain_text("@example.org")  # no supporter's email
    screenshot(page, "settled-03-payments-page")

    declan.get_by_role("button", name="Send reminder to Declan D.").click()
    expect(page.locator(".messages")).to_contain_text("We sent Declan D. a reminder.")
    declan = page.locator(".pay-table").first.locator("tbody tr", has_text="Declan D.")
    expect(declan).not_to_contain_text("never")
    screenshot(page, "settled-04-reminder-sent")

    declan.get_by_role("button", name="Send reminder to Declan D.").click()
    expect(page.locator(".messages .flash-error")).to_have_text(
        "A reminder was sent in the last 24 hours; try again tomorrow."
    )
    assert OutboundEmail.objects.filter(template="pledge_payment_reminder").count() == 1
    screenshot(page, "settled-05-reminder-refused")


def test_a_funded_campaign_with_a_drop_and_a_failed_one(live_server, page, screenshot, gateway):
    campaign = settling_campaign(gateway)
    for pledge in campaign.pledges.filter(status__in=Pledge.SETTLING_STATUSES):
        Pledge.objects.filter(pk=pledge.pk).update(
            fix_window_ends_at=timezone.now() - timedelta(minutes=1), next_attempt_at=None
        )
    settlement.sweep()  # the fix windows closed: dropped, and the campaign is funded
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.FUNDED
    failed = CampaignFactory(live=True, title="Winter choir", goal_minor=800_000)
    pledge_with_card(gateway, failed, amount=120_000)
    Campaign.objects.filter(pk=failed.pk).update(deadline=timezone.now() - timedelta(hours=1))
    settlement.sweep()
    base = live_server.url

    page.goto(base + campaign.get_absolute_url())
    expect(page.locator(".status-banner")).to_contain_text("Funded")
    expect(page.locator(".cp-settlement")).to_contain_text("€950 could not be collected (3)")
    screenshot(page, "settled-06-campaign-page-funded")

    page.goto(base + failed.get_absolute_url())
    expect(page.locator(".status-banner")).to_contain_text("Not funded — no one was charged")
    expect(page.locator(".cp-pledged")).to_contain_text("€1,200")
    screenshot(page, "settled-07-campaign-page-failed")

    page.goto(base + "/discover/?show=ended")
    expect(page.locator(".campaign-card")).to_have_count(2)
    screenshot(page, "settled-08-discover-ended-both")

    page.goto(base + "/accounts/login/")
    page.get_by_label("Email").fill(campaign.organizer.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(base + "/")
    page.goto(base + f"/campaigns/{campaign.pk}/payments/")
    dropped = page.locator("section", has_text="These pledges were dropped").locator("tbody tr")
    expect(dropped).to_have_count(3)
    expect(dropped.filter(has_text="€200.00")).to_contain_text(
        "did not confirm the payment with their bank in time"
    )
    screenshot(page, "settled-09-payments-page-funded")
