"""Read queries for the pledge pages."""

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _

from campaigns.selectors import rewards_with_stock
from pledges.models import Pledge


def pledges_of(member):
    return (
        Pledge.objects.filter(supporter=member)
        .exclude(status=Pledge.Status.CANCELLED, activated_at__isnull=True)
        .select_related("campaign", "reward")
        .order_by("-created_at")
    )


def pledge_of(member, public_id):
    """One of the member's pledges; someone else's is a 404."""
    return get_object_or_404(
        Pledge.objects.select_related("campaign", "reward", "supporter"),
        public_id=public_id,
        supporter=member,
    )


def rewards_for(campaign):
    return list(rewards_with_stock(campaign.rewards.all()))


# --- after the deadline (pledges.settlement) ------------------------------------------------
# Issuers' decline codes in words a supporter or organizer understands; others fall back to
# the generic line.
DECLINE_REASONS = {
    "authentication_required": _(
        "The bank wants the supporter to confirm the payment (3-D Secure)."
    ),
    "insufficient_funds": _("Not enough money on the card."),
    "expired_card": _("The card has expired."),
    "lost_card": _("The card was reported lost: a new card is needed."),
    "stolen_card": _("The card was reported stolen: a new card is needed."),
    "pickup_card": _("The bank asked for the card to be retained: a new card is needed."),
    "fraudulent": _("The bank suspected fraud: a new card is needed."),
    "restricted_card": _("The card cannot be used for this payment: a new card is needed."),
    "incorrect_cvc": _("The card's security code was refused."),
    "processing_error": _("The bank could not process the payment; it is tried again."),
    "do_not_honor": _("The bank declined without a reason."),
    "generic_decline": _("The bank declined the payment without a reason."),
    "card_declined": _("The bank declined the payment."),
    "no_saved_card": _("There is no saved card to charge."),
    "not_charged": _("The last try did not reach the bank; it is tried again."),
    "replaced_by_new_card": _("Replaced by a new card."),
}


def decline_reason(code):
    if not code:
        return ""
    return str(DECLINE_REASONS.get(code, _("The bank declined the payment.")))


def settlement_figures(campaign):
    """The honest figures after the deadline, for the campaign page and the organizer.

    pledged_at_deadline: what supporters had pledged when it closed (frozen on the campaign);
    collected: money actually taken, from the ledger; recovering: pledges still being charged
    or waiting for their supporter; dropped: pledges that could not be collected. Amounts in
    minor units with counts; None before the campaign closed.
    """
    from django.db.models import Count, Q, Sum

    from ledger import selectors as ledger_selectors

    if campaign.pledged_at_deadline_minor is None:
        return None
    Status = Pledge.Status
    groups = {
        "recovering": Q(status__in=Pledge.SETTLING_STATUSES),
        "dropped": Q(status=Status.DROPPED),
        # Every pledge whose money was taken, as the ledger's gross figure counts it (refunds
        # and disputes are shown apart, on the Money page).
        "collected_pledges": Q(status__in=Pledge.TAKEN_STATUSES),
    }
    totals = Pledge.objects.filter(campaign=campaign).aggregate(
        **{f"{name}_minor": Sum("amount_minor", filter=q) for name, q in groups.items()},
        **{f"{name}_count": Count("id", filter=q) for name, q in groups.items()},
    )
    return {
        "currency": campaign.currency,
        "pledged_at_deadline_minor": campaign.pledged_at_deadline_minor,
        "supporters_at_deadline": campaign.supporters_at_deadline or 0,
        "collected_minor": ledger_selectors.collected_minor(campaign.pk),
        "collected_count": totals["collected_pledges_count"],
        "recovering_minor": totals["recovering_minor"] or 0,
        "recovering_count": totals["recovering_count"],
        "dropped_minor": totals["dropped_minor"] or 0,
        "dropped_count": totals["dropped_count"],
    }


def pending_payments(campaign):
    """The organizer's payment-recovery list: pledges still being collected, oldest problem
    first, each with its attempts newest first (`attempts_newest_first`) in one query."""
    from django.db.models import Prefetch

    from pledges.models import PaymentAttempt

    return (
        Pledge.objects.filter(campaign=campaign, status__in=Pledge.SETTLING_STATUSES)
        .select_related("supporter", "reward")
        .prefetch_related(
            Prefetch(
                "attempts",
                queryset=PaymentAttempt.objects.order_by("-number"),
                to_attr="attempts_newest_first",
            )
        )
        .order_by("fix_window_ends_at", "pk")
    )
