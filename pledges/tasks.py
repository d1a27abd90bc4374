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
