"""Payment recovery after the deadline: what a supporter does when their pledge's charge needs them.

Two pages lead here, from the emails and from the pledge page:

- "Confirm the payment" (a pledge in action_required): the payment page completes 3-D Secure
  with Stripe.js on the attempt's own PaymentIntent. Its client secret is asked of the
  provider at each page load and never stored. Afterwards `payment_authenticated` asks the
  provider what happened (reconciliation); what the browser says is never taken for it.
- "Use another card" (retrying, or action_required): a new SetupIntent on the card page
  (`start_fix_card`); once it succeeded, `card_fixed` saves the card on the pledge and charges
  it at once (trigger new_card) through the charge task. A PaymentIntent the supporter could
  still complete (one that went to a payment page) is cancelled at the provider first and its
  attempt recorded as failed, so that the pledge can never be paid twice.

Provider calls are made outside database locks, as everywhere (see pledges.services); every
service here is safe to call twice (a double submit, the page and a webhook).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.errors import DomainError, NotPermitted
from core.models import record
from pledges import selectors, services, settlement, throttle
from pledges.models import PaymentAttempt, Pledge

logger = logging.getLogger(__name__)
Status = Pledge.Status
AttemptStatus = PaymentAttempt.Status

# The SetupIntent metadata `purpose` of a "use another card" form.
FIX_PURPOSE = "fix_card"
# The decline code of an attempt whose PaymentIntent we cancelled for a new card.
REPLACED_BY_NEW_CARD = settlement.REPLACED_BY_NEW_CARD
# Attempts whose PaymentIntent went to a payment page (3-D Secure): its client secret may
# still be open in a browser tab, so it is cancelled before a new card is charged.
AUTHENTICATION_CODES = frozenset(
    {"authentication_required", "payment_intent_authentication_failure"}
)
# Pledges whose supporter can fix the payment.
FIXABLE_STATUSES = (Status.ACTION_REQUIRED, Status.RETRYING)


class RecoveryRefused(DomainError):
    """Nothing to confirm or fix on this pledge now; `message` tells the supporter why."""

    code = "recovery_refused"


# --- refusals ---------------------------------------------------------------------------------
def refusal_message(pledge):
    """Why this pledge has nothing for its supporter to pay now."""
    if pledge.status == Status.DISPUTED:
        return _("This pledge was collected and its payment is disputed: there is nothing to pay.")
    if pledge.status in Pledge.TAKEN_STATUSES:
        return _("This pledge is already collected: there is nothing more to pay.")
    if pledge.status == Status.DROPPED:
        return _("This pledge was dropped because it could not be collected in time.")
    if pledge.status == Status.RELEASED:
        return _("This pledge was released: your card is not charged.")
    if pledge.status == Status.CHARGING:
        return _("We are collecting this pledge right now. Please check back in a minute.")
    if pledge.status in FIXABLE_STATUSES:
        return _("We are checking this payment with your bank. Please check back in a minute.")
    return _("This pledge is not waiting for a payment.")


def _require_supporter(pledge, by):
    if by is not None and pledge.supporter_id != by.pk:
        raise NotPermitted(_("This is not your pledge."))


def _fresh(pledge):
    return Pledge.objects.select_related("campaign", "supporter").get(pk=pledge.pk)


def _attempts(pledge):
    return list(pledge.attempts.order_by("-number"))


def _require_fixable(pledge, attempts, *, now=None):
    """Raise RecoveryRefused unless the supporter can give this pledge a new card now."""
    now = now or timezone.now()
    if pledge.status not in FIXABLE_STATUSES:
        raise RecoveryRefused(refusal_message(pledge))
    if pledge.fix_window_ends_at is not None and pledge.fix_window_ends_at <= now:
        raise RecoveryRefused(_("The time to fix this payment has ended."))
    if any(attempt.is_unsettled for attempt in attempts):
        raise RecoveryRefused(
            _("We are charging your card right now. Please check back in a minute.")
        )


# --- confirming the payment (3-D Secure) -------------------------------------------------------
@dataclass(frozen=True)
class PaymentToAuthenticate:
    """What the payment page needs: never stored, asked of the provider at each page load."""

    attempt: PaymentAttempt
    client_secret: str
    payment_method_id: str  # the saved card the attempt charged


def payment_to_authenticate(pledge, *, by, gateway=None):
    """The PaymentIntent waiting for the supporter's 3-D Secure, with its client secret.

    Raises RecoveryRefused when there is nothing to confirm: the pledge is not in
    action_required, or its PaymentIntent is no longer waiting (completed in another tab,
    failed, cancelled), which is recorded first so that the pledge page shows it.
    """
    from payments.gateway import ChargeStatus, get_gateway

    _require_supporter(pledge, by)
    pledge = _fresh(pledge)
    if pledge.status == Status.RETRYING:
        raise RecoveryRefused(
            _("Your bank is not asking you to confirm this payment. You can use another card.")
        )
    if pledge.status != Status.ACTION_REQUIRED:
        raise RecoveryRefused(refusal_message(pledge))
    attempts = _attempts(pledge)
    attempt = attempts[0] if attempts else None
    if attempt is None or attempt.status != AttemptStatus.REQUIRES_ACTION:
        raise RecoveryRefused(refusal_message(pledge))
    if not attempt.payment_intent_id:
        raise RecoveryRefused(refusal_message(pledge))
    gateway = gateway or get_gateway()
    charge = gateway.retrieve_payment(attempt.payment_intent_id)
    if charge.status != ChargeStatus.REQUIRES_ACTION or not charge.client_secret:
        settlement.record_outcome(attempt, charge)
        raise RecoveryRefused(refusal_message(_fresh(pledge)))
    return PaymentToAuthenticate(
        attempt=attempt,
        client_secret=charge.client_secret,
        payment_method_id=attempt.payment_method_id,
    )


def payment_authenticated(pledge, *, by, gateway=None):
    """The payment page's Stripe.js finished (or gave up): record what the provider says.

    Returns the pledge as it is then: collected, still action_required (not completed), or
    retrying (the bank refused the authentication). Safe to call any number of times: an
    attempt already settled is only looked at again if its payment may have succeeded since.
    Raises settlement.ChargeInterrupted when the provider cannot be reached.
    """
    from payments.gateway import ChargeStatus, get_gateway
    from pledges import reconciliation

    _require_supporter(pledge, by)
    pledge = _fresh(pledge)
    if pledge.status not in (*Pledge.SETTLING_STATUSES, Status.DROPPED):
        return pledge  # collected (a second submit), released, ...: nothing to record
    attempts = _attempts(pledge)
    attempt = attempts[0] if attempts else None
    if attempt is None or not attempt.payment_intent_id:
        return pledge
    gateway = gateway or get_gateway()
    if attempt.status == AttemptStatus.REQUIRES_ACTION or attempt.is_unsettled:
        reconciliation.reconcile_attempt(attempt, gateway=gateway)
    elif attempt.status == AttemptStatus.FAILED and attempt.decline_code in AUTHENTICATION_CODES:
        # Recorded as failed already; only a success since then is news (a declined one
        # recorded again would push the next automatic try back).
        charge = gateway.retrieve_payment(attempt.payment_intent_id)
        if charge.status == ChargeStatus.SUCCEEDED:
            settlement.record_outcome(attempt, charge)
    return _fresh(pledge)


# --- using another card ------------------------------------------------------------------------
@dataclass(frozen=True)
class CardForm:
    """The pledge's current "use another card" form, for the card page."""

    usable: bool  # False: cancelled (e.g. after a refused card on localstripe); start a new one
    card_failed: bool  # the last card tried on it was refused
    client_secret: str  # "" unless usable
    saved: bool = False  # its card was saved and is being charged (the page was closed early)


