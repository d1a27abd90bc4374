"""Read queries for the pledge pages."""

from django.shortcuts import get_object_or_404

from campaigns.selectors import rewards_with_stock
from pledges.models import Pledge


def pledges_of(member):
    return (
        Pledge.objects.filter(supporter=member)
        .exclude(status=Pledge.Status.CANCELLED, activated_at__isnull=True)
        .select_related("campaign", "reward")
        .order_by("-created_at")
    )


def pledge_of(member, public_id):
    """One of the member's pledges; someone else's is a 404."""
    return get_object_or_404(
        Pledge.objects.select_related("campaign", "reward", "supporter"),
        public_id=public_id,
        supporter=member,
    )


def rewards_for(campaign):
    return list(rewards_with_stock(campaign.rewards.all()))
