"""The organizer's dashboard: its figures, read in a constant number of queries (days grouped
in the database), and the charts drawn as SVG on the server (no script), each with the numbers
as a table beside it.

What was pledged is the pledges that counted: while live, the active ones; after the deadline,
every pledge that was active at it (collected, still being collected, dropped, refunded…, and
for a failed campaign those released). A pledge is placed on the day its card was saved, with
its amount today. What was collected is the ledger's gross contributions, by the day the money
moved (ledger.selectors.collected_minor's figure).
"""

import datetime as dt
import math
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from campaigns.models import Campaign
from campaigns.selectors import rewards_with_stock
from community.models import Comment, Follow
from core.money import exponent, format_money, round_minor
from ledger.accounts import campaign_reference
from ledger.models import Account, Entry, Transaction
from pledges.models import Pledge
from pledges.referrals import member_id_for

Status = Pledge.Status
DASHBOARD_STATUSES = (Campaign.Status.APPROVED, *Campaign.PUBLIC_STATUSES)
COLLECTING_STATUSES = (Campaign.Status.SETTLING, Campaign.Status.FUNDED)
DAILY_DAYS = 30
RECENT_PLEDGES = 10
TOP_REFERRERS = 20
RECENT_DAYS = 7  # "new this week" for comments and follows


def dashboard_campaign(member, pk):
    """A campaign the member is on the team of (organizer or accepted co-organizer), approved,
    live or ended; anything else is a 404."""
    return get_object_or_404(
        Campaign.objects.editable_by(member).filter(status__in=DASHBOARD_STATUSES), pk=pk
    )


def pledged_pledges(campaign):
    """The pledges that make up what was pledged (see the module's docstring)."""
    which = ~Q(status__in=[Status.PENDING, Status.CANCELLED, Status.RELEASED])
    if campaign.status == Campaign.Status.FAILED:
        which |= Q(status=Status.RELEASED, activated_at__isnull=False)
    return Pledge.objects.filter(which, campaign=campaign)


def _days(start, end):
    return [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]


def _local_date(moment):
    return timezone.localtime(moment).date()


def pledge_period(campaign, today=None):
    """(first day, last day) the pledged chart covers: launch to today, or to the deadline."""
    if campaign.launched_at is None:
        return None
    today = today or timezone.localdate()
    first = _local_date(campaign.launched_at)
    last = today
    if campaign.deadline is not None and campaign.deadline <= timezone.now():
        last = _local_date(campaign.deadline)
    return first, max(first, last)


# --- the figures -------------------------------------------------------------------------------
@dataclass
class DayFigure:
    day: dt.date
    count: int = 0
    amount_minor: int = 0
    total_minor: int = 0  # cumulative up to and with this day


@dataclass
class Dashboard:
    campaign: Campaign
    currency: str
    pledged_minor: int = 0
    supporters: int = 0
    average_minor: int = 0
    collected_minor: int | None = None  # after the deadline
    pledged_days: list = field(default_factory=list)
    collected_days: list = field(default_factory=list)
    daily: list = field(default_factory=list)  # the last DAILY_DAYS of pledged_days
    rewards: list = field(default_factory=list)
    referrers: list = field(default_factory=list)
    referrers_others: dict | None = None
    recent: list = field(default_factory=list)
    comments: dict = field(default_factory=dict)
    follows: dict = field(default_factory=dict)
    pledged_chart: "LineChart | None" = None
    collected_chart: "LineChart | None" = None
    daily_chart: "BarChart | None" = None

    @property
    def has_community(self):
        return bool(self.comments.get("total") or self.follows.get("total"))


def _spread(rows, period):
    """Day rows ({day, count, amount}) over every day of the period, with running totals;
    rows outside it (a clock's edge) fall on its first or last day."""
    first, last = period
    days = {day: DayFigure(day) for day in _days(first, last)}
    for row in rows:
        day = min(max(row["day"], first), last)
        days[day].count += row["count"]
        days[day].amount_minor += row["amount"] or 0
    running = 0
    for figure in days.values():
        running += figure.amount_minor
        figure.total_minor = running
    return list(days.values())


def _pledged_by_day(campaign):
    return list(
        pledged_pledges(campaign)
        .annotate(day=TruncDate(Coalesce("activated_at", "created_at")))
        .values("day")
        .annotate(count=Count("id"), amount=Sum("amount_minor"))
        .order_by("day")
    )


def _collected_by_day(campaign):
    return list(
        Entry.objects.filter(
            account__kind=Account.Kind.CAMPAIGN,
            account__reference=campaign_reference(campaign.pk),
            transaction__kind=Transaction.Kind.CONTRIBUTION,
        )
        .annotate(day=TruncDate("transaction__occurred_at"))
        .values("day")
        .annotate(count=Count("id"), amount=Sum("amount_minor"))
        .order_by("day")
    )


