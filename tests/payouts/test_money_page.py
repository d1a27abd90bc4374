"""A campaign's public Money page and its CSV (payouts.public_views): the ledger's totals, the
budget against what payouts paid for, every payout request, every transaction; supporters named
only as they chose, never an email; the CSV agrees with the page to the cent and cannot run as
a spreadsheet formula; a live campaign has none; the page's queries do not grow with rows."""

import csv
import io
import re
from collections import defaultdict
from decimal import Decimal
from html import unescape
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns.models import Campaign
from core.money import format_money, to_major
from members.models import Member
from payouts import public_views, services
from payouts.concerns import raise_concern
from payouts.models import Payout
from payouts.receipts import check_receipt
from payouts.selectors import payout_breakdown
from pledges import services as pledge_services
from pledges import settlement
from pledges.models import Pledge
from tests.factories import BudgetItemFactory, CampaignFactory, MemberFactory
from tests.payouts.test_services import (  # noqa: F401  (fixtures)
    after_window,
    approve_payout,
    approver,
    gateway,
    organizer,
    request,
)
from tests.pledges.conftest import fake_gateway  # noqa: F401  (fixture)
from tests.pledges.test_settlement import deadline_passes
from tests.uploads import image_bytes
from tests.uploads import upload as image_upload

pytestmark = [
    pytest.mark.django_db(transaction=True),
]
Status = Payout.Status
FORMULA_NAME = '=HYPERLINK("http://evil.test","Claim your prize")'


