"""Optional emails: their kinds, each member's settings, and the signed one-click unsubscribe.

Money emails (a charge that failed, a refund, a payout) are not optional and never go through
here. Every optional email is queued with `notify`, which skips a member who turned its kind
off, puts the member's unsubscribe link (and the List-Unsubscribe headers, RFC 8058) on it and
stores it once per key in the outbox (core.emails), so it goes out exactly once per (event,
recipient) from a task after commit. A deactivated member gets none (their unsubscribe links
still work: they only turn a kind off).
"""

from enum import StrEnum

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from community.models import NotificationSettings
from core.emails import queue_email

UNSUBSCRIBE_SALT = "community.unsubscribe"


class Kind(StrEnum):
    UPDATES = "updates"
    COMMENTS = "comments"
    REPLIES = "replies"
    REMINDERS = "reminders"


KIND_LABELS = {
    Kind.UPDATES: _("updates from campaigns you support or follow"),
    Kind.COMMENTS: _("comments on campaigns you organize"),
    Kind.REPLIES: _("replies to your comments"),
    Kind.REMINDERS: _("launch and deadline reminders for campaigns you follow"),
}


def settings_for(member):
    """The member's NotificationSettings (unsaved, all on, when they never changed them)."""
    try:
        return member.notification_settings
    except NotificationSettings.DoesNotExist:
        return NotificationSettings(member=member)


def wants(member, kind):
    return bool(getattr(settings_for(member), Kind(kind).value))


def members_who_want(members_queryset, kind):
    """The active members of `members_queryset` who did not turn `kind` off (one query when
    used)."""
    kind = Kind(kind)
    return members_queryset.filter(is_active=True).exclude(
        **{"notification_settings__isnull": False, f"notification_settings__{kind.value}": False}
    )


def set_preferences(member, **choices):
    """Save the member's choices (kind name → bool); unknown names are refused.

    Only the kinds chosen are written: two one-click unsubscribes of different kinds at the
    same moment each keep the other's choice.
    """
    unknown = set(choices) - {kind.value for kind in Kind}
    if unknown:
        raise ValueError(f"unknown notification kinds: {sorted(unknown)}")
    preferences, _created = NotificationSettings.objects.get_or_create(member=member)
    for name, value in choices.items():
        setattr(preferences, name, bool(value))
    preferences.save(update_fields=[*choices, "updated_at"])
    return preferences


def site_url(path):
    """`path` (from reverse or get_absolute_url) as the full address on SITE_URL: what emails,
    feeds and canonical links point at."""
    return settings.SITE_URL.rstrip("/") + path


# --- one-click unsubscribe --------------------------------------------------------------------
def unsubscribe_token(member, kind):
    return signing.dumps({"m": member.pk, "k": Kind(kind).value}, salt=UNSUBSCRIBE_SALT)


def unsubscribe_url(member, kind):
    return site_url(reverse("community:unsubscribe", args=[unsubscribe_token(member, kind)]))


class BadUnsubscribeLink(Exception):
    """The link was changed, is not ours, or is older than COMMUNITY_UNSUBSCRIBE_MAX_AGE_DAYS."""

    def __init__(self, message, *, expired=False):
        super().__init__(message)
        self.expired = expired


def read_unsubscribe_token(token):
    """(member id, Kind) of a link made by `unsubscribe_token`; raises BadUnsubscribeLink."""
    max_age = settings.COMMUNITY_UNSUBSCRIBE_MAX_AGE_DAYS * 24 * 3600
    try:
        payload = signing.loads(token, salt=UNSUBSCRIBE_SALT, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise BadUnsubscribeLink(str(exc), expired=True) from exc
    except signing.BadSignature as exc:
        raise BadUnsubscribeLink(str(exc)) from exc
    try:
        return int(payload["m"]), Kind(payload["k"])
    except (KeyError, TypeError, ValueError) as exc:
        raise BadUnsubscribeLink("malformed payload") from exc


def unsubscribe(member, kind):
    """Turn `kind` off for the member (what the link does); returns whether it was on."""
    was_on = wants(member, kind)
    set_preferences(member, **{Kind(kind).value: False})
    return was_on


# --- sending ----------------------------------------------------------------------------------
def notify(member, kind, *, key, template, context):
    """Queue optional email `template` for `member` under `key`, unless they turned `kind` off.

    Returns the OutboundEmail, or None when the member does not want this kind or was
    deactivated. The key is the event and the recipient ("update:12:member:7"): running twice
    sends once.
    """
    if not member.is_active or not wants(member, kind):
        return None
    url = unsubscribe_url(member, kind)
    email, _created = queue_email(
        key,
        member.email,
        template,
        {**context, "member": member, "kind_label": KIND_LABELS[Kind(kind)]},
        unsubscribe_url=url,
    )
    return email
