"""Two-factor authentication for staff who can move money: who must have it, whether they do,
and whether this session passed it. allauth.mfa does the rest (TOTP, recovery codes, the
login stage that asks for a code); members.middleware enforces it on the admin.

- `requires_two_factor(member)`: staff holding payouts.approve_payout or payouts.refund_pledge
  (directly, through a group, or as a superuser).
- `is_enrolled(member)`: the member has an authenticator app (TOTP). The payout services
  check it for the approver (`by=`).
- `session_passed_two_factor(request)`: this session's member entered a code from their app
  (or a recovery code): at login, or since through allauth's "confirm it is you" with a code.
  Admin views that move money check it on top of the middleware.
"""

from allauth.account.authentication import get_authentication_records
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from django.contrib import messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

# The permissions that move money (on payouts.Payout's Meta; checked by name only, so this
# module does not import payouts).
APPROVE_PAYOUT = "payouts.approve_payout"
REFUND_PLEDGE = "payouts.refund_pledge"
MONEY_PERMISSIONS = (APPROVE_PAYOUT, REFUND_PLEDGE)


def requires_two_factor(member) -> bool:
    """Staff who can approve payouts or refund pledges (superusers hold every permission)."""
    if member is None or not member.is_authenticated or not member.is_staff:
        return False
    return any(member.has_perm(permission) for permission in MONEY_PERMISSIONS)


def is_enrolled(member) -> bool:
    """The member has activated an authenticator app (allauth's TOTP). Recovery codes alone do
    not count: allauth deletes them with the app."""
    if member is None or not member.is_authenticated:
        return False
    return is_mfa_enabled(member, [Authenticator.Type.TOTP])


def session_passed_two_factor(request) -> bool:
    """This session's member is enrolled and entered one of their codes in this session.

    allauth writes every step of a login into the session (method "mfa" once a TOTP or
    recovery code was accepted, at the login stage or when re-authenticating) and keeps that
    list only for the member it was written for. A session opened by a password alone, by
    `force_login`, or before the member enrolled has no such step.
    """
    member = getattr(request, "user", None)
    if not is_enrolled(member):
        return False
    return any(
        record.get("method") == "mfa" for record in get_authentication_records(request, member)
    )


def admin_gate(request):
    """None when this request may use the admin; else the redirect that makes it so: enrolment
    for a money-moving staff member without an app, a code for one whose session has not
    entered one. Everyone else (members, other staff) passes: the admin decides for them."""
    member = request.user
    if not requires_two_factor(member):
        return None
    if not is_enrolled(member):
        messages.warning(
            request,
            _(
                "You can approve payouts or refund pledges, so the admin needs two-factor "
                "authentication. Set up an authenticator app to continue."
            ),
        )
        return HttpResponseRedirect(reverse("mfa_activate_totp"))
    if not session_passed_two_factor(request):
        messages.info(
            request, _("Enter a code from your authenticator app to continue to the admin.")
        )
        next_url = request.get_full_path() if request.method == "GET" else reverse("admin:index")
        return HttpResponseRedirect(
            f"{reverse('mfa_reauthenticate')}?{urlencode({'next': next_url})}"
        )
    return None
