"""Follows: a member following a campaign (also an approved one before launch, "Notify me when
it launches"), and the follower sweep that emails followers when the campaign launches and
DEADLINE_REMINDER_HOURS before its deadline, each once.

The sweep claims follow rows under FOR UPDATE SKIP LOCKED and marks them in the same
transaction as it queues their emails, so two sweeps at once never take the same row; the
outbox key (the event and the member) makes a second queueing of the same email a no-op.

One email where one will do: a launch email sent inside the reminder window says when the
campaign ends, so it is the reminder too; a follow made inside the window needs no reminder
(the member just chose to follow). The campaign's team does not follow it: they run it.
"""

from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import Campaign
from campaigns.selectors import with_totals
from community import audience
from community.models import Follow
from community.notifications import Kind, notify, site_url
from core.errors import DomainError, NotPermitted

# Public campaigns, and approved ones waiting for their launch; never drafts, campaigns in
# review, rejected or cancelled ones (their pages are not the public's).
FOLLOWABLE_STATUSES = (Campaign.Status.APPROVED, *Campaign.PUBLIC_STATUSES)
# How many follow rows one sweep handles per kind of email; the next sweep takes the rest.
SWEEP_BATCH = 500


def can_follow(campaign):
    return campaign.status in FOLLOWABLE_STATUSES


def _reminder_window():
    return timedelta(hours=settings.DEADLINE_REMINDER_HOURS)


def _ends_within_window(campaign, now):
    return campaign.deadline is not None and campaign.deadline <= now + _reminder_window()


# --- following ---------------------------------------------------------------------------------
def follow(campaign, *, by, now=None):
    """`by` follows `campaign` (at `now`, by default the present); following twice changes
    nothing. Returns the Follow.

    A campaign that is already live needs no launch email, and one that ends within the
    reminder window no reminder: the follow is marked as told. Its team cannot follow it
    (DomainError).
    """
    if not by.is_authenticated or not can_follow(campaign):
        raise NotPermitted("No such campaign.")
    if audience.is_team(by, campaign):
        raise DomainError(
            _("You are on this campaign's team, so you cannot follow it."), code="own_campaign"
        )
    now = now or timezone.now()
    launched = campaign.status != Campaign.Status.APPROVED
    followed, _created = Follow.objects.get_or_create(
        member=by,
        campaign=campaign,
        defaults={
            "created_at": now,
            "launch_emailed_at": now if launched else None,
            "reminder_emailed_at": now if launched and _ends_within_window(campaign, now) else None,
        },
    )
    return followed


def unfollow(campaign, *, by):
    """`by` no longer follows `campaign`; returns whether they did. A member may always stop
    following (also once the campaign is cancelled); otherwise the campaign must be one they
    could follow, so the answer says nothing about campaigns that are not public."""
    if not by.is_authenticated:
        raise NotPermitted("No such campaign.")
    deleted, _by_model = Follow.objects.filter(member=by, campaign=campaign).delete()
    if not deleted and not can_follow(campaign):
        raise NotPermitted("No such campaign.")
    return bool(deleted)


# --- reads -------------------------------------------------------------------------------------
def follow_state(campaign, member):
    """{"count": followers, "following": whether `member` follows} in one query."""
    member_id = member.pk if member.is_authenticated else None
    figures = Follow.objects.filter(campaign=campaign).aggregate(
        count=Count("pk"), mine=Count("pk", filter=Q(member_id=member_id))
    )
    return {"count": figures["count"], "following": member_id is not None and figures["mine"] > 0}


def follows_of(member):
    """The campaigns `member` follows, newest follow first, with their campaign (one query)."""
    return (
        Follow.objects.filter(member=member)
        .select_related("campaign")
        .order_by("-created_at", "-pk")
    )


# --- the follower sweep ------------------------------------------------------------------------
def send_follower_emails(*, now=None, limit=SWEEP_BATCH):
    """Launch emails and deadline reminders due now (community.tasks.sweep, every
    COMMUNITY_SWEEP_SECONDS). Returns how many were queued and how many follows were marked
    without an email (supporters, members who turned reminders off, follows after launch)."""
    now = now or timezone.now()
    return {
        "launch": _sweep(
            _launch_due(),
            "launch_emailed_at",
            _launch_email,
            now=now,
            limit=limit,
            then=_launch_is_the_reminder,
        ),
        "reminder": _sweep(
            _reminder_due(now), "reminder_emailed_at", _reminder_email, now=now, limit=limit
        ),
    }


def _launch_due():
    return Follow.objects.filter(
        launch_emailed_at__isnull=True, campaign__status=Campaign.Status.LIVE
    )


def _reminder_due(now):
    return Follow.objects.filter(
        reminder_emailed_at__isnull=True,
        campaign__status=Campaign.Status.LIVE,
        campaign__deadline__gt=now,
        campaign__deadline__lte=now + _reminder_window(),
    )


def _launch_is_the_reminder(claimed, now):
    """The launch sweep's follows of campaigns ending within the reminder window are marked
    reminded too: the launch email gives the deadline, so no "ends on …" in the same sweep
    (and a follow it skipped, a supporter's or with reminders off, the reminder skips too)."""
    inside = [row.pk for row in claimed if _ends_within_window(row.campaign, now)]
    if inside:
        Follow.objects.filter(pk__in=inside, reminder_emailed_at__isnull=True).update(
            reminder_emailed_at=now
        )


def _sweep(due, field, send, *, now, limit, then=None):
    """Claim up to `limit` due follows, queue what `send(follow, now)` decides, mark them all
    (and `then(claimed, now)`, in the same transaction). The team and supporters get none."""
    with transaction.atomic():
        claimed = list(
            due.select_related("campaign", "member", "member__notification_settings")
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("pk")[:limit]
        )
        if not claimed:
            return {"queued": 0, "marked": 0}
        by_campaign = defaultdict(list)
        for row in claimed:
            by_campaign[row.campaign_id].append(row)
        totals = dict(
            with_totals(Campaign.objects.filter(pk__in=by_campaign)).values_list(
                "pk", "pledged_minor"
            )
        )
        queued = 0
        for campaign_id, follows in by_campaign.items():
            campaign = follows[0].campaign
            campaign.pledged_minor = totals.get(campaign_id, 0)
            # Someone who backs it already needs no "back it" email, nor its team (a follow
            # made before they joined it).
            skipped = audience.team_ids(campaign) | audience.supporter_ids(
                campaign, [row.member_id for row in follows]
            )
            for row in follows:
                row.campaign = campaign
                if row.member_id not in skipped:
                    queued += send(row, now) is not None
        Follow.objects.filter(
            pk__in=[row.pk for row in claimed], **{f"{field}__isnull": True}
        ).update(**{field: now})
        if then is not None:
            then(claimed, now)
    return {"queued": queued, "marked": len(claimed) - queued}


def _context(row):
    campaign = row.campaign
    return {
        "campaign": campaign,
        "campaign_url": site_url(campaign.get_absolute_url()),
    }


def _launch_email(row, now):
    """The launch email, for a follow made before the launch and while the campaign runs."""
    campaign = row.campaign
    if row.created_at >= campaign.launched_at or campaign.deadline <= now:
        return None
    return notify(
        row.member,
        Kind.REMINDERS,
        key=f"campaign:{campaign.pk}:launched:member:{row.member_id}",
        template="campaign_launched",
        context=_context(row),
    )


def _reminder_email(row, now):
    campaign = row.campaign
    return notify(
        row.member,
        Kind.REMINDERS,
        key=f"campaign:{campaign.pk}:reminder:member:{row.member_id}",
        template="deadline_reminder",
        context=_context(row),
    )
