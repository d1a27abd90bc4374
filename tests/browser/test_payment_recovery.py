"""After the deadline, through the Stripe stand-in's Stripe.js: a supporter whose bank wants 3-D
Secure confirms the payment on the pay page; a supporter whose card was declined uses another
card, which is charged at once. Both see their pledge collected."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from campaigns.models import Campaign
from core.models import OutboundEmail
from pledges import services, settlement
from pledges.models import PaymentAttempt, Pledge
from tests import localstripe_server
from tests.factories import PASSWORD, CampaignFactory, MemberFactory
from tests.stripe_fixtures import STANDIN_PUBLISHABLE_KEY, STANDIN_SECRET_KEY

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def charging(settings, standin_settings, celery_eager, live_server):
    """Pledges charged at the deadline against the stand-in (charge tasks run in-process)."""
    settings.SITE_URL = live_server.url
    settings.REDIS_URL = ""
    settings.CHARGE_RATE_PER_SECOND = 1000
    return standin_settings


def browser_call(base_url, path, params):
    """A request as Stripe.js makes it (the publishable key)."""
    status, body = localstripe_server.api(
        base_url, "POST", path, params, secret_key=STANDIN_PUBLISHABLE_KEY
    )
    assert status == 200, body
    return body


def charged_at_the_deadline(server, card, *, title):
    """A supporter's €25 pledge with `card` saved before the deadline, then the sweep."""
    campaign = CampaignFactory(live=True, title=title, goal_minor=1_000)
    supporter = MemberFactory()
    pledge = services.start_pledge(campaign, supporter=supporter, amount_minor=2_500)
    base, secret = server.base_url, pledge.client_secret
    saved = browser_call(
        base,
        f"/v1/setup_intents/{pledge.setup_intent_id}/confirm",
        {"payment_method": card, "client_secret": secret},
    )
    if saved["status"] == "requires_action":
        browser_call(
            base,
            f"/v1/setup_intents/{pledge.setup_intent_id}/_authenticate",
            {"client_secret": secret, "success": "true"},
        )
    services.confirm_card(pledge, by=supporter)
    Campaign.objects.filter(pk=campaign.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    settlement.sweep()
    pledge.refresh_from_db()
    return pledge


def log_in(page, live_server, member):
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Email").fill(member.email)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def enter_card(page, number):
    card = page.locator("#card-element")
    card.locator("input[name=cardnumber]").fill(number)
    card.locator("input[name=exp-date]").fill("1234")  # 12 / 34
    card.locator("input[name=cvc]").fill("123")
    card.locator("input[name=postal]").fill("9000")


def when_still(page):
    """Once no animation runs (the 3-D Secure dialog fades in), for a screenshot that shows it."""
    page.wait_for_function(
        "() => document.getAnimations().every(animation => animation.playState !== 'running')"
    )
    return page


def succeeded_payment_intents(server):
    status, body = localstripe_server.api(
        server.base_url, "GET", "/v1/payment_intents?limit=100", secret_key=STANDIN_SECRET_KEY
    )
    assert status == 200, body
    return [intent for intent in body["data"] if intent["status"] == "succeeded"]


def test_a_supporter_confirms_the_payment_with_3d_secure(live_server, page, screenshot, charging):
    pledge = charged_at_the_deadline(
        charging, "pm_card_authenticationRequired", title="Benches for the square"
    )
    assert pledge.status == Pledge.Status.ACTION_REQUIRED
    log_in(page, live_server, pledge.supporter)

    page.goto(live_server.url + "/pledges/")
    expect(page.get_by_text("Waiting for you to confirm the payment.")).to_be_visible()
    screenshot(page, "recovery-my-pledges-confirm")
    page.get_by_role("link", name="Confirm payment").click()
    page.wait_for_url(re.compile(rf"/pledges/{pledge.public_id}/pay/$"))
    expect(page.get_by_text("Your bank wants you to confirm this payment.")).to_be_visible()
    screenshot(page, "recovery-pay-page")
    page.get_by_role("button", name="Confirm payment of €25").click()
    challenge = page.frame_locator("iframe[title='3D Secure authentication']")
    expect(challenge.get_by_role("button", name="Complete authentication")).to_be_visible()
    screenshot(when_still(page), "recovery-pay-3ds")
    challenge.get_by_role("button", name="Complete authentication").click()

    page.wait_for_url(re.compile(rf"/pledges/{pledge.public_id}/$"))
    expect(page.get_by_text("Thank you, your pledge is collected.")).to_be_visible()
    expect(page.get_by_text(re.compile(r"Collected on \d"))).to_be_visible()
    screenshot(page, "recovery-pay-collected")
    pledge.refresh_from_db()
    assert pledge.status == Pledge.Status.COLLECTED
    assert pledge.attempts.count() == 1
    assert len(succeeded_payment_intents(charging)) == 1


def test_a_declined_supporter_uses_another_card(live_server, page, screenshot, charging):
    pledge = charged_at_the_deadline(
        charging, "pm_card_chargeCustomerFail", title="Repair café for Elm Street"
    )
    assert pledge.status == Pledge.Status.RETRYING
    log_in(page, live_server, pledge.supporter)

    page.goto(live_server.url + "/pledges/")
    expect(page.get_by_text(re.compile("Card declined: The bank declined"))).to_be_visible()
    screenshot(page, "recovery-my-pledges-declined")
    page.get_by_role("link", name="View").click()
    page.wait_for_url(re.compile(rf"/pledges/{pledge.public_id}/$"))
    expect(page.get_by_text(re.compile("Card declined: The bank declined"))).to_be_visible()
    screenshot(page, "recovery-declined-pledge")
    # The link in the "card declined" email: a page that offers a new card form.
    email = OutboundEmail.objects.get(key=f"pledge:{pledge.pk}:declined:1")
    link = re.search(r"http://\S+/fix-card/", email.body_text).group(0)
    page.goto(link)
    screenshot(page, "recovery-fix-card-start")
    page.get_by_role("button", name="Use another card").click()
    page.wait_for_url(re.compile(rf"/pledges/{pledge.public_id}/fix-card/$"))
    enter_card(page, "4242424242424242")
    screenshot(page, "recovery-fix-card")
    page.get_by_role("button", name="Save card and pay €25").click()

    page.wait_for_url(re.compile(rf"/pledges/{pledge.public_id}/$"))
    expect(page.get_by_text(re.compile(r"Collected on \d"))).to_be_visible()
    screenshot(page, "recovery-fix-card-collected")
    pledge.refresh_from_db()
    assert pledge.status == Pledge.Status.COLLECTED
    latest = pledge.attempts.order_by("-number").first()
    assert (latest.trigger, latest.status) == (
        PaymentAttempt.Trigger.NEW_CARD,
        PaymentAttempt.Status.SUCCEEDED,
    )
    assert len(succeeded_payment_intents(charging)) == 1

    page.goto(live_server.url + "/pledges/")
    expect(page.get_by_text(re.compile(r"Collected on \d"))).to_be_visible()
    screenshot(page, "recovery-my-pledges-collected")
