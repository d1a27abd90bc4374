"""Where a supporter came from: a share link's ?ref= (who shared it) and ?utm_source= (where).

A visit to a campaign's page, one of its updates or its pledge page with either is remembered
for that campaign (last touch wins, kept for REFERRAL_DAYS) and copied onto the pledge when it
is created (Pledge.referral_code / referral_source). Values are short plain tokens or nothing:
anything longer, with other characters, or given twice is ignored, never stored.

The touches live in one small signed cookie (COOKIE_NAME), not in the session: a visitor from
a shared link then costs no session row, and the campaign page's anonymous cache
(campaigns.page_cache) can still serve them, the cookie being added to the cached page's
response. It holds at most MAX_CAMPAIGNS campaigns (the most recent), keyed by slug; a cookie
that is not ours (bad signature, other salt) or too old is ignored, and so is any value in it
that is not well-formed.

A member's referral code (`code_for`) is stable and short, reveals nothing but the member's id
(already public in their profile's URL), and carries a keyed check so that nobody can credit a
pledge to someone else by typing their id; `member_id_for` reads it back for the organizer's
dashboard.
"""

import re
import time

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.http import base36_to_int, int_to_base36

COOKIE_NAME = "gs_referrals"
COOKIE_SALT = "groundswell.referrals"
REFERRAL_DAYS = 30
REFERRAL_SECONDS = REFERRAL_DAYS * 86_400
# A visitor who clicks through many campaigns keeps the most recent ones only (the cookie stays
# well under browsers' 4 KB: at most 10 × (80 + 64 + 64 + 13) characters and the signature).
MAX_CAMPAIGNS = 10
MAX_LENGTH = 64
TOKEN = re.compile(rf"[A-Za-z0-9._-]{{1,{MAX_LENGTH}}}", re.ASCII)
SLUG = re.compile(r"[-a-zA-Z0-9_]{1,80}", re.ASCII)  # campaigns.Campaign.slug
# The cookie's value: "slug~ref~source~at" per campaign, oldest first, joined by "|" (none of
# these characters is in a token or slug, and all are legal in a cookie without quoting).
_FIELDS = "~"
_TOUCHES = "|"
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


def remember(request, response, slug, *, now=None):
    """Keep this visit's ?ref= and ?utm_source= for the campaign `slug` (last touch wins).

    Sets the referral cookie on `response` (after any page cache: the page itself stays the
    same for everyone). Does nothing, and so sets no cookie, unless at least one of them is
    valid. Returns True when something was remembered.
    """
    ref = clean_token(request.GET.getlist("ref"))
    source = clean_token(request.GET.getlist("utm_source")).lower()
    if not (ref or source) or not SLUG.fullmatch(slug):
        return False
    now = time.time() if now is None else now
    touches = _read(request, now)
    touches.pop(slug, None)
    touches[slug] = {"ref": ref, "source": source, "at": int(now)}
    # Dicts keep insertion order: the oldest touches are the first ones.
    kept = list(touches.items())[-MAX_CAMPAIGNS:]
    response.set_signed_cookie(
        COOKIE_NAME,
        _TOUCHES.join(
            _FIELDS.join([key, touch["ref"], touch["source"], str(touch["at"])])
            for key, touch in kept
        ),
        salt=COOKIE_SALT,
        max_age=REFERRAL_SECONDS,
        domain=settings.SESSION_COOKIE_DOMAIN,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
    return True


def for_pledge(request, campaign, *, now=None):
    """(referral_code, referral_source) remembered for `campaign`, ("", "") if none.

    A member's own code is not a referral: it is dropped.
    """
    touch = _read(request, now).get(campaign.slug)
    if touch is None:
        return "", ""
    ref = touch["ref"]
    if ref and request.user.is_authenticated and member_id_for(ref) == request.user.pk:
        ref = ""
    return ref, touch["source"]


def _read(request, now=None):
    """The still valid, well-formed touches in the request's cookie ({} if it is not ours)."""
    value = request.get_signed_cookie(
        COOKIE_NAME, default="", salt=COOKIE_SALT, max_age=REFERRAL_SECONDS
    )
    now = time.time() if now is None else now
    kept = {}
    for part in value.split(_TOUCHES)[-MAX_CAMPAIGNS:] if value else ():
        touch = _parse_touch(part, oldest=now - REFERRAL_SECONDS, newest=now + 60)
        if touch is not None:
            slug = touch.pop("slug")
            kept.pop(slug, None)  # a slug given twice: the later touch, in its place
            kept[slug] = touch
    return kept


def _parse_touch(part, *, oldest, newest):
    """One "slug~ref~source~at" as {slug, ref, source, at}, or None: not well-formed, with
    neither a ref nor a source, or made outside [oldest, newest]."""
    fields = part.split(_FIELDS)
    if len(fields) != 4:
        return None
    slug, ref, source, at = fields
    well_formed = (
        SLUG.fullmatch(slug)
        and at.isascii()
        and at.isdigit()
        and (ref or source)
        and all(not v or TOKEN.fullmatch(v) for v in (ref, source))
    )
    if not well_formed or not oldest <= int(at) <= newest:
        return None
    return {"slug": slug, "ref": ref, "source": source, "at": int(at)}
