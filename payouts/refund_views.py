"""The organizer's refund pages: a campaign's collected pledges with what each can still give
back, and the confirmation page that refunds one (payouts.refunds.refund_pledge). Also the
refund form and the list's figures, which the refund pages of the admin use too.

The campaign's organizer only: co-organizers get a 403 that says so, anyone else a 404 (as the
payout request). Supporters appear by their public name, never their email.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import F, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce, Greatest
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from campaigns.forms import MoneyField
from campaigns.views.organizer import STEPS
from core.errors import DomainError, NotPermitted
from core.money import format_money
from ledger.models import Entry
from ledger.models import Transaction as LedgerTransaction
from payouts import refunds, services
from payouts.models import Refund
from payouts.selectors import payout_breakdown
from payouts.views import _team_campaign
from pledges.models import Pledge

PER_PAGE = 50


# --- shared with the admin's refund pages -----------------------------------------------------
def with_refund_figures(pledges):
    """Pledges annotated, in the list's one query, with `collected_minor` (their contribution
    in the ledger), `refunded_minor` (succeeded refunds), `refunding_minor` (a refund still
    being made) and `refundable_minor`: what payouts.refunds.refundable_minor(pledge) says for
    one pledge (tests/payouts/test_refund_pages.py holds them equal)."""
    collected = (
        Entry.objects.filter(
            transaction__kind=LedgerTransaction.Kind.CONTRIBUTION,
            transaction__pledge_id=OuterRef("pk"),
            amount_minor__gt=0,
        )
        .order_by()
        .values("transaction__pledge_id")
        .annotate(total=Sum("amount_minor"))
        .values("total")
    )

    def refunds_in(status):
        return (
            Refund.objects.filter(pledge=OuterRef("pk"), status=status)
            .order_by()
            .values("pledge")
            .annotate(total=Sum("amount_minor"))
            .values("total")
        )

    return pledges.annotate(
        collected_minor=Coalesce(Subquery(collected), 0),
        refunded_minor=Coalesce(Subquery(refunds_in(Refund.Status.SUCCEEDED)), 0),
        refunding_minor=Coalesce(Subquery(refunds_in(Refund.Status.PENDING)), 0),
    ).annotate(
        refundable_minor=Greatest(
            F("collected_minor") - F("refunded_minor") - F("refunding_minor"), 0
        )
    )


def is_refundable(pledge):
    """An annotated pledge (with_refund_figures) that a refund could be made of now."""
    return pledge.status in Pledge.REFUNDABLE_STATUSES and pledge.refundable_minor > 0


class RefundForm(forms.Form):
    """A refund of one pledge: an amount (empty: everything left), the reason the supporter is
    emailed, and the refundable amount the page showed, so that a second submit, or a refund
    made meanwhile by someone else, is refused rather than made on figures nobody saw."""

    amount = MoneyField(
        label=_("Amount to refund"),
        required=False,
        error_messages={"not_positive": _("Enter an amount above zero.")},
    )
    reason = forms.CharField(
        label=_("Reason"),
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        max_length=refunds.MAX_REASON_LENGTH,
        help_text=_("The supporter is emailed it."),
        error_messages={"required": _("Say why the money is refunded: the supporter is told.")},
    )
    # Rendered by the templates from `refundable_minor`, never from the submitted value.
    refundable_seen = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, data=None, *, pledge, refundable_minor, **kwargs):
        super().__init__(data, **kwargs)
        self.refundable_minor = refundable_minor
        self.fields["amount"].currency = pledge.currency
        self.fields["amount"].help_text = gettext(
            "Leave it empty to refund everything left: %(left)s."
        ) % {"left": format_money(refundable_minor, pledge.currency)}

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("refundable_seen") != self.refundable_minor:
            self.errors.pop("refundable_seen", None)
            self.add_error(
                None,
                gettext(
                    "This pledge changed since the page was opened: %(left)s can be refunded "
                    "now. Check the amount and submit again."
                )
                % {"left": format_money(self.refundable_minor, self.currency)},
            )
        return cleaned

    @property
    def currency(self):
        return self.fields["amount"].currency


def refunded_message(refund, supporter_name):
    """(level, text) for the refund_pledge outcome: made, still being made, or refused."""
    amount = format_money(refund.amount_minor, refund.currency)
    if refund.status == Refund.Status.SUCCEEDED:
        return messages.SUCCESS, gettext(
            "Refunded %(amount)s to %(name)s; they are emailed the reason."
        ) % {"amount": amount, "name": supporter_name}
    if refund.status == Refund.Status.PENDING:
        return messages.INFO, gettext(
            "The payment provider is making the refund of %(amount)s. It shows as refunded, "
            "and the supporter is emailed, once the provider confirms it."
        ) % {"amount": amount}
    return messages.ERROR, gettext(
        "The payment provider refused the refund (%(error)s); nothing was refunded."
    ) % {"error": refund.failure_message.rstrip(".")}


def paid_out_consequence(breakdown, *, for_organizer=False):
    """What a refund does to money already paid out (None when nothing was), in words: to the
    admin, or to the organizer (whose transfer it is)."""
    if breakdown.paid_out <= 0 and breakdown.in_transfer <= 0:
        return None
    held = format_money(max(0, breakdown.held), breakdown.currency)
    if for_organizer:
        return gettext(
            "Part of the campaign's money was already paid out to you, and the campaign holds "
            "%(held)s now. If a refund is more than that, your Stripe payout is reversed for the "
            "difference; where it cannot be (a bank transfer), the campaign's balance goes below "
            "zero and no payout can be approved until it is made up."
        ) % {"held": held}
    return gettext(
        "Part of the campaign's money was already paid out, and the campaign holds %(held)s "
        "now. If a refund is more than that, the organizer's Stripe transfer is reversed for "
        "the difference; where it cannot be (a bank transfer), the campaign's balance goes "
        "below zero and no payout can be approved until it is made up."
    ) % {"held": held}


def why_not_refundable(pledge):
    """Why an annotated pledge cannot be refunded now, in words (None when it can)."""
    if is_refundable(pledge):
        return None
    if pledge.status == Pledge.Status.DISPUTED:
        return gettext("This payment is disputed: its supporter's bank decides, not a refund.")
    if pledge.refunding_minor:
        return gettext("A refund of this pledge is being made; try again in a minute.")
    if pledge.status in (Pledge.Status.REFUNDED, Pledge.Status.PARTIALLY_REFUNDED):
        return gettext("Everything collected for this pledge was refunded.")
    return gettext("Only a collected pledge can be refunded.")


# --- the organizer's pages --------------------------------------------------------------------
def _owner_campaign(request, pk):
    """(campaign, None) for its organizer; (campaign, the 403 page) for a co-organizer; a 404
    for anyone else."""
    campaign = _team_campaign(request, pk)
    if services.can_request_payouts(campaign, request.user):
        return campaign, None
    page = render(
        request,
        "payouts/refunds_not_organizer.html",
        {"campaign": campaign, "steps": STEPS, "step": "payouts"},
        status=403,
    )
    return campaign, page


def _refundable_pledges(campaign):
    return with_refund_figures(
        campaign.pledges.filter(status__in=Pledge.REFUNDABLE_STATUSES).select_related("supporter")
    ).order_by("collected_at", "id")


@login_required
def refunds_list(request, pk):
    """The campaign's collected and partly refunded pledges, 50 a page, a Refund link each."""
    campaign, refused = _owner_campaign(request, pk)
    if refused:
        return refused
    page = Paginator(_refundable_pledges(campaign), PER_PAGE).get_page(request.GET.get("page"))
    rows = [
        {"pledge": pledge, "name": pledge.display_name, "can_refund": is_refundable(pledge)}
        for pledge in page
    ]
    return render(
        request,
        "payouts/refunds.html",
        {"campaign": campaign, "steps": STEPS, "step": "payouts", "page": page, "rows": rows},
    )


