"""Deadline settlement: closing campaigns, charging saved cards exactly once, recovering failures.

The beat task `pledges.settlement_sweep` runs `sweep()` every SETTLEMENT_SWEEP_SECONDS. No
task waits for a deadline (an ETA past the broker's visibility timeout runs twice); every step
is a query for rows in a state that needs work, so a sweep that runs twice, late, or after a
crash (Redis flushed, a worker killed) finds what is left and does it once:

1. close: live campaigns past their deadline → settling, under the campaign's row lock (pledge
   writes hold it FOR SHARE, so none commits against a closed campaign); the pledged total and
   supporters at the deadline are frozen on the campaign.
2. decide: all-or-nothing below goal → failed, and its open pledges are released (batches);
   otherwise every active pledge → charging (batches). Cancelled campaigns release too.
3. reconcile: attempts left created/sent/unknown (a crash, a lost response) are settled with
   the provider before anything new is sent (pledges.reconciliation).
4. dispatch: pledges in charging with no unsettled attempt, and declined ones whose retry is
   due, get a charge task — the pledge row is the outbox: `charge_enqueued_at` says when one was
   last sent, so lost messages are re-sent and queued ones are not duplicated.
5. drop: pledges still not collected when their fix window closes → dropped.
6. finish: a settling campaign with nothing left to charge → funded (failed if nothing at all
   could be collected).

Charging one pledge (`charge_pledge`): under the pledge's lock, write a PaymentAttempt with
the amount read under that lock and an idempotency key of its own, commit; then, with no lock
held, take a token from the shared rate ceiling and call the provider; then record the outcome
(`record_outcome`). Succeeded → collected, with the contribution and its fees (ledger.fees);
3-D Secure → action_required; declined → retrying (automatic retries every
CHARGE_RETRY_INTERVAL_HOURS, none after a hard decline), dropped when the fix window closes.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, Max, OuterRef, Q, Sum
from django.utils import timezone

from campaigns import page_cache
from campaigns.models import Campaign
from core.emails import queue_email
from core.errors import DomainError
from core.install import install_id
from core.models import record
from core.transitions import transition, transition_many
from ledger import accounts as ledger_accounts
from ledger import services as ledger
from ledger.fees import contribution_fees, platform_fee_percent
from ledger.models import Transaction as LedgerTransaction
from pledges.models import PaymentAttempt, Pledge
from pledges.services import release_pledges_for

logger = logging.getLogger(__name__)
Status = Pledge.Status
AttemptStatus = PaymentAttempt.Status
Trigger = PaymentAttempt.Trigger

# The issuer says the card must not be tried again: a new card is needed.
HARD_DECLINES = frozenset(
    {"lost_card", "stolen_card", "fraudulent", "pickup_card", "restricted_card", "revoked"}
)
# Our own codes on an attempt that the provider never declined.
NOT_CHARGED = "not_charged"  # reconciliation found nothing at the provider: safe to try again
NO_CARD = "no_saved_card"
# pledges.recovery cancelled the attempt's PaymentIntent: the supporter saved a new card, which
# is charged at once (no email, no automatic retry of the old card).
REPLACED_BY_NEW_CARD = "replaced_by_new_card"


class ChargeRefused(DomainError):
    """A manual retry that cannot be made now (collected, in flight, nothing to charge)."""

    code = "charge_refused"


class ChargeInterrupted(Exception):
    """The provider could not be reached (or the rate ceiling made us wait too long) for an
    attempt; the task that owns it resumes it later with the same idempotency key."""

    def __init__(self, attempt_id, cause):
        super().__init__(f"attempt {attempt_id}: {cause}")
        self.attempt_id = attempt_id
        self.cause = cause


# --- 1. closing campaigns --------------------------------------------------------------------
def close_due_campaigns(*, now=None):
    """Close every live campaign whose deadline has passed; returns their ids."""
    now = now or timezone.now()
    due = Campaign.objects.filter(status=Campaign.Status.LIVE, deadline__lte=now)
    closed = []
    for campaign in due.only("pk", "status").order_by("deadline", "pk"):
        if close_campaign(campaign, now=now).moved:
            closed.append(campaign.pk)
    return closed


def close_campaign(campaign, *, now=None):
    """live → settling once the deadline has passed; freezes the figures at the deadline."""
    now = now or timezone.now()

    def deadline_passed(locked):
        if locked.deadline is None or locked.deadline > now:
            raise DomainError("The campaign's deadline has not passed yet.")

    def frozen_figures(locked):
        # Under the campaign's lock: no pledge write can change these any more.
        active = Pledge.objects.filter(campaign=locked, status=Status.ACTIVE).aggregate(
            total=Sum("amount_minor"), supporters=Count("id")
        )
        return {
            "ended_at": now,
            "pledged_at_deadline_minor": active["total"] or 0,
            "supporters_at_deadline": active["supporters"],
        }

    return transition(
        campaign,
        Campaign.Status.SETTLING,
        guard=deadline_passed,
        updates=frozen_figures,
        note="The deadline passed.",
        after_commit=[page_cache.forget, _settle_later],
    )


def _settle_later(campaign):
    from pledges.tasks import settle_campaign

    settle_campaign.delay(campaign.pk)


# --- 2. deciding and batching ----------------------------------------------------------------
def goal_missed(campaign):
    """All-or-nothing and the pledged total at the deadline is below the goal."""
    return campaign.is_all_or_nothing and (campaign.pledged_at_deadline_minor or 0) < (
        campaign.goal_minor or 0
    )


def settle_campaign(campaign, *, now=None, limit=None):
    """The batch work of a closed campaign; safe to run any number of times.

    A settling all-or-nothing campaign below its goal becomes failed and its pledges are
    released; otherwise its pending pledges are released (no card was ever saved) and its
    active ones queued for charging, and the first charges are dispatched. A failed or
    cancelled campaign releases whatever is still open. Returns {"released", "queued"}.
    """
    now = now or timezone.now()
    campaign = Campaign.objects.get(pk=campaign.pk)
    counts = {"released": 0, "queued": 0}
    if campaign.status == Campaign.Status.SETTLING and goal_missed(campaign):
        campaign = transition(
            campaign,
            Campaign.Status.FAILED,
            note="The goal was not reached by the deadline.",
            updates={"settled_at": now},
            after_commit=[page_cache.forget, _email_campaign_failed],
        )
    if campaign.status in (Campaign.Status.FAILED, Campaign.Status.CANCELLED):
        counts["released"] = release_pledges_for(campaign, limit=limit)
    elif campaign.status == Campaign.Status.SETTLING:
        counts["released"] = release_pledges_for(
            campaign,
            from_statuses=[Status.PENDING],
            note="The card was not saved before the deadline.",
            limit=limit,
        )
        queued = transition_many(
            Pledge.objects.filter(campaign_id=campaign.pk),
            Status.CHARGING,
            from_statuses=[Status.ACTIVE],
            note="The campaign closed: charging the saved card.",
            limit=limit,
        )
        counts["queued"] = queued.count
        if queued.count:
            page_cache.forget(campaign)
            transaction.on_commit(lambda: dispatch_charges(now=now), robust=True)
    return counts


def settle_closed_campaigns(*, now=None, limit=None):
    """Step 2 for every closed campaign that still has open pledges: the catch-up for a lost
    settle task, or for pledges that a write in progress held during the batch."""
    open_pledges = Pledge.objects.filter(campaign=OuterRef("pk"), status__in=Pledge.OPEN_STATUSES)
    closed = Campaign.objects.filter(
        Exists(open_pledges),
        status__in=[Campaign.Status.SETTLING, Campaign.Status.FAILED, Campaign.Status.CANCELLED],
    )
    totals = {"released": 0, "queued": 0}
    for campaign in closed.only("pk"):
        for key, value in settle_campaign(campaign, now=now, limit=limit).items():
            totals[key] += value
    return totals


def _email_campaign_failed(campaign):
    queue_email(
        f"campaign:{campaign.pk}:failed",
        campaign.organizer.email,
        "campaign_not_funded",
        {"campaign": campaign},
    )


# --- 4. dispatching charges (the pledge row is the outbox) -----------------------------------
def dispatch_charges(*, now=None, limit=None):
    """Send a charge task for each pledge that needs one and has none on its way.

    Charging pledges with no unsettled attempt, and retrying ones whose automatic retry is
    due, that were not sent a task in the last CHARGE_REDISPATCH_SECONDS. Bounded per call by
    what the rate ceiling can charge in two sweep periods, so the queue stays short and a lost
    message costs at most one redispatch delay. Returns how many tasks were sent.
    """
    from pledges.tasks import charge_pledge

    now = now or timezone.now()
    if limit is None:
        limit = max(int(settings.CHARGE_RATE_PER_SECOND * settings.SETTLEMENT_SWEEP_SECONDS * 2), 1)
    stale = now - timedelta(seconds=settings.CHARGE_REDISPATCH_SECONDS)
    unsettled = PaymentAttempt.objects.filter(
        pledge=OuterRef("pk"), status__in=PaymentAttempt.UNSETTLED_STATUSES
    )
    due = (
        Pledge.objects.filter(
            Q(status=Status.CHARGING) | Q(status=Status.RETRYING, next_attempt_at__lte=now)
        )
        .filter(Q(charge_enqueued_at=None) | Q(charge_enqueued_at__lt=stale))
        .exclude(Exists(unsettled))
    )
    with transaction.atomic():
        rows = list(
            due.select_for_update(skip_locked=True, of=("self",))
            .order_by("pk")
            .values_list("pk", "status")[:limit]
        )
        Pledge.objects.filter(pk__in=[pk for pk, _ in rows]).update(charge_enqueued_at=now)

        def send():
            for pk, status in rows:
                trigger = Trigger.DEADLINE if status == Status.CHARGING else Trigger.AUTOMATIC_RETRY
                charge_pledge.delay(pk, trigger)

        # Not robust=True on purpose: if the broker is down this raises into the sweep's log,
        # and the stamp only delays a redispatch; nothing is lost.
        transaction.on_commit(send)
    return len(rows)


# --- charging one pledge ---------------------------------------------------------------------
def attempt_key(pledge, number):
    """Unique across installations sharing one Stripe account (see core.install)."""
    return f"{install_id()}-pledge-{pledge.public_id}-attempt-{number}"


def charge_pledge(
    pledge_id, *, trigger=Trigger.DEADLINE, resume=None, by=None, gateway=None, bucket=None
):
    """Make the pledge's next charge attempt, or resume one; returns the attempt or None.

    None when there is nothing to do: the pledge was collected or closed, an automatic retry is
    not due, or another worker's attempt is in flight. `resume` is the id of an attempt the
    caller owns (the task that made it, retrying after ChargeInterrupted); an attempt left
    unsettled by a crash or a lost response is settled with the provider with its own key,
    never replaced by a second charge. Raises ChargeInterrupted when the provider could not
    be reached.
    """
    from pledges import reconciliation

    if resume is not None:
        attempt = PaymentAttempt.objects.filter(pk=resume, pledge_id=pledge_id).first()
        if attempt is None or not attempt.is_unsettled:
            return attempt
        return reconciliation.reconcile_attempt(attempt, gateway=gateway, bucket=bucket)
    claim = _claim_attempt(pledge_id, trigger=trigger, by=by)
    if claim is None:
        return None
    attempt, resumed = claim
    if resumed:
        return reconciliation.reconcile_attempt(attempt, gateway=gateway, bucket=bucket)
    return send_attempt(attempt, gateway=gateway, bucket=bucket, loaded=True)


def _claim_attempt(pledge_id, *, trigger, by=None, now=None):
    """Under the pledge's lock: a new attempt (committed), or an old one to resume, or None."""
    now = now or timezone.now()
    with transaction.atomic():
        pledge = (
            Pledge.objects.select_for_update(of=("self",))
            .select_related("campaign", "supporter__stripe_customer")
            .filter(pk=pledge_id)
            .first()
        )
        if pledge is None or pledge.status not in Pledge.SETTLING_STATUSES:
            return None
        if trigger == Trigger.DEADLINE and pledge.status != Status.CHARGING:
            return None  # a late copy of the first charge task: that charge was made
        attempts = list(pledge.attempts.all())  # a handful at most, read once
        unsettled = next((a for a in attempts if a.is_unsettled), None)
        if unsettled is not None:
            # Resume only what is surely not being worked on: a call that failed to answer
            # (unknown), or one older than the reconciliation delay (its worker died).
            age = now - (unsettled.sent_at or unsettled.created_at)
            stale = age > timedelta(seconds=settings.CHARGE_RECONCILE_AFTER_SECONDS)
            if unsettled.status == AttemptStatus.UNKNOWN or stale:
                return unsettled, True
            return None
        if pledge.status == Status.ACTION_REQUIRED and trigger == Trigger.AUTOMATIC_RETRY:
            return None  # only the supporter can complete 3-D Secure
        if trigger == Trigger.AUTOMATIC_RETRY and (
            pledge.next_attempt_at is None or pledge.next_attempt_at > now
        ):
            return None
        if pledge.status == Status.ACTION_REQUIRED:
            # A new attempt would leave the one waiting for 3-D Secure open: the supporter
            # could complete both. pledges.recovery.card_fixed cancels it first.
            raise ChargeRefused("This pledge is waiting for the supporter's authentication.")
        customer = getattr(pledge.supporter, "stripe_customer", None)
        if not pledge.payment_method_id or customer is None:
            _needs_new_card(pledge, note="No saved card to charge.", now=now)
            return None
        number = max((a.number for a in attempts), default=0) + 1
        attempt = PaymentAttempt.objects.create(
            pledge=pledge,
            number=number,
            trigger=trigger,
            amount_minor=pledge.amount_minor,  # read under the pledge's lock
            currency=pledge.currency,
            payment_method_id=pledge.payment_method_id,
            statement_descriptor_suffix=pledge.campaign.statement_descriptor_suffix,
            idempotency_key=attempt_key(pledge, number),
        )
        record(attempt, action="created", by=by, to_status=attempt.status, note=trigger)
        if pledge.next_attempt_at is not None:
            Pledge.objects.filter(pk=pledge.pk).update(next_attempt_at=None)
    attempt.pledge = pledge
    return attempt, False


