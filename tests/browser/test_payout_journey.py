"""Issue 12 end to end in headless Chromium, against the Stripe stand-in over HTTP: a funded
campaign's organizer sets up payouts on the stand-in's hosted Connect onboarding page, requests
a payout split over two budget items with a receipt; a supporter raises a concern on the Money
page and the organizer answers it; the admin waives the review window and a treasurer approves
(four eyes, each past the login's two-factor code step); the transfer is made and the payout is
paid; a pledge is refunded; the public Money page's figures, its CSV, the ledger's breakdown
and verify_ledger agree to the cent.

Pledges are collected in-process through the real services (the charge tasks eager, as in
test_payment_recovery); everything after that is done in the browser, one browser context per
person. Tasks run eagerly in the live server's thread too (the transfer after the approval).
Screenshots (full page) go to test-artifacts/screenshots/, or PAYOUT_JOURNEY_SCREENS.
"""

import csv
import io
import os
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone
from PIL import Image, ImageDraw
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from campaigns.models import Campaign
from demo.staff import current_code, enrol, ensure_treasurers_group
from ledger.models import Transaction
from payouts.models import Payout, PayoutAccount, Refund
from payouts.selectors import payout_breakdown
from pledges import services as pledge_services
from pledges import settlement
from pledges.models import Pledge
from tests import localstripe_server
from tests.browser_fixtures import SCREENSHOTS
from tests.factories import PASSWORD, BudgetItemFactory, CampaignFactory, MemberFactory
from tests.stripe_fixtures import STANDIN_PUBLISHABLE_KEY

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENS = Path(os.environ.get("PAYOUT_JOURNEY_SCREENS") or SCREENSHOTS)
# Base32 TOTP keys for this test's admin and treasurer (the codes are computed from them).
ADMIN_SECRET = "JOURNEYADMINTOTPKEY234567ABCDEFG"
TREASURER_SECRET = "JOURNEYTREASURERTOTPKEY234567ABC"
KIND = Transaction.Kind


@pytest.fixture
def charging(settings, standin_settings, celery_eager, live_server):
    """Pledges charged at the deadline against the stand-in; every task runs in-process."""
    settings.SITE_URL = live_server.url
    settings.REDIS_URL = ""
    settings.CHARGE_RATE_PER_SECOND = 1000
    # The stand-in's links (its hosted onboarding page) use its public URL, localhost: the API
    # is asked there too, so the Content-Security-Policy's form-action allows its origin.
    settings.STRIPE_API_BASE = standin_settings.base_url.replace("//127.0.0.1:", "//localhost:")
    return standin_settings


@pytest.fixture
def shoot():
    """shoot(page, number, step): a full-page screenshot, payout-journey-<nn>-<step>.png."""
    SCREENS.mkdir(parents=True, exist_ok=True)

    def take(page, number, step):
        # From the top: a full-page shot of a scrolled page draws the sticky header mid-page.
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(
            path=str(SCREENS / f"payout-journey-{number:02d}-{step}.png"), full_page=True
        )

    return take


