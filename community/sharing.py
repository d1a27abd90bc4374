"""Sharing a campaign: share links (tagged with utm_source and the sharer's referral code), the
embeddable widget (its framing policy; it is cached as campaigns.page_cache's "widget"
variant) and the oEmbed answer for it.

Share links never use a third-party script: each is a plain link to the network's own share
page. A visitor who is not logged in gets links without `ref`, the same for everyone, so the
campaign page's anonymous cache (campaigns.page_cache) stays one page for all of them.
"""

from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.urls import Resolver404, resolve, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from campaigns import selectors
from campaigns.images import RENDITIONS
from campaigns.models import Campaign
from core.middleware import _origin as origin
from pledges.referrals import code_for

# --- share links ----------------------------------------------------------------------------
CHANNELS = (
    # (utm_source, label)
    ("copy", _("Copy link")),
    ("email", _("Email")),
    ("facebook", _("Facebook")),
    ("x", _("X")),
    ("whatsapp", _("WhatsApp")),
    ("linkedin", _("LinkedIn")),
)


@dataclass(frozen=True)
class ShareLink:
    channel: str  # also the utm_source
    label: str
    href: str  # where the link goes (the network's share page, mailto:, or the page itself)
    url: str  # the shared page's address, tagged for this channel

    @property
    def opens_elsewhere(self):
        """A network's share page opens in a new tab; mailto: and the page itself do not."""
        return self.channel not in {"copy", "email"}


def absolute(url):
    """`url` on SITE_URL (never the request's Host header: shared links are canonical)."""
    if not url or url.startswith(("http://", "https://")):
        return url
    return settings.SITE_URL.rstrip("/") + "/" + url.lstrip("/")


