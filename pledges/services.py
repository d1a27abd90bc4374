"""Every write to pledges: start (card set-up), activate, change, update card, cancel, release.

Money rules: amounts are integer minor units in the campaign's currency; a member holds one
open pledge per campaign; a limited reward never oversells (its row is locked while a pledge
claims it); nothing is accepted or changed after the deadline. Calls to the payment provider
happen outside database locks: we write our row, commit, call, then record the result.
"""

import hashlib
import json
import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns import page_cache
from campaigns.models import Campaign, RewardTier
from core.emails import send_templated_email
from core.errors import DomainError, NotPermitted
from core.models import record
from core.money import format_money
from core.transitions import transition
from pledges import throttle
from pledges.models import Pledge, PledgeFailure

logger = logging.getLogger(__name__)
Status = Pledge.Status


class IdempotencyKeyReused(DomainError):
    """The same Idempotency-Key came back with different pledge terms (Stripe's rule: refuse)."""

    code = "idempotency_key_reused"


# --- validation -----------------------------------------------------------------------------
def _require_open_campaign(campaign, now=None):
    now = now or timezone.now()
    if campaign.status != Campaign.Status.LIVE or campaign.deadline is None:
        raise DomainError("This campaign is not taking pledges.")
    if campaign.deadline <= now:
        raise DomainError("This campaign has ended; pledges are closed.")


def validate_pledge_terms(campaign, *, supporter, amount_minor, reward, currency=None):
    """Raise DomainError (with the offending field) unless these pledge terms are acceptable."""
    _require_open_campaign(campaign)
    if campaign.organizer_id == supporter.pk:
        raise DomainError("Organizers cannot pledge to their own campaign.")
    if currency is not None and currency != campaign.currency:
        raise DomainError(f"This campaign collects {campaign.currency}.", field="currency")
    if amount_minor <= 0:
        raise DomainError("Enter an amount above zero.", field="amount")
    if amount_minor < settings.MIN_PLEDGE_MINOR:
        minimum = format_money(settings.MIN_PLEDGE_MINOR, campaign.currency)
        raise DomainError(f"The smallest pledge is {minimum}.", field="amount")
    if amount_minor > settings.MAX_PLEDGE_MINOR:
        maximum = format_money(settings.MAX_PLEDGE_MINOR, campaign.currency)
        raise DomainError(f"The largest pledge is {maximum}.", field="amount")
    if reward is None:
        if not campaign.allow_no_reward:
            raise DomainError("Choose a reward.", field="reward")
    else:
        if reward.campaign_id != campaign.pk:
            raise DomainError("That reward is not part of this campaign.", field="reward")
        if amount_minor < reward.minimum_minor:
            minimum = format_money(reward.minimum_minor, campaign.currency)
            raise DomainError(
                f"“{reward.title}” needs a pledge of at least {minimum}.", field="amount"
            )


def _claimed(reward, exclude=None):
    pledges = reward.pledges.filter(status__in=Pledge.COUNTED_STATUSES)
    if exclude is not None:
        pledges = pledges.exclude(pk=exclude.pk)
    return pledges.aggregate(n=Count("id"))["n"]


def _require_stock(reward, *, exclude=None):
    """Raise unless a limited reward has a unit left (a read; _claim_reward locks first)."""
    if reward is None or reward.quantity_limit is None:
        return
    if _claimed(reward, exclude=exclude) >= reward.quantity_limit:
        raise DomainError(f"“{reward.title}” has sold out.", field="reward")


def _claim_reward(reward, pledge):
    """Lock a limited reward and check one more unit is left (call inside a transaction)."""
    if reward is None or reward.quantity_limit is None:
        return
    _require_stock(RewardTier.objects.select_for_update().get(pk=reward.pk), exclude=pledge)


# --- the pledge flow ------------------------------------------------------------------------
def pledge_fingerprint(campaign, *, reward, amount_minor, public_name, anonymous, message):
    """A hash of a pledge request's terms, stored with its idempotency key."""
    terms = [
        campaign.pk,
        reward.pk if reward is not None else None,
        int(amount_minor),
        campaign.currency,
        public_name.strip(),
        bool(anonymous),
        message.strip(),
    ]
    return hashlib.sha256(json.dumps(terms, ensure_ascii=False).encode()).hexdigest()


