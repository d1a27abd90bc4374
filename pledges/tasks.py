"""Pledge tasks: thin wrappers that load by id and call a service."""

from celery import shared_task

from core.errors import DomainError
from payments.gateway import PaymentProviderError
from pledges import services
from pledges.models import Pledge


def provider_task(name):
    """A task that calls the payment provider: an outage is retried with backoff (up to about
    an hour in all); every such task is safe to run twice."""
    return shared_task(
        name=name,
        autoretry_for=(PaymentProviderError,),
        retry_backoff=True,
        retry_backoff_max=600,
        max_retries=8,
    )


@provider_task("pledges.confirm_pledge_card")
def confirm_pledge_card(pledge_id, setup_intent_id):
    pledge = Pledge.objects.select_related("supporter", "campaign").filter(pk=pledge_id).first()
    if pledge is None or pledge.setup_intent_id != setup_intent_id:
        return "superseded"
    try:
        services.confirm_card(pledge, setup_intent_id=setup_intent_id)
    except DomainError as error:
        if isinstance(error, PaymentProviderError) and error.retryable:
            raise
        return f"refused: {error.message}"
    return "active"


@shared_task(name="pledges.expire_abandoned_pledges")
def expire_abandoned_pledges():
    from datetime import timedelta

    return services.expire_abandoned_pledges(older_than=timedelta(hours=24))


@provider_task("pledges.charge_fixed_card")
def charge_fixed_card(pledge_id, setup_intent_id):
    """A new card saved on the fix form after the deadline: attach it and charge it."""
    from pledges import recovery

    pledge = Pledge.objects.filter(pk=pledge_id).first()
    if pledge is None or pledge.setup_intent_id != setup_intent_id:
        return "superseded"
    try:
        recovery.card_fixed(pledge, setup_intent_id=setup_intent_id)
    except DomainError as error:
        if isinstance(error, PaymentProviderError) and error.retryable:
            raise
        return f"refused: {error.message}"
    return "saved"


@provider_task("pledges.cancel_open_setup_intents")
def cancel_open_setup_intents(member_id=None, ip=None):
    """A member or an IP was blocked: the card forms issued to them must stop working."""
    from members.models import Member

    member = Member.objects.filter(pk=member_id).first() if member_id is not None else None
    if member is None and not ip:
        return 0
    return services.cancel_open_setup_intents(member, ip=ip)


@provider_task("pledges.cancel_superseded_setup_intents")
def cancel_superseded_setup_intents(pledge_id):
    """A newer card form replaced some of the pledge's, or it closed: cancel the old ones."""
    return services.cancel_superseded_setup_intents(pledge_id)


@provider_task("pledges.detach_replaced_card")
def detach_replaced_card(member_id, payment_method_id):
    """A card update replaced this card: detach it at the provider unless still in use."""
    return services.detach_replaced_card(member_id, payment_method_id)


# --- deadline settlement (pledges.settlement) -------------------------------------------------
@shared_task(name="pledges.settlement_sweep")
def settlement_sweep():
    """Beat, every SETTLEMENT_SWEEP_SECONDS: every settlement step, each safe to run twice."""
    from pledges import settlement

    return settlement.sweep()


@shared_task(name="pledges.settle_campaign")
def settle_campaign(campaign_id):
    """A campaign just closed, failed or was cancelled: release or queue its pledges now
    rather than at the next sweep (which does the same if this task is lost)."""
    from campaigns.models import Campaign
    from pledges import settlement

    campaign = Campaign.objects.filter(pk=campaign_id).first()
    return settlement.settle_campaign(campaign) if campaign is not None else None


@shared_task(name="pledges.release_campaign_pledges")
def release_campaign_pledges(campaign_id):
    """A cancelled campaign's pledges, in batches (see settle_campaign)."""
    return settle_campaign(campaign_id)


def _charge_retry_countdown(task):
    from core.ratelimit import backoff_delay

    return backoff_delay(task.request.retries, base=2, cap=120)


@shared_task(
    name="pledges.charge_pledge",
    bind=True,
    max_retries=8,
    acks_late=True,
    reject_on_worker_lost=True,
)
def charge_pledge(self, pledge_id, trigger="deadline", resume=None):
    """Charge (or resume charging) one pledge. Safe to run twice, even at once: a pledge has
    one unsettled attempt at most, and its idempotency key makes a resend harmless. A provider
    outage is retried with jittered backoff on the same attempt; once retries run out the
    reconciliation sweep takes the attempt over."""
    from pledges import settlement

    try:
        attempt = settlement.charge_pledge(pledge_id, trigger=trigger, resume=resume)
    except settlement.ChargeInterrupted as interrupted:
        raise self.retry(
            args=(),
            kwargs={"pledge_id": pledge_id, "trigger": trigger, "resume": interrupted.attempt_id},
            countdown=_charge_retry_countdown(self),
            exc=interrupted,
        ) from None
    except settlement.ChargeRefused as refused:
        return f"refused: {refused.message}"
    return attempt.status if attempt is not None else "nothing to do"


@shared_task(
    name="pledges.reconcile_attempt",
    bind=True,
    max_retries=5,
    acks_late=True,
    reject_on_worker_lost=True,
)
def reconcile_attempt(self, attempt_id, payment_intent_id=None):
    """Ask the provider about one attempt (stale, or named by a webhook) and record it."""
    from pledges import reconciliation, settlement
    from pledges.models import PaymentAttempt

    attempt = PaymentAttempt.objects.filter(pk=attempt_id).first()
    if attempt is None:
        return "missing"
    try:
        attempt = reconciliation.reconcile_attempt(attempt, payment_intent_id=payment_intent_id)
    except settlement.ChargeInterrupted as interrupted:
        raise self.retry(countdown=_charge_retry_countdown(self), exc=interrupted) from None
    return attempt.status
