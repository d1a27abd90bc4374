"""Supporter pages: pledge form, card entry (Stripe Elements), confirmation, My pledges, and
after the deadline the payment recovery pages (confirm a payment with 3-D Secure, use another
card: pledges.recovery)."""

import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from campaigns.models import Campaign
from campaigns.selectors import campaign_for_page
from core.errors import DomainError
from core.http import client_ip
from core.money import to_major
from payments.gateway import PaymentError, get_gateway
from pledges import recovery, referrals, selectors, services, settlement, throttle
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
        referral_code, referral_source = referrals.for_pledge(request, campaign)
        try:
            pledge = services.start_pledge(
                campaign,
                supporter=request.user,
                amount_minor=data["amount"],
                reward=data["reward"],
                public_name=data["public_name"],
                anonymous=data["anonymous"],
                message=data["message"],
                share_email_with_organizer=data["share_email_with_organizer"],
                idempotency_key=data["idempotency_key"],
                referral_code=referral_code,
                referral_source=referral_source,
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
    response = render(
        request,
        "pledges/new.html",
        {"campaign": campaign, "form": form, "rewards": rewards, "quick_picks": QUICK_PICKS},
    )
    if request.method == "GET":
        referrals.remember(request, response, campaign.slug)  # a share link may lead here
    return response


def _with_new_idempotency_key(form):
    data = form.data.copy()
    data[form.add_prefix("idempotency_key")] = uuid.uuid4().hex
    fresh = type(form)(data, campaign=form.campaign, rewards=list(form.rewards.values()))
    fresh.is_valid()
    return fresh


def _stripe_context(pledge, client_secret, *, confirm="pledges:confirm"):
    return {
        "stripe_js_url": settings.STRIPE_JS_URL,
        "stripe_publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
        "client_secret": client_secret,
        "confirm_url": reverse(confirm, args=[pledge.public_id]),
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
            "try_another_url": reverse("pledges:card", args=[pledge.public_id]),
            **_stripe_context(pledge, intent.client_secret if usable else ""),
        },
    )


@login_required
@require_POST
def confirm(request, public_id):
    """Called by the card page once Stripe.js confirmed the SetupIntent."""
    return _card_saved(
        request, public_id, services.confirm_card, "Thank you! Your pledge is active."
    )


def _card_saved(request, public_id, service, success):
    """The card page's JSON call after Stripe.js saved a card: `service` uses the card."""
    pledge = selectors.pledge_of(request.user, public_id)
    try:
        service(
            pledge,
            setup_intent_id=request.POST.get("setup_intent"),
            by=request.user,
            ip=client_ip(request),
        )
    except DomainError as error:
        return JsonResponse({"error": error.message}, status=400)
    messages.success(request, success)
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
            "share_email_with_organizer": pledge.share_email_with_organizer,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.change_pledge(
                pledge,
                by=request.user,
                amount_minor=form.cleaned_data["amount"],
                reward=form.cleaned_data["reward"],
                share_email_with_organizer=form.cleaned_data["share_email_with_organizer"],
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
            "payment_state": recovery.payment_state(pledge),
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
@require_POST
def email_consent(request, public_id):
    """Give or withdraw the consent to show the organizer the email address, in any status
    after pending (rewards are delivered after the deadline): share=1 gives, share=0 withdraws."""
    pledge = selectors.pledge_of(request.user, public_id)
    share = request.POST.get("share") == "1"
    try:
        services.set_email_consent(pledge, by=request.user, share=share)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _("The organizer can now see your email address to deliver your reward.")
            if share
            else _("Your email address is no longer shown to the organizer."),
        )
    return redirect("pledges:detail", pledge.public_id)


@login_required
def mine(request):
    pledges = recovery.with_payment_states(selectors.pledges_of(request.user))
    return render(request, "pledges/mine.html", {"pledges": pledges})


# --- after the deadline: payment recovery (pledges.recovery) ---------------------------------
PROVIDER_UNREACHABLE = gettext_lazy(
    "We could not reach our payment provider. Please try again in a minute."
)


def _refused(request, pledge, refusal):
    """Nothing to pay or fix here: say why on the pledge page (which shows where it stands)."""
    pledge.refresh_from_db(fields=["status"])
    if pledge.status == Pledge.Status.COLLECTED:
        messages.success(request, _("Thank you, your pledge is collected."))
    else:
        messages.info(request, refusal.message)
    return redirect("pledges:detail", pledge.public_id)