def fix_card_form(pledge, *, by, ip="", gateway=None):
    """The current "use another card" form, or None when there is none to show (the page then
    offers to start one: a GET never creates a SetupIntent or spends throttle allowance).

    A form whose card was saved without the page telling us (closed too early) is used now,
    as the confirm call would have (card_fixed), and the answer says `saved`. Raises
    RecoveryRefused when there is nothing to fix.
    """
    from payments.gateway import get_gateway

    _require_supporter(pledge, by)
    pledge = _fresh(pledge)
    _require_fixable(pledge, _attempts(pledge))
    if not pledge.setup_intent_id:
        return None
    gateway = gateway or get_gateway()
    intent = gateway.retrieve_setup_intent(pledge.setup_intent_id)
    if intent.metadata.get("purpose") != FIX_PURPOSE:
        return None  # the card form of the pledge itself, from before the deadline
    if intent.status == "succeeded":
        if intent.payment_method_id and intent.payment_method_id != pledge.payment_method_id:
            card_fixed(pledge, setup_intent_id=intent.id, by=by, ip=ip, gateway=gateway)
            return CardForm(usable=False, card_failed=False, client_secret="", saved=True)
        return None  # used already (and its card declined): a new card needs a new form
    usable = intent.status != "canceled"
    return CardForm(
        usable=usable,
        card_failed=intent.card_failed,
        client_secret=intent.client_secret if usable else "",
    )


