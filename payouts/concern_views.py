"""Supporters' concerns on the web: raise one, answer one (the campaign's team), both POSTs
that come back to the page they were sent from (`next`, when it is on this site) or the
campaign's page with a message; and the staff page that hides an abusive concern with a reason.

The rules are payouts.concerns'; a refusal is a message, a concern the member may not answer
is a 404, and the hide page is for staff holding payouts.approve_payout who passed two-factor
authentication, as on the admin.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from core.errors import DomainError, NotPermitted
from members import two_factor
from payouts import concerns
from payouts.models import Payout, PayoutConcern


def _safe_next(request):
    """The `next` of the form or query when it points at this site, else None."""
    next_url = request.POST.get("next") or request.GET.get("next")
    if next_url and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return next_url
    return None


def _back(request, payout):
    next_url = _safe_next(request)
    if next_url:
        return HttpResponseRedirect(next_url)
    campaign_url = payout.campaign.get_absolute_url()
    return HttpResponseRedirect(f"{campaign_url}#concerns-{payout.public_id}")


@login_required
@require_POST
def raise_concern_view(request, public_id):
    payout = get_object_or_404(Payout.objects.select_related("campaign"), public_id=public_id)
    try:
        concerns.raise_concern(payout, by=request.user, text=request.POST.get("text", ""))
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _(
                "Your concern is published. The campaign's team can answer it, and our team "
                "reads it before deciding on the payout."
            ),
        )
    return _back(request, payout)


@login_required
@require_POST
def answer_concern_view(request, pk):
    concern = get_object_or_404(
        PayoutConcern.objects.select_related("payout__campaign"), pk=pk, hidden_at__isnull=True
    )
    try:
        concerns.answer_concern(concern, by=request.user, text=request.POST.get("text", ""))
    except NotPermitted as error:
        raise Http404(str(error)) from None
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Your answer is published."))
    return _back(request, concern.payout)


class HideConcernForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Why hide it"),
        max_length=concerns.MAX_REASON_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=gettext_lazy("Kept on the audit log and shown to other admins, not in public."),
    )


def _admin_payout_url(payout):
    """The payout's admin page, or the admin's front page while payouts have none."""
    try:
        return reverse("admin:payouts_payout_change", args=[payout.pk])
    except NoReverseMatch:
        return reverse("admin:index")


@login_required
@require_http_methods(["GET", "POST"])
def hide_concern_view(request, pk):
    """Staff: hide an abusive concern from the public, with a reason (a form page)."""
    if not concerns.can_moderate_concerns(request.user):
        raise PermissionDenied
    # The admin's two-factor rule, for this page outside /admin/ too.
    gate = two_factor.admin_gate(request)
    if gate is not None:
        return gate
    concern = get_object_or_404(
        PayoutConcern.objects.select_related("payout__campaign", "author"), pk=pk
    )
    back_url = _safe_next(request) or _admin_payout_url(concern.payout)
    form = HideConcernForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            concerns.hide_concern(concern, by=request.user, reason=form.cleaned_data["reason"])
        except DomainError as error:
            form.add_error("reason" if error.field == "reason" else None, error.message)
        else:
            messages.success(request, _("The concern is hidden from the public."))
            return HttpResponseRedirect(back_url)
    return render(
        request,
        "admin/payouts/hide_concern.html",
        {
            **admin.site.each_context(request),
            "form": form,
            "concern": concern,
            "payout": concern.payout,
            "back_url": back_url,
            "next_url": _safe_next(request) or "",
            "title": _("Hide a concern"),
            "opts": Payout._meta,
        },
        status=400 if form.is_bound else 200,
    )