@never_cache  # the page carries the PaymentIntent's client secret
@login_required
@require_GET
def authenticate(request, public_id):
    """Confirm a payment the bank wants to authenticate (3-D Secure), with Stripe.js."""
    pledge = selectors.pledge_of(request.user, public_id)
    try:
        payment = recovery.payment_to_authenticate(pledge, by=request.user)
    except recovery.RecoveryRefused as refusal:
        return _refused(request, pledge, refusal)
    except PaymentError:
        messages.error(request, str(PROVIDER_UNREACHABLE))
        return redirect("pledges:detail", pledge.public_id)
    return render(
        request,
        "pledges/authenticate.html",
        {
            "pledge": pledge,
            "campaign": pledge.campaign,
            "payment_method_id": payment.payment_method_id,
            "fix_by": pledge.fix_window_ends_at,
            **_stripe_context(pledge, payment.client_secret, confirm="pledges:authenticated"),
        },
    )


@login_required
@require_POST
def authenticated(request, public_id):
    """Called by the payment page once Stripe.js is done; the provider's answer decides."""
    pledge = selectors.pledge_of(request.user, public_id)
    try:
        pledge = recovery.payment_authenticated(pledge, by=request.user)
    except (settlement.ChargeInterrupted, PaymentError):
        return JsonResponse({"error": str(PROVIDER_UNREACHABLE)}, status=503)
    if pledge.status == Pledge.Status.COLLECTED:
        messages.success(request, _("Thank you, your pledge is collected."))
        url = reverse("pledges:detail", args=[pledge.public_id])
    elif pledge.status == Pledge.Status.ACTION_REQUIRED:
        messages.error(
            request,
            _("Your payment is not confirmed yet. Please try again, or use another card."),
        )
        url = reverse("pledges:authenticate", args=[pledge.public_id])
    else:
        if pledge.status == Pledge.Status.RETRYING:
            messages.error(
                request, _("Your bank did not confirm the payment. You can use another card.")
            )
        url = reverse("pledges:detail", args=[pledge.public_id])
    return JsonResponse({"redirect": url})


@never_cache
@login_required
def fix_card(request, public_id):
    """Use another card after the deadline: the card page, with a new SetupIntent.

    As on the card page, a GET only looks; "Use another card" (a POST) starts a form through
    the throttle. Saving the card charges it at once (fix_card_confirm).
    """
    pledge = selectors.pledge_of(request.user, public_id)
    ip = client_ip(request)
    if throttle.is_blocked(member=request.user, ip=ip):
        messages.error(
            request,
            _("Too many failed attempts. For your security, pledging is paused for an hour."),
        )
        return redirect("pledges:detail", pledge.public_id)
    try:
        if request.method == "POST":
            recovery.start_fix_card(pledge, by=request.user, ip=ip)
            return redirect("pledges:fix_card", pledge.public_id)
        form = recovery.fix_card_form(pledge, by=request.user, ip=ip)
    except recovery.RecoveryRefused as refusal:
        return _refused(request, pledge, refusal)
    except DomainError as error:  # the throttle, the provider
        messages.error(request, error.message)
        return redirect("pledges:detail", pledge.public_id)
    if form is not None and form.saved:
        return redirect("pledges:detail", pledge.public_id)
    usable = form is not None and form.usable
    return render(
        request,
        "pledges/card.html",
        {
            "pledge": pledge,
            "campaign": pledge.campaign,
            "fixing": True,
            "card_form_usable": usable,
            "card_form_started": form is not None,
            "card_failed": form is not None and form.card_failed,
            "fix_by": pledge.fix_window_ends_at,
            "try_another_url": reverse("pledges:fix_card", args=[pledge.public_id]),
            **_stripe_context(
                pledge, form.client_secret if usable else "", confirm="pledges:fix_card_confirm"
            ),
        },
    )


@login_required
@require_POST
def fix_card_confirm(request, public_id):
    """Called by the card page once Stripe.js saved the new card: charge it (card_fixed)."""
    return _card_saved(request, public_id, recovery.card_fixed, _("Your new card is saved."))


@login_required
@require_GET
def payment_status(request, public_id):
    """Where the payment stands, for the pledge page while a charge is being made."""
    pledge = selectors.pledge_of(request.user, public_id)
    state = recovery.payment_state(pledge)
    return JsonResponse({"state": state.key, "pending": state.pending})