def _replay(existing, fingerprint, gateway):
    """The pledge a reused idempotency key made, if the terms are the same; refuse if not."""
    # Pledges made before fingerprints were stored cannot be compared: treat as a replay.
    if existing.idempotency_fingerprint and existing.idempotency_fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            _(
                "This idempotency key was already used for a pledge with other terms. "
                "Use a new key for a new pledge."
            )
        )
    pledge = _with_client_secret(existing, gateway)
    pledge.replayed = True
    return pledge


def start_pledge(
    campaign,
    *,
    supporter,
    amount_minor,
    reward=None,
    public_name="",
    anonymous=False,
    message="",
    idempotency_key="",
    ip="",
    gateway=None,
):
    """Create a pending pledge and a SetupIntent for the card form.

    Returns the pledge; its `setup_intent_id` holds the SetupIntent and `client_secret` is
    set on the returned object for the page. The same idempotency_key with the same terms
    returns the same pledge with `replayed = True` (a new one has `replayed = False`); with
    other terms it raises IdempotencyKeyReused. A key whose attempt failed at the provider
    (cancelled before it was ever active) may start afresh.
    """
    from payments.gateway import PaymentDeclined, PaymentError, get_gateway
    from payments.services import ensure_customer

    gateway = gateway or get_gateway()
    fingerprint = ""
    if idempotency_key:  # a retried request (double click, network retry) gets the same pledge
        fingerprint = pledge_fingerprint(
            campaign,
            reward=reward,
            amount_minor=amount_minor,
            public_name=public_name,
            anonymous=anonymous,
            message=message,
        )
        existing = Pledge.objects.filter(
            supporter=supporter, idempotency_key=idempotency_key
        ).first()
        if (
            existing is not None
            and existing.status == Status.CANCELLED
            and not existing.activated_at
        ):
            # That attempt failed (e.g. the provider was down): the retry may start afresh.
            Pledge.objects.filter(pk=existing.pk).update(
                idempotency_key="", idempotency_fingerprint=""
            )
        elif existing is not None:
            return _replay(existing, fingerprint, gateway)
    throttle.check(member=supporter, ip=ip)
    if Pledge.objects.filter(campaign=campaign, supporter=supporter, status=Status.ACTIVE).exists():
        raise DomainError("You already support this campaign; change your pledge instead.")
    # A mistyped amount is not card testing: form errors are never counted as failures.
    validate_pledge_terms(campaign, supporter=supporter, amount_minor=amount_minor, reward=reward)
    _require_stock(reward)  # early, friendly; activation checks again under a lock

    with transaction.atomic():
        # An abandoned earlier attempt (pending) is replaced rather than duplicated.
        for stale in Pledge.objects.select_for_update().filter(
            campaign=campaign, supporter=supporter, status=Status.PENDING
        ):
            transition(stale, Status.CANCELLED, by=supporter, note="Replaced by a new attempt.")
        try:
            with transaction.atomic():  # a savepoint, so the raced lookup below can still run
                pledge = Pledge.objects.create(
                    campaign=campaign,
                    supporter=supporter,
                    reward=reward,
                    amount_minor=amount_minor,
                    currency=campaign.currency,
                    public_name=public_name.strip(),
                    anonymous=anonymous,
                    message=message.strip(),
                    idempotency_key=idempotency_key,
                    idempotency_fingerprint=fingerprint,
                )
        except IntegrityError:
            # A double submit that raced past the lookup above: answer with the winner's pledge.
            raced = (
                idempotency_key
                and Pledge.objects.filter(
                    supporter=supporter, idempotency_key=idempotency_key
                ).first()
            )
            if raced:
                return _replay(raced, fingerprint, gateway)
            raise DomainError("You already have a pledge in progress for this campaign.") from None
        record(pledge, action="created", by=supporter, to_status=pledge.status)

    try:
        customer_id = ensure_customer(supporter, gateway=gateway).customer_id
        intent = gateway.create_setup_intent(
            customer_id, metadata={"pledge_id": str(pledge.pk), "purpose": "pledge"}
        )
    except PaymentError as error:
        transition(
            pledge, Status.CANCELLED, by=supporter, note=f"Card set-up failed: {error.message}"
        )
        # Only the provider's verdict on a card counts, never an outage or a refused request.
        if isinstance(error, PaymentDeclined):
            throttle.record_failure(
                member=supporter, ip=ip, campaign=campaign, reason=error.message
            )
        raise
    Pledge.objects.filter(pk=pledge.pk).update(setup_intent_id=intent.id)
    pledge.setup_intent_id = intent.id
    pledge.client_secret = intent.client_secret
    pledge.replayed = False
    return pledge


