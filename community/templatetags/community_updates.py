"""The campaign page's Updates section: {% campaign_updates_summary campaign user as summary %}."""

from django import template

from community import updates

register = template.Library()


@register.simple_tag
def campaign_updates_summary(campaign, viewer):
    """{"count", "latest", "can_post"} for the viewer: at most two queries, however many
    updates the campaign has (community.updates.campaign_page_summary); none for a campaign
    that is not public (it has no update pages)."""
    if not campaign.is_public:
        return {"count": 0, "latest": [], "can_post": False}
    return updates.campaign_page_summary(campaign, viewer)
