"""Supporter pages: pledge form, card entry (Stripe Elements), confirmation, My pledges."""

import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from campaigns.models import Campaign
from campaigns.selectors import campaign_for_page
from core.errors import DomainError
from core.http import client_ip
from core.money import to_major
from payments.gateway import get_gateway
from pledges import selectors, services, throttle
from pledges.forms import QUICK_PICKS, ChangePledgeForm, PledgeForm
from pledges.models import Pledge

FORM_FIELDS = {"amount", "reward"}


def _add_error(form, error):
    form.add_error(error.field if error.field in FORM_FIELDS else None, error.message)


@login_required
def new(request, slug):
    try:
        campaign = campaign_for_page(slug, request.user)
    except Campaign.DoesNotExist:
        raise Http404 from None
    if not campaign.is_live:
        messages.error(request, "This campaign is not taking pledges.")
        return redirect(campaign)
    if campaign.organizer_id == request.user.pk:
        messages.error(request, "Organizers cannot pledge to their own campaign.")
        return redirect(campaign)
    current = campaign.pledges.filter(supporter=request.user, status=Pledge.Status.ACTIVE).first()
    if current is not None:
        messages.info(
            request, "You already support this campaign. You can change your pledge here."
        )
        return redirect("pledges:detail", current.public_id)
    rewards = list(campaign.rewards.all())
    form = PledgeForm(
        request.POST or None,
        campaign=campaign,
        rewards=rewards,
        initial={"reward": request.GET.get("reward", ""), "amount": request.GET.get("amount", "")},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            pledge = services.start_pledge(
                campaign,
                supporter=request.user,
                amount_minor=data["amount"],
                reward=data["reward"],
                public_name=data["public_name"],
                anonymous=data["anonymous"],
                message=data["message"],
                idempotency_key=data["idempotency_key"],
                ip=client_ip(request),
            )
        except services.IdempotencyKeyReused:
            # The same rendered form came back with other terms (e.g. after Back): say so,
            # and give the form a new key so that submitting it again starts a new pledge.
            form = _with_new_idempotency_key(form)
            form.add_error(
                None,
                _(
                    "This form was already sent with other details. Check your pledge "
                    "below and send it again."
                ),
            )
        except DomainError as error:
            _add_error(form, error)
        else:
            if pledge.status == Pledge.Status.ACTIVE:
                return redirect("pledges:detail", pledge.public_id)
            return redirect("pledges:card", pledge.public_id)
    return render(
        request,
        "pledges/new.html",
        {"campaign": campaign, "form": form, "rewards": rewards, "quick_picks": QUICK_PICKS},
    )


def _with_new_idempotency_key(form):
    data = form.data.copy()
    data[form.add_prefix("idempotency_key")] = uuid.uuid4().hex
    fresh = type(form)(data, campaign=form.campaign, rewards=list(form.rewards.values()))
    fresh.is_valid()
    return fresh


def _stripe_context(pledge, client_secret):
    return {
        "stripe_js_url": settings.STRIPE_JS_URL,
        "stripe_publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
        "client_secret": client_secret,
        "confirm_url": reverse("pledges:confirm", args=[pledge.public_id]),
    }


@login_required
def card(request, public_id):
    """Card entry for a pending pledge, or for replacing an active pledge's card.

    A GET only looks: it never creates a SetupIntent or spends throttle allowance. When the
    SetupIntent can no longer take a card (cancelled: declined on localstripe, failed 3-D
    Secure, or cancelled by a block) the page offers "Try another card", a POST that starts a
    new one through the throttle. Nothing is offered while the member or the IP is blocked.
    """
    pledge = selectors.pledge_of(request.user, public_id)
    if pledge.status not in Pledge.OPEN_STATUSES or not pledge.setup_intent_id:
        return redirect("pledges:detail", pledge.public_id)
    ip = client_ip(request)
    if throttle.is_blocked(member=request.user, ip=ip):
        messages.error(
            request,
            _("Too many failed attempts. For your security, pledging is paused for an hour."),
        )
        return redirect("pledges:detail", pledge.public_id)
    if request.method == "POST":  # "Try another card"
        try:
            services.start_card_update(pledge, by=request.user, ip=ip)
        except DomainError as error:
            messages.error(request, error.message)
            return redirect("pledges:detail", pledge.public_id)
        return redirect("pledges:card", pledge.public_id)
    intent = get_gateway().retrieve_setup_intent(pledge.setup_intent_id)
    if intent.status == "succeeded":
        try:
            services.confirm_card(pledge, by=request.user, ip=ip)
        except DomainError as error:
            messages.error(request, error.message)
        return redirect("pledges:detail", pledge.public_id)
    usable = intent.status != "canceled"
    return render(
        request,
        "pledges/card.html",
        {
            "pledge": pledge,
            "campaign": pledge.campaign,
            "card_form_usable": usable,
            "card_failed": intent.card_failed,
            **_stripe_context(pledge, intent.client_secret if usable else ""),
        },
    )


@login_required
@require_POST
def confirm(request, public_id):
    """Called by the card page once Stripe.js confirmed the SetupIntent."""
    pledge = selectors.pledge_of(request.user, public_id)
    try:
        services.confirm_card(
            pledge,
            setup_intent_id=request.POST.get("setup_intent"),
            by=request.user,
            ip=client_ip(request),
        )
    except DomainError as error:
        return JsonResponse({"error": error.message}, status=400)
    messages.success(request, "Thank you! Your pledge is active.")
    return JsonResponse({"redirect": reverse("pledges:detail", args=[pledge.public_id])})


@login_required
def detail(request, public_id):
    """The confirmation page and the place to change, re-card or cancel a pledge."""
    pledge = selectors.pledge_of(request.user, public_id)
    campaign = pledge.campaign
    rewards = selectors.rewards_for(campaign)
    form = ChangePledgeForm(
        request.POST or None,
        campaign=campaign,
        rewards=rewards,
        initial={
            "reward": str(pledge.reward_id or ""),
            "amount": to_major(pledge.amount_minor, pledge.currency),
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.change_pledge(
                pledge,
                by=request.user,
                amount_minor=form.cleaned_data["amount"],
                reward=form.cleaned_data["reward"],
            )
        except DomainError as error:
            _add_error(form, error)
        else:
            messages.success(request, "Your pledge was updated.")
            return redirect("pledges:detail", pledge.public_id)
    return render(
        request,
        "pledges/detail.html",
        {
            "pledge": pledge,
            "campaign": campaign,
            "form": form,
            "rewards": rewards,
            "can_change": pledge.can_change,
        },
    )


@login_required
@require_POST
def update_card(request, public_id):
    pledge = selectors.pledge_of(request.user, public_id)
    services.start_card_update(pledge, by=request.user, ip=client_ip(request))
    return redirect("pledges:card", pledge.public_id)


@login_required
@require_POST
def cancel(request, public_id):
    pledge = selectors.pledge_of(request.user, public_id)
    services.cancel_pledge(pledge, by=request.user)
    messages.success(request, "Your pledge was cancelled. Your card will not be charged.")
    return redirect("pledges:mine")


@login_required
def mine(request):
    return render(request, "pledges/mine.html", {"pledges": selectors.pledges_of(request.user)})
