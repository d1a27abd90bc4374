"""Supporters' concerns about payout requests (issue 12, "supporters' voice"): who may raise one
and when, the campaign team's public answer, staff hiding abuse, and the reads that show them
on the Money page and in the review queue in a fixed number of queries.

- A concern is raised by a supporter whose pledge to the payout's campaign was collected (or
  partly refunded) while the payout is in review (requested or on hold) and its review window
  has not ended. A waived window still takes concerns until the payout is decided. One per
  supporter and payout (the UniqueConstraint), 3 to 500 characters of plain text, and at most
  PAYOUT_CONCERNS_PER_HOUR per member per hour across all payouts (a counter in the shared
  cache, like pledges.throttle).
- The campaign's organizer or an accepted co-organizer answers each concern in public. A new
  answer replaces the old one, and both are audited.
- Staff holding payouts.approve_payout hide abuse with a reason: the concern disappears from
  the public list and stays in the admin, marked hidden.
Every write records an AuditEvent.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import Campaign
from core.errors import NotPermitted
from core.models import record
from payouts.errors import PayoutError
from payouts.models import Payout, PayoutConcern
from pledges.models import Pledge

# The money was taken and is (at least partly) still with the campaign.
ELIGIBLE_PLEDGE_STATUSES = (Pledge.Status.COLLECTED, Pledge.Status.PARTIALLY_REFUNDED)
MIN_TEXT_LENGTH = 3
MAX_TEXT_LENGTH = PayoutConcern.MAX_LENGTH
MAX_ANSWER_LENGTH = PayoutConcern._meta.get_field("answer").max_length
MAX_REASON_LENGTH = 2000
DEFAULT_CONCERNS_PER_HOUR = 5
THROTTLE_WINDOW = 60 * 60
MODERATE_PERMISSION = "payouts.approve_payout"

# Bidirectional overrides and isolates (category Cf) can make text read differently from what
# it says; line breaks are the only control character a concern may hold.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def concerns_per_hour():
    return getattr(settings, "PAYOUT_CONCERNS_PER_HOUR", DEFAULT_CONCERNS_PER_HOUR)


# --- rules -----------------------------------------------------------------------------------


def is_open_for_concerns(payout, now=None):
    """The payout is in review and its review window has not ended."""
    now = now or timezone.now()
    return payout.status in Payout.IN_REVIEW_STATUSES and now < payout.review_window_ends_at


def can_answer_concerns(campaign_or_id, member):
    """The member is the campaign's organizer or an accepted co-organizer."""
    if not member.is_authenticated:
        return False
    campaign_id = getattr(campaign_or_id, "pk", campaign_or_id)
    return Campaign.objects.editable_by(member).filter(pk=campaign_id).exists()


def can_moderate_concerns(member):
    return bool(
        member.is_authenticated and member.is_staff and member.has_perm(MODERATE_PERMISSION)
    )


def _refusal(payout, member, now, *, is_supporter, is_team, has_raised):
    """Why the member may not raise a concern about the payout now (a message), or None."""
    if not member.is_authenticated:
        return _("Log in to raise a concern.")
    if payout.status not in Payout.IN_REVIEW_STATUSES:
        return _("This payout request is no longer in review, so it takes no more concerns.")
    if now >= payout.review_window_ends_at:
        return _(
            "The review window of this payout request has ended, so it takes no more concerns."
        )
    if is_team:
        return _("The campaign's team answers concerns; it does not raise them.")
    if not is_supporter:
        return _("Only supporters whose pledge to this campaign was collected can raise a concern.")
    if has_raised:
        return _("You have already raised a concern about this payout request.")
    return None


def _is_supporter(campaign_id, member):
    return Pledge.objects.filter(
        campaign_id=campaign_id, supporter=member, status__in=ELIGIBLE_PLEDGE_STATUSES
    ).exists()


def _has_raised(payout, member):
    return PayoutConcern.objects.filter(payout=payout, author=member).exists()


def _refusal_for(payout, member, now):
    """_refusal with its facts read from the database (cheapest checks first)."""
    if not member.is_authenticated or not is_open_for_concerns(payout, now):
        return _refusal(payout, member, now, is_supporter=False, is_team=False, has_raised=False)
    return _refusal(
        payout,
        member,
        now,
        is_team=can_answer_concerns(payout.campaign_id, member),
        is_supporter=_is_supporter(payout.campaign_id, member),
        has_raised=_has_raised(payout, member),
    )


