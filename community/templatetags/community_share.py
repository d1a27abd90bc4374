"""Share links, the embed code and the oEmbed discovery link for templates.

For any page (a campaign, an update):

    {% load community_share %}
    {% share_buttons request url title %}            the list of links, rendered
    {% share_links request url title as links %}     the links (community.sharing.ShareLink)

`url` may be relative (it is put on SITE_URL); a logged-in member's links carry their referral
code, a visitor's are the same for everyone (cache-safe).
"""

from django import template
from django.utils.html import escape

from community import sharing

register = template.Library()


def _member(request):
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


@register.simple_tag
def share_links(request, url, title):
    """[ShareLink]: channel, label, href (open it), url (the tagged page), opens_elsewhere."""
    return sharing.share_links(url, title, member=_member(request))


@register.inclusion_tag("community/_share_links.html")
def share_buttons(request, url, title):
    links = sharing.share_links(url, title, member=_member(request))
    copy = next(link for link in links if link.channel == "copy")
    return {"links": [link for link in links if link is not copy], "copy": copy, "title": title}


@register.simple_tag
def embed_code(campaign):
    """The widget's <iframe> as text (escaped once more: for a <textarea> or <code>)."""
    return escape(sharing.embed_code(campaign))


@register.simple_tag
def oembed_url(campaign):
    return sharing.oembed_url(campaign)
