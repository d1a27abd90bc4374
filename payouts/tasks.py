"""Payout tasks: thin wrappers that load by id and call payouts.transfers."""

from celery import shared_task

from core.ratelimit import backoff_delay


@shared_task(
    name="payouts.transfer_payout",
    bind=True,
    max_retries=8,
    acks_late=True,
    reject_on_worker_lost=True,
)
def transfer_payout(self, payout_id):
    """Transfer (or finish transferring) one approved payout. Safe to run twice, even at once:
    the transfer is looked up by its group first and made with the attempt's idempotency key.
    An outage is retried with backoff; after that the payout sweep takes it over."""
    from payouts import transfers

    try:
        payout = transfers.send_transfer(payout_id)
    except transfers.TransferInterrupted as interrupted:
        raise self.retry(countdown=backoff_delay(self.request.retries), exc=interrupted) from None
    return payout.status


@shared_task(name="payouts.payout_sweep")
def payout_sweep():
    from payouts import transfers

    return transfers.sweep()


@shared_task(
    name="payouts.sync_connected_account",
    autoretry_for=(Exception,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=8,
)
def sync_connected_account(account_id):
    """Mirror a Connect account as the provider has it now (after `account.updated`)."""
    from payments.gateway import get_gateway
    from payouts import services

    account = services.sync_connected_account(get_gateway().retrieve_connected_account(account_id))
    return account.verification if account is not None else "not ours"


@shared_task(
    name="payouts.reverse_transfers_for_refund",
    autoretry_for=(Exception,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=8,
)
def reverse_transfers_for_refund(refund_id):
    """Take back from paid-out transfers what a refund left the campaign short of."""
    from payouts import refunds
    from payouts.models import Refund

    refund = Refund.objects.filter(pk=refund_id).first()
    return refunds.reverse_transfers_for(refund) if refund is not None else 0
