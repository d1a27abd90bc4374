"""Read queries for campaign pages and lists, with the joins they need (constant query counts).

Totals are computed from counted pledges (no running counter on the campaign row, so pledging
into one hot campaign never queues on a single row). After the deadline a list shows what was
collected (the ledger), not what was pledged: see card_queryset. The organizer's payment-recovery
page reads its pledges here too (payment_recovery, dropped_payments).
"""

from django.contrib.contenttypes.models import ContentType
from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connections
from django.db.models import (
    CharField,
    Count,
    Expression,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    IntegerField,
    Max,
    OuterRef,
    Prefetch,
    Q,
    Subquery,
    Sum,
    TextField,
    Value,
    Window,
)
from django.db.models.functions import Cast, Coalesce, Concat, Replace
from django.db.models.query import ModelIterable
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign, RewardTier
from core.models import AuditEvent
from core.search import SQLITE_SCORE_FUNCTION, query_words
from ledger.selectors import collected_by_campaign
from pledges.models import PaymentAttempt, Pledge

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
    """The campaign page: 404-safe lookup among what `member` may see, with everything shown.

    Approved campaigns are shown to everyone, as a "Launching soon" page that anyone may
    follow; nothing lists them (Discover, home and profiles show public campaigns only) and
    the anonymous page cache keeps public pages only (page_cache.put).
    """
    lookup = {"pk": slug_or_pk} if isinstance(slug_or_pk, int) else {"slug": slug_or_pk}
    visible = Campaign.objects.filter(
        Q(pk__in=Campaign.objects.visible_to(member).values("pk"))
        | Q(status=Campaign.Status.APPROVED)
    )
    queryset = with_totals(visible).select_related("organizer")
    queryset = queryset.prefetch_related(
        Prefetch("rewards", queryset=rewards_with_stock()),
        "budget_items",
        "stretch_goals",
    )
    return queryset.get(**lookup)


SETTLED_STATES = {
    Campaign.Status.SETTLING: "collecting",
    Campaign.Status.FUNDED: "funded",
    Campaign.Status.FAILED: "failed",
}


def settled_figures(campaign):
    """pledges.selectors.settlement_figures (two queries) with `state` (collecting, funded,
    failed) and `goal_missed` (all or nothing, below goal at the deadline); None while live,
    once cancelled, and for a campaign closed before its figures were frozen."""
    # pledges imports this module: its readers are imported when used.
    from pledges.selectors import settlement_figures
    from pledges.settlement import goal_missed

    if campaign.status not in SETTLED_STATES:
        return None
    figures = settlement_figures(campaign)
    if figures is None:
        return None
    figures["state"] = SETTLED_STATES[campaign.status]
    figures["goal_missed"] = goal_missed(campaign)
    return figures


# After the deadline a card's headline figure is the money collected (ledger), never the
# pledged total a drop would leave stale; a failed campaign shows what was pledged at its
# deadline (nobody was charged).
COLLECTING_STATUSES = (Campaign.Status.SETTLING, Campaign.Status.FUNDED)


def attach_headlines(campaigns):
    """Set `headline_minor` and `headline_kind` ("pledged" or "collected") on campaigns from
    with_totals; one ledger query for all those collecting or funded, none if there are none."""
    collecting = [c.pk for c in campaigns if c.status in COLLECTING_STATUSES]
    collected = collected_by_campaign(collecting) if collecting else {}
    for campaign in campaigns:
        if campaign.pk in collected:
            campaign.headline_minor, campaign.headline_kind = collected[campaign.pk], "collected"
        elif campaign.status == Campaign.Status.FAILED:
            frozen = campaign.pledged_at_deadline_minor
            campaign.headline_minor = campaign.pledged_minor if frozen is None else frozen
            campaign.headline_kind = "pledged"
        else:
            campaign.headline_minor, campaign.headline_kind = campaign.pledged_minor, "pledged"
    return campaigns


class _CardIterable(ModelIterable):
    """Rows of a card queryset with their headline (attach_headlines), like a prefetch: each
    evaluation costs one more query at most, however many rows, and every caller (Discover,
    home, profiles, My campaigns) gets it without a step of its own."""

    def __iter__(self):
        yield from attach_headlines(list(super().__iter__()))


def card_queryset(queryset):
    """Campaigns for cards: totals, organizer, and the headline figure (attach_headlines)."""
    queryset = with_totals(queryset).select_related("organizer")
    # Django's own hook for what a queryset yields (values() and values_list() set it too);
    # it survives filtering, ordering and slicing (the paginator's page).
    queryset._iterable_class = _CardIterable
    return queryset


def featured_campaigns(limit=3):
    return card_queryset(
        Campaign.objects.live().filter(featured=True, deadline__gt=timezone.now())
    )[:limit]


def ending_soon(limit=6):
    return card_queryset(Campaign.objects.live().filter(deadline__gt=timezone.now())).order_by(
        "deadline"
    )[:limit]


