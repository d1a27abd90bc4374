"""A supporter signs up, pledges €10 through the Stripe stand-in's Stripe.js, changes it,
cancels it; a card that needs 3-D Secure fails it, then passes it."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from campaigns.selectors import with_totals
from pledges.models import Pledge
from tests.factories import CampaignFactory, RewardTierFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CARD_NUMBER = re.compile(r"(?<!\d)\d{13,19}(?!\d)")


def enter_card(page, number):
    """Type into the stand-in's card Element as a supporter would (it mirrors Stripe's)."""
    card = page.locator("#card-element")
    card.locator("input[name=cardnumber]").fill(number)
    card.locator("input[name=exp-date]").fill("1234")  # 12 / 34
    card.locator("input[name=cvc]").fill("123")
    card.locator("input[name=postal]").fill("9000")


def pass_or_fail_3d_secure(page, complete):
    challenge = page.frame_locator("iframe[title='3D Secure authentication']")
    name = "Complete authentication" if complete else "Fail authentication"
    challenge.get_by_role("button", name=name).click()


def luhn_valid(number):
    digits = [int(d) for d in number][::-1]
    total = sum(
        d if i % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2) for i, d in enumerate(digits)
    )
    return total % 10 == 0


def totals(campaign):
    return with_totals(type(campaign).objects.filter(pk=campaign.pk)).get()


def test_supporter_pledges_changes_and_cancels(
    live_server, page, screenshot, settings, standin_settings, celery_eager
):
    settings.SITE_URL = live_server.url
    campaign = CampaignFactory(live=True, title="Repair café for Elm Street", goal_minor=200_000)
    sticker = RewardTierFactory(campaign=campaign, title="Sticker", minimum_minor=500)

    # Every request body our server receives, to prove card numbers never reach it.
    bodies = []
    page.on(
        "request",
        lambda request: (
            bodies.append(request.post_data or "")
            if request.url.startswith(live_server.url)
            else None
        ),
    )
    page.on("dialog", lambda dialog: dialog.accept())

    # Visitor: campaign page → chooses a reward → asked to log in → signs up instead.
    page.goto(live_server.url + campaign.get_absolute_url())
    page.get_by_role("link", name=re.compile("Choose Sticker")).click()
    page.wait_for_url(re.compile(r"/accounts/login/"))
    page.locator("main").get_by_role("link", name="Sign up", exact=True).click()
    page.get_by_label("Display name").fill("Nora Neighbour")
    page.get_by_label("Email").fill("nora@example.org")
    page.locator("#id_password1").fill("pumpkin-lantern-harbour")
    page.locator("#id_password2").fill("pumpkin-lantern-harbour")
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(re.compile(r"/accounts/confirm-email/"))
    link = re.search(r"http://\S+/accounts/confirm-email/\S+", mail.outbox[-1].body).group(0)
    page.goto(link)
    page.get_by_role("button", name="Confirm").click()

    # Verified and logged in, the supporter is back at the same choice.
    page.wait_for_url(re.compile(rf"/c/{campaign.slug}/pledge/\?reward={sticker.pk}"))
    assert page.get_by_role("radio", name=re.compile("Sticker")).is_checked()
    page.get_by_role("button", name="10", exact=True).click()
    page.get_by_label("Name shown with your pledge").fill("Nora from number 12")
    screenshot(page, "pledge-form")
    page.get_by_role("button", name="Continue to card details").click()
    page.wait_for_url(re.compile(r"/card/"))
    enter_card(page, "4242424242424242")
    screenshot(page, "pledge-card")
    page.get_by_role("button", name="Save card and pledge").click()
    page.wait_for_url(re.compile(r"/pledges/[0-9a-f-]+/$"))
    expect(page.get_by_text("Thank you! Your pledge is active.")).to_be_visible()
    screenshot(page, "pledge-confirmed")

    pledge = Pledge.objects.get(supporter__email="nora@example.org")
    assert pledge.status == Pledge.Status.ACTIVE
    assert (pledge.amount_minor, pledge.reward, pledge.public_name) == (
        1_000,
        sticker,
        "Nora from number 12",
    )
    assert (totals(campaign).pledged_minor, totals(campaign).supporters_count) == (1_000, 1)

    page.goto(live_server.url + "/pledges/")
    expect(page.get_by_role("cell", name="Active")).to_be_visible()
    page.goto(live_server.url + campaign.get_absolute_url())
    assert "€10" in page.locator("main").inner_text()

    # Change it to €25.
    page.goto(live_server.url + f"/pledges/{pledge.public_id}/")
    page.get_by_label(re.compile(r"Amount")).fill("25")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("Your pledge was updated.")).to_be_visible()
    assert totals(campaign).pledged_minor == 2_500
    page.goto(live_server.url + campaign.get_absolute_url())
    assert "€25" in page.locator("main").inner_text()

    # Cancel it.
    page.goto(live_server.url + f"/pledges/{pledge.public_id}/")
    page.get_by_role("button", name="Cancel pledge").click()
    page.wait_for_url(re.compile(r"/pledges/$"))
    expect(page.get_by_role("cell", name="Cancelled")).to_be_visible()
    screenshot(page, "my-pledges-cancelled")
    assert totals(campaign).pledged_minor == 0

    leaked = [n for body in bodies for n in CARD_NUMBER.findall(body) if luhn_valid(n)]
    assert bodies and not leaked, leaked


def test_card_that_needs_3d_secure(live_server, page, screenshot, settings, standin_settings):
    """The card form passes 3-D Secure (the stand-in's challenge page) and a failed one says so."""
    from tests.factories import PASSWORD, MemberFactory

    campaign = CampaignFactory(live=True, title="Benches for the square")
    supporter = MemberFactory(email="sca@example.org")
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Email").fill(supporter.email)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()

    def pledge_with_3ds(complete):
        page.goto(live_server.url + f"/c/{campaign.slug}/pledge/")
        page.get_by_role("button", name="25", exact=True).click()
        page.get_by_role("button", name="Continue to card details").click()
        page.wait_for_url(re.compile(r"/card/"))
        enter_card_and_authenticate(complete)

    def enter_card_and_authenticate(complete):
        enter_card(page, "4000002760003184")
        page.get_by_role("button", name="Save card and pledge").click()
        if complete:
            screenshot(page, "pledge-3ds-challenge")
        pass_or_fail_3d_secure(page, complete)

    pledge_with_3ds(complete=False)
    expect(page.locator("#card-errors")).to_contain_text("authentication failed")
    screenshot(page, "pledge-3ds-failed")
    assert not Pledge.objects.filter(supporter=supporter, status=Pledge.Status.ACTIVE).exists()

    # The failed card was counted (the page reports it). As on Stripe, the SetupIntent waits
    # for another card: coming back, the card page says the last card failed and takes one.
    from pledges.models import PledgeFailure

    expect_failure = PledgeFailure.objects.filter(member=supporter, kind="card_error")
    page.reload()
    assert expect_failure.count() == 1
    expect(page.get_by_text("The last card you tried could not be saved.")).to_be_visible()
    enter_card_and_authenticate(complete=True)
    page.wait_for_url(re.compile(r"/pledges/[0-9a-f-]+/$"))
    expect(page.get_by_text("Thank you! Your pledge is active.")).to_be_visible()
    assert (
        Pledge.objects.get(supporter=supporter, status=Pledge.Status.ACTIVE).amount_minor == 2_500
    )