def _referrers(campaign):
    rows = list(
        pledged_pledges(campaign)
        .values("referral_source", "referral_code")
        .annotate(count=Count("id"), amount=Sum("amount_minor"))
        .order_by("-amount", "-count", "referral_source", "referral_code")[: TOP_REFERRERS + 1]
    )
    sharers = {row["referral_code"]: member_id_for(row["referral_code"]) for row in rows}
    names = dict(
        get_user_model()
        .objects.filter(pk__in={pk for pk in sharers.values() if pk})
        .values_list("pk", "display_name")
        if any(sharers.values())
        else ()
    )
    for row in rows:
        row["direct"] = not (row["referral_source"] or row["referral_code"])
        # The member whose share link it was, by their public display name (one query).
        row["shared_by"] = names.get(sharers[row["referral_code"]], "")
    return rows


def _recent(campaign):
    pledges = (
        pledged_pledges(campaign)
        .select_related("supporter", "reward")
        .annotate(pledged_at=Coalesce("activated_at", "created_at"))
        .order_by("-pledged_at", "-pk")[:RECENT_PLEDGES]
    )
    return [
        {
            "name": p.display_name,
            "amount_minor": p.amount_minor,
            "currency": p.currency,
            "reward": p.reward.title if p.reward else "",
            "pledged_at": p.pledged_at,
        }
        for p in pledges
    ]


def _counts(queryset, since):
    return queryset.aggregate(
        total=Count("id"), recent=Count("id", filter=Q(created_at__gte=since))
    )


def dashboard(campaign, *, today=None):
    """Every figure of the dashboard, in a constant number of queries however many pledges."""
    now = timezone.now()
    currency = campaign.currency
    board = Dashboard(campaign=campaign, currency=currency)
    period = pledge_period(campaign, today)
    rows = _pledged_by_day(campaign)
    # What the pledges say today (the record frozen at the deadline may replace it below).
    pledges_count = sum(row["count"] for row in rows)
    pledges_minor = sum(row["amount"] or 0 for row in rows)
    board.supporters, board.pledged_minor = pledges_count, pledges_minor
    if period is not None:
        board.pledged_days = _spread(rows, period)
        board.daily = board.pledged_days[-DAILY_DAYS:]
    if campaign.pledged_at_deadline_minor is not None:  # frozen when it closed: the record
        board.pledged_minor = campaign.pledged_at_deadline_minor
        board.supporters = campaign.supporters_at_deadline or 0
    if board.supporters:
        board.average_minor = round_minor(Decimal(board.pledged_minor) / board.supporters)

    if campaign.status in COLLECTING_STATUSES:
        collected = _collected_by_day(campaign)
        board.collected_minor = sum(row["amount"] or 0 for row in collected)
        start = _local_date(campaign.deadline or now)
        days_with_money = [row["day"] for row in collected]
        end = timezone.localdate() if campaign.status == Campaign.Status.SETTLING else start
        end = max([start, end, *days_with_money])
        board.collected_days = _spread(collected, (start, end))

    board.rewards = list(
        rewards_with_stock(campaign.rewards.all()).annotate(
            sent=Count("pledges", filter=Q(pledges__reward_sent_at__isnull=False))
        )
    )
    for reward in board.rewards:
        reward.percent = (
            min(100, math.floor(reward.claimed * 100 / reward.quantity_limit))
            if reward.quantity_limit
            else None
        )
    referrers = _referrers(campaign)
    board.referrers = referrers[:TOP_REFERRERS]
    if len(referrers) > TOP_REFERRERS:  # the rest, from the totals already read
        board.referrers_others = {
            "count": pledges_count - sum(row["count"] for row in board.referrers),
            "amount": pledges_minor - sum(row["amount"] for row in board.referrers),
        }
    board.recent = _recent(campaign)
    since = now - dt.timedelta(days=RECENT_DAYS)
    board.comments = _counts(Comment.objects.filter(campaign=campaign, hidden_at=None), since)
    board.follows = _counts(Follow.objects.filter(campaign=campaign), since)

    if board.pledged_days:
        board.pledged_chart = _running_total_chart(
            board.pledged_days,
            currency,
            title=_("Pledged over time"),
            description=_(
                "Total pledged by day, from %(first)s to %(last)s: %(total)s from "
                "%(supporters)s supporters."
            ),
            supporters=pledges_count,  # every row falls on a day of the chart (_spread)
        )
        board.daily_chart = bar_chart(
            board.daily,
            title=_("Pledges per day"),
            description=_("Number of pledges each day, the last %(days)d days.")
            % {"days": len(board.daily)},
        )
    if board.collected_days:
        board.collected_chart = _running_total_chart(
            board.collected_days,
            currency,
            title=_("Collected over time"),
            description=_(
                "Total collected from supporters' cards by day, from %(first)s to %(last)s: "
                "%(total)s."
            ),
        )
    return board


def _running_total_chart(days, currency, *, title, description, **values):
    """line_chart of `days`, its description filled with the first and last day, the total at
    the end, and `values`."""
    return line_chart(
        days,
        currency,
        title=title,
        description=description
        % {
            "first": date_format(days[0].day, "j F Y"),
            "last": date_format(days[-1].day, "j F Y"),
            "total": format_money(days[-1].total_minor, currency),
            **values,
        },
    )


