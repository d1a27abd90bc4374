"""The organizer's dashboard (community.views.dashboard, community.dashboard): who may see it,
its figures and charts (server-rendered SVG with the numbers in a table), referrers, reward
take-up and recent activity, in a number of queries that does not grow with pledges."""

import datetime as dt
import html
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, Collaborator
from community import dashboard
from community.models import Comment, Follow
from core.money import format_money
from ledger import accounts as ledger_accounts
from ledger import services as ledger
from ledger.models import Transaction
from pledges.models import Pledge
from tests.factories import CampaignFactory, MemberFactory, PledgeFactory, RewardTierFactory

pytestmark = pytest.mark.django_db

Status = Pledge.Status


def days_ago(n, hour=12):
    """Noon (local time) n days ago: the same local day whatever the hour the test runs."""
    today = timezone.localdate()
    moment = dt.datetime.combine(today - dt.timedelta(days=n), dt.time(hour))
    return timezone.make_aware(moment)


@pytest.fixture
def campaign():
    return CampaignFactory(live=True, launched_at=days_ago(4, hour=9))


def url(campaign):
    return reverse("community:dashboard", args=[campaign.pk])


def pledge(campaign, *, amount, day, **fields):
    return PledgeFactory(
        campaign=campaign, amount_minor=amount, activated_at=days_ago(day), **fields
    )


def page(client, campaign):
    response = client.get(url(campaign))
    assert response.status_code == 200
    return response.content.decode()


# --- who may see it ---------------------------------------------------------------------------
def test_the_team_sees_the_dashboard_and_everyone_else_gets_a_404(client, campaign):
    co_organizer, invited, supporter = MemberFactory(), MemberFactory(), MemberFactory()
    Collaborator.objects.create(
        campaign=campaign,
        email=co_organizer.email,
        member=co_organizer,
        invited_by=campaign.organizer,
        accepted_at=timezone.now(),
    )
    Collaborator.objects.create(
        campaign=campaign, email=invited.email, member=invited, invited_by=campaign.organizer
    )
    PledgeFactory(campaign=campaign, supporter=supporter)

    for member in (campaign.organizer, co_organizer):
        client.force_login(member)
        assert client.get(url(campaign)).status_code == 200
    for member in (invited, supporter, MemberFactory()):
        client.force_login(member)
        assert client.get(url(campaign)).status_code == 404
    client.logout()
    assert client.get(url(campaign)).status_code == 302  # to the login page


@pytest.mark.parametrize("status", ["draft", "in_review", "rejected", "cancelled"])
def test_no_dashboard_before_approval_or_once_cancelled(client, status):
    campaign = CampaignFactory(status=status)
    client.force_login(campaign.organizer)
    assert client.get(url(campaign)).status_code == 404


def test_an_approved_campaign_has_a_mostly_empty_dashboard(client):
    campaign = CampaignFactory(approved=True)
    client.force_login(campaign.organizer)
    body = page(client, campaign)
    assert "Your campaign is not live yet" in body
    assert "<svg" not in body


# --- figures and charts -----------------------------------------------------------------------
def test_headline_figures_and_the_pledged_chart_agree(client, campaign):
    pledge(campaign, amount=1_000, day=4)
    pledge(campaign, amount=2_500, day=2)
    pledge(campaign, amount=3_000, day=2)
    pledge(campaign, amount=500, day=0)
    # Not pledged: waiting for a card, cancelled.
    PledgeFactory(campaign=campaign, amount_minor=99_900, status=Status.PENDING)
    pledge(campaign, amount=77_700, day=1, status=Status.CANCELLED)

    client.force_login(campaign.organizer)
    body = page(client, campaign)

    assert format_money(7_000, "EUR") in html.unescape(body)  # €70.00 pledged
    figures = re.search(r'<dl class="pay-figures db-figures">(.*?)</dl>', body, re.S).group(1)
    assert "<strong>4</strong>" in figures  # supporters
    assert format_money(1_750, "EUR") in html.unescape(figures)  # average €17.50

    svg = re.search(r'<svg[^>]*aria-labelledby="db-pledged-chart-title".*?</svg>', body, re.S)
    assert svg, "the pledged chart is an inline SVG"
    svg = html.unescape(svg.group(0))
    assert '<title id="db-pledged-chart-title">Pledged over time</title>' in svg
    assert "€70.00 from 4 supporters" in svg  # the description says the total
    assert "€0" in svg and "€80" in svg  # money on the vertical axis, whole euros
    # One point a day from launch to today, rising to the total.
    polyline = re.search(r'<polyline class="db-line" points="([^"]+)"', svg).group(1)
    assert len(polyline.split()) == 5
    # The numbers, as a table in <details>: each day and the running total.
    table = html.unescape(re.search(r"<details class=\"db-table\">.*?</details>", body, re.S)[0])
    assert table.count('<tr><th scope="row">') == 5
    assert "€10.00" in table and "€55.00" in table and "€65.00" in table  # totals, that day


