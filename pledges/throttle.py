"""Card-testing defence: per-member and per-IP limits on pledge attempts and card failures.

Counters live in the cache (Redis in production, so every web process shares them); each
failure is also written to PledgeFailure so admins can see who is probing cards.
"""

import logging

from django.conf import settings
from django.core.cache import cache

from core.errors import DomainError

logger = logging.getLogger(__name__)

FAILURE_WINDOW = 10 * 60
BLOCK_SECONDS = 60 * 60
ATTEMPT_WINDOW = 60 * 60


def _keys(member, ip):
    keys = []
    if member is not None and getattr(member, "pk", None):
        keys.append((f"member:{member.pk}", settings.PLEDGE_ATTEMPTS_PER_HOUR_MEMBER))
    if ip:
        keys.append((f"ip:{ip}", settings.PLEDGE_ATTEMPTS_PER_HOUR_IP))
    return keys


def _incr(key, timeout):
    cache.add(key, 0, timeout)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout)
        return 1


def check(*, member, ip):
    """Refuse (DomainError) while blocked; count this attempt against the hourly allowance."""
    for key, _ in _keys(member, ip):
        if cache.get(f"pledge-block:{key}"):
            raise DomainError(
                "Too many failed attempts. For your security, pledging is paused for an hour."
            )
    for key, allowance in _keys(member, ip):
        if _incr(f"pledge-attempts:{key}", ATTEMPT_WINDOW) > allowance:
            raise DomainError("Too many pledge attempts. Please try again later.")


def record_failure(*, member, ip, campaign=None, reason=""):
    """Count a failure; the fifth within ten minutes blocks the member and the IP for an hour."""
    from pledges.models import PledgeFailure

    PledgeFailure.objects.create(
        member=member if getattr(member, "pk", None) else None,
        ip=ip or None,
        campaign=campaign,
        reason=reason[:255],
    )
    logger.warning("pledge failure member=%s ip=%s: %s", getattr(member, "pk", None), ip, reason)
    for key, _ in _keys(member, ip):
        if _incr(f"pledge-failures:{key}", FAILURE_WINDOW) >= settings.PLEDGE_FAILURES_BEFORE_BLOCK:
            cache.set(f"pledge-block:{key}", True, BLOCK_SECONDS)