def charge_request(attempt):
    """The provider call of an attempt: the same arguments every time it is (re)sent."""
    pledge = attempt.pledge
    return {
        "customer_id": pledge.supporter.stripe_customer.customer_id,
        "payment_method_id": attempt.payment_method_id,
        "amount_minor": attempt.amount_minor,
        "currency": attempt.currency,
        "idempotency_key": attempt.idempotency_key,
        "metadata": {
            "pledge": str(pledge.public_id),
            "attempt": str(attempt.number),
            "campaign": str(pledge.campaign.public_id),
            # The installation that made the key (its prefix), without asking the database.
            "install": attempt.idempotency_key.split(f"-pledge-{pledge.public_id}-", 1)[0],
        },
        "statement_descriptor_suffix": attempt.statement_descriptor_suffix,
    }


def send_attempt(attempt, *, gateway=None, bucket=None, loaded=False):
    """Call the provider for an attempt (new, or resumed with the same key) and record it.

    No database lock is held during the call. A network error, a rate limit or a 5xx leaves
    the attempt `unknown` and is raised (the task backs off and resumes it with the same key,
    which the provider answers from its stored result).
    """
    from payments.gateway import PaymentProviderError, get_gateway

    gateway = gateway or get_gateway()
    if not loaded:  # `loaded`: just claimed, with its pledge, campaign and customer
        attempt = PaymentAttempt.objects.select_related(
            "pledge__campaign", "pledge__supporter__stripe_customer"
        ).get(pk=attempt.pk)
    if not attempt.is_unsettled:
        return attempt
    request = charge_request(attempt)
    wait_for_rate_ceiling(attempt, bucket)
    previously_sent_at = attempt.sent_at
    transition(attempt, AttemptStatus.SENT, updates={"sent_at": timezone.now()})
    try:
        charge = gateway.charge_saved_card(**request)
    except PaymentProviderError as error:
        # idempotency_error: the key came back with other parameters, so the first request
        # may have charged; only the provider's records can tell (reconciliation searches).
        if error.retryable or error.code == "idempotency_error":
            # A replayed error (a 500 Stripe keeps under the key) proves that this resend did
            # nothing new: "no request with this key can still charge" counts from the send
            # before it. Otherwise each reconciliation, resending, would restart that clock
            # and the attempt would wait out the key's 24 hours.
            kept = {"sent_at": previously_sent_at} if error.replayed and previously_sent_at else {}
            transition(attempt, AttemptStatus.UNKNOWN, note=error.detail[:500], updates=kept)
            raise ChargeInterrupted(attempt.pk, error) from error
        # The provider refused the request itself (e.g. the card no longer exists): nothing
        # was charged, and trying the same card again cannot help.
        return record_failure_without_charge(attempt, code=error.code or "refused", error=error)
    return record_outcome(attempt, charge)


