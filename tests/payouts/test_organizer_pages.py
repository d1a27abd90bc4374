"""The organizer's payout pages over HTTP, on a campaign funded through the real settlement code
against the in-process stand-in: the payout account (Connect onboarding through the stand-in,
the bank form, switching back), a campaign's payouts (who sees them, the breakdown, the history
with reasons, failures and receipts, constant queries) and the request form (who may, bad
input of every kind, receipts, a double submit)."""

import html as html_lib
import re
import threading
from datetime import timedelta

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from django.contrib.auth.models import Permission
from django.db import connection, connections, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign
from payouts import services
from payouts.models import Payout, PayoutAccount, PayoutReceipt
from payouts.receipts import check_receipt
from payouts.selectors import payout_breakdown
from tests.conftest import wait_for
from tests.core.test_wording import assert_sentence_case
from tests.factories import MemberFactory
from tests.payouts.conftest import connect_verified
from tests.payouts.test_services import approve_payout
from tests.uploads import HTML, image_bytes, upload

pytestmark = pytest.mark.django_db(transaction=True)

Status = Payout.Status
Verification = PayoutAccount.Verification
# A valid Belgian IBAN, and the same with its last check digit off by one.
GOOD_IBAN = "BE71 0961 2345 6769"
GOOD_IBAN_COMPACT = "BE71096123456769"
BAD_CHECKSUM_IBAN = "BE71 0961 2345 6768"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
BAD_AMOUNTS = ["1e5", "NaN", "٣", "99999999999999999999"]


