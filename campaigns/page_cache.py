"""Micro-cache of the public campaign page for visitors without cookies (shared links, crawlers).

Such a visitor cannot see anything personal (no session, no flash messages, no CSRF form), so
every one of them can get the same HTML. An entry lives at most PAGE_CACHE_SECONDS and never
past the campaign's deadline; on a hit the page costs no query at all. The price: for those
visitors totals, reward stock and a just-made status change (e.g. a cancellation) may lag by
up to PAGE_CACHE_SECONDS. Members who are logged in, organizers and staff always get a fresh
page. Writers that want a change seen at once call `forget(campaign)`.
"""

from django.core.cache import cache
from django.utils import timezone

PAGE_CACHE_SECONDS = 10


def _key(slug):
    return f"campaign-page:v1:{slug}"


def is_cacheable_request(request):
    return request.method == "GET" and not request.COOKIES and not request.GET


def get(slug):
    """The cached HTML (bytes) of the campaign page, or None."""
    return cache.get(_key(slug))


def put(request, campaign, content):
    """Keep `content` unless rendering it made it personal (a CSRF token or session write)."""
    if not campaign.is_public or request.META.get("CSRF_COOKIE_NEEDS_UPDATE"):
        return
    session = getattr(request, "session", None)
    if session is not None and session.modified:
        return
    seconds = PAGE_CACHE_SECONDS
    if campaign.deadline is not None:
        # "3 minutes left" must turn into "Ended" on time.
        until_deadline = (campaign.deadline - timezone.now()).total_seconds()
        if until_deadline > 0:
            seconds = max(1, min(seconds, int(until_deadline)))
    cache.set(_key(campaign.slug), content, seconds)


# The embeddable widget's micro-cache (community.sharing keeps it under this key): forgetting
# the page forgets the widget too, so a cancellation shows at once in both.
WIDGET_KEY = "campaign-widget:v1:{slug}"


def forget(campaign):
    cache.delete_many([_key(campaign.slug), WIDGET_KEY.format(slug=campaign.slug)])