def _with_client_secret(pledge, gateway):
    pledge.client_secret = None
    if pledge.status == Status.PENDING and pledge.setup_intent_id:
        pledge.client_secret = gateway.retrieve_setup_intent(pledge.setup_intent_id).client_secret
    return pledge


def confirm_card(pledge, *, setup_intent_id=None, by=None, ip="", gateway=None):
    """The card form (or the webhook) says the SetupIntent succeeded: check it and activate.

    Safe to call any number of times and from both paths; whoever comes second is a no-op.
    Also used after "update card": the new card replaces the old one on an active pledge.
    A SetupIntent whose card the provider refused is recorded as a card-testing failure
    (once per SetupIntent, with the caller's IP) before the refusal is raised.
    """
    from payments.gateway import PaymentDeclined, get_gateway

    gateway = gateway or get_gateway()
    setup_intent_id = setup_intent_id or pledge.setup_intent_id
    if setup_intent_id != pledge.setup_intent_id:
        raise DomainError("That card confirmation does not belong to this pledge.")
    intent = gateway.retrieve_setup_intent(setup_intent_id)
    if intent.card_failed:
        record_card_failure(pledge, intent, ip=ip)
        raise DomainError(
            _("Your card could not be saved. Please try another card."), code="card_failed"
        )
    if intent.status != "succeeded" or not intent.payment_method_id:
        raise DomainError("Your card has not been confirmed yet. Please try again.")
    from payments.services import ensure_customer

    customer_id = ensure_customer(pledge.supporter, gateway=gateway).customer_id
    try:
        card = gateway.attach_payment_method(intent.payment_method_id, customer_id)
    except PaymentDeclined as error:
        throttle.record_failure(
            member=pledge.supporter,
            ip=ip,
            campaign=pledge.campaign,
            reason=error.message,
            setup_intent_id=intent.id,
            payment_method_id=intent.payment_method_id,
        )
        raise
    return activate_pledge(pledge, payment_method_id=card.id, by=by)


def record_card_failure(pledge, intent, *, ip=""):
    """Count a SetupIntent whose card the provider refused against the pledge's supporter."""
    declined = intent.decline_code or intent.last_error_code == "card_declined"
    return throttle.record_failure(
        member=pledge.supporter,
        ip=ip,
        campaign=pledge.campaign,
        reason=intent.last_error_message or intent.last_error_code or "The card was refused.",
        kind=PledgeFailure.Kind.DECLINED if declined else PledgeFailure.Kind.CARD_ERROR,
        setup_intent_id=intent.id,
        payment_method_id=intent.last_error_payment_method_id or intent.payment_method_id or "",
    )


def activate_pledge(pledge, *, payment_method_id, by=None, now=None):
    """Database half of activation: lock, check deadline and reward stock, go active."""
    now = now or timezone.now()
    refusal = None
    with transaction.atomic():
        locked = (
            Pledge.objects.select_for_update(of=("self",))
            .select_related("campaign", "reward")
            .get(pk=pledge.pk)
        )
        if locked.status == Status.ACTIVE:
            if locked.payment_method_id != payment_method_id:  # a card update
                replaced = locked.payment_method_id
                locked.payment_method_id = payment_method_id
                locked.save(update_fields=["payment_method_id", "updated_at"])
                record(locked, action="card_updated", by=by)
                if replaced:
                    transaction.on_commit(
                        lambda: _detach_later(locked.supporter_id, replaced), robust=True
                    )
            return locked
        if locked.status != Status.PENDING:
            raise DomainError("This pledge can no longer be activated.")
        try:
            _require_open_campaign(locked.campaign, now)
            _claim_reward(locked.reward, locked)
        except DomainError as error:
            refusal = error
        else:
            active = transition(
                locked,
                Status.ACTIVE,
                by=by,
                updates={"payment_method_id": payment_method_id, "activated_at": now},
                after_commit=[_refresh_campaign_page, _send_confirmation],
            )
    if refusal is not None:
        # Outside the claim's transaction: the refusal itself must be kept.
        transition(pledge, Status.CANCELLED, by=by, note=refusal.message)
        raise refusal
    pledge.__dict__.update(status=active.status, payment_method_id=payment_method_id)
    return active


