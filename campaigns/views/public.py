"""Public campaign pages: the campaign page (also rendered by the organizer's preview) and Discover.

Both run a constant number of queries (see campaigns.selectors): the campaign page one for the
campaign with its totals and one each for rewards (with claimed stock), budget items and
stretch goals, and once the deadline closed it, two for the honest figures
(pledges.selectors.settlement_figures); Discover one count and one page of cards, and for
ended campaigns one for what they collected.

After the deadline the page no longer leads with the pledged total: it shows what was
collected (the ledger), what is still being collected, what could not be, and beside them
what was pledged at the deadline. A failed campaign shows what was pledged and that nobody
was charged.

Cookieless visitors (shared links, even with their ?ref= / ?utm_source=) are served from a
short-lived page cache: see campaigns.page_cache. Where a visitor came from is remembered in a
cookie set after it (pledges.referrals).
"""

from django import forms
from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns import page_cache, selectors
from campaigns.models import Campaign, Category, FundingModel
from campaigns.services import can_edit
from core.money import percent_of
from pledges import referrals

CARDS_PER_PAGE = 12
FILTER_FIELDS = ("q", "category", "location", "funding_model")


# --- the campaign page ------------------------------------------------------------------------
def detail(request, slug):
    cacheable = page_cache.is_cacheable_request(request)
    if cacheable and (cached := page_cache.get(slug)) is not None:
        response = HttpResponse(cached)
    else:
        try:
            campaign = selectors.campaign_for_page(slug, request.user)
        except Campaign.DoesNotExist:
            raise Http404("No such campaign.") from None
        response = render_campaign_page(request, campaign)
        if cacheable:
            page_cache.put(request, campaign, response.content)
    # A share link's ?ref= / ?utm_source=: a cookie on the response, never in the page.
    referrals.remember(request, response, slug)
    return response


def render_campaign_page(request, campaign, *, preview=False):
    """The campaign page as the public sees it; `preview` adds the organizer's banner."""
    return render(
        request,
        "campaigns/public/detail.html",
        _page_context(request, campaign, preview=preview),
    )


def _page_context(request, campaign, *, preview):
    viewer = request.user
    is_editor = not preview and viewer.is_authenticated and can_edit(campaign, viewer)
    now = timezone.now()
    figures = selectors.settled_figures(campaign)
    context = {
        "campaign": campaign,
        "preview": preview,
        "is_editor": is_editor,
        "has_ended": campaign.deadline is not None and campaign.deadline <= now,
        "figures": figures,
        "progress": _progress(campaign, figures),
        "budget": _budget(campaign),
        "rewards": _rewards(campaign),
        "og": _open_graph(campaign),
    }
    return context


def _progress(campaign, figures=None):
    """Bar geometry: everything is placed on a scale of max(goal, top stretch goal).

    The bar shows `shown_minor`: while live, what is pledged; after the deadline what was
    collected, or for a failed campaign what was pledged at the deadline (nobody was charged).
    `at_deadline_fill` places what was pledged at the deadline behind a collected bar.
    """
    goal = campaign.goal_minor or 0
    shown = getattr(campaign, "pledged_minor", 0) or 0
    at_deadline = None
    if figures is not None:
        at_deadline = figures["pledged_at_deadline_minor"]
        shown = at_deadline if figures["state"] == "failed" else figures["collected_minor"]
    stretch_goals = list(campaign.stretch_goals.all())
    scale = max([goal, *(g.amount_minor for g in stretch_goals)]) or 1

    def position(amount):
        return round(min(amount, scale) * 100 / scale, 2)

    return {
        "shown_minor": shown,
        "percent": percent_of(shown, goal),
        "fill": position(shown),
        "at_deadline_fill": (
            position(at_deadline) if at_deadline is not None and at_deadline > shown else None
        ),
        "goal_position": position(goal) if stretch_goals else None,
        "stretch_goals": [
            {"goal": g, "position": position(g.amount_minor), "reached": shown >= g.amount_minor}
            for g in stretch_goals
        ],
    }


