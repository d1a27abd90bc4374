"""The organizer's payout pages: the member's payout account (Stripe Connect onboarding, or a
bank account our team pays by hand), a campaign's payouts (what it holds, what was asked for
and paid, for its whole team) and the payout request (its organizer only).

Views parse a form, call one service and render or redirect. A DomainError lands on the form
next to the field it names (or in a message); NotPermitted and campaigns the member does not
help organize are a 404; a co-organizer asking for a payout gets a 403 that says why.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext, gettext_noop, ngettext
from django.views.decorators.http import require_POST

from campaigns.models import Campaign
from campaigns.views.organizer import STEPS
from core.errors import DomainError, NotPermitted
from payouts import services
from payouts.forms import BankAccountForm, PayoutRequestForm
from payouts.models import Payout, PayoutAccount
from payouts.selectors import payout_breakdown, payouts_for
from payouts.transparency import has_money_page

Verification = PayoutAccount.Verification
WHEN = "j M Y, H:i"


def _posted(request):
    """The POST data to bind a form to (even when empty), or None for a GET."""
    return request.POST if request.method == "POST" else None


# --- the payout account ------------------------------------------------------------------------

# Stripe's requirement names (by prefix, most specific first) in words an organizer knows.
_REQUIREMENT_WORDS = [
    (
        "individual.verification.additional_document",
        gettext_noop("A document that proves your address"),
    ),
    ("individual.verification", gettext_noop("An identity document")),
    ("individual.address", gettext_noop("Your address")),
    ("individual.dob", gettext_noop("Your date of birth")),
    ("individual.first_name", gettext_noop("Your name")),
    ("individual.last_name", gettext_noop("Your name")),
    ("individual.email", gettext_noop("Your email address")),
    ("individual.phone", gettext_noop("Your phone number")),
    ("individual.id_number", gettext_noop("Your national ID number")),
    ("individual.ssn_last_4", gettext_noop("Your national ID number")),
    ("individual", gettext_noop("Details about you")),
    ("representative", gettext_noop("Details of your organisation's representative")),
    ("owners", gettext_noop("Who owns your organisation")),
    ("directors", gettext_noop("Who runs your organisation")),
    ("company", gettext_noop("Your organisation's details")),
    ("business_type", gettext_noop("Whether you are an individual or an organisation")),
    ("business_profile", gettext_noop("What your activity is")),
    ("external_account", gettext_noop("The bank account to pay into")),
    ("tos_acceptance", gettext_noop("Accepting Stripe's terms of service")),
]


def requirements_in_words(codes):
    """What Stripe still needs, in words, each once, in Stripe's order."""
    words = []
    for code in codes:
        text = next(
            (text for prefix, text in _REQUIREMENT_WORDS if code.startswith(prefix)),
            gettext_noop("Other details Stripe asks for"),
        )
        text = gettext(text)
        if text not in words:
            words.append(text)
    return words


def _verification_words(account):
    """A sentence saying where the account stands and what happens to payouts."""
    if account is None or not account.is_set_up:
        return gettext(
            "You have no payout account yet. Set one up before you request a payout: it is "
            "where the money goes."
        )
    if account.method == PayoutAccount.Method.BANK_TRANSFER:
        return gettext(
            "Our team pays approved payouts into this bank account by hand and records the "
            "bank's reference."
        )
    return {
        Verification.NOT_STARTED: gettext(
            "You have not set up payouts with Stripe yet. It takes a few minutes: Stripe asks "
            "who you are and which bank account to pay into."
        ),
        Verification.PENDING: gettext(
            "You started setting up payouts with Stripe but did not finish. Continue where you "
            "left off."
        ),
        Verification.RESTRICTED: gettext(
            "Stripe needs more details before it can pay you. Until then, payout requests are "
            "put on hold."
        ),
        Verification.VERIFIED: gettext(
            "Stripe has verified your account: approved payouts are transferred to it."
        ),
    }[account.verification]