SORTS = {
    "relevance": (_("Best match"), ["-search_rank", "-launched_at", "-id"]),
    "newest": (_("Newest"), ["-launched_at", "-id"]),
    "ending": (_("Ending soon"), ["deadline", "id"]),
    "recently_ended": (_("Recently ended"), ["-deadline", "-id"]),
    "most_funded": (_("Most funded"), ["-pledged_minor", "-id"]),
    "closest": (_("Closest to goal"), ["-progress", "-id"]),
}
# What Discover shows: campaigns open for support, or those that have ended (each with the sorts
# that mean something for it; the first is the default without a search).
SHOWS = {
    "open": (_("Open for support"), ["newest", "ending", "most_funded", "closest"]),
    "ended": (_("Ended"), ["recently_ended", "newest", "most_funded", "closest"]),
}
# Where a searched word is found decides how high a campaign ranks: a word in the title outweighs
# any number of words in the summary (at most MAX_QUERY_WORDS words), which outweigh the rest.
SEARCH_FIELDS = [
    (["title"], 100),
    (["summary"], 10),
    (["story", "location", "organizer__display_name"], 1),
]


def _text(fields):
    """The fields as one text, a space between each (NULL as empty)."""
    if len(fields) == 1:
        return F(fields[0])
    parts = [F(fields[0])]
    for field in fields[1:]:
        parts += [Value(" "), F(field)]
    return Concat(*parts, output_field=TextField())


def _unaccent(field):
    return Func(F(field), function="unaccent", output_field=TextField())


def _tsquery(word):
    """`' cafe':*`: the word as a prefix ("kil" finds "kiln").

    Python cuts the query into letters and digits, but unaccent runs afterwards, in SQL, and its
    rules turn some letters into tsquery syntax ("ʼ" → "'", "ː" → ":"). So the word is quoted
    as one tsquery operand in SQL, after unaccent: quotes and backslashes doubled, and a leading
    space so that a word unaccent empties is no `'':*` (a syntax error) but no lexeme at all.
    The parser then splits what unaccent made ("hawai'i" → 'hawai' <-> 'i'), as in documents.
    """
    # unaccent on the query too, so a letter folded differently by Python is folded as the
    # documents are. `simple`, not `english`: campaigns are written in English, Dutch and French,
    # and one language's stemming and stop words would mangle the other two.
    unaccented = Func(Value(word), function="unaccent", output_field=TextField())
    escaped = Replace(
        Replace(unaccented, Value("\\"), Value("\\\\"), output_field=TextField()),
        Value("'"),
        Value("''"),
        output_field=TextField(),
    )
    return SearchQuery(
        Concat(Value("' "), escaped, Value("':*"), output_field=TextField()),
        search_type="raw",
        config="simple",
    )


class PostgresSearchRank(Expression):
    """Σ weight × words found in each field group, 0 unless every word is found somewhere.

    PostgreSQL does not share a repeated expression, so testing eight words against three
    fields as separate Django expressions builds 24 tsvectors per row. Here each group's
    tsvector is built once per evaluation, in a correlated subquery that OFFSET 0 keeps the
    planner from inlining (which would copy the vector into every test again), beside every
    word's tsquery; search() evaluates it once per row. There is no index (unaccent is not
    immutable, and to_tsvector over a few kilobytes is most of the cost): at the scale of a
    town's live campaigns a scan is fine (bench/search.py measures it).
    """

    output_field = IntegerField()

    def __init__(self, groups, words):
        super().__init__()
        self.weights = [weight for _fields, weight in groups]
        self.vectors = [
            SearchVector(*(_unaccent(field) for field in fields), config="simple")
            for fields, _weight in groups
        ]
        self.queries = [_tsquery(word) for word in words]

    def get_source_expressions(self):
        return [*self.vectors, *self.queries]

    def set_source_expressions(self, expressions):
        self.vectors = expressions[: len(self.vectors)]
        self.queries = expressions[len(self.vectors) :]

    def as_sql(self, compiler, connection):
        columns, params = [], []
        for prefix, expressions in (("v", self.vectors), ("q", self.queries)):
            for index, expression in enumerate(expressions):
                sql, expression_params = compiler.compile(expression)
                columns.append(f"{sql} AS {prefix}{index}")
                params.extend(expression_params)

        def found(v, q):
            return f"gs_search.v{v} @@ gs_search.q{q}"

        groups, words = range(len(self.vectors)), range(len(self.queries))
        every_word = " AND ".join(
            "(" + " OR ".join(found(v, q) for v in groups) + ")" for q in words
        )
        total = " + ".join(
            f"CASE WHEN {found(v, q)} THEN {int(self.weights[v])} ELSE 0 END"
            for v in groups
            for q in words
        )
        # Only compiled expressions (their values are parameters), aliases and integer weights.
        sql = (
            f"(SELECT CASE WHEN {every_word} THEN {total} ELSE 0 END"  # noqa: S608
            f" FROM (SELECT {', '.join(columns)} OFFSET 0) AS gs_search)"
        )
        return sql, params