def can_raise_concern(payout, member, now=None):
    """The member may raise a concern about the payout now (the hourly limit aside)."""
    return _refusal_for(payout, member, now or timezone.now()) is None


# --- writes ----------------------------------------------------------------------------------


def _plain_text(text, *, maximum, empty, too_long, minimum=1, too_short="", field_name="text"):
    """The text stripped, with line breaks as "\\n"; PayoutError when it is empty, too short,
    too long or holds control characters."""
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        raise PayoutError(empty, field=field_name)
    if len(text) < minimum:  # minimum > 1 comes with its too_short message
        raise PayoutError(too_short % {"min": minimum}, field=field_name)
    if len(text) > maximum:
        raise PayoutError(too_long % {"max": maximum}, field=field_name)
    if any(
        (char != "\n" and unicodedata.category(char) == "Cc") or char in _BIDI_CONTROLS
        for char in text
    ):
        raise PayoutError(_("Remove the control characters from the text."), field=field_name)
    return text


def _spend_allowance(member):
    """Count one concern against the member's hourly allowance; PayoutError past it."""
    key = f"payout-concerns:member:{member.pk}"
    cache.add(key, 0, THROTTLE_WINDOW)
    try:
        spent = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, THROTTLE_WINDOW)
        spent = 1
    if spent > concerns_per_hour():
        raise PayoutError(
            _("You have raised many concerns in the last hour. Please try again later."),
            code="too_many_concerns",
        )


def raise_concern(payout, *, by, text, now=None):
    """Publish the supporter's concern about the payout; returns the PayoutConcern."""
    now = now or timezone.now()
    text = _plain_text(
        text,
        minimum=MIN_TEXT_LENGTH,
        maximum=MAX_TEXT_LENGTH,
        empty=_("Write your concern."),
        too_short=_("Say a little more: at least %(min)d characters."),
        too_long=_("Keep your concern under %(max)d characters."),
    )
    already = _("You have already raised a concern about this payout request.")
    with transaction.atomic():
        # FOR NO KEY UPDATE: an approval (FOR UPDATE) and this wait for each other, so no
        # concern lands on a payout decided meanwhile; two concerns about it queue briefly.
        locked = Payout.objects.select_for_update(no_key=True).get(pk=payout.pk)
        refusal = _refusal_for(locked, by, now)
        if refusal:
            raise PayoutError(refusal, code="concern_refused")
        _spend_allowance(by)
        try:
            with transaction.atomic():
                concern = PayoutConcern.objects.create(payout=locked, author=by, text=text)
        except IntegrityError:
            raise PayoutError(already, code="concern_exists") from None
        record(concern, action="payout_concern:raised", by=by, note=text)
    return concern


def answer_concern(concern, *, by, text, now=None):
    """The campaign team's public answer to a concern; a second answer replaces the first."""
    now = now or timezone.now()
    payout = Payout.objects.only("campaign_id").get(pk=concern.payout_id)
    if not can_answer_concerns(payout.campaign_id, by):
        raise NotPermitted(_("No such concern."))
    text = _plain_text(
        text,
        maximum=MAX_ANSWER_LENGTH,
        empty=_("Write your answer."),
        too_long=_("Keep your answer under %(max)d characters."),
    )
    with transaction.atomic():
        locked = PayoutConcern.objects.select_for_update().get(pk=concern.pk)
        if locked.is_hidden:
            raise PayoutError(_("Our team hid this concern, so it cannot be answered."))
        if locked.answer == text:
            return locked
        edited = bool(locked.answer)
        locked.answer = text
        locked.answered_by = by
        locked.answered_at = now
        locked.save(update_fields=["answer", "answered_by", "answered_at"])
        record(
            locked,
            action="payout_concern:answer_edited" if edited else "payout_concern:answered",
            by=by,
            note=text,
        )
    return locked


