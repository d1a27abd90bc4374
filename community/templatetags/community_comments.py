"""The comment threads' data for the includes (templates/community/_campaign_comments.html on
the campaign page, _update_comments.html on an update's permalink): a page of comments with
badges and what the viewer may do (community.comments.comment_thread, fixed queries)."""

from django import template
from django.contrib.auth.models import AnonymousUser

from community import comments

register = template.Library()


def _thread(context, campaign, update):
    request = context.get("request")
    viewer = getattr(request, "user", None) or context.get("user") or AnonymousUser()
    page_number = request.GET.get("comments_page") if request is not None else None
    draft = comments.take_draft(request, campaign=campaign, update=update) if request else None
    return comments.comment_thread(
        campaign, viewer, update=update, page_number=page_number, draft=draft
    )


@register.simple_tag(takes_context=True)
def campaign_comments(context, campaign=None):
    """`{% campaign_comments as thread %}`: the campaign's own thread (not its updates')."""
    return _thread(context, campaign or context["campaign"], None)


@register.simple_tag(takes_context=True)
def update_comments(context, update=None, campaign=None):
    """`{% update_comments as thread %}`: the thread of `update` (default: the context's)."""
    update = update or context["update"]
    campaign = campaign or context.get("campaign") or update.campaign
    return _thread(context, campaign, update)