def text(response):
    """The page's visible text with tags dropped and whitespace collapsed."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", body))).strip()


def account_url():
    return reverse("payouts:account")


def payouts_url(campaign):
    return reverse("payouts:campaign", args=[campaign.pk])


def request_url(campaign):
    return reverse("payouts:request", args=[campaign.pk])


def item_field(campaign, label):
    return f"item_{campaign.budget_items.get(label=label).pk}"


def request_data(campaign, *, amount="10", seeds="6", tools="4", other="", other_label="", **more):
    data = {
        "amount": amount,
        item_field(campaign, "Seeds"): seeds,
        item_field(campaign, "Tools"): tools,
        "other_amount": other,
        "other_label": other_label,
        "note": "Seeds and tools for the spring planting.",
    }
    data.update(more)
    return data


def png_receipt(name="till-receipt.png"):
    return upload(name, image_bytes((400, 300)), "image/png")


def logged_in(member):
    client = Client()
    client.force_login(member)
    return client


def approver(name):
    """Staff holding approve_payout, enrolled in two-factor."""
    member = MemberFactory(email=f"{name}@example.org", is_staff=True)
    member.user_permissions.add(Permission.objects.get(codename="approve_payout"))
    TOTP.activate(member, TOTP_SECRET)
    return type(member).objects.get(pk=member.pk)  # fresh permission cache


def made_request(campaign, organizer, amount=1_000, receipts=(), note="Seeds for the beds."):
    seeds = campaign.budget_items.get(label="Seeds")
    return services.request_payout(
        campaign,
        by=organizer,
        amount_minor=amount,
        currency=campaign.currency,
        allocations=[services.Allocation(seeds.pk, amount)],
        note=note,
        receipts=[check_receipt(receipt) for receipt in receipts],
    )


# --- the payout account ------------------------------------------------------------------------
def test_the_account_page_needs_a_login(client):
    response = client.get(account_url())
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]


def test_without_an_account_the_page_offers_stripe_and_the_bank_form(client, stranger):
    client.force_login(stranger)
    page = text(client.get(account_url()))
    assert "You have no payout account yet" in page
    assert "Set up payouts with Stripe" in page
    assert "Continue onboarding" not in page
    assert "Or be paid by bank transfer" in page


def test_onboarding_through_the_stand_in_ends_verified(client, stranger, gateway):
    client.force_login(stranger)
    response = client.post(reverse("payouts:onboard"))
    assert response.status_code == 302
    # The stand-in's hosted onboarding page, for the member's new Connect account.
    match = re.fullmatch(r".*/_standin/connect/onboarding/(link_\w+)", response["Location"])
    assert match, response["Location"]
    link = gateway.standin.private[match[1]]
    account = PayoutAccount.objects.get(member=stranger)
    assert link["account"] == account.stripe_account_id
    assert link["return_url"] == "http://testserver" + reverse("payouts:onboarding_return")
    assert link["refresh_url"] == "http://testserver" + reverse("payouts:onboarding_refresh")

    page = text(client.get(account_url()))
    assert "Onboarding not finished" in page
    assert "Continue onboarding" in page
    assert "Still due" in page and "Your date of birth" in page

    gateway.complete_onboarding(account.stripe_account_id)  # the member submits Stripe's page
    response = client.get(reverse("payouts:onboarding_return"), follow=True)
    page = text(response)
    assert response.redirect_chain[-1][0] == account_url()
    assert "Your payout account is verified" in page
    assert "Verified" in page
    assert "Continue onboarding" not in page and "Still due" not in page
    account.refresh_from_db()
    assert account.verification == Verification.VERIFIED


def test_a_restricted_account_says_what_is_still_due(client, stranger, gateway):
    client.force_login(stranger)
    client.post(reverse("payouts:onboard"))
    account = PayoutAccount.objects.get(member=stranger)
    gateway.complete_onboarding(account.stripe_account_id, outcome="restricted")
    page = text(client.get(reverse("payouts:onboarding_return"), follow=True))
    assert "Stripe needs more details before it can pay you" in page
    assert "Restricted: more details needed" in page
    assert "An identity document" in page
    assert "individual.verification" not in page  # Stripe's names are not for people
    assert "Continue onboarding" in page


def test_an_expired_link_gets_a_new_one(client, stranger, gateway):
    client.force_login(stranger)
    first = client.post(reverse("payouts:onboard"))["Location"]
    second = client.get(reverse("payouts:onboarding_refresh"))
    assert second.status_code == 302
    assert "/_standin/connect/onboarding/link_" in second["Location"]
    assert second["Location"] != first
    assert len(list(gateway.standin.all("account"))) == 1


def test_the_refresh_link_does_not_switch_a_bank_account_to_stripe(client, stranger, gateway):
    services.save_bank_account(stranger, iban=GOOD_IBAN, account_holder="Stan Stranger")
    client.force_login(stranger)
    response = client.get(reverse("payouts:onboarding_refresh"))
    assert response["Location"] == account_url()
    account = PayoutAccount.objects.get(member=stranger)
    assert account.method == PayoutAccount.Method.BANK_TRANSFER
    assert not list(gateway.standin.all("account"))


def test_a_bank_account_with_a_wrong_checksum_is_refused(client, stranger):
    client.force_login(stranger)
    response = client.post(
        account_url(), {"iban": BAD_CHECKSUM_IBAN, "account_holder": "Stan Stranger"}
    )
    assert response.status_code == 200
    assert "check digits do not match" in text(response)
    assert not PayoutAccount.objects.filter(member=stranger).exists()


def test_a_good_bank_account_is_saved_and_only_ever_shown_masked(client, stranger):
    client.force_login(stranger)
    response = client.post(
        account_url(), {"iban": GOOD_IBAN.lower(), "account_holder": "Stan Stranger"}, follow=True
    )
    account = PayoutAccount.objects.get(member=stranger)
    assert account.method == PayoutAccount.Method.BANK_TRANSFER
    assert account.iban == GOOD_IBAN_COMPACT
    body = response.content.decode()
    page = text(response)
    assert "Manual bank transfer" in page
    assert account.masked_iban in page  # BE71 •••• 6769
    assert "Bank account saved." in page
    for form in (GOOD_IBAN_COMPACT, GOOD_IBAN, GOOD_IBAN.lower(), "0961 2345", "09612345"):
        assert form not in body


def test_a_valid_iban_is_not_shown_back_when_the_holder_is_refused(client, stranger):
    client.force_login(stranger)
    response = client.post(account_url(), {"iban": GOOD_IBAN, "account_holder": "S\tS"})
    assert response.status_code == 200
    assert "control characters" in text(response)
    assert GOOD_IBAN not in response.content.decode()
    assert not PayoutAccount.objects.filter(member=stranger).exists()


def test_stripe_out_of_reach_is_said_and_changes_nothing(client, stranger, gateway):
    client.force_login(stranger)
    gateway.fail_next = 1
    response = client.post(reverse("payouts:onboard"), follow=True)
    assert response.redirect_chain[-1][0] == account_url()
    assert "Please try again later." in text(response)
    assert not list(gateway.standin.all("account"))

    client.post(reverse("payouts:onboard"))
    gateway.fail_next = 1
    page = text(client.get(reverse("payouts:onboarding_return"), follow=True))
    assert "We could not ask Stripe how your account stands just now." in page
    assert "Onboarding not finished" in page


def test_switching_back_to_stripe(client, stranger, gateway):
    connect_verified(gateway, stranger)
    services.save_bank_account(stranger, iban=GOOD_IBAN, account_holder="Stan Stranger")
    client.force_login(stranger)
    assert "Switch back to Stripe" in text(client.get(account_url()))
    page = text(client.post(reverse("payouts:use_stripe"), follow=True))
    assert "Payouts will be transferred to your Stripe account" in page
    assert "Verified" in page
    account = PayoutAccount.objects.get(member=stranger)
    assert account.method == PayoutAccount.Method.STRIPE_CONNECT
    assert account.is_verified


# --- a campaign's payouts ------------------------------------------------------------------------
def test_the_payouts_page_shows_the_breakdown_and_a_request_link_to_the_organizer(
    client, funded_campaign, organizer
):
    client.force_login(organizer)
    response = client.get(payouts_url(funded_campaign))
    assert response.status_code == 200
    page = text(response)
    breakdown = payout_breakdown(funded_campaign)
    assert "Collected from supporters €75.00" in page
    assert "Platform fee (5%) €3.75" in page
    assert f"Available now €{breakdown.available / 100:.2f}" in page
    assert "Card processing fees" in page
    assert "Request a payout" in page
    assert request_url(funded_campaign) in response.content.decode()
    assert "No payouts requested yet." in page
    money_page = reverse("payouts:money", args=[funded_campaign.slug])
    assert f'href="{money_page}"' in response.content.decode()


def test_co_organizers_see_the_payouts_but_no_request_link(client, funded_campaign, co_organizer):
    client.force_login(co_organizer)
    response = client.get(payouts_url(funded_campaign))
    assert response.status_code == 200
    page = text(response)
    assert "Collected from supporters €75.00" in page
    assert "Only the campaign's organizer can request payouts." in page
    assert request_url(funded_campaign) not in response.content.decode()


def test_strangers_and_visitors_do_not_see_a_campaigns_payouts(client, funded_campaign, stranger):
    assert client.get(payouts_url(funded_campaign)).status_code == 302  # to the login
    client.force_login(stranger)
    assert client.get(payouts_url(funded_campaign)).status_code == 404
    assert client.get(request_url(funded_campaign)).status_code == 404


def test_a_live_campaign_has_nothing_to_request_yet(client, gateway):
    from tests.factories import CampaignFactory

    campaign = CampaignFactory(live=True)
    client.force_login(campaign.organizer)
    page = text(client.get(payouts_url(campaign)))
    assert "once the campaign has ended and its money is collected" in page
    assert request_url(campaign) not in page


def test_the_history_says_why_a_payout_was_rejected_or_held(client, funded_campaign, organizer):
    rejected = made_request(funded_campaign, organizer, amount=500)
    held = made_request(funded_campaign, organizer, amount=600, note="Tools for the shed.")
    admin = approver("treasurer")
    services.reject_payout(rejected, by=admin, reason="The receipt is for another project.")
    services.hold_payout(held, by=admin, reason="Please add the invoice for the tools.")
    client.force_login(organizer)
    page = text(client.get(payouts_url(funded_campaign)))
    assert "€5.00 Rejected" in page
    assert "Reason given: The receipt is for another project." in page
    assert "€6.00 On hold" in page
    assert "Reason given: Please add the invoice for the tools." in page
    assert "Seeds for the beds." in page and "Tools for the shed." in page


def test_the_history_shows_a_failed_transfers_error(client, funded_campaign, organizer):
    payout = made_request(funded_campaign, organizer, amount=700)
    # What record_failed leaves: back in review, with the provider's error.
    Payout.objects.filter(pk=payout.pk).update(
        failure_message="The destination account cannot receive transfers yet."
    )
    client.force_login(organizer)
    page = text(client.get(payouts_url(funded_campaign)))
    assert "The last transfer failed: The destination account cannot receive transfers" in page


def test_a_paid_bank_payout_shows_when_and_where_masked(client, funded_campaign, gateway):
    organizer = funded_campaign.organizer
    services.save_bank_account(organizer, iban=GOOD_IBAN, account_holder="Olga Organizer")
    payout = made_request(funded_campaign, organizer, amount=1_500)
    services.waive_review_window(payout, by=approver("first"), reason="Seeds go in this week.")
    approve_payout(payout, by=approver("second"), bank_reference="SEPA-2026-0042")
    payout.refresh_from_db()
    assert payout.status == Status.PAID
    client.force_login(organizer)
    response = client.get(payouts_url(funded_campaign))
    page = text(response)
    paid_on = timezone.localtime(payout.paid_at).strftime("%-d %b %Y")
    assert "€15.00 Paid" in page
    assert f"Paid on {paid_on}" in page
    assert "to BE71 •••• 6769" in page
    assert GOOD_IBAN_COMPACT not in response.content.decode()
    assert "Paid out to the organizer €15.00" in page


def test_the_payouts_page_makes_the_same_queries_for_one_payout_or_five(
    client, funded_campaign, organizer
):
    client.force_login(organizer)
    made_request(funded_campaign, organizer, amount=100, receipts=[png_receipt()])
    client.get(payouts_url(funded_campaign))  # warm up: session, content types
    with CaptureQueriesContext(connection) as one:
        response = client.get(payouts_url(funded_campaign))
    assert response.content.decode().count('class="po-payout"') == 1
    for amount in (200, 300, 400, 500):
        made_request(funded_campaign, organizer, amount=amount, receipts=[png_receipt()])
    with CaptureQueriesContext(connection) as five:
        response = client.get(payouts_url(funded_campaign))
    assert response.content.decode().count('class="po-payout"') == 5
    assert len(five) == len(one), [q["sql"] for q in five.captured_queries]


# --- requesting a payout ----------------------------------------------------------------------
def test_a_co_organizer_is_told_only_the_organizer_can_request(
    client, funded_campaign, co_organizer
):
    client.force_login(co_organizer)
    for response in (
        client.get(request_url(funded_campaign)),
        client.post(request_url(funded_campaign), request_data(funded_campaign)),
    ):
        assert response.status_code == 403
        assert "Only the campaign's organizer can request payouts; co-organizers cannot." in (
            text(response)
        )
    assert not Payout.objects.exists()


def test_a_stranger_gets_a_404_and_requests_nothing(client, funded_campaign, stranger):
    client.force_login(stranger)
    response = client.post(request_url(funded_campaign), request_data(funded_campaign))
    assert response.status_code == 404
    assert not Payout.objects.exists()


def test_without_a_payout_account_the_page_links_to_it_instead_of_a_form(client, funded_campaign):
    client.force_login(funded_campaign.organizer)
    response = client.get(request_url(funded_campaign))
    assert response.status_code == 200
    page = text(response)
    assert "Set up your payout account first" in page
    assert account_url() in response.content.decode()
    assert 'name="amount"' not in response.content.decode()
    response = client.post(request_url(funded_campaign), request_data(funded_campaign))
    assert "Set up your payout account first" in text(response)
    assert not Payout.objects.exists()


def test_the_form_shows_the_money_and_a_line_per_budget_item(client, funded_campaign, organizer):
    client.force_login(organizer)
    response = client.get(request_url(funded_campaign))
    page = text(response)
    body = response.content.decode()
    assert "Available now" in page
    assert "Seeds" in page and "Planned in the budget: €30.00" in page
    assert "Tools" in page and "Planned in the budget: €20.00" in page
    assert "Other costs" in page and "What the other costs are for" in page
    assert 'type="file" name="receipts"' in body and "multiple" in body
    assert "for 48 hours" in page


def test_an_amount_above_what_is_available_is_refused(client, funded_campaign, organizer):
    available = payout_breakdown(funded_campaign).available
    above = available + 1
    client.force_login(organizer)
    response = client.post(
        request_url(funded_campaign),
        request_data(
            funded_campaign,
            amount=f"{above / 100:.2f}",
            seeds=f"{(above - 1_000) / 100:.2f}",
            tools="10",
        ),
    )
    assert response.status_code == 200
    assert f"You can request at most €{available / 100:.2f} now." in text(response)
    assert not Payout.objects.exists()


def test_budget_lines_that_do_not_add_up_are_refused(client, funded_campaign, organizer):
    client.force_login(organizer)
    response = client.post(
        request_url(funded_campaign),
        request_data(funded_campaign, amount="10", seeds="5", tools=""),
    )
    assert response.status_code == 200
    assert "The budget amounts add up to €5.00, not €10.00." in text(response)
    assert not Payout.objects.exists()


def test_other_costs_need_to_say_what_for(client, funded_campaign, organizer):
    client.force_login(organizer)
    response = client.post(
        request_url(funded_campaign),
        request_data(funded_campaign, amount="10", seeds="6", tools="", other="4"),
    )
    assert response.status_code == 200
    assert "Say what the other costs are for." in text(response)
    assert not Payout.objects.exists()


def test_a_receipt_that_is_not_a_pdf_or_an_image_is_refused(client, funded_campaign, organizer):
    client.force_login(organizer)
    data = request_data(funded_campaign, receipts=[upload("invoice.pdf", HTML, "application/pdf")])
    response = client.post(request_url(funded_campaign), data)
    assert response.status_code == 200
    assert "invoice.pdf: A receipt must be a PDF, or a JPEG, PNG or WebP image." in text(response)
    assert not Payout.objects.exists()
    assert not PayoutReceipt.objects.exists()


@pytest.mark.parametrize("bad", BAD_AMOUNTS)
@pytest.mark.parametrize("field", ["amount", "Seeds", "other_amount"])
def test_every_money_input_refuses_what_is_not_a_plain_amount(
    client, funded_campaign, organizer, field, bad
):
    client.force_login(organizer)
    name = item_field(funded_campaign, field) if field == "Seeds" else field
    data = request_data(funded_campaign, other_label="Compost")
    data[name] = bad
    response = client.post(request_url(funded_campaign), data)
    assert response.status_code == 200
    form = response.context["form"]
    assert name in form.errors, form.errors
    assert form.errors[name][0] in (
        "Enter an amount such as 25 or 12.50.",
        "That amount is too large.",
    )
    assert not Payout.objects.exists()


def test_a_good_request_with_a_png_receipt_is_made_and_listed(client, funded_campaign, organizer):
    client.force_login(organizer)
    data = request_data(
        funded_campaign,
        amount="12.50",
        seeds="6",
        tools="4",
        other="2.50",
        other_label="Compost",
        receipts=[png_receipt("garden-centre.png")],
    )
    response = client.post(request_url(funded_campaign), data, follow=True)
    assert response.redirect_chain[-1][0] == payouts_url(funded_campaign)
    page = text(response)
    assert (
        "Your request is published on the campaign's Money page for 48 hours before our team "
        "reviews it." in page
    )
    payout = Payout.objects.get()
    assert (payout.amount_minor, payout.status, payout.requested_by) == (
        1_250,
        Status.REQUESTED,
        organizer,
    )
    assert sorted(payout.allocations.values_list("label", "amount_minor")) == [
        ("Compost", 250),
        ("Seeds", 600),
        ("Tools", 400),
    ]
    receipt = payout.receipts.get()
    assert receipt.content_type == "image/png" and receipt.original_name == "garden-centre.png"
    # Listed on the campaign's payouts page, with its lines and its receipt.
    assert "€12.50 Requested" in page
    assert "Published on the campaign's Money page until" in page
    assert "Seeds €6.00" in page and "Tools €4.00" in page and "Compost Other costs €2.50" in page
    assert "Seeds and tools for the spring planting." in page
    receipt_url = reverse("payouts:receipt", args=[payout.public_id, receipt.pk])
    assert f'href="{receipt_url}"' in response.content.decode()
    download = client.get(receipt_url)
    assert download.status_code == 200
    assert download["Content-Type"] == "image/png"


def test_a_request_on_an_unverified_account_says_it_is_on_hold(client, funded_campaign, gateway):
    organizer = funded_campaign.organizer
    connect_verified(gateway, organizer, outcome="restricted")
    client.force_login(organizer)
    response = client.post(request_url(funded_campaign), request_data(funded_campaign), follow=True)
    page = text(response)
    assert "on hold until your payout account is verified" in page
    assert Payout.objects.get().status == Status.ON_HOLD
    assert "On hold until the organizer's payout account is verified." in page


def test_the_same_form_sent_twice_makes_one_request(client, funded_campaign, organizer):
    client.force_login(organizer)
    data = request_data(funded_campaign)
    first = client.post(request_url(funded_campaign), data)
    second = client.post(request_url(funded_campaign), data, follow=True)
    assert first.status_code == 302
    assert "This request was already sent" in text(second)
    assert Payout.objects.count() == 1


@pytest.mark.postgres  # row locks and pg_stat_activity
def test_two_submits_at_once_make_one_request(funded_campaign, organizer):
    """Both submits wait on the campaign's lock (held here), then run one after the other: the
    second finds the first instead of asking again."""
    data = request_data(funded_campaign)
    statuses = []

    def submit():
        try:
            statuses.append(logged_in(organizer).post(request_url(funded_campaign), data))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    with transaction.atomic():
        Campaign.objects.select_for_update().get(pk=funded_campaign.pk)
        for thread in threads:
            thread.start()

        def both_waiting():
            with connection.cursor() as cursor:
                # pg_stat_activity is read once per transaction unless told to read it again.
                cursor.execute("SELECT pg_stat_clear_snapshot()")
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
                return cursor.fetchone()[0] >= 2

        assert wait_for(both_waiting, timeout=30)
    for thread in threads:
        thread.join(timeout=60)
    assert [response.status_code for response in statuses] == [302, 302]
    assert Payout.objects.count() == 1


def test_a_request_made_a_while_ago_does_not_block_the_same_one_now(
    client, funded_campaign, organizer
):
    client.force_login(organizer)
    data = request_data(funded_campaign)
    client.post(request_url(funded_campaign), data)
    Payout.objects.update(requested_at=timezone.now() - timedelta(minutes=2))
    response = client.post(request_url(funded_campaign), data, follow=True)
    assert "published on the campaign's Money page" in text(response)
    assert Payout.objects.count() == 2


# --- words ------------------------------------------------------------------------------------
def test_the_payout_pages_are_in_sentence_case(client, funded_campaign, organizer, co_organizer):
    made_request(funded_campaign, organizer, amount=500, receipts=[png_receipt()])
    client.force_login(organizer)
    for url in (account_url(), payouts_url(funded_campaign), request_url(funded_campaign)):
        assert_sentence_case(client.get(url))
    saved = client.post(
        account_url(), {"iban": GOOD_IBAN, "account_holder": "Olga Organizer"}, follow=True
    )
    assert "Bank account saved." in text(saved)
    assert_sentence_case(saved)
    client.force_login(co_organizer)
    assert_sentence_case(client.get(payouts_url(funded_campaign)))
