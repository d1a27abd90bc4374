"""Card-testing defence: per-member and per-IP limits on pledge attempts and card failures.

Attempt counters and blocks live in the cache, which every process must share (Redis in
production, a file cache in var/ in the embedded default; `check --deploy` warns about a
per-process one). Failures are rows in PledgeFailure, one per failed SetupIntent, so admins see
who is probing cards and the worker (webhooks) and web processes count the same failures.

Only the provider's verdict on a card is a failure (a decline, a failed 3-D Secure), never
a form error or a provider outage. A member is blocked after PLEDGE_FAILURES_BEFORE_BLOCK
failures within FAILURE_WINDOW; an IP only when those failures come from at least
PLEDGE_IP_BLOCK_MIN_MEMBERS members (card testers rotate accounts; neighbours on one network,
or everyone behind a proxy we were not told about, must not pay for one member's typos).
A new block cancels, after commit, every unfinished SetupIntent issued to the blocked members
(and, for an IP block, from that IP) at the provider. A failure the webhook reports (Stripe does
not send the client's IP) is counted against the IP its SetupIntent was issued to, so a tester
who calls Stripe.js directly and never reports a decline to us still trips the IP block.
"""

import datetime as dt
import ipaddress
import logging

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import DomainError

logger = logging.getLogger(__name__)

FAILURE_WINDOW = 10 * 60
BLOCK_SECONDS = 60 * 60
ATTEMPT_WINDOW = 60 * 60


def normalize_ip(ip):
    """The address as the database stores it, or None (a forwarded header may hold anything)."""
    try:
        return str(ipaddress.ip_address((ip or "").strip()))
    except ValueError:
        return None


def _member_key(member):
    if member is not None and getattr(member, "pk", None):
        return f"member:{member.pk}"
    return None


def _keys(member, ip):
    keys = []
    if key := _member_key(member):
        keys.append((key, settings.PLEDGE_ATTEMPTS_PER_HOUR_MEMBER))
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


def is_blocked(*, member, ip):
    """True while the member or the IP is blocked (the card page refuses to show a form)."""
    return any(cache.get(f"pledge-block:{key}") for key, _ in _keys(member, ip))


def refuse_if_blocked(*, member, ip):
    """Refuse (DomainError) while the member or the IP is blocked; spends no allowance."""
    if is_blocked(member=member, ip=ip):
        raise DomainError(
            _("Too many failed attempts. For your security, pledging is paused for an hour."),
            code="pledging_paused",
        )


def check(*, member, ip):
    """Refuse (DomainError) while blocked; count this attempt against the hourly allowance."""
    refuse_if_blocked(member=member, ip=ip)
    for key, allowance in _keys(member, ip):
        if _incr(f"pledge-attempts:{key}", ATTEMPT_WINDOW) > allowance:
            raise DomainError(
                _("Too many pledge attempts. Please try again later."), code="too_many_attempts"
            )


def record_failure(
    *, member, ip, campaign=None, reason="", kind=None, setup_intent_id="", payment_method_id=""
):
    """Record a card the provider refused; block the member (and maybe the IP) past the limit.

    With a setup_intent_id (and the refused card's payment_method_id, as one SetupIntent can
    try many cards) the failure is counted once however often it is reported (the
    setup_failed webhook and the confirm call both report it). A report without an IP (the
    webhook) takes the IP the SetupIntent was issued to; a later report that knows an IP adds
    it if none was known. Returns True if this report counted something new.
    """
    from pledges.models import IssuedSetupIntent, PledgeFailure

    member = member if getattr(member, "pk", None) else None
    ip = normalize_ip(ip)
    if ip is None and setup_intent_id:
        ip = (
            IssuedSetupIntent.objects.filter(setup_intent_id=setup_intent_id)
            .values_list("ip", flat=True)
            .first()
        )
    values = {
        "member": member,
        "ip": ip,
        "campaign": campaign,
        "reason": (reason or "Card set-up failed.")[:255],
        "kind": kind or PledgeFailure.Kind.DECLINED,
    }
    if setup_intent_id:
        try:
            with transaction.atomic():  # a savepoint: the caller's transaction survives
                PledgeFailure.objects.create(
                    setup_intent_id=setup_intent_id,
                    payment_method_id=payment_method_id or "",
                    **values,
                )
        except IntegrityError:
            # Already counted. Only the IP may be new: the webhook reported it without one.
            added_ip = ip and PledgeFailure.objects.filter(
                setup_intent_id=setup_intent_id,
                payment_method_id=payment_method_id or "",
                ip__isnull=True,
            ).update(ip=ip)
            if not added_ip:
                return False
            _apply_blocks(member=None, ip=ip)
            return True
    else:
        PledgeFailure.objects.create(**values)
    logger.warning(
        "card failure member=%s ip=%s setup_intent=%s: %s",
        getattr(member, "pk", None),
        ip,
        setup_intent_id,
        reason,
    )
    _apply_blocks(member=member, ip=ip)
    return True


def _apply_blocks(*, member, ip):
    """Count the recent failures (rows, so every process agrees) and set the blocks."""
    from pledges.models import PledgeFailure

    since = timezone.now() - dt.timedelta(seconds=FAILURE_WINDOW)
    recent = PledgeFailure.objects.filter(created_at__gte=since)
    limit = settings.PLEDGE_FAILURES_BEFORE_BLOCK
    newly_blocked, blocked_ip = set(), None
    member_failures = recent.filter(member=member).count() if member is not None else 0
    if member_failures >= limit and _block(_member_key(member)):
        newly_blocked.add(member.pk)
    if ip:
        from_ip = recent.filter(ip=ip)
        members = set(from_ip.exclude(member=None).values_list("member_id", flat=True))
        if (
            from_ip.count() >= limit
            and len(members) >= settings.PLEDGE_IP_BLOCK_MIN_MEMBERS
            and _block(f"ip:{ip}")
        ):
            logger.warning("pledging paused for ip=%s (%d members failed)", ip, len(members))
            newly_blocked |= members  # their open SetupIntents too: they may try elsewhere
            blocked_ip = ip  # and those of accounts on that IP that have not failed yet
    if newly_blocked or blocked_ip:
        transaction.on_commit(
            lambda: cancel_setup_intents_later(newly_blocked, ip=blocked_ip), robust=True
        )


def _block(key):
    """Block for BLOCK_SECONDS from now (a failure during a block extends it); True if new."""
    if cache.add(f"pledge-block:{key}", True, BLOCK_SECONDS):
        return True
    cache.set(f"pledge-block:{key}", True, BLOCK_SECONDS)
    return False


def cancel_setup_intents_later(member_ids, *, ip=None):
    """After commit: the worker cancels the unfinished SetupIntents of the blocked members and
    of the blocked IP (worked out when it runs, so one issued meanwhile is included)."""
    from pledges.tasks import cancel_open_setup_intents

    for member_id in sorted(member_ids):
        cancel_open_setup_intents.delay(member_id)
    if ip:
        cancel_open_setup_intents.delay(None, ip=ip)