@pytest.fixture(autouse=True)
def media_root(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"


def pledge_as(gateway, campaign, *, display_name, amount=2_500, public_name="", anonymous=False):  # noqa: F811  (fixtures)
    """An active pledge with a saved card, made as the pledge form makes it."""
    supporter = MemberFactory(display_name=display_name)
    pledge = pledge_services.start_pledge(
        campaign,
        supporter=supporter,
        amount_minor=amount,
        public_name=public_name,
        anonymous=anonymous,
        gateway=gateway,
    )
    gateway.confirm_setup_intent(pledge.setup_intent_id, "pm_card_visa")
    return pledge_services.confirm_card(pledge, by=supporter, gateway=gateway)


def settle(campaign):
    deadline_passes(campaign)
    settlement.sweep()  # closes and charges
    settlement.sweep()  # every pledge collected: funded
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.FUNDED
    return campaign


@pytest.fixture
def campaign(db, gateway):  # noqa: F811  (fixtures)
    """Funded with €100 from four supporters: one by their name, one under a public name, one
    anonymous, one whose public name is a spreadsheet formula. Seeds €30, Tools €20."""
    campaign = CampaignFactory(live=True, goal_minor=5_000, slug="elm-street-garden")
    BudgetItemFactory(campaign=campaign, label="Seeds", amount_minor=3_000)
    BudgetItemFactory(campaign=campaign, label="Tools", amount_minor=2_000)
    pledge_as(gateway, campaign, display_name="Nora Neighbour")
    pledge_as(gateway, campaign, display_name="Gary Gardener", public_name="Green Thumbs Club")
    pledge_as(gateway, campaign, display_name="Secret Sam", anonymous=True)
    pledge_as(gateway, campaign, display_name="Mallory Mischief", public_name=FORMULA_NAME)
    return settle(campaign)


def receipt(name="invoice.png"):
    return check_receipt(image_upload(name, image_bytes((300, 200))))


def allocations(campaign, **amounts):
    """{"Seeds": 3_000, "Hall rental": 1_000} as Allocation rows (unknown labels: other costs)."""
    ids = {item.label: item.pk for item in campaign.budget_items.all()}
    return [
        services.Allocation(ids.get(label), amount, label="" if label in ids else label)
        for label, amount in amounts.items()
    ]


def approve(payout, name):
    approve_payout(after_window(payout), by=approver(name))
    payout.refresh_from_db()
    return payout


@pytest.fixture
def payouts(campaign, organizer, monkeypatch):  # noqa: F811  (fixtures)
    """One request paid (Seeds €30 and a hall €10, a receipt), one approved whose transfer has
    not run yet (Tools €10), one in review (Seeds €10, Tools €5), one rejected (Tools €5)."""
    paid = request(
        campaign,
        organizer,
        amount=4_000,
        allocations=allocations(campaign, Seeds=3_000, **{"Hall rental": 1_000}),
        note="Seed order and the hall for the planting day.",
        receipts=[receipt("seed invoice.png")],
    )
    paid = approve(paid, "t1")
    assert paid.status == Status.PAID

    approved = request(
        campaign, organizer, amount=1_000, allocations=allocations(campaign, Tools=1_000)
    )
    with monkeypatch.context() as patch:
        # The broker has not delivered the transfer task yet: approved, not paid.
        patch.setattr("payouts.tasks.transfer_payout.delay", lambda *args: None)
        approved = approve(approved, "t2")
    assert approved.status == Status.APPROVED

    in_review = request(
        campaign,
        organizer,
        amount=1_500,
        allocations=allocations(campaign, Seeds=1_000, Tools=500),
        receipts=[receipt("tools quote.png")],
    )
    rejected = request(
        campaign,
        organizer,
        amount=500,
        allocations=allocations(campaign, Tools=500),
        receipts=[receipt("other project.png")],
    )
    services.reject_payout(
        rejected, by=approver("t3"), reason="This invoice is for another garden."
    )
    rejected.refresh_from_db()
    return {"paid": paid, "approved": approved, "in_review": in_review, "rejected": rejected}


# --- reading the page and the CSV --------------------------------------------------------------
class _Tables(HTMLParser):
    """Rows of cell texts of each <table>, by the table's first class."""

    def __init__(self):
        super().__init__()
        self.tables, self._stack, self._cell = defaultdict(list), [], None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._stack.append((dict(attrs).get("class") or "").split()[-1])
        elif tag == "tr" and self._stack:
            self.tables[self._stack[-1]].append([])
        elif tag in ("td", "th") and self._stack:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "table" and self._stack:
            self._stack.pop()
        elif tag in ("td", "th") and self._cell is not None and self._stack:
            self.tables[self._stack[-1]][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def tables(html):
    parser = _Tables()
    parser.feed(html)
    return parser.tables


def figures(html):
    """{"collected": "€100.00", ...}: the totals as the page shows them."""
    return {
        name: unescape(value).strip()
        for name, value in re.findall(r'data-figure="(\w+)">([^<]*)<', html)
    }


def money_page(client, campaign, **query):
    response = client.get(reverse("payouts:money", args=[campaign.slug]), query)
    assert response.status_code == 200
    return response.content.decode()


def csv_download(client, campaign):
    response = client.get(reverse("payouts:money_csv", args=[campaign.slug]))
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == 'attachment; filename="elm-street-garden-money.csv"'
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    header, *rows = list(csv.reader(io.StringIO(text)))
    return header, rows


# --- tests -------------------------------------------------------------------------------------
def test_the_totals_are_the_ledgers(client, campaign, payouts):
    breakdown = payout_breakdown(campaign)
    assert breakdown.paid_out == 4_000 and breakdown.in_transfer == 1_000
    shown = figures(money_page(client, campaign))
    euros = lambda minor: format_money(minor, "EUR")  # noqa: E731
    assert shown == {
        "collected": euros(10_000),
        "processor_fees": euros(breakdown.processor_fees),
        "platform_fees": euros(500),
        "refunds": euros(0),
        "disputes_held": euros(0),
        "paid_out": euros(4_000),
        "in_transfer": euros(1_000),
        "balance": euros(breakdown.held),
    }
    assert breakdown.held == 10_000 - breakdown.processor_fees - 500 - 5_000


def test_plan_against_actual_per_budget_item(client, campaign, payouts):
    html = money_page(client, campaign)
    rows = {row[0]: row[1:] for row in tables(html)["tp-plan"][1:]}
    euros = lambda minor: format_money(minor, "EUR")  # noqa: E731
    # Planned, paid, approved and not paid yet, requested; the rejected €5 counts nowhere.
    assert rows["Seeds"][:4] == [euros(3_000), euros(3_000), euros(0), euros(1_000)]
    assert rows["Tools"][:4] == [euros(2_000), euros(0), euros(1_000), euros(500)]
    assert rows["Hall rental Other costs"][:4] == ["—", euros(1_000), euros(0), euros(0)]
    assert rows["Total"][:4] == [euros(5_000), euros(4_000), euros(1_000), euros(1_500)]
    # Each line links the receipts of the payouts that paid for it.
    assert "seed invoice" in rows["Seeds"][4] and "tools quote" in rows["Seeds"][4]
    assert "seed invoice" in rows["Hall rental Other costs"][4]
    assert "other project" not in html  # a rejected request's receipts are not public
    paid = payouts["paid"]
    link = reverse(
        "payouts:receipt",
        kwargs={"public_id": paid.public_id, "receipt_id": paid.receipts.get().pk},
    )
    assert f'href="{link}"' in html
    assert client.get(link).status_code == 200  # and anyone may download it


def test_every_payout_request_is_listed_the_rejected_one_with_its_reason(client, campaign, payouts):
    html = money_page(client, campaign)
    for payout in payouts.values():
        assert f'id="payout-{payout.public_id}"' in html
    assert "This invoice is for another garden." in html
    assert "Seed order and the hall for the planting day." in html
    rejected = html.split(f'id="payout-{payouts["rejected"].public_id}"')[1].split("</li>")[0]
    assert "Rejected" in rejected and "Receipts" not in rejected
    assert "Supporters can raise concerns until" in html  # the request still in review
    # Where the money went is public; where it was sent is not.
    assert payouts["paid"].destination not in html


def test_supporters_concerns_show_under_their_payout_request(client, campaign, payouts):
    nora = Member.objects.get(display_name="Nora Neighbour")
    in_review = payouts["in_review"]
    raise_concern(in_review, by=nora, text="Were these seeds not bought last spring?")
    html = money_page(client, campaign)
    block = html.split(f'id="payout-{in_review.public_id}"')[1].split('<li class="po-payout"')[0]
    assert "Were these seeds not bought last spring?" in block
    assert "Nora Neighbour" in block


def test_a_supporter_gets_the_concern_form_the_organizer_does_not(
    client,
    campaign,
    payouts,
    organizer,  # noqa: F811  (fixture)
):
    in_review = payouts["in_review"]
    raise_form = reverse("payouts:raise_concern", args=[in_review.public_id])
    client.force_login(Member.objects.get(display_name="Nora Neighbour"))
    assert f'action="{raise_form}"' in money_page(client, campaign)
    client.force_login(organizer)
    html = money_page(client, campaign)
    assert f'action="{raise_form}"' not in html  # the team answers, it does not raise


def test_supporters_are_named_only_as_they_chose_and_no_email_appears(client, campaign, payouts):
    html = money_page(client, campaign)
    header, rows = csv_download(client, campaign)
    supporters = [row[3] for row in rows if row[1] == "contribution"]
    assert sorted(supporters) == sorted(
        ["Nora Neighbour", "Green Thumbs Club", "Anonymous", f"'{FORMULA_NAME}"]
    )
    ledger = [row[2] for row in tables(html)["tp-ledger"][1:] if row[1].startswith("Contribution")]
    assert sorted(ledger) == sorted(
        ["Nora Neighbour", "Green Thumbs Club", "Anonymous", FORMULA_NAME]
    )
    text = html + "\n".join(",".join(row) for row in rows)
    for hidden in ("Secret Sam", "Gary Gardener"):  # anonymous; behind a public name
        assert hidden not in text
    emails = list(Member.objects.values_list("email", flat=True))
    assert len(emails) >= 8  # supporters, organizer, approvers
    for email in emails:
        assert email not in text
    assert "@example.org" not in text


def test_the_csv_agrees_with_the_page_to_the_cent(client, campaign, payouts):
    breakdown = payout_breakdown(campaign)
    shown = figures(money_page(client, campaign))
    header, rows = csv_download(client, campaign)
    assert header == [
        "Date",
        "Kind",
        "Description",
        "Supporter",
        "Amount",
        "Currency",
        "Ledger transaction id",
        "Provider reference",
    ]
    by_kind = defaultdict(Decimal)
    for row in rows:
        assert re.fullmatch(r"-?\d+\.\d{2}", row[4])  # a plain decimal, never "€1,000.00"
        assert row[5] == "EUR"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", row[0])  # ISO 8601, UTC
        by_kind[row[1]] += Decimal(row[4])

    def page_figure(name):
        return shown[name]

    def csv_figure(amount):
        return format_money(int(amount * 100), "EUR")

    assert csv_figure(by_kind["contribution"]) == page_figure("collected")
    assert csv_figure(-by_kind["processor_fee"]) == page_figure("processor_fees")
    assert csv_figure(-by_kind["platform_fee"]) == page_figure("platform_fees")
    assert -(by_kind["payout"] + by_kind["payout_reversal"]) == to_major(
        breakdown.paid_out + breakdown.in_transfer, "EUR"
    )
    assert csv_figure(sum(by_kind.values())) == page_figure("balance")
    assert sum(by_kind.values()) == to_major(breakdown.held, "EUR")
    assert len([row for row in rows if row[1] == "payout"]) == 2  # two approvals reserved money
    contributions = [row for row in rows if row[1] == "contribution"]
    assert all(row[7] for row in contributions)  # the provider's charge id


def test_refunds_and_what_they_take_back_agree_on_page_and_csv(
    client,
    campaign,
    organizer,  # noqa: F811  (fixture)
    gateway,  # noqa: F811  (fixture)
):
    from payouts.refunds import refund_pledge

    held = payout_breakdown(campaign).held
    paid = approve(
        request(
            campaign,
            organizer,
            amount=held - 100,
            allocations=allocations(campaign, Seeds=held - 100),
        ),
        "t1",
    )
    nora = Pledge.objects.get(campaign=campaign, supporter__display_name="Nora Neighbour")
    refund_pledge(nora, by=organizer, reason="Moved away before the planting.", gateway=gateway)

    breakdown = payout_breakdown(campaign)
    assert breakdown.refunds == 2_500
    assert breakdown.paid_out < paid.amount_minor  # the shortfall came back from the payout
    html = money_page(client, campaign)
    shown = figures(html)
    assert shown["refunds"] == format_money(2_500, "EUR")
    assert shown["paid_out"] == format_money(breakdown.paid_out, "EUR")
    assert shown["balance"] == format_money(breakdown.held, "EUR")
    assert "Refund to a supporter" in html
    assert "Platform fee given back for a refund" in html
    assert f"Taken back from payout {paid.short_id} for a refund" in html
    assert "Moved away before the planting." not in html  # the reason is the supporter's

    header, rows = csv_download(client, campaign)
    by_kind = defaultdict(Decimal)
    for row in rows:
        by_kind[row[1]] += Decimal(row[4])
    assert -by_kind["refund"] == to_major(breakdown.refunds, "EUR")
    assert -by_kind["platform_fee"] == to_major(breakdown.platform_fees, "EUR")
    assert -(by_kind["payout"] + by_kind["payout_reversal"]) == to_major(
        breakdown.paid_out + breakdown.in_transfer, "EUR"
    )
    assert sum(by_kind.values()) == to_major(breakdown.held, "EUR")


def test_a_formula_in_a_public_name_is_neutralised_in_the_csv(client, campaign):
    header, rows = csv_download(client, campaign)
    texts = [cell for row in rows for cell in (row[2], row[3], row[7])]
    assert f"'{FORMULA_NAME}" in texts
    assert not [cell for cell in texts if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]


def test_a_live_campaign_has_no_money_page(client, db, gateway):  # noqa: F811  (fixtures)
    live = CampaignFactory(live=True)
    cancelled = CampaignFactory(status=Campaign.Status.CANCELLED)
    for unseen in (live, cancelled, CampaignFactory()):
        assert client.get(reverse("payouts:money", args=[unseen.slug])).status_code == 404
        assert client.get(reverse("payouts:money_csv", args=[unseen.slug])).status_code == 404
    assert client.get(reverse("payouts:money", args=["no-such-campaign"])).status_code == 404


def test_a_campaign_that_failed_shows_that_no_one_was_charged(client, db, gateway):  # noqa: F811  (fixtures)
    failed = CampaignFactory(live=True, goal_minor=500_000, slug="big-dream")
    pledge_as(gateway, failed, display_name="Hopeful Hana")
    deadline_passes(failed)
    settlement.sweep()
    failed.refresh_from_db()
    assert failed.status == Campaign.Status.FAILED
    html = money_page(client, failed)
    assert "no one was charged" in html
    assert figures(html)["collected"] == format_money(0, failed.currency)
    assert "No money has moved on this campaign" in html


def test_the_transactions_are_paginated(client, campaign, monkeypatch):
    monkeypatch.setattr(public_views, "TRANSACTIONS_PER_PAGE", 6)  # the page size
    first, second = money_page(client, campaign), money_page(client, campaign, page=2)
    rows = tables(first)["tp-ledger"][1:] + tables(second)["tp-ledger"][1:]
    header, csv_rows = csv_download(client, campaign)
    assert len(rows) == len(csv_rows) == 12  # contribution and two fees for four pledges
    assert '<a class="button button-secondary" rel="next"' in first
    assert [row[3] for row in rows] == [
        format_money(int(Decimal(row[4]) * 100), "EUR") for row in csv_rows
    ]


def test_the_page_queries_do_not_grow_with_transactions_payouts_or_budget_items(
    client,
    campaign,
    organizer,  # noqa: F811  (fixture)
    gateway,  # noqa: F811  (fixture)
):
    def queries_for(ended):
        with CaptureQueriesContext(connection) as captured:
            money_page(client, ended)
        return len(captured)

    def paid_payout(ended, amount, **split):
        payout = request(ended, organizer, amount=amount, allocations=allocations(ended, **split))
        return approve(payout, f"approver-{ended.pk}-{amount}")

    small = campaign
    paid_payout(small, 1_000, Seeds=1_000)
    small_count = queries_for(small)

    bigger = CampaignFactory(live=True, goal_minor=10_000, organizer=organizer, slug="big-one")
    for label in ("Seeds", "Tools", "Paint", "Benches", "Signs"):
        BudgetItemFactory(campaign=bigger, label=label, amount_minor=2_000)
    for number in range(7):
        pledge_as(gateway, bigger, display_name=f"Supporter {number}", anonymous=number % 2 == 1)
    settle(bigger)
    paid_payout(bigger, 2_000, Seeds=1_000, Tools=1_000)
    paid_payout(bigger, 1_500, Paint=1_000, **{"Hall rental": 500})
    in_review = request(
        bigger,
        organizer,
        amount=1_000,
        allocations=allocations(bigger, Benches=1_000),
        receipts=[receipt(), receipt("second.png")],
    )
    services.reject_payout(
        request(bigger, organizer, amount=500, allocations=allocations(bigger, Signs=500)),
        by=approver("rejecter"),
        reason="Not in the plan.",
    )
    assert in_review.receipts.count() == 2
    bigger_count = queries_for(bigger)

    assert bigger_count == small_count
    assert small_count <= 15