def start_fix_card(pledge, *, by, ip="", gateway=None):
    """A "use another card" form (a SetupIntent) for a pledge whose payment failed.

    The current one is kept if it can still take a card (a second click, or "Use another card"
    while one is open): no new SetupIntent for it. A card refused on the previous form is
    counted first, and each new form goes through the card-testing throttle, as for the card
    form before the deadline. Returns the pledge with `client_secret` set.
    """
    from payments.gateway import PaymentError, get_gateway

    _require_supporter(pledge, by)
    pledge = _fresh(pledge)
    _require_fixable(pledge, _attempts(pledge))
    gateway = gateway or get_gateway()
    if pledge.setup_intent_id:
        try:
            previous = gateway.retrieve_setup_intent(pledge.setup_intent_id)
        except PaymentError as error:
            logger.warning("could not look up %s: %s", pledge.setup_intent_id, error.message)
        else:
            if previous.card_failed:
                services.record_card_failure(pledge, previous, ip=ip)
            still_open = previous.status not in ("succeeded", "canceled")
            if previous.metadata.get("purpose") == FIX_PURPOSE and still_open:
                pledge.client_secret = previous.client_secret
                return pledge
    throttle.check(member=by, ip=ip)  # each new card is a chance to test a stolen one
    # The same recording as for the pledge's own card forms (IssuedSetupIntent, with the IP).
    intent = services._issue_setup_intent(
        pledge, by=by, ip=ip, purpose=FIX_PURPOSE, gateway=gateway
    )
    pledge.client_secret = intent.client_secret
    return pledge


def card_fixed(pledge, *, setup_intent_id=None, by=None, ip="", gateway=None, now=None):
    """The "use another card" form's SetupIntent succeeded: save the card and charge it at once.

    Checks the SetupIntent with the provider (it must be this pledge's current fix form) and
    attaches its card to the supporter's customer. Any PaymentIntent of the pledge that the
    supporter could still complete is then cancelled at the provider and its attempt recorded
    failed (replaced_by_new_card), which moves an action_required pledge to retrying; if one
    had succeeded after all, that is recorded instead and the new card is not charged. Then,
    under the pledge's lock, the card is swapped (audit row `card_updated`) and the charge task
    is sent after commit (trigger new_card). The pledge row is the outbox: its retry is due
    now, so the sweep re-sends a task the broker lost.

    Idempotent: a pledge that already has this card is returned as it is (a double submit,
    the page and a webhook), so the card is charged once. `by` is None from a webhook.
    Raises RecoveryRefused (nothing to fix), DomainError (card not saved), PaymentError.
    """
    from payments.gateway import get_gateway

    _require_supporter(pledge, by)
    gateway = gateway or get_gateway()
    pledge = _fresh(pledge)
    setup_intent_id = setup_intent_id or pledge.setup_intent_id
    if not setup_intent_id or setup_intent_id != pledge.setup_intent_id:
        raise DomainError(_("That card confirmation does not belong to this pledge."))
    if pledge.status in FIXABLE_STATUSES:
        _require_fixable(pledge, _attempts(pledge), now=now)
    elif pledge.status != Status.COLLECTED:
        raise RecoveryRefused(refusal_message(pledge))
    intent = gateway.retrieve_setup_intent(setup_intent_id)
    if intent.metadata.get("purpose") != FIX_PURPOSE:
        raise DomainError(_("That card confirmation does not belong to this pledge."))
    if intent.card_failed:
        services.record_card_failure(pledge, intent, ip=ip)
        raise DomainError(
            _("Your card could not be saved. Please try another card."), code="card_failed"
        )
    if intent.status != "succeeded" or not intent.payment_method_id:
        raise DomainError(_("Your card has not been confirmed yet. Please try again."))
    if pledge.payment_method_id == intent.payment_method_id or pledge.status == Status.COLLECTED:
        return pledge  # done already
    card = services.attach_saved_card(pledge, intent, ip=ip, gateway=gateway)
    if _close_open_payments(pledge, gateway=gateway):
        return _fresh(pledge)  # the old card was charged after all: nothing more to do
    return _swap_card_and_charge(pledge, card.id, setup_intent_id=intent.id, by=by, now=now)


def _close_open_payments(pledge, *, gateway):
    """Cancel each PaymentIntent of the pledge that went to a payment page and is not finished;
    True if one of them succeeded meanwhile (recorded: the pledge is collected)."""
    from payments.gateway import ChargeStatus

    for attempt in _attempts(pledge):
        waiting = attempt.status == AttemptStatus.REQUIRES_ACTION
        authentication_failed = (
            attempt.status == AttemptStatus.FAILED and attempt.decline_code in AUTHENTICATION_CODES
        )
        if not attempt.payment_intent_id or not (waiting or authentication_failed):
            continue
        charge = gateway.cancel_payment(attempt.payment_intent_id)
        if charge.status == ChargeStatus.SUCCEEDED:
            settlement.record_outcome(attempt, charge)
            return True
        if charge.status != ChargeStatus.FAILED:  # not cancellable (processing): wait for it
            raise RecoveryRefused(refusal_message(pledge))
        if waiting:
            replaced = dataclasses.replace(
                charge,
                decline_code=REPLACED_BY_NEW_CARD,
                failure_message="Cancelled: the supporter saved a new card.",
            )
            settlement.record_outcome(attempt, replaced)  # action_required → retrying
    return False


