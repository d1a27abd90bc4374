"""Public campaign pages: the campaign page (also rendered by the organizer's preview) and Discover.

Both run a constant number of queries (see campaigns.selectors): the campaign page one for the
campaign with its totals and one each for rewards (with claimed stock), budget items and
stretch goals; Discover one count and one page of cards.

Cookieless visitors (shared links) are served from a short-lived page cache: see
campaigns.page_cache.
"""

from django import forms
from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from campaigns import page_cache, selectors
from campaigns.models import Campaign, Category, FundingModel
from campaigns.services import can_edit
from core.money import percent_of

CARDS_PER_PAGE = 12
FILTER_FIELDS = ("q", "category", "location", "funding_model")


# --- the campaign page ------------------------------------------------------------------------
def detail(request, slug):
    cacheable = page_cache.is_cacheable_request(request)
    if cacheable and (cached := page_cache.get(slug)) is not None:
        return HttpResponse(cached)
    try:
        campaign = selectors.campaign_for_page(slug, request.user)
    except Campaign.DoesNotExist:
        raise Http404("No such campaign.") from None
    response = render_campaign_page(request, campaign)
    if cacheable:
        page_cache.put(request, campaign, response.content)
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
    context = {
        "campaign": campaign,
        "preview": preview,
        "is_editor": is_editor,
        "has_ended": campaign.deadline is not None and campaign.deadline <= now,
        "progress": _progress(campaign),
        "budget": _budget(campaign),
        "rewards": _rewards(campaign),
        "og": _open_graph(campaign),
    }
    return context


def _progress(campaign):
    """Bar geometry: everything is placed on a scale of max(goal, top stretch goal)."""
    goal = campaign.goal_minor or 0
    pledged = getattr(campaign, "pledged_minor", 0) or 0
    stretch_goals = list(campaign.stretch_goals.all())
    scale = max([goal, *(g.amount_minor for g in stretch_goals)]) or 1

    def position(amount):
        return round(min(amount, scale) * 100 / scale, 2)

    return {
        "pledged_minor": pledged,
        "percent": percent_of(pledged, goal),
        "fill": position(pledged),
        "goal_position": position(goal) if stretch_goals else None,
        "stretch_goals": [
            {"goal": g, "position": position(g.amount_minor), "reached": pledged >= g.amount_minor}
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

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # "Best match" only means something with a search; it is then the default (listed first).
        searching = bool((self.data.get("q") or "").strip())
        self.fields["sort"].choices = [
            (key, label)
            for key, (label, _order) in selectors.SORTS.items()
            if searching or key != "relevance"
        ]

    def filters(self):
        """The valid parameters; an invalid one (unknown category, bad sort) is ignored."""
        self.is_valid()
        cleaned = getattr(self, "cleaned_data", {})
        values = {name: (cleaned.get(name) or "") for name in self.fields}
        values["q"] = values["q"].strip()
        values["location"] = values["location"].strip()
        values["sort"] = values["sort"] or ("relevance" if values["q"] else "newest")
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
            "page": page,
            "page_numbers": page.paginator.get_elided_page_range(
                page.number, on_each_side=1, on_ends=1
            ),
            "filtered": any(
                filters[name] for name in ("q", "category", "location", "funding_model")
            ),
        },
    )