def _detach_later(member_id, payment_method_id):
    from pledges.tasks import detach_replaced_card

    detach_replaced_card.delay(member_id, payment_method_id)


# Pledges that may still charge their saved card.
_CARD_IN_USE_STATUSES = (
    Status.PENDING,
    Status.ACTIVE,
    Status.CHARGING,
    Status.ACTION_REQUIRED,
    Status.RETRYING,
)


def detach_replaced_card(member_id, payment_method_id, *, gateway=None):
    """Detach a card a card update replaced, unless another pledge of the member still uses it.

    Runs after the update committed (a task, so an outage is retried): a failure is logged
    and never undoes the supporter's new card. Returns True if the card was detached.
    """
    from payments.gateway import PaymentProviderError, get_gateway

    in_use = Pledge.objects.filter(
        supporter_id=member_id,
        payment_method_id=payment_method_id,
        status__in=_CARD_IN_USE_STATUSES,
    ).exists()
    if in_use:
        return False
    gateway = gateway or get_gateway()
    try:
        gateway.detach_payment_method(payment_method_id)
    except PaymentProviderError as error:
        logger.warning("could not detach replaced card %s: %s", payment_method_id, error.detail)
        if error.retryable:
            raise  # the task tries again later
        return False
    return True


def _refresh_campaign_page(pledge):
    """Totals and reward stock changed: drop the campaign page's short-lived public cache."""
    page_cache.forget(pledge.campaign)


def _send_confirmation(pledge):
    send_templated_email(
        pledge.supporter.email, "pledge_confirmed", {"pledge": pledge, "campaign": pledge.campaign}
    )


def change_pledge(pledge, *, by, amount_minor, reward):
    """Change the amount or reward of an active pledge (before the deadline)."""
    if pledge.supporter_id != by.pk:
        raise NotPermitted("This is not your pledge.")
    with transaction.atomic():
        locked = (
            Pledge.objects.select_for_update(of=("self",))
            .select_related("campaign")
            .get(pk=pledge.pk)
        )
        if locked.status != Status.ACTIVE:
            raise DomainError("Only an active pledge can be changed.")
        validate_pledge_terms(
            locked.campaign, supporter=by, amount_minor=amount_minor, reward=reward
        )
        if reward is not None and reward.pk != locked.reward_id:
            _claim_reward(reward, locked)
        note = (
            f"{format_money(locked.amount_minor, locked.currency)} → "
            f"{format_money(amount_minor, locked.currency)}; reward {locked.reward_id} → "
            f"{reward.pk if reward else None}"
        )
        locked.amount_minor = amount_minor
        locked.reward = reward
        locked.save(update_fields=["amount_minor", "reward", "updated_at"])
        record(locked, action="changed", by=by, note=note)
        transaction.on_commit(lambda: _refresh_campaign_page(locked), robust=True)
    return locked