def _swap_card_and_charge(pledge, payment_method_id, *, setup_intent_id, by, now=None):
    from pledges.tasks import charge_pledge

    now = now or timezone.now()
    with transaction.atomic():
        locked = Pledge.objects.select_for_update(of=("self",)).get(pk=pledge.pk)
        if locked.payment_method_id == payment_method_id:
            return locked  # a concurrent call did it
        if locked.status != Status.RETRYING:
            raise RecoveryRefused(refusal_message(locked))
        if locked.attempts.filter(status__in=PaymentAttempt.UNSETTLED_STATUSES).exists():
            raise RecoveryRefused(
                _("We are charging your card right now. Please check back in a minute.")
            )
        replaced = locked.payment_method_id
        locked.payment_method_id = payment_method_id
        locked.next_attempt_at = now  # due now: the sweep re-sends the charge if it is lost
        locked.charge_enqueued_at = now
        locked.save(
            update_fields=[
                "payment_method_id",
                "next_attempt_at",
                "charge_enqueued_at",
                "updated_at",
            ]
        )
        record(locked, action="card_updated", by=by, note=f"{setup_intent_id}: charged at once")
        pledge_id, member_id = locked.pk, locked.supporter_id
        transaction.on_commit(
            lambda: charge_pledge.delay(pledge_id, PaymentAttempt.Trigger.NEW_CARD)
        )
        if replaced:
            transaction.on_commit(lambda: services._detach_later(member_id, replaced), robust=True)
    return locked


# --- the state after the deadline, in words (for the pages) ------------------------------------
@dataclass(frozen=True)
class PaymentState:
    """Where a pledge's payment stands after the deadline; `key` is "" before it.

    collected, confirm (3-D Secure waits for the supporter), declined (a new card can fix it),
    collecting (a charge is being made or is due now), dropped, released.
    """

    key: str
    collected_at: datetime | None = None
    reason: str = ""
    next_attempt_at: datetime | None = None
    fix_by: datetime | None = None

    @property
    def pending(self):
        return self.key == "collecting"


# Reasons the supporter's own pages word for them ("your bank"), ahead of DECLINE_REASONS.
_RECOVERY_REASONS = {
    "payment_intent_authentication_failure": gettext_lazy(
        "The payment was not confirmed with your bank."
    ),
}


def reason_in_words(code):
    if code in _RECOVERY_REASONS:
        return str(_RECOVERY_REASONS[code])
    return selectors.decline_reason(code)  # translated there; "" for no code


_NOT_LOADED = object()


def payment_state(pledge, *, latest_attempt=_NOT_LOADED, now=None):
    """The pledge's payment after the deadline (see PaymentState). `latest_attempt`: give it
    when it is loaded already (with_payment_states), else it is read here."""
    now = now or timezone.now()
    status = pledge.status
    if status in Pledge.TAKEN_STATUSES:
        return PaymentState("collected", collected_at=pledge.collected_at)
    if status == Status.DROPPED:
        return PaymentState("dropped")
    if status == Status.RELEASED:
        return PaymentState("released")
    if status not in Pledge.SETTLING_STATUSES:
        return PaymentState("")
    if latest_attempt is _NOT_LOADED:
        latest_attempt = pledge.attempts.order_by("-number").first()
    in_flight = latest_attempt is not None and latest_attempt.is_unsettled
    retry_due = status == Status.RETRYING and (
        pledge.next_attempt_at is not None and pledge.next_attempt_at <= now
    )
    if status == Status.CHARGING or in_flight or retry_due:
        return PaymentState("collecting")
    fix_by = pledge.fix_window_ends_at
    if status == Status.ACTION_REQUIRED:
        return PaymentState("confirm", fix_by=fix_by)
    code = latest_attempt.decline_code if latest_attempt is not None else settlement.NO_CARD
    return PaymentState(
        "declined",
        reason=reason_in_words(code) or reason_in_words("card_declined"),
        next_attempt_at=pledge.next_attempt_at,
        fix_by=fix_by,
    )


def with_payment_states(pledges):
    """The pledges (a queryset) as a list, each with `payment_state`; one query for all of
    their attempts, whatever their number."""
    rows = list(
        pledges.prefetch_related(
            Prefetch(
                "attempts",
                queryset=PaymentAttempt.objects.order_by("-number"),
                to_attr="attempts_newest_first",
            )
        )
    )
    now = timezone.now()
    for pledge in rows:
        latest = pledge.attempts_newest_first[0] if pledge.attempts_newest_first else None
        pledge.payment_state = payment_state(pledge, latest_attempt=latest, now=now)
    return rows
