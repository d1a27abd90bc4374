"""Community pages: following a campaign, the member's notification settings and the signed
one-click unsubscribe (routes in urlpatterns, collected by community.urls)."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from campaigns.models import Campaign
from community import follows, notifications
from community.notification_forms import NotificationSettingsForm
from core.errors import DomainError, NotPermitted


# --- follow / unfollow -------------------------------------------------------------------------
def _back(request, campaign):
    """Where the form came from (`next`, a path on this site), else the campaign's page."""
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(back)
    return redirect(campaign)


@login_required
@require_POST
def follow(request, slug):
    campaign = get_object_or_404(Campaign, slug=slug)
    try:
        follows.follow(campaign, by=request.user)  # NotPermitted (not followable) → 404
    except NotPermitted:
        raise
    except DomainError as error:  # its team
        messages.error(request, error.message)
        return _back(request, campaign)
    if campaign.status == Campaign.Status.APPROVED:
        messages.success(request, _("We will email you when this campaign launches."))
    else:
        messages.success(request, _("You follow this campaign."))
    return _back(request, campaign)


@login_required
@require_POST
def unfollow(request, slug):
    campaign = get_object_or_404(Campaign, slug=slug)
    follows.unfollow(campaign, by=request.user)
    messages.success(request, _("You no longer follow “%(title)s”.") % {"title": campaign.title})
    return _back(request, campaign)


# --- notification settings ---------------------------------------------------------------------
@login_required
def notification_settings(request):
    form = NotificationSettingsForm(
        request.POST or None, instance=notifications.settings_for(request.user)
    )
    if request.method == "POST" and form.is_valid():
        notifications.set_preferences(request.user, **form.choices())
        messages.success(request, _("Your notification settings were saved."))
        return redirect("community:notification_settings")
    return render(
        request,
        "community/notifications/settings.html",
        {"form": form, "follows": follows.follows_of(request.user)},
    )


# --- one-click unsubscribe (RFC 8058) ----------------------------------------------------------
def _private(response):
    # The signed token is in the address: keep it out of indexes and other sites' logs.
    response["X-Robots-Tag"] = "noindex"
    response["Referrer-Policy"] = "no-referrer"
    return response


@csrf_exempt  # mail clients POST without cookies or a CSRF token; the signed token is the proof
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    """GET asks (link scanners fetch links; a GET never changes anything); POST, from the
    page's button or a mail client's one-click "List-Unsubscribe=One-Click", turns the kind
    off. A changed or expired link changes nothing and says so."""
    try:
        member_id, kind = notifications.read_unsubscribe_token(token)
    except notifications.BadUnsubscribeLink as error:
        return _private(_bad_link(request, expired=error.expired))
    # A deactivated member's link works too: it only turns a kind off.
    member = get_user_model().objects.filter(pk=member_id).first()
    if member is None:
        return _private(_bad_link(request, expired=False))
    context = {
        "kind_label": notifications.KIND_LABELS[kind],
        "settings_url": reverse("community:notification_settings"),
    }
    if request.method == "POST":
        notifications.unsubscribe(member, kind)
        template = "community/notifications/unsubscribed.html"
    else:
        template = "community/notifications/unsubscribe.html"
        context["action"] = request.path
    return _private(render(request, template, context))


def _bad_link(request, *, expired):
    return render(
        request,
        "community/notifications/unsubscribe_invalid.html",
        {"expired": expired, "settings_url": reverse("community:notification_settings")},
        status=400,
    )


urlpatterns = [
    path("c/<slug:slug>/follow/", follow, name="follow"),
    path("c/<slug:slug>/unfollow/", unfollow, name="unfollow"),
    path("settings/notifications/", notification_settings, name="notification_settings"),
    path("unsubscribe/<str:token>/", unsubscribe, name="unsubscribe"),
]
