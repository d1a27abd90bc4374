"""Stripe events the pledges app reacts to (registered with payments.webhooks on start-up).

Handlers run inside the webhook event's transaction: they only read and write our database
and leave provider calls to a task scheduled after commit.
"""

import logging

from django.db import transaction

from core.emails import queue_email
from core.models import record
from payments.webhooks import register
from pledges import throttle
from pledges.models import Pledge, PledgeFailure

logger = logging.getLogger(__name__)


def pledge_for_setup_intent(setup_intent):
    """The pledge a SetupIntent event is about: by our metadata first, then by its id (the
    pledge's current SetupIntent or any older one we issued for it)."""
    pledges = Pledge.objects.select_related("supporter", "campaign")
    pledge_id = str((setup_intent.get("metadata") or {}).get("pledge_id", ""))
    if pledge_id.isdigit():
        pledge = pledges.filter(pk=int(pledge_id)).first()
        if pledge is not None:
            return pledge
    setup_intent_id = setup_intent.get("id") or ""
    if not setup_intent_id:
        return None
    return (
        pledges.filter(setup_intent_id=setup_intent_id).first()
        or pledges.filter(issued_setup_intents__setup_intent_id=setup_intent_id).first()
    )


@register("setup_intent.succeeded")
def setup_intent_succeeded(event):
    """Activate the pledge (or swap its card) even if the supporter closed the page."""
    intent = event.data_object
    pledge = pledge_for_setup_intent(intent)
    if pledge is None or pledge.setup_intent_id != intent.get("id"):
        return  # not ours, or an older attempt superseded by a newer card
    if pledge.status in Pledge.SETTLING_STATUSES:
        # A new card saved on the fix form after the deadline (pledges.recovery): charge it,
        # even if the supporter closed the page before it said so.
        from pledges.recovery import FIX_PURPOSE
        from pledges.tasks import charge_fixed_card

        if (intent.get("metadata") or {}).get("purpose") == FIX_PURPOSE:
            pledge_id, setup_intent_id = pledge.pk, intent["id"]
            transaction.on_commit(lambda: charge_fixed_card.delay(pledge_id, setup_intent_id))
        return
    if pledge.status not in Pledge.OPEN_STATUSES:
        return
    from pledges.tasks import confirm_pledge_card

    transaction.on_commit(lambda: confirm_pledge_card.delay(pledge.pk, intent["id"]))


@register("setup_intent.setup_failed")
def setup_intent_failed(event):
    """A card refused on the card form: count it (once per refused card) against its member.

    Also for a card update on an active pledge, and for an older SetupIntent of the pledge:
    the attempt failed either way. The card page's confirm call may report the same one.
    Stripe does not send the client's IP: record_failure takes the IP the SetupIntent was
    issued to, so declines count against an IP even if nobody reports them to us.
    """
    intent = event.data_object
    pledge = pledge_for_setup_intent(intent)
    if pledge is None or not intent.get("id"):
        return
    error = intent.get("last_setup_error") or {}
    refused_card = error.get("payment_method") or intent.get("payment_method") or ""
    if isinstance(refused_card, dict):  # expanded, as in Stripe's events
        refused_card = refused_card.get("id") or ""
    declined = error.get("decline_code") or error.get("code") in ("card_declined", None)
    throttle.record_failure(
        member=pledge.supporter,
        ip="",  # the IP the SetupIntent was issued to (IssuedSetupIntent)
        campaign=pledge.campaign,
        reason=error.get("message") or "Card set-up failed.",
        kind=PledgeFailure.Kind.DECLINED if declined else PledgeFailure.Kind.CARD_ERROR,
        setup_intent_id=intent["id"],
        payment_method_id=refused_card,
    )


@register("payment_method.detached")
def payment_method_detached(event):
    """A card removed at Stripe: active pledges using it need a new card before the deadline."""
    payment_method_id = event.data_object.get("id", "")
    if not payment_method_id:
        return
    affected = Pledge.objects.filter(
        status=Pledge.Status.ACTIVE, payment_method_id=payment_method_id
    ).select_related("supporter", "campaign")
    for pledge in affected:
        record(pledge, action="card_detached", note=payment_method_id)
        queue_email(
            f"pledge:{pledge.pk}:card_removed:{payment_method_id}",
            pledge.supporter.email,
            "pledge_card_removed",
            {"pledge": pledge, "campaign": pledge.campaign},
        )


def attempt_for_payment_intent(payment_intent):
    """The charge attempt a PaymentIntent event is about: by its id, or (when the response
    that carried the id was lost) by the pledge and attempt number in its metadata."""
    from pledges.models import PaymentAttempt

    payment_intent_id = payment_intent.get("id") or ""
    attempts = PaymentAttempt.objects.all()
    if payment_intent_id:
        attempt = attempts.filter(payment_intent_id=payment_intent_id).first()
        if attempt is not None:
            return attempt
    metadata = payment_intent.get("metadata") or {}
    pledge, number = str(metadata.get("pledge", "")), str(metadata.get("attempt", ""))
    if not number.isdigit() or len(pledge) != 36:
        return None
    try:
        return attempts.filter(pledge__public_id=pledge, number=int(number)).first()
    except ValueError:  # not a UUID
        return None


@register(
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.requires_action",
    "payment_intent.canceled",
)
def payment_intent_changed(event):
    """A charge attempt's PaymentIntent changed: ask the provider in a task and record what it
    says now. The event's own status is not applied: events come late, twice and in any
    order, and the provider's current answer settles all of them the same way."""
    payment_intent = event.data_object
    attempt = attempt_for_payment_intent(payment_intent)
    if attempt is None:
        return  # not a pledge charge of ours
    from pledges.tasks import reconcile_attempt

    attempt_id, payment_intent_id = attempt.pk, payment_intent.get("id") or None
    transaction.on_commit(lambda: reconcile_attempt.delay(attempt_id, payment_intent_id))
