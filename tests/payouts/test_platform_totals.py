"""The platform's transparency page (payouts.public_views.platform_totals): every campaign's
money added up per currency from the ledger, never across currencies, in a bounded number of
queries, with a link to each ended campaign's Money page, newest first."""

import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.money import format_money
from payouts import services
from payouts.models import PayoutAccount
from payouts.selectors import payout_breakdown
from tests.factories import BudgetItemFactory, CampaignFactory, MemberFactory
from tests.payouts.test_money_page import pledge_as, settle
from tests.payouts.test_services import (  # noqa: F401  (fixtures)
    after_window,
    approve_payout,
    approver,
    gateway,
    request,
)
from tests.pledges.conftest import fake_gateway  # noqa: F401  (fixture)

pytestmark = [
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def organizer(db, gateway):  # noqa: F811  (fixture)
    """One organizer for every campaign here, with a verified Connect account."""
    member = MemberFactory(display_name="Olga Organizer")
    services.start_onboarding(
        member, return_url="http://t/return", refresh_url="http://t/refresh", gateway=gateway
    )
    account = PayoutAccount.objects.get(member=member)
    gateway.complete_onboarding(account.stripe_account_id, outcome="verified")
    services.refresh_connected_account(member, gateway=gateway)
    return member


def ended(gateway, organizer, currency, amounts, slug):  # noqa: F811  (fixture)
    campaign = CampaignFactory(
        live=True, goal_minor=1_000, currency=currency, organizer=organizer, slug=slug
    )
    BudgetItemFactory(campaign=campaign, label="Seeds", amount_minor=1_000)
    for number, amount in enumerate(amounts):
        pledge_as(gateway, campaign, display_name=f"{slug} supporter {number}", amount=amount)
    return settle(campaign)


def paid_payout(campaign, organizer, amount, name):
    ids = {item.label: item.pk for item in campaign.budget_items.all()}
    payout = request(
        campaign, organizer, amount=amount, allocations=[services.Allocation(ids["Seeds"], amount)]
    )
    approve_payout(after_window(payout), by=approver(name))


def totals_page(client):
    response = client.get(reverse("payouts:platform_totals"))
    assert response.status_code == 200
    return response.content.decode()


def shown(html):
    """{currency: {figure: text}} from the totals table."""
    figures = {}
    cells = re.findall(r'data-currency="(\w+)" data-figure="(\w+)">([^<]*)<', html)
    for currency, name, value in cells:
        figures.setdefault(currency, {})[name] = unescape(value).strip()
    return figures


def expected(*campaigns):
    """The sum of the campaigns' breakdowns, as the page should show it."""
    breakdowns = [payout_breakdown(campaign) for campaign in campaigns]
    currency = breakdowns[0].currency
    sums = {
        "raised": sum(b.collected for b in breakdowns),
        "processor_fees": sum(b.processor_fees for b in breakdowns),
        "platform_fees": sum(b.platform_fees for b in breakdowns),
        "refunded": sum(b.refunds for b in breakdowns),
        "disputes": sum(b.disputes_held for b in breakdowns),
        "paid_out": sum(b.paid_out for b in breakdowns),
        "in_transfer": sum(b.in_transfer for b in breakdowns),
        "held": sum(b.held for b in breakdowns),
    }
    return {name: format_money(value, currency) for name, value in sums.items()}


def test_totals_add_up_each_currency_apart(client, gateway, organizer):  # noqa: F811
    garden = ended(gateway, organizer, "EUR", [2_500, 1_500], "garden")
    paid_payout(garden, organizer, 1_000, "t1")
    library = ended(gateway, organizer, "USD", [4_000], "library")
    CampaignFactory(live=True, currency="GBP", slug="still-live")  # no money moved yet

    with CaptureQueriesContext(connection) as two_campaigns:
        figures = shown(totals_page(client))
    assert set(figures) == {"EUR", "USD"}
    assert figures["EUR"] == expected(garden)
    assert figures["USD"] == expected(library)
    assert figures["EUR"]["raised"] == "€40.00" and figures["USD"]["raised"] == "$40.00"
    assert figures["EUR"]["paid_out"] == "€10.00" and figures["USD"]["paid_out"] == "$0.00"

    bakery = ended(gateway, organizer, "EUR", [1_000, 2_000, 3_000], "bakery")
    paid_payout(bakery, organizer, 2_000, "t2")
    with CaptureQueriesContext(connection) as three_campaigns:
        html = totals_page(client)
    figures = shown(html)
    assert figures["EUR"] == expected(garden, bakery)
    assert figures["EUR"]["raised"] == "€100.00"
    assert figures["EUR"]["paid_out"] == "€30.00"
    assert figures["USD"] == expected(library)
    assert len(three_campaigns) == len(two_campaigns)  # bounded: no query per campaign


def test_every_ended_campaign_links_its_money_page_newest_first(client, gateway, organizer):  # noqa: F811
    first = ended(gateway, organizer, "EUR", [2_000], "first-garden")
    second = ended(gateway, organizer, "USD", [2_000], "second-garden")
    live = CampaignFactory(live=True, slug="live-garden")
    html = totals_page(client)
    links = re.findall(r'href="(/c/[\w-]+/money/)"', html)
    assert links == [
        reverse("payouts:money", args=[second.slug]),
        reverse("payouts:money", args=[first.slug]),
    ]
    assert live.title not in html
    for link in links:
        assert client.get(link).status_code == 200
    assert "How the ledger works" in html