def wait_for_rate_ceiling(attempt, bucket=None):
    """Take a token from the rate ceiling all charge workers share (before every provider call
    of an attempt); raises ChargeInterrupted if none comes in CHARGE_RATE_WAIT_SECONDS."""
    from core.ratelimit import RateLimitTimeout, RateLimitUnavailable

    try:
        (bucket or charge_bucket()).acquire(timeout=settings.CHARGE_RATE_WAIT_SECONDS)
    except (RateLimitTimeout, RateLimitUnavailable) as error:
        raise ChargeInterrupted(attempt.pk, error) from error


def charge_bucket():
    from core.ratelimit import shared_bucket

    rate = settings.CHARGE_RATE_PER_SECOND
    return shared_bucket("stripe-charges", rate=rate, capacity=max(rate, 1))


# --- recording outcomes ----------------------------------------------------------------------
def record_outcome(attempt, charge, *, now=None):
    """Apply what the provider says about an attempt; idempotent, in any order.

    A success is final: a late decline or 3-D Secure report for the same attempt changes
    nothing. A PaymentIntent id the attempt did not know yet is stored. PROCESSING leaves the
    attempt for reconciliation.
    """
    from payments.gateway import ChargeStatus

    now = now or timezone.now()
    with transaction.atomic():
        pledge = (
            Pledge.objects.select_for_update(of=("self",))
            .select_related("campaign", "supporter")
            .get(pk=attempt.pledge_id)
        )
        attempt = PaymentAttempt.objects.select_for_update().get(pk=attempt.pk)
        if charge.id and attempt.payment_intent_id and charge.id != attempt.payment_intent_id:
            logger.error(
                "attempt %s is %s, not %s", attempt.pk, attempt.payment_intent_id, charge.id
            )
            return attempt
        ids = {"payment_intent_id": charge.id or attempt.payment_intent_id}
        if charge.charge_id:
            ids["charge_id"] = charge.charge_id
        if charge.status == ChargeStatus.SUCCEEDED:
            _record_success(pledge, attempt, charge, ids, now)
        elif attempt.status == AttemptStatus.SUCCEEDED:
            pass  # a stale report about a payment that has since succeeded
        elif charge.status == ChargeStatus.REQUIRES_ACTION:
            _record_requires_action(pledge, attempt, charge, ids, now)
        elif charge.status == ChargeStatus.FAILED:
            _record_decline(pledge, attempt, charge, ids, now)
        else:  # processing: not final yet
            PaymentAttempt.objects.filter(pk=attempt.pk).update(**ids)
    attempt.refresh_from_db()
    return attempt