def tagged(url, **params):
    """`url` with `params` set in its query string (kept in order, replacing the same names)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query += [(k, v) for k, v in params.items() if v]
    return urlunsplit(parts._replace(query=urlencode(query)))


def share_links(url, title, *, member=None):
    """The ShareLinks for the page at `url`, credited to `member` (a logged-in sharer) if any."""
    page = absolute(url)
    ref = code_for(member) if member is not None and member.is_authenticated else ""
    links = []
    for channel, label in CHANNELS:
        shared = tagged(page, utm_source=channel, utm_medium="share", ref=ref)
        links.append(ShareLink(channel, str(label), _share_href(channel, shared, title), shared))
    return links


def _share_href(channel, url, title):
    q = quote(url, safe="")
    text = quote(str(title), safe="")
    if channel == "email":
        return f"mailto:?subject={text}&body={text}%0A%0A{q}"
    if channel == "facebook":
        return f"https://www.facebook.com/sharer/sharer.php?u={q}"
    if channel == "x":
        return f"https://twitter.com/intent/tweet?url={q}&text={text}"
    if channel == "whatsapp":
        return f"https://wa.me/?text={text}%20{q}"
    if channel == "linkedin":
        return f"https://www.linkedin.com/sharing/share-offsite/?url={q}"
    return url  # copy: the link itself


# --- the widget -----------------------------------------------------------------------------
WIDGET_WIDTH = 340
WIDGET_HEIGHT = 420


def widget_url(campaign):
    return absolute(reverse("community:widget", args=[campaign.slug]))


def embed_code(campaign, *, width=WIDGET_WIDTH, height=WIDGET_HEIGHT):
    """The <iframe> that shows `campaign`'s widget on another site (also oEmbed's `html`)."""
    return format_html(
        '<iframe src="{}" width="{}" height="{}" style="border:0" title="{}" '
        'loading="lazy"></iframe>',
        widget_url(campaign),
        width,
        height,
        gettext("%(title)s on %(site)s") % {"title": campaign.title, "site": site_name()},
    )


def site_name():
    return getattr(settings, "SITE_NAME", "Groundswell")


def widget_campaign(slug):
    """The public campaign for the widget, with its card headline (Campaign.DoesNotExist)."""
    return selectors.card_queryset(Campaign.objects.public()).get(slug=slug)


def widget_policy():
    """The widget's Content-Security-Policy: anyone may frame it; it runs no script at all."""
    media = origin(settings.MEDIA_URL)
    static = origin(settings.STATIC_URL)
    return "; ".join(
        [
            "default-src 'none'",
            " ".join(filter(None, ["img-src 'self' data:", media, static])),
            " ".join(filter(None, ["style-src 'self'", static, "'unsafe-inline'"])),
            "frame-ancestors *",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )


# --- oEmbed (https://oembed.com) ------------------------------------------------------------
OEMBED_CACHE_SECONDS = 3600


class OEmbedError(Exception):
    """An oEmbed request answered with an HTTP error (`status`) instead of JSON."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def _bound(value, name):
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise OEmbedError(
            400, gettext("%(name)s must be a whole number of pixels.") % {"name": name}
        )
    return number


def _slug_for(url):
    """The slug of the campaign page at `url` on this site, or None."""
    try:
        parts = urlsplit(url or "")
    except ValueError:
        return None
    site = urlsplit(settings.SITE_URL)
    if parts.scheme not in {"http", "https"} or parts.netloc.lower() != site.netloc.lower():
        return None
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    try:
        match = resolve(path)
    except Resolver404:
        return None
    if match.view_name != "campaigns:detail":
        return None
    return match.kwargs["slug"]


def oembed(url, *, format="json", maxwidth=None, maxheight=None):
    """The oEmbed "rich" answer (a dict) for a public campaign page's URL.

    Raises OEmbedError: 501 for a format other than JSON, 400 for a bad or missing
    parameter, 404 for a URL that is not a public campaign of this site.
    """
    if format not in (None, "", "json"):
        raise OEmbedError(501, gettext("Only the JSON format is available."))
    if not url:
        raise OEmbedError(400, gettext("Give the URL of a campaign page."))
    maxwidth = _bound(maxwidth, "maxwidth")
    maxheight = _bound(maxheight, "maxheight")
    slug = _slug_for(url)
    if slug is None:
        raise OEmbedError(404, gettext("There is no campaign at that URL."))
    try:
        campaign = Campaign.objects.public().select_related("organizer").get(slug=slug)
    except Campaign.DoesNotExist:
        raise OEmbedError(404, gettext("There is no campaign at that URL.")) from None
    width = min(WIDGET_WIDTH, maxwidth or WIDGET_WIDTH)
    height = min(WIDGET_HEIGHT, maxheight or WIDGET_HEIGHT)
    answer = {
        "version": "1.0",
        "type": "rich",
        "provider_name": site_name(),
        "provider_url": settings.SITE_URL,
        "title": campaign.title,
        "author_name": campaign.organizer.display_name,
        "author_url": absolute(campaign.organizer.get_absolute_url()),
        "html": str(embed_code(campaign, width=width, height=height)),
        "width": width,
        "height": height,
        # Nothing in the answer moves with the totals (the widget fetches those itself).
        "cache_age": OEMBED_CACHE_SECONDS,
    }
    # The spec: a thumbnail must fit maxwidth and maxheight too.
    thumb_width, thumb_height = RENDITIONS["card"]
    if (
        campaign.cover_card
        and thumb_width <= (maxwidth or thumb_width)
        and thumb_height <= (maxheight or thumb_height)
    ):
        answer.update(
            thumbnail_url=absolute(campaign.cover_card.url),
            thumbnail_width=thumb_width,
            thumbnail_height=thumb_height,
        )
    return answer


def oembed_url(campaign):
    """The oEmbed endpoint's URL for `campaign` (the campaign page's discovery link)."""
    page = absolute(campaign.get_absolute_url())
    return absolute(reverse("community:oembed")) + "?" + urlencode({"url": page, "format": "json"})
