"""The demo's treasurer (demo.staff): staff who can approve payouts and refund pledges, enrolled
with the demo's public key, made again unchanged by every run; `demo_totp` prints the code that
logs them in to the admin, through the real login with a password and a code."""

import io
import time

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import generate_totp_secret
from allauth.mfa.utils import decrypt
from django.core.management import CommandError, call_command
from django.urls import reverse

from demo import staff
from demo.specs import DEMO_PASSWORD
from members import two_factor
from members.models import Member
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def _totp_secret(member):
    return decrypt(Authenticator.objects.get(user=member, type="totp").data["secret"])


def _demo_totp(*args):
    out = io.StringIO()
    before = staff.current_code(staff.TREASURER_TOTP_SECRET)[0]
    call_command("demo_totp", *args, stdout=out)
    return out.getvalue(), before


def test_the_treasurer_is_staff_who_can_move_money_and_is_enrolled():
    treasurer = staff.ensure_treasurer()
    treasurer = Member.objects.get(pk=treasurer.pk)  # no cached permissions
    assert treasurer.email == staff.TREASURER_EMAIL
    assert treasurer.is_staff and not treasurer.is_superuser
    assert treasurer.check_password(DEMO_PASSWORD)
    assert treasurer.emailaddress_set.get().verified
    assert list(treasurer.groups.values_list("name", flat=True)) == [staff.TREASURERS_GROUP]
    for permission in ("payouts.approve_payout", "payouts.refund_pledge", "payouts.view_payout"):
        assert treasurer.has_perm(permission), permission
    assert not treasurer.has_perm("payouts.change_payout")
    assert two_factor.requires_two_factor(treasurer)
    assert two_factor.is_enrolled(treasurer)
    assert _totp_secret(treasurer) == staff.TREASURER_TOTP_SECRET
    assert Authenticator.objects.filter(user=treasurer, type="recovery_codes").exists()


def test_ensure_treasurer_is_idempotent_and_puts_the_demo_back():
    first = staff.ensure_treasurer()
    first.is_superuser = True
    first.set_password("someone-changed-it")
    first.save()
    Authenticator.objects.filter(user=first, type="totp").update(
        data={"secret": generate_totp_secret()}
    )
    again = staff.ensure_treasurer()
    assert again.pk == first.pk
    assert Member.objects.filter(email=staff.TREASURER_EMAIL).count() == 1
    again.refresh_from_db()
    assert not again.is_superuser and again.check_password(DEMO_PASSWORD)
    assert _totp_secret(again) == staff.TREASURER_TOTP_SECRET
    assert Authenticator.objects.filter(user=again).count() == 2  # the app and recovery codes
    assert again.groups.get().permissions.count() == len(staff.TREASURER_PERMISSIONS)


def test_the_demo_admin_is_enrolled_with_her_own_key():
    admin = MemberFactory(email=staff.ADMIN_EMAIL, is_staff=True, is_superuser=True)
    staff.enrol_demo_admin(admin)
    staff.enrol_demo_admin(admin)
    assert _totp_secret(admin) == staff.ADMIN_TOTP_SECRET
    assert Authenticator.objects.filter(user=admin).count() == 2
    assert two_factor.requires_two_factor(admin) and two_factor.is_enrolled(admin)


def test_demo_totp_prints_the_current_code_and_the_seconds_left():
    staff.ensure_treasurer()
    output, before = _demo_totp()
    after = staff.current_code(staff.TREASURER_TOTP_SECRET)[0]
    assert output.startswith(f"{staff.TREASURER_EMAIL}: ")
    printed = output.split(": ")[1].split()[0]
    assert len(printed) == 6 and printed in {before, after}
    seconds = int(output.split("current for ")[1].split()[0])
    assert 1 <= seconds <= 30


def test_demo_totp_refuses_an_account_not_on_the_demo_key():
    with pytest.raises(CommandError, match="seed_demo"):
        call_command("demo_totp", "treasurer", stdout=io.StringIO())
    admin = MemberFactory(email=staff.ADMIN_EMAIL, is_staff=True, is_superuser=True)
    staff.enrol(admin, generate_totp_secret())  # someone enrolled her with their own phone
    with pytest.raises(CommandError, match="not enrolled with the demo key"):
        call_command("demo_totp", "admin", stdout=io.StringIO())


def test_current_code_counts_down_to_the_next_period():
    now = 30 * (int(time.time()) // 30)
    code, left = staff.current_code(staff.TREASURER_TOTP_SECRET, now=now)
    later, left_later = staff.current_code(staff.TREASURER_TOTP_SECRET, now=now + 29)
    assert (later, left, left_later) == (code, 30, 1)
    assert staff.current_code(staff.TREASURER_TOTP_SECRET, now=now + 30)[1] == 30


def test_the_treasurer_logs_in_with_the_printed_code_and_reaches_the_admin(client):
    staff.ensure_treasurer()
    response = client.post(
        reverse("account_login"),
        {"login": staff.TREASURER_EMAIL, "password": DEMO_PASSWORD, "next": "/admin/"},
    )
    assert response["Location"] == reverse("mfa_authenticate")
    output, _ = _demo_totp("treasurer")
    code = output.split(": ")[1].split()[0]
    response = client.post(reverse("mfa_authenticate"), {"code": code})
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
