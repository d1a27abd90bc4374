"""Read queries for campaign pages and lists, with the joins they need (constant query counts).

Totals are computed from counted pledges (no running counter on the campaign row, so pledging
into one hot campaign never queues on a single row).
"""

from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from campaigns.models import Campaign, RewardTier
from pledges.models import Pledge

# What a campaign's total shows: counted pledges, and for a campaign that failed, the
# pledges released at its deadline (so its page says how far it got, not €0).
TOTAL_PLEDGES = Q(status__in=Pledge.COUNTED_STATUSES) | Q(
    status=Pledge.Status.RELEASED, campaign__status=Campaign.Status.FAILED
)


def _pledge_aggregate(expression, outer="pk", field="campaign", which=None):
    counted = (
        Pledge.objects.filter(
            which or Q(status__in=Pledge.COUNTED_STATUSES), **{field: OuterRef(outer)}
        )
        .order_by()
        .values(field)
        .annotate(value=expression)
        .values("value")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def with_totals(queryset):
    """Annotate pledged_minor and supporters_count (see TOTAL_PLEDGES)."""
    return queryset.annotate(
        pledged_minor=_pledge_aggregate(Sum("amount_minor"), which=TOTAL_PLEDGES),
        supporters_count=_pledge_aggregate(Count("id"), which=TOTAL_PLEDGES),
    )


def rewards_with_stock(queryset=None):
    queryset = queryset if queryset is not None else RewardTier.objects.all()
    return queryset.annotate(claimed=_pledge_aggregate(Count("id"), field="reward"))


def campaign_for_page(slug_or_pk, member):
    """The campaign page: 404-safe lookup among what `member` may see, with everything shown."""
    lookup = {"pk": slug_or_pk} if isinstance(slug_or_pk, int) else {"slug": slug_or_pk}
    queryset = with_totals(Campaign.objects.visible_to(member)).select_related("organizer")
    queryset = queryset.prefetch_related(
        Prefetch("rewards", queryset=rewards_with_stock()),
        "budget_items",
        "stretch_goals",
    )
    return queryset.get(**lookup)


def card_queryset(queryset):
    return with_totals(queryset).select_related("organizer")


def featured_campaigns(limit=3):
    return card_queryset(
        Campaign.objects.live().filter(featured=True, deadline__gt=timezone.now())
    )[:limit]


def ending_soon(limit=6):
    return card_queryset(Campaign.objects.live().filter(deadline__gt=timezone.now())).order_by(
        "deadline"
    )[:limit]


SORTS = {
    "newest": ("Newest", ["-launched_at", "-id"]),
    "ending": ("Ending soon", ["deadline", "id"]),
    "most_funded": ("Most funded", ["-pledged_minor", "-id"]),
    "closest": ("Closest to goal", ["-progress", "-id"]),
}


def discover(*, q="", category="", location="", funding_model="", sort="newest"):
    """Live campaigns matching a search, filters and a sort order."""
    queryset = card_queryset(Campaign.objects.live().filter(deadline__gt=timezone.now()))
    if q:
        queryset = queryset.filter(Q(title__icontains=q) | Q(summary__icontains=q))
    if category:
        queryset = queryset.filter(category=category)
    if location:
        queryset = queryset.filter(location__icontains=location)
    if funding_model:
        queryset = queryset.filter(funding_model=funding_model)
    if sort == "closest":
        from django.db.models import ExpressionWrapper, F, FloatField

        queryset = queryset.annotate(
            progress=ExpressionWrapper(
                F("pledged_minor") * 1.0 / F("goal_minor"), output_field=FloatField()
            )
        )
    return queryset.order_by(*SORTS.get(sort, SORTS["newest"])[1])


def organized_by(member, viewer):
    """Campaigns a member organizes, as `viewer` may see them (public ones for others)."""
    queryset = Campaign.objects.filter(organizer=member)
    if viewer.pk != member.pk and not viewer.is_staff:
        queryset = queryset.public()
    return card_queryset(queryset).order_by("-created_at")


def editable_campaigns(member):
    return with_totals(Campaign.objects.editable_by(member)).order_by("-updated_at")


def budget_totals(items):
    """(required, optional) totals of already-loaded budget items, in minor units."""
    required = sum(item.amount_minor for item in items if item.required)
    return required, sum(item.amount_minor for item in items) - required