def _finish_attempt(attempt, to, ids, now, **fields):
    if attempt.status == to:
        return
    transition(attempt, to, updates={**ids, "finished_at": now, **fields})


def _record_success(pledge, attempt, charge, ids, now):
    other = pledge.attempts.filter(status=AttemptStatus.SUCCEEDED).exclude(pk=attempt.pk).first()
    if other is not None:
        # Two successes for one pledge: only possible if a PaymentIntent we gave up on was
        # completed after all. Never hidden: logged as an error and audited for an admin.
        logger.error("pledge %s: attempt %s succeeded after %s", pledge.pk, attempt.pk, other.pk)
        record(
            pledge, action="duplicate_charge", note=f"{charge.id} after {other.payment_intent_id}"
        )
        return
    try:
        with transaction.atomic():
            _finish_attempt(attempt, AttemptStatus.SUCCEEDED, ids, now, decline_code="")
    except IntegrityError:  # the PaymentIntent id belongs to another attempt
        logger.error("pledge %s: %s is recorded on another attempt", pledge.pk, charge.id)
        return
    amount = attempt.amount_minor
    if pledge.status != Status.COLLECTED:
        transition(
            pledge,
            Status.COLLECTED,
            note=f"{charge.id}",
            updates={"collected_at": now, "next_attempt_at": None},
            after_commit=[_email_collected],
        )
    _post_contribution(pledge, attempt, charge, amount, now)
    transaction.on_commit(lambda: page_cache.forget(pledge.campaign), robust=True)