def hide_concern(concern, *, by, reason, now=None):
    """Hide an abusive concern from the public with a reason (staff with approve_payout)."""
    if not can_moderate_concerns(by):
        raise NotPermitted(_("No such concern."))
    reason = (reason or "").strip()
    if not reason:
        raise PayoutError(_("Give a reason for hiding this concern."), field="reason")
    if len(reason) > MAX_REASON_LENGTH:
        raise PayoutError(
            _("Keep the reason under %(max)d characters.") % {"max": MAX_REASON_LENGTH},
            field="reason",
        )
    now = now or timezone.now()
    with transaction.atomic():
        locked = PayoutConcern.objects.select_for_update().get(pk=concern.pk)
        if locked.is_hidden:
            return locked
        locked.hidden_at = now
        locked.hidden_by = by
        locked.hidden_reason = reason
        locked.save(update_fields=["hidden_at", "hidden_by", "hidden_reason"])
        record(locked, action="payout_concern:hidden", by=by, note=reason)
    return locked


# --- reads -----------------------------------------------------------------------------------


def _concerns(include_hidden):
    concerns = PayoutConcern.objects.select_related("author", "answered_by", "hidden_by")
    if not include_hidden:
        concerns = concerns.filter(hidden_at__isnull=True)
    return concerns.order_by("created_at", "id")


def concerns_for(payout, *, include_hidden=False):
    """The payout's concerns, oldest first, with their authors (hidden ones for the admin)."""
    return _concerns(include_hidden).filter(payout=payout)


def concerns_for_payouts(payouts, *, include_hidden=False):
    """{payout pk: [concerns, oldest first]} for every payout given, in one query."""
    grouped = {payout.pk: [] for payout in payouts}
    for concern in _concerns(include_hidden).filter(payout_id__in=grouped):
        grouped[concern.payout_id].append(concern)
    return grouped


def visible_concerns_for_payouts(payouts):
    """{payout pk: [public concerns, oldest first]} for a page of payouts, in one query."""
    return concerns_for_payouts(payouts, include_hidden=False)


def _visible_prefetched(payouts):
    """{payout pk: [public concerns]} from a `prefetch_related("concerns")` the page already
    made (hidden ones left out here), or None when the payouts were not prefetched so."""
    if not all("concerns" in getattr(p, "_prefetched_objects_cache", {}) for p in payouts):
        return None
    return {
        payout.pk: [concern for concern in payout.concerns.all() if not concern.is_hidden]
        for payout in payouts
    }


@dataclass
class ConcernPanel:
    """What templates/payouts/includes/concerns.html shows for one payout and one viewer."""

    payout: Payout
    concerns: list = field(default_factory=list)
    is_open: bool = False
    closes_at: datetime | None = None
    can_raise: bool = False
    can_answer: bool = False
    # Why the viewer cannot raise one (None when they can), for pages that want to say so.
    refusal: str | None = None


def concern_panels(payouts, member, now=None):
    """{payout pk: ConcernPanel} for the viewer, in at most four queries however many payouts:
    the concerns (none when the payouts come with `prefetch_related("concerns")`), the viewer's
    own concerns, the campaigns they support and those they help organize."""
    now = now or timezone.now()
    payouts = list(payouts)
    concerns = _visible_prefetched(payouts)
    if concerns is None:
        concerns = visible_concerns_for_payouts(payouts)
    campaign_ids = {payout.campaign_id for payout in payouts}
    supported, team, raised = set(), set(), set()
    if member.is_authenticated and payouts:
        supported = set(
            Pledge.objects.filter(
                campaign_id__in=campaign_ids,
                supporter=member,
                status__in=ELIGIBLE_PLEDGE_STATUSES,
            ).values_list("campaign_id", flat=True)
        )
        team = set(
            Campaign.objects.editable_by(member)
            .filter(pk__in=campaign_ids)
            .values_list("pk", flat=True)
        )
        raised = set(
            PayoutConcern.objects.filter(
                payout_id__in=[payout.pk for payout in payouts], author=member
            ).values_list("payout_id", flat=True)
        )
    panels = {}
    for payout in payouts:
        refusal = _refusal(
            payout,
            member,
            now,
            is_supporter=payout.campaign_id in supported,
            is_team=payout.campaign_id in team,
            has_raised=payout.pk in raised,
        )
        panels[payout.pk] = ConcernPanel(
            payout=payout,
            concerns=concerns[payout.pk],
            is_open=is_open_for_concerns(payout, now),
            closes_at=payout.review_window_ends_at,
            can_raise=refusal is None,
            can_answer=payout.campaign_id in team,
            refusal=refusal,
        )
    return panels
