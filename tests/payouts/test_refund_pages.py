"""The refund pages over HTTP, on a campaign funded through the real settlement code against the
in-process stand-in: the admin's (the read-only list, "Refund a pledge", its confirmation page:
the permission, two-factor in the session, bad input, full and partial refunds into the ledger
and the supporter's email) and the organizer's (the list of collected pledges, the
confirmation page, who may, constant queries)."""

import re

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.models import OutboundEmail
from ledger import selectors as ledger_selectors
from ledger.models import Transaction as LedgerTransaction
from payouts import refunds, services
from payouts.models import Payout, Refund
from payouts.refund_views import with_refund_figures
from payouts.selectors import payout_breakdown
from pledges.models import Pledge
from tests.core.test_wording import assert_sentence_case
from tests.factories import CampaignFactory, MemberFactory
from tests.payouts.conftest import funded
from tests.payouts.test_admin import grant, log_in, messages_of
from tests.payouts.test_organizer_pages import text
from tests.payouts.test_services import after_window, approve_payout, approver, request

pytestmark = pytest.mark.django_db(transaction=True)

Kind = LedgerTransaction.Kind
TWO_FACTOR_MIDDLEWARE = "members.middleware.AdminTwoFactorMiddleware"
REFUNDS = reverse("admin:payouts_refund_changelist")
FIND = reverse("admin:payouts_refund_find_pledge")
BAD_AMOUNTS = ["1e5", "NaN", "٣", "-5"]


# --- helpers ----------------------------------------------------------------------------------
def a_pledge(campaign):
    return (
        Pledge.objects.filter(campaign=campaign, status=Pledge.Status.COLLECTED)
        .select_related("supporter")
        .order_by("id")
        .first()
    )


def refunder():
    """Staff holding payouts.refund_pledge (and nothing else), this session past two-factor."""
    member = MemberFactory(is_staff=True)
    member = grant(member, "refund_pledge")
    return member, log_in(member, two_factor=True)


def admin_refund_url(pledge):
    return reverse("admin:payouts_refund_pledge", args=[pledge.public_id])


def refund_data(pledge, *, amount="", reason="The reward was sold out.", seen=None):
    seen = refunds.refundable_minor(pledge) if seen is None else seen
    return {"amount": amount, "reason": reason, "refundable_seen": str(seen)}


def refunded_in_ledger(campaign):
    return ledger_selectors.campaign_totals(campaign.pk)[Kind.REFUND]


def refund_emails(pledge):
    return OutboundEmail.objects.filter(template="pledge_refunded", to=pledge.supporter.email)


def list_url(campaign):
    return reverse("payouts:refunds", args=[campaign.pk])


def refund_url(campaign, pledge):
    return reverse("payouts:refund", args=[campaign.pk, pledge.public_id])


def paid_out(campaign, organizer):
    """Everything the campaign holds paid out to the organizer's Connect account."""
    available = payout_breakdown(campaign).available
    items = {item.label: item.pk for item in campaign.budget_items.all()}
    payout = request(
        campaign,
        organizer,
        amount=available,
        allocations=[
            services.Allocation(items["Seeds"], available - 1_000),
            services.Allocation(items["Tools"], 1_000),
        ],
    )
    approve_payout(after_window(payout), by=approver("payer"))
    payout.refresh_from_db()
    assert payout.status == Payout.Status.PAID
    return payout


# --- the admin ----------------------------------------------------------------------------------
def test_the_refund_list_offers_refund_a_pledge_to_holders_of_the_permission(funded_campaign):
    _, client = refunder()
    response = client.get(REFUNDS)
    assert response.status_code == 200
    assert FIND in response.content.decode() and "Refund a pledge" in text(response)
    # Staff who may look at refunds but not make them see no button.
    viewer = grant(MemberFactory(), "view_refund")
    response = log_in(viewer, two_factor=False).get(REFUNDS)
    assert response.status_code == 200 and FIND not in response.content.decode()


