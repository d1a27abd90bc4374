"""Sign-up with email verification, login, logout, password reset/change, rate limits."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse

from core.models import OutboundEmail
from members.models import Member
from tests.factories import PASSWORD, MemberFactory

pytestmark = pytest.mark.django_db

SIGNUP = {
    "display_name": "Nora Neighbour",
    "email": "nora@example.org",
    "password1": "pumpkin-lantern-harbour",
    "password2": "pumpkin-lantern-harbour",
}


def _link_in_last_email(path_fragment):
    body = mail.outbox[-1].body
    match = re.search(rf"https?://[^\s]+{path_fragment}[^\s]*", body)
    assert match, body
    return match.group(0).split("testserver", 1)[-1]


def test_signup_sends_verification_then_member_can_log_in(
    client, celery_eager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("account_signup"), SIGNUP)
    assert response.status_code == 302
    member = Member.objects.get(email="nora@example.org")
    assert member.display_name == "Nora Neighbour"
    assert not EmailAddress.objects.get(user=member).verified
    assert len(mail.outbox) == 1
    assert "nora@example.org" in mail.outbox[0].to
    # Through the outbox, like every email: stored once, with the site's HTML alternative.
    stored = OutboundEmail.objects.get(to="nora@example.org")
    assert stored.status == OutboundEmail.Status.SENT
    assert stored.template == "account/email_confirmation_signup"
    assert mail.outbox[0].alternatives[0][1] == "text/html"
    assert "/accounts/confirm-email/" in mail.outbox[0].alternatives[0][0]

    # Mandatory verification: logging in before confirming does not give a session.
    client.logout()
    client.post(
        reverse("account_login"), {"login": "nora@example.org", "password": SIGNUP["password1"]}
    )
    assert "_auth_user_id" not in client.session

    confirm_url = _link_in_last_email("/accounts/confirm-email/")
    response = client.post(confirm_url)
    assert response.status_code == 302
    assert EmailAddress.objects.get(user=member).verified

    client.logout()
    response = client.post(
        reverse("account_login"), {"login": "nora@example.org", "password": SIGNUP["password1"]}
    )
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(member.pk)


def test_email_login_is_case_insensitive(client):
    member = MemberFactory(email="casey@example.org")
    client.post(reverse("account_login"), {"login": "CASEY@Example.org", "password": PASSWORD})
    assert client.session["_auth_user_id"] == str(member.pk)


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"email": "not-an-email"}, "email", "valid email"),
        ({"password1": "12345678", "password2": "12345678"}, "password1", "too short"),
        ({"password1": "password1234", "password2": "password1234"}, "password1", "too common"),
        ({"password2": "something-else-entirely"}, "password2", "same password"),
        ({"display_name": ""}, "display_name", "required"),
    ],
)
def test_bad_signup_shows_error_next_to_field_and_creates_nothing(client, change, field, message):
    response = client.post(reverse("account_signup"), {**SIGNUP, **change})
    assert response.status_code == 200
    form = response.context["form"]
    assert message in " ".join(form.errors[field]).lower()
    assert f'id="id_{field}_errors"' in response.content.decode()
    assert not Member.objects.filter(email=SIGNUP["email"]).exists()
    assert mail.outbox == []


def test_signup_with_existing_email_creates_no_second_member(client):
    MemberFactory(email="nora@example.org")
    response = client.post(reverse("account_signup"), {**SIGNUP, "email": "Nora@Example.org"})
    # Enumeration prevention: the page looks like success, but the owner gets a notice email
    # and no second account exists.
    assert Member.objects.filter(email__iexact="nora@example.org").count() == 1
    assert response.status_code in (200, 302)


def test_password_reset_by_email(client, celery_eager, django_capture_on_commit_callbacks):
    member = MemberFactory(email="reset@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("account_reset_password"), {"email": "reset@example.org"})
    assert response.status_code == 302
    reset_url = _link_in_last_email("/accounts/password/reset/key/")
    response = client.get(reset_url, follow=True)
    form_url = response.redirect_chain[-1][0] if response.redirect_chain else reset_url
    response = client.post(
        form_url, {"password1": "a-brand-new-secret-77", "password2": "a-brand-new-secret-77"}
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.check_password("a-brand-new-secret-77")


def test_password_change_requires_login_and_old_password(client):
    member = MemberFactory()
    url = reverse("account_change_password")
    assert client.get(url).status_code == 302
    client.force_login(member)
    response = client.post(
        url,
        {
            "oldpassword": "wrong",
            "password1": "x-new-pass-word-9",
            "password2": "x-new-pass-word-9",
        },
    )
    assert response.status_code == 200
    response = client.post(
        url,
        {
            "oldpassword": PASSWORD,
            "password1": "x-new-pass-word-9",
            "password2": "x-new-pass-word-9",
        },
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.check_password("x-new-pass-word-9")


def test_login_failures_are_rate_limited(client):
    member = MemberFactory(email="target@example.org")
    for _ in range(5):
        response = client.post(
            reverse("account_login"), {"login": member.email, "password": "nope"}
        )
        assert response.status_code == 200
    # Even the right password is refused while the limit holds.
    response = client.post(reverse("account_login"), {"login": member.email, "password": PASSWORD})
    assert "_auth_user_id" not in client.session
    assert response.status_code in (200, 429)
    assert "too many failed login attempts" in response.content.decode().lower()


def test_logout(member_client):
    response = member_client.post(reverse("account_logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in member_client.session


def test_public_profile_and_edit(client, member):
    response = client.get(member.get_absolute_url())
    assert response.status_code == 200
    assert member.display_name in response.content.decode()

    client.force_login(member)
    response = client.post(
        reverse("members:edit_profile"),
        {"display_name": "New Name", "bio": "I grow tomatoes.", "location": "Antwerp"},
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert (member.display_name, member.location) == ("New Name", "Antwerp")
    assert "I grow tomatoes." in client.get(member.get_absolute_url()).content.decode()


def test_profile_of_inactive_member_is_404(client):
    member = MemberFactory(is_active=False)
    assert client.get(member.get_absolute_url()).status_code == 404


def test_members_admin_search(admin_client):
    MemberFactory(email="findme@example.org", display_name="Findable Person")
    response = admin_client.get(reverse("admin:members_member_changelist"), {"q": "Findable"})
    assert response.status_code == 200
    assert "findme@example.org" in response.content.decode()