@login_required
def refund(request, pk, pledge_public_id):
    """Refund one of the campaign's pledges: what happens, then the amount and the reason."""
    campaign, refused = _owner_campaign(request, pk)
    if refused:
        return refused
    pledge = get_object_or_404(
        with_refund_figures(campaign.pledges.select_related("supporter", "campaign")),
        public_id=pledge_public_id,
        status__in=Pledge.TAKEN_STATUSES,
    )
    name = pledge.display_name
    form = RefundForm(
        request.POST if request.method == "POST" else None,
        pledge=pledge,
        refundable_minor=pledge.refundable_minor if is_refundable(pledge) else 0,
    )
    if request.method == "POST" and is_refundable(pledge) and form.is_valid():
        try:
            made = refunds.refund_pledge(
                pledge,
                by=request.user,
                reason=form.cleaned_data["reason"],
                amount_minor=form.cleaned_data["amount"],
            )
        except NotPermitted:
            raise Http404 from None
        except refunds.RefundInterrupted as error:
            messages.warning(request, error.message)
            return redirect("payouts:refunds", pk=campaign.pk)
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            level, text = refunded_message(made, name)
            messages.add_message(request, level, text)
            return redirect("payouts:refunds", pk=campaign.pk)
    consequence = paid_out_consequence(payout_breakdown(campaign), for_organizer=True)
    return render(
        request,
        "payouts/refund.html",
        {
            "campaign": campaign,
            "steps": STEPS,
            "step": "payouts",
            "pledge": pledge,
            "name": name,
            "why_not": why_not_refundable(pledge),
            "form": form,
            "paid_out_consequence": consequence,
        },
    )
