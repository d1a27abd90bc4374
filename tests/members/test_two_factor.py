"""Two-factor authentication for staff who can move money (members.two_factor, the admin's
middleware, allauth.mfa's pages): who must have it, the admin refusing them until they enrol and
enter a code, the real login with a password and a code, recovery codes, and everyone else left
alone. Codes are computed from the key with allauth's own TOTP helpers."""

import time

import pytest
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import (
    SECRET_SESSION_KEY,
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
)
from django.contrib.auth.models import Group, Permission
from django.contrib.messages import get_messages
from django.test import RequestFactory
from django.urls import reverse

from members import two_factor
from tests.core.test_wording import assert_sentence_case
from tests.factories import PASSWORD, MemberFactory, ReviewerFactory

pytestmark = pytest.mark.django_db

ADMIN = reverse("admin:index")
MEMBERS_ADMIN = reverse("admin:members_member_changelist")


def _permission(codename):
    return Permission.objects.get(content_type__app_label="payouts", codename=codename)


def code_for(secret):
    """The code an authenticator app shows now for this key."""
    return format_hotp_value(hotp_value(secret, int(time.time()) // mfa_settings.TOTP_PERIOD))


def enrol(member):
    """What allauth's activation leaves: an authenticator app and recovery codes; the key."""
    secret = generate_totp_secret()
    TOTP.activate(member, secret)
    RecoveryCodes.activate(member)
    return secret


def log_in(client, member, next_url=ADMIN):
    return client.post(
        reverse("account_login"), {"login": member.email, "password": PASSWORD, "next": next_url}
    )


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def passed(client, member):
    request = RequestFactory().get("/")
    request.user, request.session = member, client.session
    return two_factor.session_passed_two_factor(request)


@pytest.fixture
def approver():
    # Lower case: pages checked for sentence case say "You are logged in as <name>."
    member = MemberFactory(is_staff=True, display_name="ada")
    member.user_permissions.add(
        _permission("approve_payout"), Permission.objects.get(codename="view_member")
    )
    return member


@pytest.fixture
def refunder():
    group = Group.objects.create(name="Refunds")
    group.permissions.add(_permission("refund_pledge"))
    member = MemberFactory(is_staff=True)
    member.groups.add(group)
    return member


# --- who must have it -----------------------------------------------------------------------
def test_staff_holding_a_money_permission_directly_through_a_group_or_as_superuser_need_it(
    approver, refunder
):
    superuser = MemberFactory(is_staff=True, is_superuser=True)
    assert two_factor.requires_two_factor(approver)
    assert two_factor.requires_two_factor(refunder)
    assert two_factor.requires_two_factor(superuser)


def test_reviewers_members_and_non_staff_holders_do_not_need_it():
    reviewer = ReviewerFactory()
    holder_not_staff = MemberFactory()
    holder_not_staff.user_permissions.add(_permission("approve_payout"))
    former = MemberFactory(is_staff=True, is_active=False)
    former.user_permissions.add(_permission("approve_payout"))
    assert not two_factor.requires_two_factor(reviewer)
    assert not two_factor.requires_two_factor(MemberFactory())
    assert not two_factor.requires_two_factor(holder_not_staff)
    assert not two_factor.requires_two_factor(former)
    assert not two_factor.requires_two_factor(None)


def test_is_enrolled_means_an_authenticator_app(approver):
    assert not two_factor.is_enrolled(approver)
    RecoveryCodes.activate(approver)  # recovery codes alone are not an app
    assert not two_factor.is_enrolled(approver)
    TOTP.activate(approver, generate_totp_secret())
    assert two_factor.is_enrolled(approver)


# --- the admin ------------------------------------------------------------------------------
def test_a_reviewer_is_not_forced_and_may_enrol(client):
    client.force_login(ReviewerFactory())
    assert client.get(ADMIN).status_code == 200
    assert client.get(reverse("mfa_index")).status_code == 200


def test_an_approver_without_an_app_is_sent_to_set_one_up_from_every_admin_page(client, approver):
    client.force_login(approver)
    for url in (ADMIN, MEMBERS_ADMIN):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == reverse("mfa_activate_totp")
    assert any("two-factor authentication" in m for m in messages_of(response))
    assert client.post(MEMBERS_ADMIN, {"action": "delete_selected"})["Location"] == reverse(
        "mfa_activate_totp"
    )


def test_a_superuser_without_an_app_is_sent_to_set_one_up(client):
    client.force_login(MemberFactory(is_staff=True, is_superuser=True))
    assert client.get(ADMIN)["Location"] == reverse("mfa_activate_totp")


def test_an_approver_enrols_through_allauths_pages_then_enters_a_code_and_the_admin_opens(
    client, approver
):
    assert log_in(client, approver)["Location"] == ADMIN
    activate = reverse("mfa_activate_totp")
    assert client.get(ADMIN)["Location"] == activate
    # allauth asks for the password again before an authenticator is added.
    response = client.get(activate)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_reauthenticate"))
    response = client.post(
        reverse("account_reauthenticate"), {"password": PASSWORD, "next": activate}
    )
    assert response["Location"] == activate
    page = client.get(activate)
    assert page.status_code == 200
    secret = client.session[SECRET_SESSION_KEY]
    assert secret in page.content.decode()  # the key to type in, beside the QR code
    assert_sentence_case(page)

    response = client.post(activate, {"code": code_for(secret)})
    assert response["Location"] == reverse("mfa_view_recovery_codes")
    assert two_factor.is_enrolled(approver)
    codes = client.get(reverse("mfa_view_recovery_codes"))
    unused = Authenticator.objects.get(user=approver, type="recovery_codes").wrap()
    assert unused.get_unused_codes()[0] in codes.content.decode()
    assert_sentence_case(codes)

    # This session logged in with a password alone: the admin now wants a code.
    response = client.get(ADMIN)
    assert response["Location"] == f"{reverse('mfa_reauthenticate')}?next=%2Fadmin%2F"
    response = client.post(reverse("mfa_reauthenticate"), {"code": code_for(secret), "next": ADMIN})
    assert response["Location"] == ADMIN
    assert client.get(ADMIN).status_code == 200


def test_an_enrolled_approver_whose_session_entered_no_code_is_asked_for_one(client, approver):
    secret = enrol(approver)
    client.force_login(approver)  # a session that skipped the login's code
    assert not passed(client, approver)
    response = client.get(MEMBERS_ADMIN + "?q=ada")
    assert response.status_code == 302
    assert response["Location"] == (
        f"{reverse('mfa_reauthenticate')}?next=%2Fadmin%2Fmembers%2Fmember%2F%3Fq%3Dada"
    )
    page = client.get(response["Location"])
    assert_sentence_case(page)
    assert "Use your password" not in page.content.decode()  # a password would not open it

    wrong = client.post(reverse("mfa_reauthenticate"), {"code": "000000", "next": ADMIN})
    if code_for(secret) != "000000":
        assert wrong.status_code == 200
        assert "Incorrect code" in wrong.content.decode()
        assert client.get(ADMIN).status_code == 302

    next_url = MEMBERS_ADMIN + "?q=ada"
    response = client.post(
        reverse("mfa_reauthenticate"), {"code": code_for(secret), "next": next_url}
    )
    assert response["Location"] == next_url
    assert client.get(next_url).status_code == 200
    assert passed(client, approver)


def test_an_approver_who_logs_in_with_password_and_code_reaches_the_admin(client, approver):
    secret = enrol(approver)
    response = client.get(ADMIN)
    assert response["Location"].startswith(reverse("admin:login"))
    # The admin's login is allauth's, so its two-factor stage applies.
    response = client.get(response["Location"])
    assert response["Location"] == f"{reverse('account_login')}?next=%2Fadmin%2F"

    response = log_in(client, approver)
    assert response["Location"] == reverse("mfa_authenticate")
    stage = client.get(reverse("mfa_authenticate"))
    assert_sentence_case(stage)
    assert "_auth_user_id" not in client.session  # a password alone logs nobody in

    response = client.post(reverse("mfa_authenticate"), {"code": code_for(secret)})
    assert response["Location"] == ADMIN
    assert client.get(ADMIN).status_code == 200
    assert passed(client, approver)


def test_a_recovery_code_at_login_opens_the_admin_once(client, approver):
    enrol(approver)
    recovery_code = RecoveryCodes.activate(approver).get_unused_codes()[0]
    assert log_in(client, approver)["Location"] == reverse("mfa_authenticate")
    response = client.post(reverse("mfa_authenticate"), {"code": recovery_code})
    assert response["Location"] == ADMIN
    assert client.get(ADMIN).status_code == 200

    client.logout()
    log_in(client, approver)
    again = client.post(reverse("mfa_authenticate"), {"code": recovery_code})
    assert again.status_code == 200
    assert "Incorrect code" in again.content.decode()


def test_logging_out_of_the_admin_is_never_held_up(client, approver):
    client.force_login(approver)
    response = client.post(reverse("admin:logout"))
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_members_pages_are_unaffected_for_staff_who_have_not_enrolled(client, approver):
    client.force_login(approver)
    assert client.get(reverse("home")).status_code == 200
    assert client.get(reverse("members:edit_profile")).status_code == 200
    assert client.get(reverse("account_email")).status_code == 200


def test_two_factor_pages_are_in_sentence_case(client, approver):
    secret = enrol(approver)
    client.force_login(approver)
    client.post(reverse("mfa_reauthenticate"), {"code": code_for(secret)})
    for name in (
        "mfa_index",
        "mfa_deactivate_totp",
        "mfa_view_recovery_codes",
        "mfa_generate_recovery_codes",
    ):
        assert_sentence_case(client.get(reverse(name)))
