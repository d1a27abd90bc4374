"""Public transparency pages: a campaign's Money page and its CSV, and the platform's totals.

A campaign has a Money page once its deadline has passed (settling, funded or not funded); a
live one has none yet (404). The pages are not cached but run a fixed number of queries
(payouts.transparency); the CSV streams its rows as they are read.
"""

import csv

from django.core.paginator import Paginator
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from campaigns.models import Campaign
from payouts import transparency
from payouts.concerns import concern_panels
from payouts.selectors import payout_breakdown

TRANSACTIONS_PER_PAGE = 100
CAMPAIGNS_PER_PAGE = 25


def _money_campaign(slug):
    try:
        return transparency.money_page_campaign(slug)
    except Campaign.DoesNotExist:
        raise Http404("No Money page for this campaign.") from None


def _page_numbers(page):
    return page.paginator.get_elided_page_range(page.number, on_each_side=1, on_ends=1)


@require_safe
def money(request, slug):
    """The campaign's money from the ledger, its budget against its payouts, every payout
    request and every transaction."""
    campaign = _money_campaign(slug)
    payouts = list(transparency.public_payouts(campaign))
    page = Paginator(transparency.ledger_lines(campaign), TRANSACTIONS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    breakdown = payout_breakdown(campaign)
    panels = concern_panels(payouts, request.user)
    return render(
        request,
        "payouts/public/money.html",
        {
            "campaign": campaign,
            "breakdown": breakdown,
            "corrections_minor": transparency.corrections_minor(breakdown),
            "now": timezone.now(),
            "plan": transparency.plan_vs_actual(campaign, payouts),
            "payouts": [{"payout": payout, "concerns": panels[payout.pk]} for payout in payouts],
            "page": page,
            "lines": [transparency.ledger_line(transaction) for transaction in page],
            "page_numbers": _page_numbers(page),
        },
    )


class _Echo:
    """csv.writer's file: hands each written line back instead of keeping it."""

    def write(self, value):
        return value


@require_safe
def money_csv(request, slug):
    """The Money page's transactions as a CSV download, streamed."""
    campaign = _money_campaign(slug)
    writer = csv.writer(_Echo())

    def lines():
        yield "\ufeff"  # a byte order mark: spreadsheets then read the names as UTF-8
        for row in transparency.csv_rows(campaign):
            yield writer.writerow(row)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{campaign.slug}-money.csv"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_safe
def platform_totals(request):
    """Every campaign's money added up per currency, how the ledger works, and the ended
    campaigns' Money pages."""
    page = Paginator(transparency.ended_campaigns(), CAMPAIGNS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "payouts/public/platform_totals.html",
        {
            "totals": transparency.totals_table(transparency.platform_totals()),
            "page": page,
            "campaigns": transparency.with_collected(page),
            "page_numbers": _page_numbers(page),
        },
    )
