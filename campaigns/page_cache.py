"""Micro-cache of a public campaign's pages for visitors without cookies (shared links, crawlers).

Such a visitor cannot see anything personal (no session, no flash messages, no CSRF form), so
every one of them can get the same HTML. An entry lives at most PAGE_CACHE_SECONDS and never
past the campaign's deadline; on a hit the page costs no query at all. The price: for those
visitors totals, reward stock and a just-made status change (e.g. a cancellation) may lag by
up to PAGE_CACHE_SECONDS. Members who are logged in, organizers and staff always get a fresh
page. Writers that want a change seen at once call `forget(campaign)`.

A campaign has one entry per VARIANTS name: "page" (the campaign page) and "widget" (the
embeddable card, community.views.sharing); `forget` drops them all. An entry is the content
only, never a header: what a view adds to the response afterwards (the referral cookie of a
shared link's visit) is not cached.

A visitor whose only cookie is the referral touch of a shared link (NEUTRAL_COOKIES) is
served from the cache too: nothing on these pages reads it.

A shared link's tracking parameters (TRACKING_PARAMETERS: ?ref=, ?utm_source= ...) change
nothing on the page, so a request with only those is served from the cache too; any other
parameter (e.g. ?comments_page=) is rendered afresh.
"""

import time

from django.core.cache import cache
from django.utils import timezone

from pledges import referrals

PAGE_CACHE_SECONDS = 10
VARIANTS = ("page", "widget")
TRACKING_PARAMETERS = frozenset(
    {
        "ref",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_content",
        "utm_term",
        "fbclid",
        "gclid",
    }
)


def _key(slug, variant):
    if variant not in VARIANTS:
        raise ValueError(f"Unknown page cache variant {variant!r}.")
    return f"campaign-{variant}:v2:{slug}"


# Cookies that change nothing on these pages: the referral touch (pledges.referrals) is read
# only when a pledge is made, so a visitor who came through a share link before still gets
# the cached page.
NEUTRAL_COOKIES = frozenset({referrals.COOKIE_NAME})


def is_cacheable_request(request):
    """A GET without cookies (but the neutral ones) whose query string has tracking
    parameters at most."""
    return (
        request.method == "GET"
        and NEUTRAL_COOKIES.issuperset(request.COOKIES.keys())
        and TRACKING_PARAMETERS.issuperset(request.GET.keys())
    )


def lookup(slug, *, variant="page"):
    """(content, whole seconds it stays fresh, at least 1) of the cached copy, or None."""
    entry = cache.get(_key(slug, variant))
    if entry is None:
        return None
    content, expires = entry
    left = expires - time.time()
    if left <= 0:
        return None
    return content, max(1, int(left))


def get(slug, *, variant="page"):
    """The cached content (as given to `put`) of the campaign's page `variant`, or None."""
    entry = lookup(slug, variant=variant)
    return None if entry is None else entry[0]


def put(request, campaign, content, *, variant="page"):
    """Keep `content` unless rendering it made it personal (a CSRF token or session write).

    Returns how many seconds it stays fresh (0: not kept).
    """
    key = _key(campaign.slug, variant)
    if not campaign.is_public or request.META.get("CSRF_COOKIE_NEEDS_UPDATE"):
        return 0
    session = getattr(request, "session", None)
    if session is not None and session.modified:
        return 0
    seconds = PAGE_CACHE_SECONDS
    if campaign.deadline is not None:
        # "3 minutes left" must turn into "Ended" on time.
        until_deadline = (campaign.deadline - timezone.now()).total_seconds()
        if until_deadline > 0:
            seconds = max(1, min(seconds, int(until_deadline)))
    cache.set(key, (content, time.time() + seconds), seconds)
    return seconds


def forget(campaign):
    """Drop every cached variant of the campaign's pages (a change must show at once)."""
    cache.delete_many([_key(campaign.slug, variant) for variant in VARIANTS])
