"""Disputes (chargebacks) of collected pledges, from the provider's `charge.dispute.*` events.

Opened: the pledge becomes disputed; the ledger holds back the disputed amount (DISPUTE:
campaign → supporter's card) and the provider's dispute fee (DISPUTE_FEE: campaign →
processor fees), as the provider withdrew both; the campaign's payouts in review go on hold
and none can be approved while a dispute is open. Closed: won gives back what the provider
reinstated (read from the dispute's balance transactions, so the ledger matches it to the
cent) and the pledge returns to collected (or partially refunded); lost makes the pledge
charged back. Once no dispute of the campaign is open, the holds it caused are released.

Handlers run in the webhook event's transaction and only touch the database. An event about
a charge whose success is not recorded yet (its worker still busy) raises, so the event is
processed again later with backoff.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from core.models import record
from core.transitions import transition
from ledger import accounts as ledger_accounts
from ledger import services as ledger
from ledger.models import Transaction as LedgerTransaction
from payments.webhooks import register
from payouts.models import Dispute, Payout
from pledges.models import PaymentAttempt, Pledge

logger = logging.getLogger(__name__)

Kind = LedgerTransaction.Kind
CLOSED_PROVIDER_STATUSES = ("won", "lost", "warning_closed")


class DisputeTooEarly(Exception):
    """The disputed charge's pledge is not recorded as collected yet: try the event later."""


def has_open_dispute(campaign_id):
    return Dispute.objects.filter(
        pledge__campaign_id=campaign_id, status=Dispute.Status.OPEN
    ).exists()


@register("charge.dispute.created", "charge.dispute.funds_withdrawn", "charge.dispute.updated")
def dispute_changed(event):
    dispute = event.data_object
    if dispute.get("status") in CLOSED_PROVIDER_STATUSES:
        close_dispute(dispute)
    else:
        open_dispute(dispute)


@register("charge.dispute.closed", "charge.dispute.funds_reinstated")
def dispute_closed(event):
    dispute = event.data_object
    if dispute.get("status") in CLOSED_PROVIDER_STATUSES:
        close_dispute(dispute)
    elif event.type == "charge.dispute.closed":
        logger.warning("dispute %s closed with status %s", dispute.get("id"), dispute.get("status"))


def _pledge_of(dispute):
    attempts = PaymentAttempt.objects.select_related("pledge", "pledge__campaign")
    payment_intent, charge = dispute.get("payment_intent"), dispute.get("charge")
    attempt = None
    if isinstance(payment_intent, str) and payment_intent:
        attempt = attempts.filter(payment_intent_id=payment_intent).first()
    if attempt is None and isinstance(charge, str) and charge:
        attempt = attempts.filter(charge_id=charge).first()
    if attempt is None:
        # Not one of ours — or ours, charged by a worker that died before recording the
        # PaymentIntent's id: while any attempt waits for its answer, try again later.
        if PaymentAttempt.objects.filter(status__in=PaymentAttempt.UNSETTLED_STATUSES).exists():
            raise DisputeTooEarly(f"{dispute.get('id')}: no attempt has {payment_intent} yet")
        return None
    if attempt.status != PaymentAttempt.Status.SUCCEEDED:
        raise DisputeTooEarly(f"{dispute.get('id')}: attempt {attempt.pk} is {attempt.status}")
    return attempt.pledge


def _withdrawn(dispute):
    """(amount, fee) the provider took: its negative balance transactions."""
    amount = fee = 0
    for movement in dispute.get("balance_transactions") or []:
        if isinstance(movement, dict) and (movement.get("amount") or 0) < 0:
            amount += -movement["amount"]
            fee += movement.get("fee") or 0
    # Only what the provider withdrew: an inquiry (warning_*) withdraws nothing.
    return amount, fee


def _reinstated(dispute):
    """(amount, fee) the provider gave back when it closed: its positive balance transactions
    (a fee given back is a negative fee)."""
    amount = fee = 0
    for movement in dispute.get("balance_transactions") or []:
        if isinstance(movement, dict) and (movement.get("amount") or 0) > 0:
            amount += movement["amount"]
            fee += -(movement.get("fee") or 0)
    return amount, fee


def _time(timestamp):
    if isinstance(timestamp, int) and not isinstance(timestamp, bool):
        return datetime.fromtimestamp(timestamp, tz=UTC)
    return timezone.now()


def open_dispute(dispute):
    dispute_id = dispute.get("id")
    if not isinstance(dispute_id, str) or not dispute_id:
        return None
    existing = Dispute.objects.filter(provider_dispute_id=dispute_id).first()
    if existing is not None:
        if existing.status == Dispute.Status.OPEN:
            _post_withdrawn(existing, existing.pledge, dispute)  # funds_withdrawn after created
        return existing
    pledge = _pledge_of(dispute)
    if pledge is None:
        return None  # not one of our charges
    if pledge.status not in (*Pledge.REFUNDABLE_STATUSES, Pledge.Status.REFUNDED):
        raise DisputeTooEarly(f"{dispute_id}: pledge {pledge.pk} is {pledge.status}")
    opened = Dispute.objects.create(
        pledge=pledge,
        provider_dispute_id=dispute_id,
        currency=pledge.currency,
        reason=str(dispute.get("reason") or "")[:64],
        opened_at=_time(dispute.get("created")),
    )
    record(opened, action="dispute:opened", to_status=Dispute.Status.OPEN, note=opened.reason)
    if pledge.status != Pledge.Status.REFUNDED:
        transition(pledge, Pledge.Status.DISPUTED, note=dispute_id)
    _post_withdrawn(opened, pledge, dispute)
    hold_payouts(pledge.campaign_id)
    return opened