@login_required
def account(request):
    """The member's payout account: where it stands, Connect onboarding, the bank form."""
    payout_account = services.payout_account_for(request.user)
    form = BankAccountForm(
        _posted(request),
        initial={"account_holder": payout_account.account_holder if payout_account else ""},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.save_bank_account(
                request.user,
                iban=form.cleaned_data["iban"],
                account_holder=form.cleaned_data["account_holder"],
            )
        except NotPermitted:
            raise
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(
                request,
                gettext("Bank account saved. Approved payouts are paid into it by bank transfer."),
            )
            return redirect("payouts:account")
    if form.is_bound and "iban" not in form.errors:
        # A valid IBAN is not shown back (another field was refused): it is typed again.
        form.data = form.data.copy()
        form.data["iban"] = ""
    has_connect = bool(payout_account and payout_account.stripe_account_id)
    uses_connect = payout_account is None or (
        payout_account.method == PayoutAccount.Method.STRIPE_CONNECT
    )
    return render(
        request,
        "payouts/account.html",
        {
            "payout_account": payout_account,
            "uses_connect": uses_connect,
            "has_connect": has_connect,
            "in_words": _verification_words(payout_account),
            "requirements": requirements_in_words(payout_account.requirements_due)
            if uses_connect and has_connect
            else [],
            "form": form,
        },
    )


def _to_onboarding(request):
    """Redirect to the provider's hosted onboarding (a new link each time: it works once)."""
    try:
        url = services.start_onboarding(
            request.user,
            return_url=request.build_absolute_uri(reverse("payouts:onboarding_return")),
            refresh_url=request.build_absolute_uri(reverse("payouts:onboarding_refresh")),
        )
    except NotPermitted:
        raise
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("payouts:account")
    return redirect(url)


@login_required
@require_POST
def onboard(request):
    """ "Set up payouts with Stripe" / "Continue onboarding"."""
    return _to_onboarding(request)


@login_required
def onboarding_refresh(request):
    """Where Stripe sends the member when the link expired: a new link.

    A GET (Stripe's redirect), so it only continues a Connect account already in use: a link
    from elsewhere cannot switch someone's payouts away from their bank account."""
    payout_account = services.payout_account_for(request.user)
    if (
        payout_account is None
        or not payout_account.stripe_account_id
        or payout_account.method != PayoutAccount.Method.STRIPE_CONNECT
    ):
        return redirect("payouts:account")
    return _to_onboarding(request)


@login_required
def onboarding_return(request):
    """Where Stripe sends the member back: ask how the account stands now (the webhook may
    not have arrived yet) and say so."""
    try:
        payout_account = services.refresh_connected_account(request.user)
    except NotPermitted:
        raise
    except DomainError:
        messages.warning(
            request,
            gettext(
                "We could not ask Stripe how your account stands just now. This page shows it "
                "as soon as Stripe tells us."
            ),
        )
        return redirect("payouts:account")
    if payout_account is None or not payout_account.stripe_account_id:
        return redirect("payouts:account")
    verification = payout_account.verification
    if verification == Verification.VERIFIED:
        messages.success(
            request,
            gettext("Your payout account is verified. Approved payouts are transferred to it."),
        )
    elif verification == Verification.RESTRICTED:
        messages.warning(
            request,
            gettext(
                "Stripe needs more details before it can pay you: see what is still due below."
            ),
        )
    else:
        messages.info(
            request,
            gettext(
                "You have not finished setting up payouts with Stripe yet. Continue when you are "
                "ready."
            ),
        )
    return redirect("payouts:account")


@login_required
@require_POST
def use_stripe(request):
    """Switch future payouts back to the member's Stripe account."""
    payout_account = services.use_stripe_connect(request.user)
    if payout_account.is_verified:
        messages.success(request, gettext("Payouts will be transferred to your Stripe account."))
    else:
        messages.info(
            request,
            gettext("Payouts will go through Stripe. Finish setting it up to be paid."),
        )
    return redirect("payouts:account")


# --- a campaign's payouts ------------------------------------------------------------------------


def _team_campaign(request, pk):
    """The campaign if the member organizes it or is an accepted co-organizer; else a 404."""
    return get_object_or_404(Campaign.objects.editable_by(request.user), pk=pk)


def _destination_words(payout, *, is_owner):
    if payout.method == PayoutAccount.Method.BANK_TRANSFER:
        return payout.destination  # the masked IBAN, fixed when it was requested
    # A connected account's id ("acct_…") means nothing to a person: name whose account it is.
    if is_owner:
        return gettext("your Stripe account")
    return gettext("the organizer's Stripe account")


def _when(value):
    return date_format(timezone.localtime(value), WHEN) if value else ""


def _where_it_stands(payout, now, *, is_owner):
    """One sentence for the payout's status."""
    Status = Payout.Status
    status = payout.status
    if status == Status.REQUESTED:
        if payout.review_window_ends_at > now and payout.window_waived_at is None:
            return gettext(
                "Published on the campaign's Money page until %(date)s; our team reviews it after "
                "that."
            ) % {"date": _when(payout.review_window_ends_at)}
        return gettext("With our team for review.")
    if status == Status.ON_HOLD:
        if payout.hold_kind == Payout.HoldKind.ACCOUNT_UNVERIFIED:
            return gettext("On hold until the organizer's payout account is verified.")
        if payout.hold_kind == Payout.HoldKind.DISPUTE:
            return gettext("On hold while a supporter's dispute is open.")
        return gettext("On hold: our team will look at it again.")
    if status == Status.APPROVED:
        return gettext("Approved; the transfer starts shortly.")
    if status == Status.PROCESSING:
        return gettext("Being transferred to %(destination)s.") % {
            "destination": _destination_words(payout, is_owner=is_owner)
        }
    if status == Status.PAID:
        return gettext("Paid on %(date)s to %(destination)s.") % {
            "date": _when(payout.paid_at),
            "destination": _destination_words(payout, is_owner=is_owner),
        }
    if status == Status.FAILED:
        return gettext("The transfer failed; the money is back with the campaign.")
    return gettext("Not approved: nothing was paid.")  # rejected


@login_required
def campaign_payouts(request, pk):
    """The campaign's money (the breakdown) and its payouts, for the campaign's team."""
    campaign = _team_campaign(request, pk)
    breakdown = payout_breakdown(campaign)
    now = timezone.now()
    is_owner = services.can_request_payouts(campaign, request.user)
    rows = [
        {
            "payout": payout,
            "where_it_stands": _where_it_stands(payout, now, is_owner=is_owner),
            "shows_reason": payout.status in (Payout.Status.ON_HOLD, Payout.Status.REJECTED)
            and bool(payout.decision_reason),
            "shows_failure": payout.status != Payout.Status.PAID and bool(payout.failure_message),
        }
        for payout in payouts_for(campaign)
    ]
    payable = campaign.status in services.PAYABLE_CAMPAIGN_STATUSES
    return render(
        request,
        "payouts/campaign.html",
        {
            "campaign": campaign,
            "steps": STEPS,
            "step": "payouts",
            "breakdown": breakdown,
            "platform_fee_percent": settings.PLATFORM_FEE_PERCENT,
            "rows": rows,
            "is_owner": is_owner,
            "payable": payable,
            "can_request": is_owner and payable and breakdown.available > 0,
            "has_money_page": has_money_page(campaign),
        },
    )


# --- requesting a payout -------------------------------------------------------------------------


def _only_the_organizer(request, campaign, message=None):
    return render(
        request,
        "payouts/not_organizer.html",
        {
            "campaign": campaign,
            "steps": STEPS,
            "step": "payouts",
            "message": message or services.NOT_ORGANIZER,
        },
        status=403,
    )


def _why_no_form(campaign, payout_account, breakdown):
    """(reason, whether to link to the account page) when a request cannot be made now, the
    same checks request_payout makes first, so the page does not offer a form that fails."""
    if payout_account is None or not payout_account.is_set_up:
        return (
            gettext("Set up your payout account first: that is where the money will go."),
            True,
        )
    if campaign.status not in services.PAYABLE_CAMPAIGN_STATUSES:
        if campaign.status in (Campaign.Status.CANCELLED, Campaign.Status.FAILED):
            return gettext("This campaign was not funded: there is no money to pay out."), False
        return (
            gettext(
                "Payouts can be requested once the campaign has ended and its money is collected."
            ),
            False,
        )
    if breakdown.available <= 0:
        return (
            gettext(
                "Nothing is available to request right now: the campaign's money is paid out "
                "or asked for."
            ),
            False,
        )
    return None


def _window_hours():
    """(the review window's hours as people read them, the number that picks the plural)."""
    hours = float(settings.PAYOUT_REVIEW_WINDOW_HOURS)
    return f"{hours:g}", round(hours)


def _review_window_sentence():
    shown, count = _window_hours()
    return ngettext(
        "Supporters see your request, its note and its receipts on the campaign's Money page "
        "for %(hours)s hour; then our team reviews it.",
        "Supporters see your request, its note and its receipts on the campaign's Money page "
        "for %(hours)s hours; then our team reviews it.",
        count,
    ) % {"hours": shown}


def _requested_message(payout):
    if payout.status == Payout.Status.ON_HOLD:
        if payout.hold_kind == Payout.HoldKind.ACCOUNT_UNVERIFIED:
            return gettext(
                "Your request is saved, and on hold until your payout account is verified. It "
                "is published on the campaign's Money page meanwhile."
            )
        return gettext(
            "Your request is saved, and on hold while a supporter's dispute is open. It is "
            "published on the campaign's Money page meanwhile."
        )
    shown, count = _window_hours()
    return ngettext(
        "Your request is published on the campaign's Money page for %(hours)s hour before our "
        "team reviews it.",
        "Your request is published on the campaign's Money page for %(hours)s hours before our "
        "team reviews it.",
        count,
    ) % {"hours": shown}


@login_required
def request_payout(request, pk):
    """The request form (the organizer only): amount, budget lines, note, receipts."""
    campaign = _team_campaign(request, pk)
    if not services.can_request_payouts(campaign, request.user):
        return _only_the_organizer(request, campaign)
    breakdown = payout_breakdown(campaign)
    payout_account = services.payout_account_for(request.user)
    context = {
        "campaign": campaign,
        "steps": STEPS,
        "step": "payouts",
        "breakdown": breakdown,
        "platform_fee_percent": settings.PLATFORM_FEE_PERCENT,
        "payout_account": payout_account,
    }
    why_not = _why_no_form(campaign, payout_account, breakdown)
    if why_not is not None:
        context["why_not"], context["link_to_account"] = why_not
        return render(request, "payouts/request.html", context)
    form = PayoutRequestForm(
        _posted(request),
        request.FILES if request.method == "POST" else None,
        campaign=campaign,
        budget_items=campaign.budget_items.all(),
    )
    if request.method == "POST" and form.is_valid():
        try:
            data = form.cleaned_data
            payout = services.request_payout(
                campaign,
                by=request.user,
                amount_minor=data["amount"],
                currency=campaign.currency,
                allocations=form.allocations(),
                note=data["note"],
                receipts=data["receipts"],
            )
        except NotPermitted:
            raise Http404 from None
        except DomainError as error:
            if error.code == "not_organizer":
                return _only_the_organizer(request, campaign, error.message)
            form.add_domain_error(error)
        else:
            if payout.created:
                messages.success(request, _requested_message(payout))
            else:
                messages.info(request, gettext("This request was already sent: it is below."))
            return redirect("payouts:campaign", pk=campaign.pk)
    context["form"] = form
    context["review_window_sentence"] = _review_window_sentence()
    return render(request, "payouts/request.html", context)
