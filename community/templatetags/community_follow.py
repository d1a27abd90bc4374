"""The campaign page's follow button: `{% follow_state campaign user as follow %}`."""

from django import template

from community import follows

register = template.Library()


@register.simple_tag
def follow_state(campaign, member):
    """{"count", "following", "can_follow"} for `member` (anonymous: following is False)."""
    return {**follows.follow_state(campaign, member), "can_follow": follows.can_follow(campaign)}