def _share(part, whole):
    """A percentage for people: 36, 12.5 (one decimal only when it is not whole)."""
    if not whole:
        return 0
    value = round(part * 100 / whole, 1)
    return int(value) if value == int(value) else value


def _budget(campaign):
    items = list(campaign.budget_items.all())
    goal = campaign.goal_minor or 0

    def rows(required):
        return [
            {
                "item": item,
                "share": _share(item.amount_minor, goal),
                "bar": min(100, round(item.amount_minor * 100 / goal, 2)) if goal else 0,
            }
            for item in items
            if item.required is required
        ]

    required_total, optional_total = selectors.budget_totals(items)
    return {
        "required": rows(True),
        "optional": rows(False),
        "required_total": required_total,
        "optional_total": optional_total,
        "required_share": _share(required_total, goal),
        "unallocated": max(0, goal - required_total),
    }


def _rewards(campaign):
    rewards = []
    for reward in campaign.rewards.all():  # annotated with `claimed` by the selector
        rewards.append(
            {
                "reward": reward,
                "claimed": reward.claimed,
                "left": reward.remaining,
                "sold_out": reward.is_sold_out,
            }
        )
    return rewards


def _absolute(url):
    if not url or url.startswith(("http://", "https://")):
        return url
    return settings.SITE_URL.rstrip("/") + url


def _open_graph(campaign):
    image = campaign.cover_large or campaign.cover_card
    return {
        "url": _absolute(campaign.get_absolute_url()),
        "image": _absolute(image.url) if image else "",
    }


# --- Discover ----------------------------------------------------------------------------------
class DiscoverForm(forms.Form):
    # No max_length: a longer query is cut (selectors.search), not refused with no results.
    q = forms.CharField(
        label="Search",
        required=False,
        widget=forms.SearchInput(attrs={"placeholder": "Search campaigns", "maxlength": 200}),
    )
    category = forms.ChoiceField(
        label="Category", required=False, choices=[("", "All categories"), *Category.choices]
    )
    location = forms.CharField(
        label="Town or region",
        required=False,
        max_length=120,
        widget=forms.TextInput(attrs={"placeholder": "e.g. Ghent"}),
    )
    funding_model = forms.ChoiceField(
        label="Funding",
        required=False,
        choices=[("", "Any"), *FundingModel.choices],
    )
    sort = forms.ChoiceField(label="Sort by", required=False)
    # Open campaigns or ended ones: chosen with the tabs above the results, kept by a search.
    show = forms.ChoiceField(
        label=_("Show"),
        required=False,
        choices=[(key, label) for key, (label, _sorts) in selectors.SHOWS.items()],
        widget=forms.HiddenInput,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        show = self.data.get("show")
        sorts = selectors.SHOWS.get(show, selectors.SHOWS["open"])[1]
        # "Best match" only means something with a search; it is then the default (listed first).
        searching = bool((self.data.get("q") or "").strip())
        self.fields["sort"].choices = [
            (key, selectors.SORTS[key][0]) for key in (["relevance"] if searching else []) + sorts
        ]

    def filters(self):
        """The valid parameters; an invalid one (unknown category, bad sort) is ignored."""
        self.is_valid()
        cleaned = getattr(self, "cleaned_data", {})
        values = {name: (cleaned.get(name) or "") for name in self.fields}
        values["q"] = values["q"].strip()
        values["location"] = values["location"].strip()
        values["show"] = values["show"] or "open"
        values["sort"] = values["sort"] or self.fields["sort"].choices[0][0]
        return values


def discover(request):
    form = DiscoverForm(request.GET)
    filters = form.filters()
    page = Paginator(selectors.discover(**filters), CARDS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "campaigns/public/discover.html",
        {
            "form": form,
            "show": filters["show"],
            "page": page,
            "page_numbers": page.paginator.get_elided_page_range(
                page.number, on_each_side=1, on_ends=1
            ),
            "filtered": any(
                filters[name] for name in ("q", "category", "location", "funding_model")
            ),
        },
    )
