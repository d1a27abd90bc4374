"""The demo's staff who can move money, enrolled in two-factor authentication with fixed keys so
the quick start needs no phone: the treasurer (a "Treasurers" group: approves payouts, refunds
pledges, reads what a payout review needs) and the demo admin (a superuser, so she holds those
permissions too and the admin asks her for a code as well). `manage.py demo_totp` prints their
current codes.

Made with allauth's own models and helpers (an EmailAddress as a finished sign-up leaves it, a
TOTP authenticator and recovery codes as allauth.mfa activates them). Safe to repeat: each run
puts the treasurer's flags, password, group and both keys back.
"""

import time

from allauth.account.models import EmailAddress
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value
from allauth.mfa.utils import decrypt, encrypt
from django.contrib.auth.models import Group, Permission
from django.db import transaction

from demo.specs import DEMO_PASSWORD
from members.models import Member

TREASURER_EMAIL = "treasurer@groundswell.local"
TREASURER_NAME = "Theo Treasurer"
TREASURER_LOCATION = "Antwerp"
TREASURERS_GROUP = "Treasurers"
ADMIN_EMAIL = "admin@groundswell.local"  # demo.specs.DEMO_MEMBERS' "admin"

# Base32 TOTP keys, public on purpose (README): anyone can compute these accounts' codes, which
# is what a demo without a phone needs. Never give them to a real account.
TREASURER_TOTP_SECRET = "GROUNDSWELLTREASURERDEMOKEY23456"
ADMIN_TOTP_SECRET = "GROUNDSWELLADMINDEMOKEY234567ABC"
DEMO_TOTP_SECRETS = {TREASURER_EMAIL: TREASURER_TOTP_SECRET, ADMIN_EMAIL: ADMIN_TOTP_SECRET}

# (app label, codename): the two that move money, and the admin pages a payout review reads.
TREASURER_PERMISSIONS = [
    ("payouts", "approve_payout"),
    ("payouts", "refund_pledge"),
    ("payouts", "view_payout"),
    ("payouts", "view_payoutaccount"),
    ("payouts", "view_payoutallocation"),
    ("payouts", "view_payoutreceipt"),
    ("campaigns", "view_campaign"),
    ("pledges", "view_pledge"),
    ("pledges", "view_paymentattempt"),
    ("ledger", "view_account"),
    ("ledger", "view_transaction"),
]


@transaction.atomic
def ensure_treasurer():
    """The demo treasurer: staff (not a superuser), in the Treasurers group, email verified,
    enrolled with TREASURER_TOTP_SECRET and recovery codes. Returns the Member."""
    member = Member.objects.filter(email=TREASURER_EMAIL).first()
    if member is None:
        member = Member(
            email=TREASURER_EMAIL, display_name=TREASURER_NAME, location=TREASURER_LOCATION
        )
    member.is_staff, member.is_superuser, member.is_active = True, False, True
    member.set_password(DEMO_PASSWORD)
    member.save()
    EmailAddress.objects.update_or_create(
        user=member, email=TREASURER_EMAIL, defaults={"verified": True, "primary": True}
    )
    member.groups.add(ensure_treasurers_group())
    enrol(member, TREASURER_TOTP_SECRET)
    return member


def enrol_demo_admin(admin):
    """The demo admin's authenticator app (ADMIN_TOTP_SECRET): as a superuser she holds the
    payout permissions, so the admin asks her for a code."""
    enrol(admin, ADMIN_TOTP_SECRET)
    return admin


def ensure_treasurers_group():
    """The Treasurers group with exactly TREASURER_PERMISSIONS (created by migrate)."""
    group, _created = Group.objects.get_or_create(name=TREASURERS_GROUP)
    wanted = {(app, codename) for app, codename in TREASURER_PERMISSIONS}
    found = list(
        Permission.objects.filter(
            content_type__app_label__in={app for app, _codename in wanted},
            codename__in={codename for _app, codename in wanted},
        ).select_related("content_type")
    )
    found = [p for p in found if (p.content_type.app_label, p.codename) in wanted]
    missing = wanted - {(p.content_type.app_label, p.codename) for p in found}
    if missing:
        names = ", ".join(sorted(f"{app}.{codename}" for app, codename in missing))
        raise RuntimeError(f"Permissions missing (run manage.py migrate): {names}")
    group.permissions.set(found)
    return group


@transaction.atomic
def enrol(member, secret):
    """Activate the authenticator app with this key (replacing another key) and recovery
    codes, as allauth.mfa's activation does; returns the TOTP Authenticator."""
    totp = Authenticator.objects.filter(user=member, type=Authenticator.Type.TOTP).first()
    if totp is None:
        totp = TOTP.activate(member, secret).instance
    elif decrypt(totp.data["secret"]) != secret:
        totp.data = {"secret": encrypt(secret)}
        totp.save(update_fields=["data"])
    RecoveryCodes.activate(member)  # keeps a set that exists
    return totp


def current_code(secret, *, now=None):
    """(code, seconds it stays current) for a TOTP key, with allauth's own TOTP helpers."""
    now = time.time() if now is None else now
    period = mfa_settings.TOTP_PERIOD
    counter = int(now) // period
    return format_hotp_value(hotp_value(secret, counter)), period - int(now) % period