def _post_contribution(pledge, attempt, charge, amount, now):
    campaign_account = ledger_accounts.campaign_account(pledge.campaign_id, pledge.currency)
    occurred_at = charge.created or now
    source = {
        "campaign_id": pledge.campaign_id,
        "pledge_id": pledge.pk,
        "attempt_id": attempt.pk,
        "occurred_at": occurred_at,
    }
    ledger.transfer(
        LedgerTransaction.Kind.CONTRIBUTION,
        from_account=ledger_accounts.external_card(pledge.currency),
        to_account=campaign_account,
        amount_minor=amount,
        key=f"contribution:pledge:{pledge.pk}",
        currency=pledge.currency,
        memo=f"Pledge {pledge.public_id}, attempt {attempt.number}",
        provider_object_id=charge.id or "",
        **source,
    )
    fees = contribution_fees(amount, charge.fee_minor)
    if fees.processor_minor > 0:
        ledger.transfer(
            LedgerTransaction.Kind.PROCESSOR_FEE,
            from_account=campaign_account,
            to_account=ledger_accounts.processor_fees(pledge.currency),
            amount_minor=fees.processor_minor,
            key=f"processor_fee:pledge:{pledge.pk}",
            currency=pledge.currency,
            memo="Card processing fee" + (" (estimate)" if fees.processor_estimated else ""),
            is_estimate=fees.processor_estimated,
            provider_object_id=charge.charge_id or charge.id or "",
            **source,
        )
    if fees.platform_minor > 0:
        ledger.transfer(
            LedgerTransaction.Kind.PLATFORM_FEE,
            from_account=campaign_account,
            to_account=ledger_accounts.platform_fees(pledge.currency),
            amount_minor=fees.platform_minor,
            key=f"platform_fee:pledge:{pledge.pk}",
            currency=pledge.currency,
            memo=f"Platform fee ({platform_fee_percent().normalize()} %)",
            **source,
        )


