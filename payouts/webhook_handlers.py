"""Stripe events payouts reacts to (registered with payments.webhooks on start-up).

- `account.updated` (a Connect event, on the Connect endpoint): the organizer's account
  changed; a task asks the provider how it stands now and mirrors it (deliveries come out of
  order, so the event's own copy could be older than one already applied).
- `transfer.created` / `transfer.updated`: a payout's transfer exists, so the payout is paid,
  even if the worker that made it died before recording it.
- `refund.*`: a refund finished, or was made at the provider (payouts.refunds); disputes are
  payouts.disputes' handlers.

Handlers run in the event's transaction and only touch the database; provider calls are
tasks sent after commit.
"""

import logging
import uuid

from django.db import transaction

from payments.webhooks import register
from payouts.models import Payout

logger = logging.getLogger(__name__)


@register("account.updated")
def account_updated(event):
    account_id = event.data_object.get("id")
    if not isinstance(account_id, str) or not account_id.startswith("acct_"):
        return
    from payouts.models import PayoutAccount
    from payouts.tasks import sync_connected_account

    if PayoutAccount.objects.filter(stripe_account_id=account_id).exists():
        transaction.on_commit(lambda: sync_connected_account.delay(account_id), robust=True)


@register("transfer.created", "transfer.updated")
def transfer_made(event):
    made = event.data_object
    metadata = made.get("metadata") or {}
    try:
        public_id = uuid.UUID(str(metadata.get("payout_id", "")))
    except ValueError:
        return
    payout = Payout.objects.filter(public_id=public_id).first()
    if payout is None:
        return
    if metadata.get("transfer_number") != str(payout.transfer_number):
        # An earlier attempt's transfer: that attempt was settled as failed, yet the provider
        # made it. A second payment of the same payout: loud, on the payout's log.
        logger.error("payout %s: transfer %s of attempt %s", payout.pk, made.get("id"), metadata)
        from core.models import record

        record(payout, action="payout:unexpected_transfer", note=str(made.get("id", "")))
        return
    if payout.status != Payout.Status.PROCESSING:
        return  # recorded already (paid), or not this attempt's any more
    if made.get("amount") != payout.amount_minor or (
        str(made.get("currency", "")).upper() != payout.currency
    ):
        logger.error("payout %s: transfer %s does not match it", payout.pk, made.get("id"))
        return
    from payouts import services

    services.record_paid(payout, transfer_id=str(made.get("id", "")))


@register("refund.created", "refund.updated", "refund.failed")
def refund_changed(event):
    from payouts import refunds

    refunds.refund_from_provider(event.data_object)
