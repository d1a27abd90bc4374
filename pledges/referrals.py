"""Where a supporter came from: a share link's ?ref= (who shared it) and ?utm_source= (where).

A visit to a campaign's page or pledge page with either is remembered in the session for that
campaign (last touch wins, kept for REFERRAL_DAYS) and copied onto the pledge when it is
created (Pledge.referral_code / referral_source). Values are short plain tokens or nothing:
anything longer, with other characters, or given twice is ignored, never stored.

A member's referral code (`code_for`) is stable and short, reveals nothing but the member's id
(already public in their profile's URL), and carries a keyed check so that nobody can credit a
pledge to someone else by typing their id; `member_id_for` reads it back for the organizer's
dashboard.
"""

import re
import time

from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.http import base36_to_int, int_to_base36

SESSION_KEY = "referrals"
REFERRAL_DAYS = 30
# A visitor who clicks through many campaigns keeps the most recent ones only.
MAX_CAMPAIGNS = 20
MAX_LENGTH = 64
TOKEN = re.compile(rf"[A-Za-z0-9._-]{{1,{MAX_LENGTH}}}", re.ASCII)
_CHECK_LENGTH = 6
_CODE = re.compile(rf"m([0-9a-z]{{1,13}})-([0-9a-f]{{{_CHECK_LENGTH}}})", re.ASCII)


# --- a member's code ------------------------------------------------------------------------
def _check(member_id):
    return salted_hmac("groundswell.referral-code", str(member_id)).hexdigest()[:_CHECK_LENGTH]


def code_for(member):
    """The member's referral code, e.g. "m2s-4f0c1a" ("m", the id in base 36, a check)."""
    return f"m{int_to_base36(member.pk)}-{_check(member.pk)}"


def member_id_for(code):
    """The id of the member whose code this is, or None (not one of ours, or forged)."""
    match = _CODE.fullmatch(code or "")
    if match is None:
        return None
    member_id = base36_to_int(match[1])
    return member_id if constant_time_compare(match[2], _check(member_id)) else None


# --- capture --------------------------------------------------------------------------------
def clean_token(values):
    """The one valid value in a query parameter's list of values, or "" (none, several, bad)."""
    if len(values) != 1:
        return ""
    value = values[0]
    return value if TOKEN.fullmatch(value) else ""


def remember(request, campaign, *, now=None):
    """Keep this visit's ?ref= and ?utm_source= for `campaign` in the session (last touch).

    Does nothing (and so sets no cookie) unless at least one of them is valid. Returns True
    when something was remembered.
    """
    ref = clean_token(request.GET.getlist("ref"))
    source = clean_token(request.GET.getlist("utm_source")).lower()
    if not (ref or source):
        return False
    now = time.time() if now is None else now
    touches = _fresh(request.session.get(SESSION_KEY), now)
    touches.pop(str(campaign.pk), None)
    touches[str(campaign.pk)] = {"ref": ref, "source": source, "at": int(now)}
    # Dicts keep insertion order: the oldest touches are the first ones.
    request.session[SESSION_KEY] = dict(list(touches.items())[-MAX_CAMPAIGNS:])
    return True


def for_pledge(request, campaign, *, now=None):
    """(referral_code, referral_source) remembered for `campaign`, ("", "") if none.

    A member's own code is not a referral: it is dropped.
    """
    touches = _fresh(getattr(request, "session", {}).get(SESSION_KEY), now)
    touch = touches.get(str(campaign.pk))
    if touch is None:
        return "", ""
    ref = touch["ref"]
    if ref and request.user.is_authenticated and member_id_for(ref) == request.user.pk:
        ref = ""
    return ref, touch["source"]


def _fresh(touches, now=None):
    """The still valid, well-formed touches of a session's value (whatever it holds)."""
    if not isinstance(touches, dict):
        return {}
    now = time.time() if now is None else now
    oldest = now - REFERRAL_DAYS * 86_400
    kept = {}
    for campaign_id, touch in touches.items():
        try:
            ref, source, at = touch["ref"], touch["source"], touch["at"]
        except (KeyError, TypeError):
            continue
        if not (isinstance(at, int) and oldest <= at <= now + 60):
            continue
        if all(isinstance(v, str) and (not v or TOKEN.fullmatch(v)) for v in (ref, source)):
            kept[campaign_id] = {"ref": ref, "source": source, "at": at}
    return kept