def _record_requires_action(pledge, attempt, charge, ids, now):
    _finish_attempt(
        attempt,
        AttemptStatus.REQUIRES_ACTION,
        ids,
        now,
        decline_code="authentication_required",
        failure_message=(charge.failure_message or "")[:500],
    )
    if pledge.status in (Status.CHARGING, Status.RETRYING):
        transition(
            pledge,
            Status.ACTION_REQUIRED,
            note=charge.id or "",
            updates={
                "next_attempt_at": None,
                "fix_window_ends_at": pledge.fix_window_ends_at or _fix_window_end(now),
            },
            after_commit=[_email_action_required, _forget_page],
        )


def _record_decline(pledge, attempt, charge, ids, now):
    code = charge.decline_code or "card_declined"
    if attempt.status == AttemptStatus.FAILED:
        return  # already recorded (a duplicate webhook, a second reconciliation)
    _finish_attempt(
        attempt,
        AttemptStatus.FAILED,
        ids,
        now,
        decline_code=code[:100],
        failure_message=(charge.failure_message or "")[:500],
    )
    if pledge.status not in Pledge.SETTLING_STATUSES:
        return
    if attempt.number != pledge.attempts.aggregate(n=Max("number"))["n"]:
        return  # a late report about an older attempt
    if code == REPLACED_BY_NEW_CARD:
        if pledge.status == Status.ACTION_REQUIRED:
            transition(pledge, Status.RETRYING, note=code, updates={"next_attempt_at": None})
        return
    _schedule_retry(pledge, code=code, now=now)


def _schedule_retry(pledge, *, code, now):
    """A declined pledge: retrying, with the next automatic try (none after a hard decline)."""
    fix_window_ends_at = pledge.fix_window_ends_at or _fix_window_end(now)
    next_attempt_at = None
    if code not in HARD_DECLINES:
        next_attempt_at = now + timedelta(hours=settings.CHARGE_RETRY_INTERVAL_HOURS)
        if next_attempt_at >= fix_window_ends_at:
            next_attempt_at = None
    values = {"fix_window_ends_at": fix_window_ends_at, "next_attempt_at": next_attempt_at}
    if pledge.status == Status.RETRYING:
        Pledge.objects.filter(pk=pledge.pk).update(**values, updated_at=now)
        record(pledge, action="retry_scheduled", note=f"{code}; next {next_attempt_at}")
        return
    transition(pledge, Status.RETRYING, note=code, updates=values, after_commit=[_email_declined])


def _needs_new_card(pledge, *, note, now):
    if pledge.status == Status.CHARGING:
        transition(
            pledge,
            Status.RETRYING,
            note=note,
            updates={"fix_window_ends_at": _fix_window_end(now), "next_attempt_at": None},
            after_commit=[_email_declined],
        )