def test_an_admin_finds_a_pledge_by_email_or_public_id(funded_campaign):
    pledge = a_pledge(funded_campaign)
    _, client = refunder()
    for query in (pledge.supporter.email.upper(), str(pledge.public_id)):
        page = client.get(FIND, {"q": query})
        assert page.status_code == 200
        assert admin_refund_url(pledge) in page.content.decode()
        assert "Community garden" in text(page) and "€25.00" in text(page)
    page = client.get(FIND, {"q": "nobody@example.org"})
    assert "No pledge with money taken matches" in text(page)


def test_an_admin_refunds_a_pledge_in_full(funded_campaign):
    pledge = a_pledge(funded_campaign)
    member, client = refunder()
    confirm = client.get(admin_refund_url(pledge))
    assert confirm.status_code == 200
    words = text(confirm)
    assert pledge.supporter.email in words and "Community garden" in words
    assert "Refundable now €25.00" in words and 'value="Refund"' in confirm.content.decode()
    assert "already paid out" not in words

    response = client.post(admin_refund_url(pledge), refund_data(pledge))

    refund = Refund.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:payouts_refund_change", args=[refund.pk])
    assert any("Refunded €25.00" in message for message in messages_of(response))
    assert (refund.status, refund.amount_minor, refund.requested_by) == (
        Refund.Status.SUCCEEDED,
        2_500,
        member,
    )
    assert refunded_in_ledger(funded_campaign) == 2_500
    pledge.refresh_from_db()
    assert pledge.status == Pledge.Status.REFUNDED
    (email,) = refund_emails(pledge)
    assert "The reward was sold out." in email.body_text
    # The refund's own page and the list show it, with the provider's id.
    for url in (reverse("admin:payouts_refund_change", args=[refund.pk]), REFUNDS):
        page = client.get(url)
        assert page.status_code == 200 and refund.provider_refund_id in page.content.decode()
    # Nothing is left: the page says so and offers no form.
    again = client.get(admin_refund_url(pledge))
    assert "Everything collected for this pledge was refunded." in text(again)
    assert 'value="Refund"' not in again.content.decode()


def test_an_admin_refunds_part_of_a_pledge_and_never_more_than_is_left(funded_campaign):
    pledge = a_pledge(funded_campaign)
    _, client = refunder()
    response = client.post(admin_refund_url(pledge), refund_data(pledge, amount="10"))
    assert response.status_code == 302
    assert refunded_in_ledger(funded_campaign) == 1_000
    pledge.refresh_from_db()
    assert pledge.status == Pledge.Status.PARTIALLY_REFUNDED
    assert refund_emails(pledge).count() == 1
    assert "Refundable now €15.00" in text(client.get(admin_refund_url(pledge)))

    response = client.post(admin_refund_url(pledge), refund_data(pledge, amount="15.01"))

    assert response.status_code == 200
    assert "At most €15.00 of this pledge can still be refunded." in text(response)
    assert Refund.objects.count() == 1 and refunded_in_ledger(funded_campaign) == 1_000
    assert refund_emails(pledge).count() == 1


def test_the_refund_list_filters_and_searches(funded_campaign, gateway):
    other = funded(gateway, CampaignFactory(live=True, goal_minor=1_000), amounts=(2_500,))
    ours = refunds.refund_pledge(
        a_pledge(funded_campaign), by=funded_campaign.organizer, reason="Moved away"
    )
    # Part of it: the campaign's only pledge less its fees is all an organizer can give back.
    theirs = refunds.refund_pledge(
        a_pledge(other), by=other.organizer, reason="Double pledge", amount_minor=1_000
    )
    _, client = refunder()

    def listed(**query):
        """The provider ids of our two refunds that the list shows for `query`."""
        page = client.get(REFUNDS, query).content.decode()
        return {ours.provider_refund_id, theirs.provider_refund_id} & set(
            re.findall(r"re_[A-Za-z0-9]+", page)
        )

    assert listed() == {ours.provider_refund_id, theirs.provider_refund_id}
    assert listed(pledge__campaign__id__exact=other.pk) == {theirs.provider_refund_id}
    assert listed(status="failed") == set()
    assert listed(q=ours.pledge.supporter.email) == {ours.provider_refund_id}
    assert listed(q=theirs.provider_refund_id) == {theirs.provider_refund_id}
    assert listed(q=str(ours.public_id)[:8]) == {ours.provider_refund_id}


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_bad_amounts_are_refused_on_the_admin_form_and_change_nothing(funded_campaign, amount):
    pledge = a_pledge(funded_campaign)
    _, client = refunder()
    response = client.post(admin_refund_url(pledge), refund_data(pledge, amount=amount))
    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    assert not Refund.objects.exists() and refunded_in_ledger(funded_campaign) == 0


