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
