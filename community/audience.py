"""Who a campaign's community is: its supporters (members with a supporting pledge), its
team (the organizer and accepted co-organizers) and its followers. Shared by updates (who
may read a supporters-only update, who is emailed), comments (badges) and the follower sweep.
"""

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Q

from pledges.models import Pledge

# "Members with an active or collected pledge": active, the deadline's charging states and
# collected (also when partly refunded or disputed). A pledge cancelled, released, dropped,
# refunded in full or charged back no longer makes its member a supporter (nor gives the badge).
SUPPORTING_STATUSES = (
    Pledge.Status.ACTIVE,
    Pledge.Status.CHARGING,
    Pledge.Status.ACTION_REQUIRED,
    Pledge.Status.RETRYING,
    Pledge.Status.COLLECTED,
    Pledge.Status.PARTIALLY_REFUNDED,
    Pledge.Status.DISPUTED,
)


def supporting_pledges(campaign):
    return Pledge.objects.filter(campaign=campaign, status__in=SUPPORTING_STATUSES)


def supports(campaign):
    """Whether the member of the outer query (OuterRef("pk")) supports `campaign`: an
    expression to filter or annotate members with."""
    return Exists(supporting_pledges(campaign).filter(supporter=OuterRef("pk")))


def is_supporter(member, campaign):
    if not member.is_authenticated:
        return False
    return supporting_pledges(campaign).filter(supporter=member).exists()


def supporter_ids(campaign, member_ids):
    """Of `member_ids`, those who support `campaign` (one query, for a page of comments)."""
    ids = {member_id for member_id in member_ids if member_id is not None}
    if not ids:
        return set()
    return set(
        supporting_pledges(campaign)
        .filter(supporter_id__in=ids)
        .values_list("supporter_id", flat=True)
    )


def _co_organizers(campaign):
    return campaign.collaborators.filter(accepted_at__isnull=False, member__isnull=False)


def co_organizes(campaign):
    """Whether the member of the outer query (OuterRef("pk")) is an accepted co-organizer of
    `campaign` (the organizer is campaign.organizer_id): an expression, like supports."""
    return Exists(_co_organizers(campaign).filter(member=OuterRef("pk")))


def team_ids(campaign):
    """The organizer and accepted co-organizers (one query)."""
    ids = set(_co_organizers(campaign).values_list("member_id", flat=True))
    ids.add(campaign.organizer_id)
    return ids


def is_team(member, campaign):
    return member.is_authenticated and member.pk in team_ids(campaign)


def can_read_supporters_only(member, campaign):
    """Supporters and the campaign's team read supporters-only updates; nobody else does
    (staff included: a supporters-only update is the supporters' own)."""
    return is_team(member, campaign) or is_supporter(member, campaign)


def supporters(campaign):
    """Members supporting `campaign`, as a queryset of members."""
    return get_user_model().objects.filter(supports(campaign))


def supporters_or_followers(campaign):
    return (
        get_user_model()
        .objects.filter(supports(campaign) | Q(follows__campaign=campaign))
        .distinct()
    )
