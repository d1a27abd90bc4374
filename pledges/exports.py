"""The organizer's supporters: the list's queryset and the streamed CSV export of it.

Who is listed: every pledge made to the campaign except those still waiting for a card
(pending) and attempts abandoned before any card was saved (cancelled, never active), the
same rule as the supporter's own My pledges. The email address is read from the database only
for a supporter who consented (Pledge.share_email_with_organizer); for everyone else the
query itself yields an empty string, in the list and in the CSV alike.
"""

import csv

from django.db.models import Case, CharField, F, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from core.money import exponent, to_major
from pledges.models import Pledge

Status = Pledge.Status

# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CHUNK_SIZE = 2000
ROWS_PER_WRITE = 500  # CSV lines sent to the client at a time

# The fulfilment filter of the list.
SENT, NOT_SENT = "sent", "not_sent"

# Shown to the organizer: the email only where the supporter said yes.
SHARED_EMAIL = Case(
    When(share_email_with_organizer=True, then=F("supporter__email")),
    default=Value(""),
    output_field=CharField(),
)
PLEDGED_AT = Coalesce("activated_at", "created_at")


def supporters_of(campaign, *, status="", reward=None, fulfilment=""):
    """The campaign's supporters' pledges, newest first, with `shared_email` and `pledged_at`
    annotated and the supporter and reward joined (one query a page). Filters: a status
    value, a RewardTier (or its pk), SENT / NOT_SENT."""
    pledges = (
        Pledge.objects.filter(campaign=campaign)
        .exclude(status=Status.PENDING)
        .exclude(status=Status.CANCELLED, activated_at__isnull=True)
        .annotate(shared_email=SHARED_EMAIL, pledged_at=PLEDGED_AT)
    )
    if status:
        pledges = pledges.filter(status=status)
    if reward:
        pledges = pledges.filter(reward=reward)
    if fulfilment == SENT:
        pledges = pledges.filter(reward_sent_at__isnull=False)
    elif fulfilment == NOT_SENT:
        pledges = pledges.filter(reward__isnull=False, reward_sent_at__isnull=True)
    return pledges.select_related("supporter", "reward").order_by("-pledged_at", "-pk")


def csv_safe(value):
    """Text a spreadsheet shows as text: a cell starting like a formula gets a leading '."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def _iso(moment):
    return timezone.localtime(moment).isoformat(timespec="seconds") if moment else ""


def _amount(amount_minor, currency):
    """A plain decimal in the currency's major unit with all its minor digits ("12.50")."""
    return f"{to_major(amount_minor, currency):.{exponent(currency)}f}"


def csv_header():
    return [
        _("Pledge id"),
        _("Name"),
        _("Email"),
        _("Reward"),
        _("Amount"),
        _("Currency"),
        _("Status"),
        _("Pledged at"),
        _("Reward sent at"),
        _("Tracking"),
    ]


_EXPORT_FIELDS = (
    "public_id",
    "anonymous",
    "public_name",
    "supporter__display_name",
    "shared_email",
    "reward__title",
    "amount_minor",
    "currency",
    "status",
    "pledged_at",
    "reward_sent_at",
    "reward_tracking",
)


def csv_rows(campaign, *, chunk_size=CHUNK_SIZE):
    """The supporters as CSV rows, header first; read in chunks of plain tuples (never model
    instances, never the whole list) so a campaign of any size streams in constant memory.
    Times are ISO 8601 in the site's time zone, amounts plain decimals ("12.50")."""
    yield csv_header()
    labels = dict(Status.choices)
    rows = supporters_of(campaign).values_list(*_EXPORT_FIELDS).iterator(chunk_size=chunk_size)
    for (
        public_id,
        anonymous,
        name,
        display_name,
        email,
        reward,
        amount_minor,
        currency,
        status,
        pledged_at,
        sent_at,
        tracking,
    ) in rows:
        yield [
            str(public_id),
            csv_safe(
                Pledge.shown_name(
                    anonymous=anonymous, public_name=name, supporter_name=display_name
                )
            ),
            csv_safe(email),
            csv_safe(reward or ""),
            _amount(amount_minor, currency),
            currency,
            labels.get(status, status),
            _iso(pledged_at),
            _iso(sent_at),
            csv_safe(tracking),
        ]


class _Echo:
    """csv.writer's file: hands each written line back instead of keeping it."""

    def write(self, value):
        return value


def csv_lines(campaign, *, chunk_size=CHUNK_SIZE, rows_per_write=ROWS_PER_WRITE):
    """The CSV as text pieces of a few hundred lines each, for a StreamingHttpResponse."""
    writer = csv.writer(_Echo())
    yield "\ufeff"  # a byte order mark: spreadsheets then read the names as UTF-8
    batch = []
    for row in csv_rows(campaign, chunk_size=chunk_size):
        batch.append(writer.writerow(row))
        if len(batch) >= rows_per_write:
            yield "".join(batch)
            batch = []
    if batch:
        yield "".join(batch)


def supporter_statuses():
    """The statuses the list can be filtered by: every one but pending."""
    return [(value, label) for value, label in Status.choices if value != Status.PENDING]