def record_failure_without_charge(attempt, *, code, error=None):
    """The provider refused the request (nothing charged): a new card is needed."""
    now = timezone.now()
    with transaction.atomic():
        pledge = Pledge.objects.select_for_update(of=("self",)).get(pk=attempt.pledge_id)
        attempt = PaymentAttempt.objects.select_for_update().get(pk=attempt.pk)
        message = getattr(error, "detail", "") or getattr(error, "message", "")
        _finish_attempt(
            attempt,
            AttemptStatus.FAILED,
            {},
            now,
            decline_code=code[:100],
            failure_message=message[:500],
        )
        if pledge.status in Pledge.SETTLING_STATUSES:
            _schedule_retry(pledge, code="lost_card", now=now)  # a hard stop: needs a new card
    attempt.refresh_from_db()
    return attempt


def abandon_attempt(attempt, *, note):
    """The provider has no payment for this attempt and can no longer make one: mark it
    failed (not charged) and send the pledge's next attempt, with a new key, at once (the
    sweep re-sends it after CHARGE_REDISPATCH_SECONDS if that message is lost)."""
    from pledges.tasks import charge_pledge

    now = timezone.now()
    with transaction.atomic():
        attempt = PaymentAttempt.objects.select_for_update().get(pk=attempt.pk)
        if not attempt.is_unsettled:
            return attempt
        transition(
            attempt,
            AttemptStatus.FAILED,
            note=note,
            updates={"decline_code": NOT_CHARGED, "finished_at": now},
        )
        pledges = Pledge.objects.filter(pk=attempt.pledge_id)
        pledges.filter(status=Status.RETRYING).update(next_attempt_at=now)
        status = pledges.values_list("status", flat=True).first()
        if status in (Status.CHARGING, Status.RETRYING):
            # Waiting for the next sweep would add a sweep period to an outage's recovery.
            trigger = Trigger.DEADLINE if status == Status.CHARGING else Trigger.AUTOMATIC_RETRY
            pledges.update(charge_enqueued_at=now)
            pledge_id = attempt.pledge_id
            transaction.on_commit(lambda: charge_pledge.delay(pledge_id, trigger), robust=True)
        else:
            pledges.update(charge_enqueued_at=None)
    return attempt


def _forget_page(pledge):
    """The campaign page's figures changed (collected, recovering, dropped)."""
    page_cache.forget(pledge.campaign)


def _fix_window_end(now):
    return now + timedelta(days=settings.CHARGE_FIX_WINDOW_DAYS)


# --- manual retry (admin "retry now") -------------------------------------------------------
def retry_now(pledge, *, by):
    """An admin asks for an attempt now; refused for a collected pledge or one in flight."""
    pledge.refresh_from_db()
    if pledge.status == Status.COLLECTED:
        raise ChargeRefused("This pledge has already been collected.")
    if pledge.status not in (Status.CHARGING, Status.RETRYING):
        raise ChargeRefused(
            f"A pledge that is {pledge.get_status_display().lower()} is not charged."
        )
    if pledge.attempts.filter(status__in=PaymentAttempt.UNSETTLED_STATUSES).exists():
        raise ChargeRefused("An attempt for this pledge is in flight; reconcile it first.")
    from pledges.tasks import charge_pledge as task

    with transaction.atomic():
        Pledge.objects.filter(pk=pledge.pk).update(next_attempt_at=timezone.now())
        record(pledge, action="retry_requested", by=by)
        transaction.on_commit(lambda: task.delay(pledge.pk, Trigger.ADMIN))
    return pledge


# --- the organizer's reminder ---------------------------------------------------------------
REMINDER_INTERVAL = timedelta(hours=24)


def send_payment_reminder(pledge, *, by, now=None):
    """The organizer asks a supporter whose payment is pending to fix it: one email a day at
    most per pledge (the outbox key carries the day), with an audit row. Refused for a pledge
    that is not waiting for its supporter, or by anyone but the campaign's team."""
    from campaigns.services import can_edit

    now = now or timezone.now()
    pledge = Pledge.objects.select_related("campaign", "supporter").get(pk=pledge.pk)
    if not can_edit(pledge.campaign, by):
        raise ChargeRefused("Only the campaign's organizers can send reminders.")
    if pledge.status not in (Status.ACTION_REQUIRED, Status.RETRYING):
        raise ChargeRefused("This pledge is not waiting for its supporter.")
    last = pledge_reminders(pledge).filter(created_at__gt=now - REMINDER_INTERVAL).exists()
    if last:
        raise ChargeRefused("A reminder was sent in the last 24 hours; try again tomorrow.")
    with transaction.atomic():
        record(pledge, action="payment_reminder", by=by)
        queue_email(
            f"pledge:{pledge.pk}:reminder:{now:%Y-%m-%d}",
            pledge.supporter.email,
            "pledge_payment_reminder",
            {"pledge": pledge, "campaign": pledge.campaign},
        )
    return pledge


