"""Every write to pledges. The pledge flow itself (cards, SetupIntents) builds on these."""

from core.transitions import transition
from pledges.models import Pledge


def release_pledges_for(campaign, *, by=None):
    """The campaign will not charge: open pledges are released and their cards never charged."""
    released = 0
    for pledge in Pledge.objects.filter(campaign=campaign, status__in=Pledge.OPEN_STATUSES):
        transition(pledge, Pledge.Status.RELEASED, by=by, note="Campaign cancelled or not funded.")
        released += 1
    return released