def test_the_reason_is_required(funded_campaign):
    pledge = a_pledge(funded_campaign)
    _, client = refunder()
    response = client.post(admin_refund_url(pledge), refund_data(pledge, reason=" "))
    assert response.status_code == 200
    assert "Say why the money is refunded: the supporter is told." in text(response)
    assert not Refund.objects.exists()


def test_a_second_submit_of_the_same_page_refunds_once(funded_campaign):
    pledge = a_pledge(funded_campaign)
    _, client = refunder()
    data = refund_data(pledge, amount="5")  # the page showed €25.00 left
    assert client.post(admin_refund_url(pledge), data).status_code == 302
    again = client.post(admin_refund_url(pledge), data)
    assert again.status_code == 200
    assert "This pledge changed since the page was opened: €20.00 can be refunded now." in (
        text(again)
    )
    assert Refund.objects.count() == 1 and refunded_in_ledger(funded_campaign) == 500


def test_a_lost_provider_answer_is_a_warning_and_the_refund_stays_pending(
    client, funded_campaign, gateway
):
    pledge = a_pledge(funded_campaign)
    _, admin_client = refunder()
    gateway.fail_next = 1
    response = admin_client.post(admin_refund_url(pledge), refund_data(pledge, amount="5"))
    refund = Refund.objects.get()
    assert refund.status == Refund.Status.PENDING
    assert response["Location"] == reverse("admin:payouts_refund_change", args=[refund.pk])
    assert any("will be tried again" in message for message in messages_of(response))
    assert refunded_in_ledger(funded_campaign) == 0
    # The organizer's page says a refund is being made and offers no second one meanwhile.
    client.force_login(funded_campaign.organizer)
    listing = text(client.get(list_url(funded_campaign)))
    assert "€5.00 being refunded" in listing
    response = client.post(refund_url(funded_campaign, pledge), refund_data(pledge))
    assert response.status_code == 200
    assert "Another refund of this pledge is being made" in text(response)
    assert Refund.objects.count() == 1


def test_staff_without_the_refund_permission_get_a_403(funded_campaign):
    pledge = a_pledge(funded_campaign)
    member = grant(MemberFactory(), "view_refund", "approve_payout")
    client = log_in(member, two_factor=True)
    assert client.get(FIND).status_code == 403
    assert client.get(admin_refund_url(pledge)).status_code == 403
    assert client.post(admin_refund_url(pledge), refund_data(pledge)).status_code == 403
    assert not Refund.objects.exists()


def test_a_session_without_two_factor_is_refused(funded_campaign, settings):
    pledge = a_pledge(funded_campaign)
    member = grant(MemberFactory(), "refund_pledge")
    TOTP.activate(member, generate_totp_secret())  # enrolled, no code in this session
    # The admin's middleware sends such a session to enter a code first.
    response = log_in(member, two_factor=False).get(admin_refund_url(pledge))
    assert response.status_code == 302 and reverse("mfa_reauthenticate") in response["Location"]
    # Without the middleware, the page refuses on its own.
    settings.MIDDLEWARE = [name for name in settings.MIDDLEWARE if name != TWO_FACTOR_MIDDLEWARE]
    client = log_in(member, two_factor=False)
    confirm = client.get(admin_refund_url(pledge))
    assert "Refunding needs a code from your authenticator app in this session." in text(confirm)
    assert 'value="Refund"' not in confirm.content.decode()
    response = client.post(admin_refund_url(pledge), refund_data(pledge))
    assert response.status_code == 200 and "Nothing was refunded" in text(response)
    assert not Refund.objects.exists() and refunded_in_ledger(funded_campaign) == 0