# --- the charts --------------------------------------------------------------------------------
WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 84, 16, 16, 40  # room for the axes' labels
X_TICKS = 5


@dataclass(frozen=True)
class Tick:
    at: float  # the coordinate along its axis
    label: str


@dataclass(frozen=True)
class ChartPoint:
    x: float
    y: float
    day: dt.date


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    day: dt.date
    count: int


@dataclass(frozen=True)
class Frame:
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM

    @property
    def x_label_y(self):
        return self.bottom + 24

    @property
    def y_label_x(self):
        return self.left - 8


@dataclass(frozen=True)
class LineChart:
    title: str
    description: str
    frame: Frame
    points: tuple
    polyline: str  # the "points" attribute of the line
    area: str  # the path under it
    x_ticks: tuple
    y_ticks: tuple
    days: tuple  # the DayFigures, for the table


@dataclass(frozen=True)
class BarChart:
    title: str
    description: str
    frame: Frame
    bars: tuple
    x_ticks: tuple
    y_ticks: tuple
    days: tuple


def nice_step(top, *, minimum=1):
    """A round step (1, 2 or 5 times a power of ten, at least `minimum`) that divides `top`
    into about four parts."""
    rough = max(top / 4, minimum)
    power = 10 ** math.floor(math.log10(rough))
    for multiple in (1, 2, 5, 10):
        if multiple * power >= rough:
            return max(int(multiple * power), minimum)
    return max(int(10 * power), minimum)  # pragma: no cover - the loop always returns


def _scale(top, minimum):
    """(step, axis maximum): the axis ends on the first round step at or above `top`."""
    step = nice_step(top or minimum, minimum=minimum)
    return step, max(step, math.ceil((top or 0) / step) * step)


def _x_positions(count, frame):
    if count == 1:
        return [(frame.left + frame.right) / 2]
    span = frame.right - frame.left
    return [frame.left + span * n / (count - 1) for n in range(count)]


def _x_ticks(days, positions):
    # Evenly spaced: every `step`-th day back from the last (round() of halves gave days
    # 0, 2, 3, 4, 6 of a week).
    step = max(1, math.ceil((len(days) - 1) / (X_TICKS - 1)))
    chosen = sorted(range(len(days) - 1, -1, -step))
    return tuple(
        Tick(at=round(positions[i], 1), label=date_format(days[i].day, "j M")) for i in chosen
    )


def _y(value, axis_max, frame):
    return round(frame.bottom - (frame.bottom - frame.top) * value / axis_max, 1)


def line_chart(days, currency, *, title, description):
    """A cumulative line (DayFigure.total_minor per day) with money on the vertical axis."""
    frame = Frame()
    top = max(day.total_minor for day in days)
    step, axis_max = _scale(top, 10 ** exponent(currency))  # whole units on the axis
    xs = _x_positions(len(days), frame)
    points = tuple(
        ChartPoint(x=round(x, 1), y=_y(day.total_minor, axis_max, frame), day=day.day)
        for x, day in zip(xs, days, strict=True)
    )
    polyline = " ".join(f"{p.x},{p.y}" for p in points)
    area = (
        f"M{points[0].x},{frame.bottom} "
        + " ".join(f"L{p.x},{p.y}" for p in points)
        + f" L{points[-1].x},{frame.bottom} Z"
    )
    y_ticks = tuple(
        Tick(at=_y(value, axis_max, frame), label=format_money(value, currency, whole=True))
        for value in range(0, axis_max + 1, step)
    )
    return LineChart(
        title=title,
        description=description,
        frame=frame,
        points=points,
        polyline=polyline,
        area=area,
        x_ticks=_x_ticks(days, xs),
        y_ticks=y_ticks,
        days=tuple(days),
    )


def bar_chart(days, *, title, description):
    """One bar per day: the number of pledges made that day."""
    frame = Frame()
    step, axis_max = _scale(max(day.count for day in days), 1)
    slot = (frame.right - frame.left) / len(days)
    width = round(max(slot * 0.7, 1), 1)
    bars = []
    for n, day in enumerate(days):
        y = _y(day.count, axis_max, frame)
        x = frame.left + slot * n + (slot - width) / 2
        bars.append(
            Bar(
                x=round(x, 1),
                y=y,
                width=width,
                height=round(frame.bottom - y, 1),
                day=day.day,
                count=day.count,
            )
        )
    centres = [frame.left + slot * (n + 0.5) for n in range(len(days))]
    y_ticks = tuple(
        Tick(at=_y(value, axis_max, frame), label=str(value))
        for value in range(0, axis_max + 1, step)
    )
    return BarChart(
        title=title,
        description=description,
        frame=frame,
        bars=tuple(bars),
        x_ticks=_x_ticks(days, centres),
        y_ticks=y_ticks,
        days=tuple(days),
    )
