"""Reports of a comment or a campaign: filing one (any logged-in member, one open report per
member and thing, REPORTS_PER_HOUR) and resolving it (staff holding
community.moderate_community), the admin's queue.

Resolving goes through core.transitions.transition (open → acted on | dismissed, audited).
Acting on a comment's report may hide the comment in the same transaction; the other open
reports of that comment are then resolved with it (the thing they report is dealt with).
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from community import comments
from community.models import Comment, Report
from community.pace import check_pace, queue_behind
from core.errors import DomainError, NotPermitted
from core.transitions import transition

Status = Report.Status
MAX_NOTE_LENGTH = Report._meta.get_field("note").max_length


@dataclass
class Filed:
    report: Report
    created: bool  # False: the member's open report of this thing was already there


def report(target, *, by, reason, note="", now=None):
    """File `by`'s report of `target` (a Comment or a Campaign); returns a Filed.

    A second report of the same thing while the first is open changes nothing (created=False).
    """
    now = now or timezone.now()
    if not by.is_authenticated:
        raise NotPermitted(_("Log in to report."))
    if isinstance(target, Comment):
        comment, campaign = target, target.campaign
        if comment.update_id is not None:
            comment.update.campaign = campaign
            if not comments.can_read_update(comment.update, by):
                raise NotPermitted(_("No such comment."))
        if comment.author_id == by.pk:
            raise DomainError(_("You cannot report your own comment."))
    else:
        comment, campaign = None, target
    if not campaign.is_public:
        raise NotPermitted(_("No such campaign."))
    if reason not in Report.Reason.values:
        raise DomainError(_("Choose what is wrong."), field="reason")
    note = (note or "").strip()
    if len(note) > MAX_NOTE_LENGTH:
        raise DomainError(
            _("Keep the note under %(max)s characters.") % {"max": f"{MAX_NOTE_LENGTH:,}"},
            field="note",
        )
    with transaction.atomic():
        queue_behind(by)
        existing = _open_report(by, campaign, comment)
        if existing is not None:
            return Filed(existing, created=False)
        hourly = _("You have sent many reports in the last hour; try again later.")
        check_pace(
            Report.objects.filter(reporter=by),
            now=now,
            limits=[(timedelta(hours=1), settings.REPORTS_PER_HOUR, hourly)],
            code="too_many_reports",
        )
        try:
            with transaction.atomic():
                filed = Report.objects.create(
                    reporter=by,
                    campaign=campaign,
                    comment=comment,
                    reason=reason,
                    note=note,
                    created_at=now,
                )
        except IntegrityError:  # the same report from another tab, at the same moment
            return Filed(_open_report(by, campaign, comment), created=False)
    return Filed(filed, created=True)


def _open_report(member, campaign, comment):
    reports = Report.objects.filter(reporter=member, status=Status.OPEN)
    if comment is not None:
        return reports.filter(comment=comment).first()
    return reports.filter(campaign=campaign, comment__isnull=True).first()


def can_resolve(member):
    return comments.can_moderate_all(member)


def resolve_report(report, *, by, outcome, note="", hide_reason="", now=None):
    """Close an open report as acted on or dismissed; returns the report.

    hide_reason: with outcome acted_on on a comment's report, hide the comment with this
        reason in the same transaction, and resolve its other open reports as acted on too.
    """
    if not can_resolve(by):
        raise NotPermitted(_("No such report."))
    if outcome not in (Status.ACTED_ON, Status.DISMISSED):
        raise DomainError(_("Choose acted on or dismissed."), field="outcome")
    hide_reason = (hide_reason or "").strip()
    if hide_reason and (outcome != Status.ACTED_ON or report.comment_id is None):
        raise DomainError(_("Only acting on a comment's report hides it."), field="hide_reason")
    note = (note or "").strip() or hide_reason
    now = now or timezone.now()
    resolution = {"resolved_at": now, "resolved_by": by, "resolution_note": note}

    with transaction.atomic():
        resolved = transition(report, outcome, by=by, note=note, updates=resolution)
        if hide_reason:
            comment = Comment.objects.select_related("campaign").get(pk=report.comment_id)
            comments.hide_comment(comment, by=by, reason=hide_reason, now=now)
            others = Report.objects.filter(comment_id=report.comment_id, status=Status.OPEN)
            for other in others.exclude(pk=report.pk).order_by("pk"):
                transition(
                    other,
                    Status.ACTED_ON,
                    by=by,
                    note=_("The comment was hidden (report %(id)s).") % {"id": report.pk},
                    updates=resolution,
                )
    return resolved


def open_reports():
    """The admin's queue: open reports, oldest first."""
    return (
        Report.objects.filter(status=Status.OPEN)
        .select_related("reporter", "campaign", "comment__author")
        .order_by("created_at", "id")
    )