def test_the_chart_builder_scales_and_labels_the_axis():
    days = [
        dashboard.DayFigure(dt.date(2026, 3, 1) + dt.timedelta(days=n), total_minor=n * 40_000)
        for n in range(10)
    ]
    chart = dashboard.line_chart(days, "EUR", title="T", description="D")
    assert [tick.label for tick in chart.y_ticks] == [
        "€0",
        "€1,000",
        "€2,000",
        "€3,000",
        "€4,000",
    ]
    assert chart.points[0].y == chart.frame.bottom
    assert chart.points[-1].y < chart.points[0].y
    assert chart.x_ticks[0].label == "1 Mar" and chart.x_ticks[-1].label == "10 Mar"
    assert len(chart.x_ticks) <= dashboard.X_TICKS
    assert dashboard.nice_step(7) == 2 and dashboard.nice_step(0.3, minimum=1) == 1


def test_after_the_deadline_it_shows_what_was_collected_from_the_ledger(client, campaign):
    paid = pledge(campaign, amount=4_000, day=4, status=Status.COLLECTED)
    also_paid = pledge(campaign, amount=6_000, day=3, status=Status.COLLECTED)
    pledge(campaign, amount=2_000, day=3, status=Status.DROPPED)
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Campaign.Status.FUNDED,
        deadline=days_ago(2, hour=10),
        pledged_at_deadline_minor=12_000,
        supporters_at_deadline=3,
    )
    for n, (paid_pledge, day) in enumerate(((paid, 2), (also_paid, 1))):
        ledger.transfer(
            Transaction.Kind.CONTRIBUTION,
            from_account=ledger_accounts.external_card("EUR"),
            to_account=ledger_accounts.campaign_account(campaign.pk, "EUR"),
            amount_minor=paid_pledge.amount_minor,
            key=f"contribution:test:{n}",
            currency="EUR",
            campaign_id=campaign.pk,
            pledge_id=paid_pledge.pk,
            occurred_at=days_ago(day),
        )

    client.force_login(campaign.organizer)
    body = html.unescape(page(client, campaign))

    assert "Pledged at the deadline" in body and "€120" in body
    collected = re.search(
        r'<svg[^>]*aria-labelledby="db-collected-chart-title".*?</svg>', body, re.S
    )
    assert collected and "€100.00." in collected.group(0)
    assert re.search(r"Collected</dt>\s*<dd><strong>€100</strong>", body)
    # The pledged chart ends on the deadline's day: launch (4 days ago) to 2 days ago.
    pledged = re.search(r'<polyline class="db-line" points="([^"]+)"', body).group(1)
    assert len(pledged.split()) == 3


def test_referrers_are_grouped_with_direct_for_none(client, campaign):
    pledge(campaign, amount=1_000, day=1, referral_source="newsletter", referral_code="abc")
    pledge(campaign, amount=2_000, day=1, referral_source="newsletter", referral_code="abc")
    pledge(campaign, amount=500, day=0, referral_code="xyz")
    pledge(campaign, amount=700, day=0)

    board = dashboard.dashboard(campaign)
    rows = [
        (r["referral_source"], r["referral_code"], r["count"], r["amount"]) for r in board.referrers
    ]
    assert rows == [("newsletter", "abc", 2, 3_000), ("", "", 1, 700), ("", "xyz", 1, 500)]
    client.force_login(campaign.organizer)
    body = page(client, campaign)
    assert '<th scope="row" colspan="2">direct</th>' in body