def pledge_reminders(pledge):
    from django.contrib.contenttypes.models import ContentType

    from core.models import AuditEvent

    return AuditEvent.objects.filter(
        target_type=ContentType.objects.get_for_model(Pledge),
        target_id=str(pledge.pk),
        action="payment_reminder",
    )


# --- 5. dropping, 6. finishing ---------------------------------------------------------------
def drop_expired_pledges(*, now=None):
    """Pledges whose fix window closed without a collected charge → dropped."""
    now = now or timezone.now()
    unsettled = PaymentAttempt.objects.filter(
        pledge=OuterRef("pk"), status__in=PaymentAttempt.UNSETTLED_STATUSES
    )
    expired = Pledge.objects.filter(
        status__in=[Status.ACTION_REQUIRED, Status.RETRYING, Status.CHARGING],
        fix_window_ends_at__lte=now,
    ).exclude(Exists(unsettled))
    dropped = 0
    for pledge in expired.only("pk", "status"):
        moved = transition(
            pledge,
            Status.DROPPED,
            note="The fix window closed.",
            updates={"next_attempt_at": None},
            after_commit=[_email_dropped, _forget_page],
        )
        dropped += moved.moved
    return dropped


def finish_settled_campaigns(*, now=None):
    """Settling campaigns with nothing left to charge → funded, or failed if none collected."""
    now = now or timezone.now()
    still_working = Pledge.objects.filter(
        campaign=OuterRef("pk"),
        status__in=[Status.PENDING, Status.ACTIVE, *Pledge.SETTLING_STATUSES],
    )
    done = Campaign.objects.filter(status=Campaign.Status.SETTLING).exclude(Exists(still_working))
    finished = []
    for campaign in done:
        collected = Pledge.objects.filter(campaign=campaign, status=Status.COLLECTED).exists()
        to = Campaign.Status.FUNDED if collected else Campaign.Status.FAILED
        moved = transition(
            campaign,
            to,
            note="Every pledge is collected or dropped." if collected else "Nothing collected.",
            updates={"settled_at": now},
            after_commit=[page_cache.forget],
        )
        if moved.moved:
            finished.append(campaign.pk)
    return finished


def sweep(*, now=None):
    """One pass of every settlement step (the beat task); returns what each step did."""
    from pledges import reconciliation

    now = now or timezone.now()
    report = {"closed": len(close_due_campaigns(now=now))}
    report.update(settle_closed_campaigns(now=now))
    report["reconciled"] = reconciliation.reconcile_stale_attempts(now=now)
    report["dispatched"] = dispatch_charges(now=now)
    report["dropped"] = drop_expired_pledges(now=now)
    report["finished"] = len(finish_settled_campaigns(now=now))
    return report


# --- emails (sent once per pledge and event: the outbox's key) -------------------------------
def _pledge_email(event, template):
    def send(pledge):
        queue_email(
            f"pledge:{pledge.pk}:{event}",
            pledge.supporter.email,
            template,
            {"pledge": pledge, "campaign": pledge.campaign},
        )

    return send


_email_collected = _pledge_email("collected", "pledge_collected")
_email_action_required = _pledge_email("action_required", "pledge_action_required")


def _email_declined(pledge):
    # One email per failed attempt (each asks again for a new card), not per sweep.
    number = pledge.attempts.aggregate(n=Max("number"))["n"] or 0
    queue_email(
        f"pledge:{pledge.pk}:declined:{number}",
        pledge.supporter.email,
        "pledge_declined",
        {"pledge": pledge, "campaign": pledge.campaign},
    )


def _email_dropped(pledge):
    context = {"pledge": pledge, "campaign": pledge.campaign}
    queue_email(f"pledge:{pledge.pk}:dropped", pledge.supporter.email, "pledge_dropped", context)
    queue_email(
        f"pledge:{pledge.pk}:dropped:organizer",
        pledge.campaign.organizer.email,
        "pledge_dropped_organizer",
        context,
    )