def start_card_update(pledge, *, by, ip="", gateway=None):
    """A new SetupIntent for an open pledge; confirm_card activates it or swaps the card.

    Used by "update card" on an active pledge, and by "Try another card" when a pending
    pledge's SetupIntent can no longer be confirmed (a declined card on localstripe, failed
    3-D Secure). A card the previous SetupIntent was refused is counted first, so a client
    that never reports its declines cannot test cards by asking for new SetupIntents.
    """
    from payments.gateway import PaymentError, get_gateway
    from payments.services import ensure_customer

    if pledge.supporter_id != by.pk:
        raise NotPermitted("This is not your pledge.")
    if pledge.status not in Pledge.OPEN_STATUSES:
        raise DomainError("Only an open pledge's card can be updated.")
    _require_open_campaign(pledge.campaign)
    gateway = gateway or get_gateway()
    if pledge.setup_intent_id:
        try:
            previous = gateway.retrieve_setup_intent(pledge.setup_intent_id)
        except PaymentError as error:
            logger.warning("could not look up %s: %s", pledge.setup_intent_id, error.message)
        else:
            if previous.card_failed:
                record_card_failure(pledge, previous, ip=ip)
    throttle.check(member=by, ip=ip)  # each new card is a chance to test a stolen one
    purpose = "card_update" if pledge.status == Status.ACTIVE else "pledge"
    intent = gateway.create_setup_intent(
        ensure_customer(by, gateway=gateway).customer_id,
        metadata={"pledge_id": str(pledge.pk), "purpose": purpose},
    )
    Pledge.objects.filter(pk=pledge.pk).update(setup_intent_id=intent.id)
    pledge.setup_intent_id = intent.id
    pledge.client_secret = intent.client_secret
    return pledge


def cancel_open_setup_intents(member, *, gateway=None):
    """A blocked member's card forms stop working: cancel their unfinished SetupIntents.

    Their pending pledges' and an active pledge's card update in progress (a SetupIntent
    that has not succeeded). Called after commit, never under a lock; best-effort: a failure
    is logged, and a retryable one raised at the end so the task tries again (cancelling is
    idempotent). Returns how many were cancelled.
    """
    from payments.gateway import PaymentError, PaymentProviderError, get_gateway

    gateway = gateway or get_gateway()
    cancelled, retry = 0, None
    pledges = Pledge.objects.filter(supporter=member, status__in=Pledge.OPEN_STATUSES).exclude(
        setup_intent_id=""
    )
    for pledge in pledges:
        try:
            intent = gateway.retrieve_setup_intent(pledge.setup_intent_id)
            if intent.status in ("succeeded", "canceled"):
                continue  # a saved card, or nothing left to use
            gateway.cancel_setup_intent(intent.id)
        except PaymentError as error:
            logger.warning(
                "could not cancel %s of blocked member %s: %s",
                pledge.setup_intent_id,
                member.pk,
                getattr(error, "detail", "") or error.message,
            )
            if isinstance(error, PaymentProviderError) and error.retryable:
                retry = error
            continue
        cancelled += 1
        record(
            pledge,
            action="setup_intent_cancelled",
            note=f"{intent.id}: pledging paused after repeated card failures.",
        )
    if retry is not None:
        raise retry
    return cancelled


def cancel_pledge(pledge, *, by):
    if pledge.supporter_id != by.pk:
        raise NotPermitted("This is not your pledge.")

    def before_deadline(locked):
        if locked.campaign.deadline and locked.campaign.deadline <= timezone.now():
            raise DomainError("The campaign has ended; pledges can no longer change.")

    return transition(
        pledge,
        Status.CANCELLED,
        by=by,
        guard=before_deadline,
        after_commit=[_refresh_campaign_page],
    )


def release_pledges_for(campaign, *, by=None):
    """The campaign will not charge: open pledges are released and their cards never charged."""
    released = 0
    for pledge in Pledge.objects.filter(campaign=campaign, status__in=Pledge.OPEN_STATUSES):
        transition(pledge, Status.RELEASED, by=by, note="Campaign cancelled or not funded.")
        released += 1
    return released


def expire_abandoned_pledges(*, older_than, now=None):
    """Pending pledges whose card was never saved: cancel them so nothing stays half-made.

    A later setup_intent.succeeded for one of them is ignored (it is no longer open).
    """
    cutoff = (now or timezone.now()) - older_than
    expired = 0
    stale = Pledge.objects.filter(status=Status.PENDING, created_at__lt=cutoff).only("pk", "status")
    for pledge in stale.iterator():
        transition(pledge, Status.CANCELLED, note="The card was never saved.")
        expired += 1
    return expired
