"""Pledge tasks: thin wrappers that load by id and call a service."""

from celery import shared_task

from core.errors import DomainError
from payments.gateway import PaymentProviderError
from pledges import services
from pledges.models import Pledge


@shared_task(
    name="pledges.confirm_pledge_card",
    autoretry_for=(PaymentProviderError,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=8,
)
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


@shared_task(
    name="pledges.cancel_open_setup_intents",
    autoretry_for=(PaymentProviderError,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=8,
)
def cancel_open_setup_intents(member_id=None, ip=None):
    """A member or an IP was blocked: the card forms issued to them must stop working."""
    from members.models import Member

    member = Member.objects.filter(pk=member_id).first() if member_id is not None else None
    if member is None and not ip:
        return 0
    return services.cancel_open_setup_intents(member, ip=ip)


@shared_task(
    name="pledges.cancel_superseded_setup_intents",
    autoretry_for=(PaymentProviderError,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=8,
)
def cancel_superseded_setup_intents(pledge_id):
    """A newer card form replaced some of the pledge's, or it closed: cancel the old ones."""
    return services.cancel_superseded_setup_intents(pledge_id)


@shared_task(
    name="pledges.detach_replaced_card",
    autoretry_for=(PaymentProviderError,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=8,
)
def detach_replaced_card(member_id, payment_method_id):
    """A card update replaced this card: detach it at the provider unless still in use."""
    return services.detach_replaced_card(member_id, payment_method_id)