def test_the_admin_page_says_a_paid_out_campaign_takes_the_money_back_from_the_transfer(
    funded_campaign, organizer
):
    payout = paid_out(funded_campaign, organizer)
    pledge = a_pledge(funded_campaign)
    _, client = refunder()
    confirm = text(client.get(admin_refund_url(pledge)))
    assert "already paid out" in confirm and "Stripe transfer is reversed" in confirm
    client.post(admin_refund_url(pledge), refund_data(pledge))
    refund = Refund.objects.get()
    assert refund.status == Refund.Status.SUCCEEDED
    assert refund.reversed_minor == 2_500 - 125  # the refund less the platform fee given back
    assert ledger_selectors.campaign_totals(funded_campaign.pk)[Kind.PAYOUT_REVERSAL] == (
        refund.reversed_minor
    )
    assert payout.transfer_id


# --- the organizer ---------------------------------------------------------------------------
def test_the_organizer_sees_the_collected_pledges_without_emails(client, funded_campaign):
    organizer = funded_campaign.organizer
    client.force_login(organizer)
    payouts_page = client.get(reverse("payouts:campaign", args=[funded_campaign.pk]))
    assert list_url(funded_campaign) in payouts_page.content.decode()
    response = client.get(list_url(funded_campaign))
    assert_sentence_case(response)
    body = response.content.decode()
    assert body.count('class="po-refund-row"') == 3
    for pledge in Pledge.objects.filter(campaign=funded_campaign).select_related("supporter"):
        assert pledge.supporter.display_name in text(response)
        assert pledge.supporter.email not in body
        assert refund_url(funded_campaign, pledge) in body


def test_the_organizer_refunds_a_supporter(client, funded_campaign, organizer):
    pledge = a_pledge(funded_campaign)
    client.force_login(organizer)
    confirm = client.get(refund_url(funded_campaign, pledge))
    assert_sentence_case(confirm)
    words = text(confirm)
    assert "they are emailed your reason" in words and "comes off the campaign's balance" in words
    assert pledge.supporter.email not in confirm.content.decode()

    response = client.post(refund_url(funded_campaign, pledge), refund_data(pledge, amount="5"))

    assert response.status_code == 302 and response["Location"] == list_url(funded_campaign)
    refund = Refund.objects.get()
    assert (refund.status, refund.amount_minor, refund.requested_by) == (
        Refund.Status.SUCCEEDED,
        500,
        organizer,
    )
    assert refunded_in_ledger(funded_campaign) == 500
    assert refund_emails(pledge).count() == 1
    listing = client.get(list_url(funded_campaign))
    assert any("Refunded €5.00" in message for message in messages_of(listing))
    row = text(listing)
    assert "€5.00" in row and "€20.00" in row


@pytest.mark.parametrize("amount", BAD_AMOUNTS + ["25.01"])
def test_the_organizer_form_refuses_bad_amounts(client, funded_campaign, amount):
    pledge = a_pledge(funded_campaign)
    client.force_login(funded_campaign.organizer)
    response = client.post(refund_url(funded_campaign, pledge), refund_data(pledge, amount=amount))
    assert response.status_code == 200 and 'class="errorlist"' in response.content.decode()
    assert not Refund.objects.exists() and refunded_in_ledger(funded_campaign) == 0


def test_the_organizer_page_explains_a_paid_out_campaign(client, funded_campaign, organizer):
    paid_out(funded_campaign, organizer)
    client.force_login(organizer)
    words = text(client.get(refund_url(funded_campaign, a_pledge(funded_campaign))))
    assert "already paid out" in words and "no payout can be approved" in words


def test_a_co_organizer_is_told_only_the_organizer_refunds(client, funded_campaign, co_organizer):
    pledge = a_pledge(funded_campaign)
    client.force_login(co_organizer)
    for response in (
        client.get(list_url(funded_campaign)),
        client.get(refund_url(funded_campaign, pledge)),
        client.post(refund_url(funded_campaign, pledge), refund_data(pledge)),
    ):
        assert response.status_code == 403
        assert "Only the campaign's organizer can refund supporters" in text(response)
    assert not Refund.objects.exists()