def _post_withdrawn(found, pledge, dispute):
    """Post what the provider withdrew for the dispute (once each: the amount, the fee), as
    its balance transactions say; a later event may bring them (funds_withdrawn after
    created, an inquiry that became a chargeback)."""
    amount, fee = _withdrawn(dispute)
    campaign_account = ledger_accounts.campaign_account(pledge.campaign_id, pledge.currency)
    source = {
        "campaign_id": pledge.campaign_id,
        "pledge_id": pledge.pk,
        "occurred_at": found.opened_at,
        "provider_object_id": found.provider_dispute_id,
    }
    posted = {}
    if amount and not found.amount_minor:
        ledger.transfer(
            Kind.DISPUTE,
            from_account=campaign_account,
            to_account=ledger_accounts.external_card(pledge.currency),
            amount_minor=amount,
            key=f"dispute:{found.provider_dispute_id}",
            memo="Disputed by the supporter's bank: held back",
            **source,
        )
        posted["amount_minor"] = amount
    if fee and not found.fee_minor:
        ledger.transfer(
            Kind.DISPUTE_FEE,
            from_account=campaign_account,
            to_account=ledger_accounts.processor_fees(pledge.currency),
            amount_minor=fee,
            key=f"dispute_fee:{found.provider_dispute_id}",
            memo="The payment provider's dispute fee",
            **source,
        )
        posted["fee_minor"] = fee
    if posted:
        Dispute.objects.filter(pk=found.pk).update(**posted)
        for name, value in posted.items():
            setattr(found, name, value)


def close_dispute(dispute):
    dispute_id = dispute.get("id")
    found = Dispute.objects.filter(provider_dispute_id=dispute_id).first()
    if found is None:
        found = open_dispute({**dispute, "status": "needs_response"})
        if found is None:
            return None
    # An inquiry closed without a chargeback (warning_closed) ends like a dispute won.
    won = dispute.get("status") in ("won", "warning_closed")
    status = Dispute.Status.WON if won else Dispute.Status.LOST
    closed = transition(found, status, note=dispute_id, updates={"closed_at": timezone.now()})
    if not closed.moved:
        return closed
    pledge = Pledge.objects.get(pk=closed.pledge_id)
    if status == Dispute.Status.WON:
        _post_reinstated(closed, pledge, dispute)
        from payouts.refunds import status_after_refunds

        back = status_after_refunds(pledge)
        if pledge.status == Pledge.Status.DISPUTED:
            transition(pledge, back, note=_("Dispute won: %(id)s") % {"id": dispute_id})
    elif pledge.status == Pledge.Status.DISPUTED:
        transition(pledge, Pledge.Status.CHARGED_BACK, note=dispute_id)
    if not has_open_dispute(pledge.campaign_id):
        _release_holds(pledge.campaign_id)
    return closed


def _post_reinstated(closed, pledge, dispute):
    amount, fee = _reinstated(dispute)
    campaign_account = ledger_accounts.campaign_account(pledge.campaign_id, pledge.currency)
    source = {
        "campaign_id": pledge.campaign_id,
        "pledge_id": pledge.pk,
        "provider_object_id": closed.provider_dispute_id,
    }
    if amount:
        ledger.transfer(
            Kind.DISPUTE,
            from_account=ledger_accounts.external_card(pledge.currency),
            to_account=campaign_account,
            amount_minor=amount,
            key=f"dispute:{closed.provider_dispute_id}:won",
            memo="Dispute won: the money is back",
            **source,
        )
    if fee:
        ledger.transfer(
            Kind.DISPUTE_FEE,
            from_account=ledger_accounts.processor_fees(pledge.currency),
            to_account=campaign_account,
            amount_minor=fee,
            key=f"dispute_fee:{closed.provider_dispute_id}:won",
            memo="Dispute won: the fee is back",
            **source,
        )


def hold_payouts(campaign_id):
    from payouts.services import platform_hold

    for payout in Payout.objects.filter(campaign_id=campaign_id, status=Payout.Status.REQUESTED):
        platform_hold(
            payout,
            Payout.HoldKind.DISPUTE,
            note=_("A payment of the campaign is disputed."),
            reason=_("A supporter's bank disputes a payment; payouts wait."),
        )


def _release_holds(campaign_id):
    from payouts.services import release_platform_holds

    release_platform_holds(
        Payout.objects.filter(campaign_id=campaign_id),
        Payout.HoldKind.DISPUTE,
        note=_("No dispute is open any more."),
    )