def test_a_member_s_share_code_shows_who_shared_by_their_public_name(client, campaign):
    from pledges.referrals import code_for

    sharer = MemberFactory(display_name="Marie Sharer", email="marie@example.org")
    pledge(
        campaign, amount=1_000, day=0, referral_source="whatsapp", referral_code=code_for(sharer)
    )
    pledge(campaign, amount=500, day=0, referral_source="x", referral_code="m1-forged")

    board = dashboard.dashboard(campaign)

    assert [r["shared_by"] for r in board.referrers] == ["Marie Sharer", ""]
    client.force_login(campaign.organizer)
    body = page(client, campaign)
    assert "<td>Marie Sharer</td>" in body and "<td>m1-forged</td>" in body
    assert "marie@example.org" not in body


def test_reward_take_up_against_limits(client, campaign):
    limited = RewardTierFactory(campaign=campaign, title="Tote bag", quantity_limit=10)
    RewardTierFactory(campaign=campaign, title="Thank-you card")
    for day in (1, 2, 3):
        pledge(campaign, amount=1_000, day=day, reward=limited)
    pledge(campaign, amount=1_000, day=1, reward=limited, status=Status.CANCELLED)

    client.force_login(campaign.organizer)
    body = page(client, campaign)
    assert "3 of 10 claimed" in body
    assert '<meter class="db-meter" min="0" max="10" value="3"' in body
    assert "0 claimed · no limit" in body


def test_recent_activity_names_supporters_as_the_public_page_does(client, campaign):
    shy = MemberFactory(display_name="Hidden Person", email="hidden@example.org")
    pledge(campaign, amount=1_000, day=0, supporter=shy, anonymous=True)
    pledge(campaign, amount=2_000, day=1, public_name="The Bakery")
    Comment.objects.create(campaign=campaign, author=MemberFactory(), body="Go!", body_html="Go!")
    Follow.objects.create(campaign=campaign, member=MemberFactory())

    client.force_login(campaign.organizer)
    body = page(client, campaign)
    recent = body[body.index('id="db-recent-title"') :]
    assert "Anonymous" in recent and "The Bakery" in recent
    assert "Hidden Person" not in body and "hidden@example.org" not in body
    assert "1 comment" in recent and "1 follower" in recent


def test_recent_activity_names_supporters_through_the_pledge_model(monkeypatch, client, campaign):
    monkeypatch.setattr("pledges.models.gettext", lambda text: f"[{text}]")  # one rule, translated
    pledge(campaign, amount=1_000, day=0, anonymous=True, public_name="Also hidden")
    client.force_login(campaign.organizer)
    body = page(client, campaign)
    recent = body[body.index('id="db-recent-title"') :]
    assert "[Anonymous]" in recent and "Also hidden" not in body


def test_queries_do_not_grow_with_pledges(client):
    def queries_for(count):
        campaign = CampaignFactory(live=True, launched_at=days_ago(40))
        reward = RewardTierFactory(campaign=campaign, quantity_limit=1_000)
        for n in range(count):
            pledge(
                campaign,
                amount=1_000 + n,
                day=n % 40,
                reward=reward if n % 2 else None,
                referral_code=f"code{n % 25}",
                anonymous=n % 3 == 0,
            )
        client.force_login(campaign.organizer)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url(campaign)).status_code == 200
        return len(queries)

    few, many = queries_for(5), queries_for(200)
    # Session and member, the campaign, pledges by day, rewards, referrers, recent pledges,
    # comments, follows.
    assert few == many <= 9


def test_ended_campaign_queries_do_not_grow_either(client):
    def queries_for(count):
        campaign = CampaignFactory(live=True, launched_at=days_ago(10))
        for n in range(count):
            pledge(campaign, amount=1_000, day=n % 10, status=Status.COLLECTED)
        Campaign.objects.filter(pk=campaign.pk).update(
            status=Campaign.Status.FUNDED, deadline=days_ago(1), pledged_at_deadline_minor=1
        )
        client.force_login(campaign.organizer)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url(campaign)).status_code == 200
        return len(queries)

    assert queries_for(3) == queries_for(60)


def test_referrers_beyond_the_top_twenty_are_added_up_as_others(campaign):
    for n in range(dashboard.TOP_REFERRERS + 2):
        pledge(campaign, amount=10_000 - n * 100, day=0, referral_code=f"code{n}")
    board = dashboard.dashboard(campaign)
    assert len(board.referrers) == dashboard.TOP_REFERRERS
    assert board.referrers[0]["referral_code"] == "code0"
    assert board.referrers_others == {"count": 2, "amount": 8_000 + 7_900}