def test_a_stranger_gets_a_404(client, funded_campaign, stranger):
    pledge = a_pledge(funded_campaign)
    client.force_login(stranger)
    assert client.get(list_url(funded_campaign)).status_code == 404
    assert client.get(refund_url(funded_campaign, pledge)).status_code == 404
    response = client.post(refund_url(funded_campaign, pledge), refund_data(pledge))
    assert response.status_code == 404
    assert not Refund.objects.exists()


def test_another_campaigns_pledge_is_a_404(client, funded_campaign, gateway):
    other = funded(gateway, CampaignFactory(live=True, goal_minor=1_000), amounts=(2_500,))
    client.force_login(funded_campaign.organizer)
    assert client.get(refund_url(funded_campaign, a_pledge(other))).status_code == 404


def test_the_list_makes_the_same_queries_for_one_pledge_or_five(client, gateway):
    organizer = MemberFactory()
    one = funded(
        gateway, CampaignFactory(live=True, goal_minor=1_000, organizer=organizer), (2_500,)
    )
    five = funded(
        gateway,
        CampaignFactory(live=True, goal_minor=1_000, organizer=organizer),
        (2_500, 1_000, 1_500, 2_000, 3_000),
    )
    # A refunded part on one of the five: the figures come from the same query.
    refunds.refund_pledge(a_pledge(five), by=organizer, reason="Shipping", amount_minor=300)
    client.force_login(organizer)
    client.get(list_url(one))  # warm up: session, content types
    with CaptureQueriesContext(connection) as for_one:
        response = client.get(list_url(one))
    assert response.content.decode().count('class="po-refund-row"') == 1
    with CaptureQueriesContext(connection) as for_five:
        response = client.get(list_url(five))
    assert response.content.decode().count('class="po-refund-row"') == 5
    assert len(for_five) == len(for_one), [q["sql"] for q in for_five.captured_queries]


def test_the_list_is_paged(client, funded_campaign, monkeypatch):
    from payouts import refund_views

    assert refund_views.PER_PAGE == 50
    monkeypatch.setattr(refund_views, "PER_PAGE", 2)  # the page size only: three pledges here
    client.force_login(funded_campaign.organizer)
    first = client.get(list_url(funded_campaign))
    second = client.get(list_url(funded_campaign), {"page": 2})
    assert first.content.decode().count('class="po-refund-row"') == 2
    assert second.content.decode().count('class="po-refund-row"') == 1
    assert "Page 2 of 2" in text(second) and "?page=1" in second.content.decode()


def test_the_lists_figures_are_what_the_refund_service_reads(funded_campaign, gateway):
    pledges = list(Pledge.objects.filter(campaign=funded_campaign).order_by("id"))
    organizer = funded_campaign.organizer
    refunds.refund_pledge(pledges[0], by=organizer, reason="Part", amount_minor=700)
    refunds.refund_pledge(pledges[1], by=organizer, reason="All")
    gateway.fail_next = 1  # a refund left pending: counted as being refunded
    with pytest.raises(refunds.RefundInterrupted):
        refunds.refund_pledge(pledges[2], by=organizer, reason="Lost", amount_minor=200)
    figures = {
        p.pk: p for p in with_refund_figures(Pledge.objects.filter(campaign=funded_campaign))
    }
    for pledge in pledges:
        assert figures[pledge.pk].refundable_minor == refunds.refundable_minor(pledge)
    assert [figures[p.pk].refundable_minor for p in pledges] == [1_800, 0, 2_300]
    assert figures[pledges[2].pk].refunding_minor == 200


def test_a_collected_pledges_admin_page_links_to_its_refund(funded_campaign, gateway):
    pledge = a_pledge(funded_campaign)
    page = reverse("admin:pledges_pledge_change", args=[pledge.pk])
    member, client = refunder()
    member.user_permissions.add(Permission.objects.get(codename="view_pledge"))
    assert admin_refund_url(pledge) in client.get(page).content.decode()
    viewer = MemberFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_pledge"))
    viewer_page = log_in(viewer, two_factor=False).get(page).content.decode()
    assert admin_refund_url(pledge) not in viewer_page