@pytest.fixture
def person(browser):
    """person(): a new browser context (own cookies) and its page, closed after the test."""
    contexts = []

    def open_page():
        context = browser.new_context(
            viewport={"width": 1280, "height": 900}, accept_downloads=True
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield open_page
    for context in contexts:
        context.close()


# --- set-up through the services -------------------------------------------------------------
def browser_call(base_url, path, params):
    """A request as Stripe.js makes it (the publishable key)."""
    status, body = localstripe_server.api(
        base_url, "POST", path, params, secret_key=STANDIN_PUBLISHABLE_KEY
    )
    assert status == 200, body
    return body


def pledge_with_card(server, campaign, supporter, amount_minor, **options):
    pledge = pledge_services.start_pledge(
        campaign, supporter=supporter, amount_minor=amount_minor, **options
    )
    browser_call(
        server.base_url,
        f"/v1/setup_intents/{pledge.setup_intent_id}/confirm",
        {"payment_method": "pm_card_visa", "client_secret": pledge.client_secret},
    )
    return pledge_services.confirm_card(pledge, by=supporter)


def funded_campaign(server):
    """€1,250 pledged by three supporters and collected at the deadline; two budget items."""
    organizer = MemberFactory(display_name="Olivia Martens")
    campaign = CampaignFactory(
        live=True,
        organizer=organizer,
        title="Elm Street community garden",
        slug="elm-street-community-garden",
        goal_minor=100_000,
    )
    BudgetItemFactory(campaign=campaign, label="Raised beds and soil", amount_minor=60_000)
    BudgetItemFactory(campaign=campaign, label="Tool shed", amount_minor=40_000)
    supporters = {
        "marie": MemberFactory(display_name="Marie Claes"),
        "jonas": MemberFactory(display_name="Jonas Peeters"),
        "anna": MemberFactory(display_name="Anna De Smet"),
    }
    pledge_with_card(server, campaign, supporters["marie"], 60_000, public_name="Marie")
    pledge_with_card(server, campaign, supporters["jonas"], 40_000, public_name="Jonas")
    pledge_with_card(server, campaign, supporters["anna"], 25_000, anonymous=True)
    Campaign.objects.filter(pk=campaign.pk).update(deadline=timezone.now() - timedelta(hours=1))
    settlement.sweep()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.FUNDED
    assert campaign.pledges.filter(status=Pledge.Status.COLLECTED).count() == 3
    return campaign, supporters


def money_staff():
    """The demo-like admin (a superuser) and a treasurer (approves and refunds, not a
    superuser), both enrolled in two-factor with this test's keys."""
    admin = MemberFactory(
        email="admin@journey.test", display_name="Ada Admin", is_staff=True, is_superuser=True
    )
    enrol(admin, ADMIN_SECRET)
    treasurer = MemberFactory(
        email="treasurer@journey.test", display_name="Theo Treasurer", is_staff=True
    )
    treasurer.groups.add(ensure_treasurers_group())
    enrol(treasurer, TREASURER_SECRET)
    return admin, treasurer


def receipt_png():
    """A photographed-looking invoice, as the organizer would upload it."""
    image = Image.new("RGB", (600, 780), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((24, 24, 576, 756), outline="#888888", width=2)
    for y, text in (
        (60, "Green Fingers garden supplies, Ghent"),
        (90, "Invoice 2026-311"),
        (170, "8 raised beds and 6 m3 of soil ..... EUR 500.00"),
        (200, "Tool shed, 2 x 3 m ................. EUR 300.00"),
        (280, "Total .............................. EUR 800.00"),
    ):
        draw.text((56, y), text, fill="#222222")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return {"name": "invoice-2026-311.png", "mimeType": "image/png", "buffer": buffer.getvalue()}


# --- in the browser ------------------------------------------------------------------------
def log_in(page, base, member):
    page.goto(base + "/accounts/login/")
    page.get_by_label("Email").fill(member.email)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(base + "/")


def log_in_to_admin(page, base, member, secret, shoot=None, number=None):
    """/admin/ → allauth's login (email and password) → its code step → the admin."""
    page.goto(base + "/admin/")
    page.wait_for_url(re.compile(r"/accounts/login/"))
    page.get_by_label("Email").fill(member.email)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/accounts/2fa/authenticate/"))
    expect(page.get_by_role("heading", name="Two-factor authentication")).to_be_visible()
    code, _seconds_left = current_code(secret)  # MFA_TOTP_TOLERANCE takes the previous one too
    page.locator("input[name=code]").fill(code)
    if shoot:
        shoot(page, number, "admin-code-step")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(base + "/admin/")


def minor(text):
    """Minor units of an amount as the site shows it ("€1,187.50", "-€3.00")."""
    cleaned = re.sub(r"[\s€,]", "", text).replace("\u2212", "-")
    return int((Decimal(cleaned) * 100).to_integral_value())


def page_figures(page):
    """{figure: minor units} of the Money page's totals (data-figure attributes)."""
    figures = {}
    for cell in page.locator(".tp-totals dd[data-figure]").all():
        figures[cell.get_attribute("data-figure")] = minor(cell.inner_text())
    return figures


def csv_sums(text):
    """{kind: signed minor units} of the CSV's rows, as they moved the campaign's balance."""
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows, "the CSV has no rows"
    sums = {}
    for row in rows:
        assert row["Currency"] == "EUR"
        sums[row["Kind"]] = sums.get(row["Kind"], 0) + minor(row["Amount"])
    return rows, sums


def test_the_payout_journey(live_server, person, shoot, charging):
    base = live_server.url
    campaign, supporters = funded_campaign(charging)
    admin, treasurer = money_staff()
    organizer = campaign.organizer

    # 1–2. The organizer sets up payouts on the stand-in's hosted onboarding page.
    olivia = person()
    console = []
    olivia.on("console", lambda message: console.append(message.text))
    log_in(olivia, base, organizer)
    olivia.locator(".account-menu summary").click()
    olivia.get_by_role("link", name="Payout account").click()
    olivia.wait_for_url(base + "/payouts/account/")
    expect(olivia.locator(".po-account")).to_contain_text("You have no payout account yet.")
    shoot(olivia, 1, "payout-account")
    olivia.get_by_role("button", name="Set up payouts with Stripe").click()
    try:
        olivia.wait_for_url(re.compile(r"/_standin/connect/onboarding/link_\w+$"))
    except PlaywrightTimeout:  # e.g. the CSP's form-action refusing the redirect
        pytest.fail(f"the onboarding page did not open; the console said: {console}")
    expect(olivia.get_by_role("heading", name="Set up payouts")).to_be_visible()
    expect(olivia.get_by_label("Complete verification")).to_be_checked()
    olivia.get_by_label("I agree to the Stripe Connected Account Agreement", exact=False).check()
    shoot(olivia, 2, "standin-onboarding")
    olivia.get_by_role("button", name="Agree and submit").click()
    olivia.wait_for_url(base + "/payouts/account/")
    expect(olivia.locator(".messages")).to_contain_text("Your payout account is verified.")
    expect(olivia.locator(".po-verification")).to_have_text("Verified")
    expect(olivia.get_by_role("button", name="Set up payouts with Stripe")).to_have_count(0)
    shoot(olivia, 3, "account-verified")
    account = PayoutAccount.objects.get(member=organizer)
    assert account.is_verified and account.stripe_account_id.startswith("acct_")

    # 3. The request: €800 over both budget items, a note and an invoice.
    olivia.goto(base + f"/campaigns/{campaign.pk}/payouts/")
    olivia.get_by_role("link", name="Request a payout").click()
    olivia.wait_for_url(base + f"/campaigns/{campaign.pk}/payouts/request/")
    olivia.get_by_label("Amount to pay out").fill("800.00")
    olivia.get_by_label("Raised beds and soil").fill("500.00")
    olivia.get_by_label("Tool shed").fill("300")
    olivia.get_by_label("What the money is for").fill(
        "Eight raised beds, their soil and the tool shed from Green Fingers (invoice attached)."
    )
    olivia.get_by_label("Receipts or invoices").set_input_files(receipt_png())
    shoot(olivia, 4, "request-form")
    olivia.get_by_role("button", name="Request payout").click()
    olivia.wait_for_url(base + f"/campaigns/{campaign.pk}/payouts/")
    expect(olivia.locator(".messages")).to_contain_text("Your request is published")
    request_row = olivia.locator(".po-payout").first
    expect(request_row.locator(".po-payout-amount")).to_have_text("€800.00")
    expect(request_row.locator(".po-status")).to_have_text("Requested")
    expect(request_row.locator(".po-allocations")).to_contain_text("Raised beds and soil")
    expect(request_row.locator(".po-allocations")).to_contain_text("€300.00")
    expect(request_row.get_by_role("link", name="invoice-2026-311.png")).to_be_visible()
    shoot(olivia, 5, "campaign-payouts-requested")
    payout = Payout.objects.get(campaign=campaign)
    assert (payout.amount_minor, payout.status) == (80_000, Payout.Status.REQUESTED)
    assert sorted(payout.allocations.values_list("amount_minor", flat=True)) == [30_000, 50_000]
    assert payout.receipts.count() == 1

    # 4. A supporter raises a concern on the Money page; the organizer answers it there.
    money_url = base + f"/c/{campaign.slug}/money/"
    marie = person()
    log_in(marie, base, supporters["marie"])
    marie.goto(money_url)
    concerns = marie.locator(f"#concerns-{payout.public_id}")
    concerns.get_by_label("Raise a concern").fill(
        "Is the shed on the invoice the one in the plan, or a bigger one?"
    )
    concerns.get_by_role("button", name="Publish concern").click()
    expect(marie.locator(".messages")).to_contain_text("Your concern is published.")
    concerns = marie.locator(f"#concerns-{payout.public_id}")
    expect(concerns.locator(".po-concern")).to_contain_text("or a bigger one?")
    expect(concerns.locator(".po-concern")).to_contain_text("Not answered yet.")
    shoot(marie, 6, "money-page-concern-raised")

    olivia.goto(money_url)
    concerns = olivia.locator(f"#concerns-{payout.public_id}")
    concerns.get_by_label("Answer in public").fill(
        "The one in the plan: 2 by 3 metres, as the budget says."
    )
    concerns.get_by_role("button", name="Publish answer").click()
    expect(olivia.locator(".messages")).to_contain_text("Your answer is published.")
    answer = olivia.locator(f"#concerns-{payout.public_id} .po-concern-answer")
    expect(answer).to_contain_text("2 by 3 metres")
    shoot(olivia, 7, "money-page-concern-answered")
    concern = payout.concerns.get()
    assert concern.author == supporters["marie"] and concern.answered_by == organizer

    # 5. Four eyes: the admin waives the review window, the treasurer approves.
    ada = person()
    log_in_to_admin(ada, base, admin, ADMIN_SECRET, shoot, 8)
    ada.goto(base + "/admin/payouts/payout/")
    expect(ada.locator("#result_list tbody tr")).to_have_count(1)
    ada.locator("#result_list tbody tr").first.locator("th a").click()
    expect(ada.locator("h1")).to_have_text("Review payout")
    expect(ada.locator("body")).to_contain_text("or a bigger one?")  # the concern, for review
    shoot(ada, 9, "admin-payout-review")
    ada.get_by_role("link", name="Waive review window").click()
    ada.get_by_label("Reason").fill("The supplier holds the shed's price only until Friday.")
    shoot(ada, 10, "admin-waive-confirm")
    ada.get_by_role("button", name="Waive review window").click()
    expect(ada.locator(".messagelist")).to_contain_text("Review window waived")
    expect(ada.get_by_role("link", name="Waive review window")).to_have_count(0)
    shoot(ada, 11, "admin-window-waived")

    theo = person()
    log_in_to_admin(theo, base, treasurer, TREASURER_SECRET)
    theo.goto(base + "/admin/payouts/payout/")
    theo.locator("#result_list tbody tr").first.locator("th a").click()
    theo.get_by_role("link", name="Approve", exact=True).click()
    expect(theo.locator("#approval-problems")).to_have_count(0)
    expect(theo.locator("#destination")).to_contain_text(account.stripe_account_id)
    theo.get_by_label("Note").fill("The invoice matches both budget lines.")
    shoot(theo, 12, "treasurer-approve-confirm")
    theo.get_by_role("button", name="Approve", exact=True).click()
    expect(theo.locator(".messagelist")).to_contain_text("Approved and paid: €800.00.")
    expect(theo.locator(".field-status_summary")).to_contain_text("Paid")
    shoot(theo, 13, "admin-payout-paid")
    payout.refresh_from_db()
    assert payout.status == Payout.Status.PAID
    assert (payout.window_waived_by, payout.approved_by) == (admin, treasurer)
    assert payout.transfer_id.startswith("tr_")

    olivia.goto(base + f"/campaigns/{campaign.pk}/payouts/")
    paid_row = olivia.locator(f"#payout-{payout.public_id}")
    expect(paid_row.locator(".po-status")).to_have_text("Paid")
    expect(paid_row.locator(".po-stands")).to_contain_text("Paid on")
    shoot(olivia, 14, "organizer-payouts-paid")

    # 6. A refund: Jonas's pledge, in full.
    jonas_pledge = campaign.pledges.get(supporter=supporters["jonas"])
    refund_jonas(theo, base, jonas_pledge, shoot)
    jonas_pledge.refresh_from_db()
    assert jonas_pledge.status == Pledge.Status.REFUNDED
    refund = Refund.objects.get(pledge=jonas_pledge)
    assert (refund.status, refund.amount_minor) == (Refund.Status.SUCCEEDED, 40_000)

    # 7. The public Money page, its CSV, the ledger and verify_ledger agree.
    visitor = person()
    visitor.goto(money_url)
    figures = page_figures(visitor)
    shoot(visitor, 17, "money-page-public")
    assert figures["collected"] == 125_000
    assert figures["refunds"] == 40_000
    receipt = visitor.locator(".po-receipts").get_by_role("link", name="invoice-2026-311.png")
    served = visitor.request.get(base + receipt.get_attribute("href"))
    assert (served.status, served.headers["content-type"]) == (200, "image/png")
    with visitor.expect_download() as download_info:
        visitor.get_by_role("link", name="Download as CSV").click()
    download = download_info.value
    assert download.suggested_filename == f"{campaign.slug}-money.csv"
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    rows, sums = csv_sums(text)
    expect(visitor.locator(".tp-ledger tbody tr")).to_have_count(len(rows))

    assert sums[KIND.CONTRIBUTION] == figures["collected"]
    assert -sums[KIND.PROCESSOR_FEE] == figures["processor_fees"]
    assert -sums[KIND.PLATFORM_FEE] == figures["platform_fees"]
    assert -sums[KIND.REFUND] == figures["refunds"]
    assert -sums.get(KIND.DISPUTE, 0) - sums.get(KIND.DISPUTE_FEE, 0) == figures["disputes_held"]
    assert -sums[KIND.PAYOUT] - sums.get(KIND.PAYOUT_REVERSAL, 0) == (
        figures["paid_out"] + figures["in_transfer"]
    )
    assert sum(sums.values()) == figures["balance"]
    # The refund took more than the campaign still held: the shortfall came back from the
    # organizer's transfer (a Connect reversal), so less than the €800 counts as paid out.
    assert 0 < sums[KIND.PAYOUT_REVERSAL] == 80_000 - figures["paid_out"]
    assert "corrections" not in figures and KIND.CORRECTION not in sums

    breakdown = payout_breakdown(campaign)
    assert {
        "collected": breakdown.collected,
        "processor_fees": breakdown.processor_fees,
        "platform_fees": breakdown.platform_fees,
        "refunds": breakdown.refunds,
        "disputes_held": breakdown.disputes_held,
        "paid_out": breakdown.paid_out,
        "in_transfer": breakdown.in_transfer,
        "balance": breakdown.held,
    } == figures

    out = io.StringIO()
    call_command("verify_ledger", stdout=out)  # raises CommandError on any violation
    assert out.getvalue().strip().endswith("no violations"), out.getvalue()


def refund_jonas(page, base, pledge, shoot):
    """The treasurer refunds the pledge in full through the admin: Refunds, "Refund a pledge",
    found by the supporter's email, its confirmation page."""
    page.goto(base + "/admin/")
    page.get_by_role("link", name="Refunds", exact=True).click()
    page.get_by_role("link", name="Refund a pledge").click()
    page.get_by_label("Pledge's public id or supporter's email").fill(pledge.supporter.email)
    page.get_by_role("button", name="Find").click()
    found = page.locator("#found-pledges tbody tr")
    expect(found).to_have_count(1)
    expect(found).to_contain_text("€400.00")
    found.get_by_role("link", name="Refund").click()
    expect(page.locator("#refundable-now")).to_have_text("€400.00")
    expect(page.locator("#paid-out")).to_be_visible()  # part of the money was paid out already
    page.get_by_label("Reason").fill(
        "Jonas is moving away and asked for his money back before the works start."
    )
    shoot(page, 15, "admin-refund-confirm")
    page.get_by_role("button", name="Refund", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("Refunded €400.00 to")
    shoot(page, 16, "admin-refund-done")