def _sqlite_rank(words):
    """One call of core.search's gs_search_score per row: fold each group once, test every word."""
    arguments = [Value(" ".join(words))]
    for fields, weight in SEARCH_FIELDS:
        arguments += [Value(weight), _text(fields)]
    return Func(*arguments, function=SQLITE_SCORE_FUNCTION, output_field=IntegerField())


def search(queryset, q):
    """Campaigns with every word of `q` somewhere in title, summary, story, location or
    organizer name (accents and case ignored, last letters optional), annotated search_rank."""
    words = query_words(q)
    if not words:
        # Only punctuation: nothing can match (annotated so a sort by rank still resolves).
        return queryset.none().annotate(search_rank=Value(0, output_field=IntegerField()))
    if connections[queryset.db].vendor == "postgresql":
        rank = PostgresSearchRank(SEARCH_FIELDS, words)
    else:
        rank = _sqlite_rank(words)
    # The rank is 0 when a word is missing, so one expression both selects and ranks. Filtering
    # on a plain annotation would repeat it in WHERE and in the SELECT list, and neither
    # database shares the two: computed twice per row. A filter on a window expression is
    # applied outside a derived table that computes it (Django's QUALIFY), so it runs once per
    # row; a window over each row alone (partitioned by pk) is the rank itself.
    rank = Window(Max(rank), partition_by=[F("pk")])
    return queryset.annotate(search_rank=rank).filter(search_rank__gt=0)


def ended_campaigns():
    """Public campaigns whose deadline has passed: settling, funded, failed, and live ones the
    settlement sweep has not closed yet."""
    return Campaign.objects.filter(
        Q(status__in=[Campaign.Status.SETTLING, Campaign.Status.FUNDED, Campaign.Status.FAILED])
        | Q(status=Campaign.Status.LIVE, deadline__lte=timezone.now())
    )


def discover(*, q="", category="", location="", funding_model="", sort="", show="open"):
    """Campaigns open for support (show="open") or ended (show="ended") matching a search,
    filters and a sort order ("relevance" needs `q`; the default is the show's first sort)."""
    if show == "ended":
        campaigns = ended_campaigns()
    else:
        show, campaigns = "open", Campaign.objects.live().filter(deadline__gt=timezone.now())
    queryset = card_queryset(campaigns)
    if q:
        queryset = search(queryset, q)
    if sort not in SORTS or (sort == "relevance" and not q):
        sort = SHOWS[show][1][0]
    if category:
        queryset = queryset.filter(category=category)
    if location:
        queryset = queryset.filter(location__icontains=location)
    if funding_model:
        queryset = queryset.filter(funding_model=funding_model)
    if sort == "closest":
        queryset = queryset.annotate(
            progress=ExpressionWrapper(
                F("pledged_minor") * 1.0 / F("goal_minor"), output_field=FloatField()
            )
        )
    return queryset.order_by(*SORTS[sort][1])


def organized_by(member, viewer):
    """Campaigns a member organizes, as `viewer` may see them (public ones for others)."""
    queryset = Campaign.objects.filter(organizer=member)
    if viewer.pk != member.pk and not viewer.is_staff:
        queryset = queryset.public()
    return card_queryset(queryset).order_by("-created_at")


def editable_campaigns(member):
    return card_queryset(Campaign.objects.editable_by(member)).order_by("-updated_at")


def budget_totals(items):
    """(required, optional) totals of already-loaded budget items, in minor units."""
    required = sum(item.amount_minor for item in items if item.required)
    return required, sum(item.amount_minor for item in items) - required


# --- the organizer's payment-recovery page -----------------------------------------------------
def _last_reminder_at():
    """When the pledge's supporter was last sent a reminder (pledges.settlement audits each)."""
    reminders = AuditEvent.objects.filter(
        target_type=ContentType.objects.get_for_model(Pledge),
        target_id=Cast(OuterRef("pk"), output_field=CharField()),
        action="payment_reminder",
    ).order_by("-created_at")
    return Subquery(reminders.values("created_at")[:1])


def payment_recovery(campaign):
    """pledges.selectors.pending_payments with `last_reminder_at` (two queries, any rows)."""
    from pledges.selectors import pending_payments  # pledges.selectors imports this module

    return pending_payments(campaign).annotate(last_reminder_at=_last_reminder_at())


def dropped_payments(campaign):
    """Pledges that could not be collected, with their attempts newest first (two queries)."""
    return (
        Pledge.objects.filter(campaign=campaign, status=Pledge.Status.DROPPED)
        .select_related("supporter")
        .prefetch_related(
            Prefetch(
                "attempts",
                queryset=PaymentAttempt.objects.order_by("-number"),
                to_attr="attempts_newest_first",
            )
        )
        .order_by("fix_window_ends_at", "pk")
    )
