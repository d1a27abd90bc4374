"""Every write to pledges: start (card set-up), activate, change, update card, cancel, release.

Money rules: amounts are integer minor units in the campaign's currency; a member holds one
open pledge per campaign; a limited reward never oversells (its row is locked while a pledge
claims it); nothing is accepted or changed once the campaign is closed: every write holds the
campaign's row FOR SHARE while it checks that it is live (campaigns.services.lock_for_pledging;
lock order everywhere: campaign, then pledge). Deadline settlement is pledges.settlement.
Calls to the payment provider happen outside database locks: we write our row, commit, call,
then record the result.

Card forms: every SetupIntent we create is recorded (IssuedSetupIntent, with the IP that asked
for it). One that a newer form replaces, or whose pledge closes, is cancelled at the provider
after commit, and a card-testing block cancels every unfinished one of the member or the IP:
at Stripe a declined SetupIntent's client secret keeps working until it is cancelled.
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
from campaigns.services import lock_for_pledging
from core.emails import queue_email
from core.errors import DomainError, NotPermitted
from core.models import record
from core.money import format_money
from core.transitions import transition, transition_many
from pledges import throttle
from pledges.models import IssuedSetupIntent, Pledge, PledgeFailure

logger = logging.getLogger(__name__)
Status = Pledge.Status


class IdempotencyKeyReused(DomainError):
    """The same Idempotency-Key came back with different pledge terms (Stripe's rule: refuse)."""

    code = "idempotency_key_reused"


class _AttemptRaced(Exception):
    """Our new pledge's insert lost to a concurrent request (rolls the attempt back)."""


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
    share_email_with_organizer=False,
    idempotency_key="",
    referral_code="",
    referral_source="",
    ip="",
    gateway=None,
):
    """Create a pending pledge and a SetupIntent for the card form.

    Returns the pledge; its `setup_intent_id` holds the SetupIntent and `client_secret` is
    set on the returned object for the page. The same idempotency_key with the same terms
    returns the same pledge with `replayed = True` (a new one has `replayed = False`); with
    other terms it raises IdempotencyKeyReused. A key whose attempt failed at the provider
    (cancelled before it was ever active) may start afresh. `referral_code` and
    `referral_source` (pledges.referrals.for_pledge) say where the supporter came from; they
    are not terms: a replay keeps the first attempt's. Nor is `share_email_with_organizer`:
    a replay keeps the first request's choice, as Stripe answers a key's retry with its first
    request's result (the pledge page changes it afterwards, set_email_consent). The choice is
    in the "created" audit row's note.
    """
    from payments.gateway import PaymentDeclined, PaymentError, get_gateway

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
            # A block is a gate in front of the idempotency layer, as Stripe's rate limits are:
            # a blocked member's replay is refused like any attempt (and no client secret goes
            # out); once the block lifts, the same key replays the stored pledge again.
            throttle.refuse_if_blocked(member=supporter, ip=ip)
            return _replay(existing, fingerprint, gateway)
    throttle.check(member=supporter, ip=ip)
    if Pledge.objects.filter(campaign=campaign, supporter=supporter, status=Status.ACTIVE).exists():
        raise DomainError("You already support this campaign; change your pledge instead.")
    # A mistyped amount is not card testing: form errors are never counted as failures.
    validate_pledge_terms(campaign, supporter=supporter, amount_minor=amount_minor, reward=reward)
    _require_stock(reward)  # early, friendly; activation checks again under a lock

    try:
        with transaction.atomic():
            _require_open_campaign(lock_for_pledging(campaign.pk))
            # An abandoned earlier attempt (pending) is replaced rather than duplicated; its
            # card forms are cancelled at the provider once this commits.
            for stale in Pledge.objects.select_for_update().filter(
                campaign=campaign, supporter=supporter, status=Status.PENDING
            ):
                transition(
                    stale,
                    Status.CANCELLED,
                    by=supporter,
                    note="Replaced by a new attempt.",
                    after_commit=[_cancel_superseded_later],
                )
            try:
                pledge = Pledge.objects.create(
                    campaign=campaign,
                    supporter=supporter,
                    reward=reward,
                    amount_minor=amount_minor,
                    currency=campaign.currency,
                    public_name=public_name.strip(),
                    anonymous=anonymous,
                    message=message.strip(),
                    share_email_with_organizer=bool(share_email_with_organizer),
                    idempotency_key=idempotency_key,
                    idempotency_fingerprint=fingerprint,
                    referral_code=referral_code,
                    referral_source=referral_source,
                )
            except IntegrityError:
                raise _AttemptRaced from None
            record(
                pledge,
                action="created",
                by=supporter,
                to_status=pledge.status,
                note=_consent_note(pledge.share_email_with_organizer),
            )
    except _AttemptRaced:
        # A double submit that raced past the lookup above. This attempt is rolled back whole
        # (the winner, if it pledged to this campaign, is not "replaced" by its own retry) and
        # the winner is answered with no transaction of ours open: _replay asks the provider.
        raced = (
            idempotency_key
            and Pledge.objects.filter(supporter=supporter, idempotency_key=idempotency_key).first()
        )
        if raced:
            return _replay(raced, fingerprint, gateway)
        raise DomainError("You already have a pledge in progress for this campaign.") from None

    try:
        intent = _issue_setup_intent(pledge, by=supporter, ip=ip, purpose="pledge", gateway=gateway)
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
    pledge.client_secret = intent.client_secret
    pledge.replayed = False
    return pledge


def _issue_setup_intent(pledge, *, by, ip, purpose, gateway):
    """Create the pledge's new card form at the provider, record it, make it the current one.

    Recorded with the IP that asked for it (the setup_failed webhook has none) in the same
    transaction that makes it current, so a concurrent cancel of superseded forms never takes
    it for an old one. A block that landed while we were at the provider (the throttle let
    this request through just before) cancels it straight away, and the attempt is refused.
    """
    from payments.services import ensure_customer

    intent = gateway.create_setup_intent(
        ensure_customer(by, gateway=gateway).customer_id,
        metadata={"pledge_id": str(pledge.pk), "purpose": purpose},
    )
    with transaction.atomic():
        IssuedSetupIntent.objects.create(
            pledge_id=pledge.pk, setup_intent_id=intent.id, ip=throttle.normalize_ip(ip)
        )
        Pledge.objects.filter(pk=pledge.pk).update(setup_intent_id=intent.id)
    pledge.setup_intent_id = intent.id
    member_blocked = throttle.is_blocked(member=by, ip="")
    ip_blocked = bool(ip) and throttle.is_blocked(member=None, ip=ip)
    if member_blocked or ip_blocked:
        member_ids = {by.pk} if member_blocked else set()
        blocked_ip = ip if ip_blocked else None
        transaction.on_commit(
            lambda: throttle.cancel_setup_intents_later(member_ids, ip=blocked_ip), robust=True
        )
        throttle.refuse_if_blocked(member=by, ip=ip)
    return intent


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
    from payments.gateway import get_gateway

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
    card = attach_saved_card(pledge, intent, ip=ip, gateway=gateway)
    return activate_pledge(pledge, payment_method_id=card.id, by=by)


def attach_saved_card(pledge, intent, *, ip="", gateway):
    """Attach the card a succeeded SetupIntent saved to the supporter's customer; returns it.

    A decline here is counted against the supporter like any refused card. The card form is
    then finished: it can take no other card, and a block need not ask about it again.
    """
    from payments.gateway import PaymentDeclined
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
    IssuedSetupIntent.objects.filter(setup_intent_id=intent.id, finished_at=None).update(
        finished_at=timezone.now()
    )
    return card


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
        campaign = lock_for_pledging(pledge.campaign_id)
        locked = (
            Pledge.objects.select_for_update(of=("self",))
            .select_related("campaign", "reward")
            .get(pk=pledge.pk)
        )
        locked.campaign = campaign
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
            _require_open_campaign(campaign, now)
            _claim_reward(locked.reward, locked)
        except DomainError as error:
            refusal = error
        else:
            active = transition(
                locked,
                Status.ACTIVE,
                by=by,
                updates={"payment_method_id": payment_method_id, "activated_at": now},
                after_commit=[_refresh_campaign_page],
            )
            _send_confirmation(locked)  # in this transaction: queued once, sent after commit
    if refusal is not None:
        # Outside the claim's transaction: the refusal itself must be kept.
        transition(
            pledge,
            Status.CANCELLED,
            by=by,
            note=refusal.message,
            after_commit=[_cancel_superseded_later],
        )
        raise refusal
    pledge.__dict__.update(status=active.status, payment_method_id=payment_method_id)
    return active


def _detach_later(member_id, payment_method_id):
    from pledges.tasks import detach_replaced_card

    detach_replaced_card.delay(member_id, payment_method_id)


# Pledges that may still charge their saved card.
_CARD_IN_USE_STATUSES = (
    *Pledge.OPEN_STATUSES,
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
    queue_email(
        f"pledge:{pledge.pk}:confirmed",
        pledge.supporter.email,
        "pledge_confirmed",
        {"pledge": pledge, "campaign": pledge.campaign},
    )


def change_pledge(pledge, *, by, amount_minor, reward, share_email_with_organizer=None):
    """Change the amount or reward of an active pledge (before the deadline), and the consent
    to share the supporter's email with the organizer (None: leave it as it is)."""
    if pledge.supporter_id != by.pk:
        raise NotPermitted("This is not your pledge.")
    with transaction.atomic():
        campaign = lock_for_pledging(pledge.campaign_id)
        locked = Pledge.objects.select_for_update().get(pk=pledge.pk)
        locked.campaign = campaign
        _require_open_campaign(campaign)  # first: "the campaign has ended" says it all
        if locked.status != Status.ACTIVE:
            raise DomainError("Only an active pledge can be changed.")
        validate_pledge_terms(campaign, supporter=by, amount_minor=amount_minor, reward=reward)
        if reward is not None and reward.pk != locked.reward_id:
            _claim_reward(reward, locked)
        note = (
            f"{format_money(locked.amount_minor, locked.currency)} → "
            f"{format_money(amount_minor, locked.currency)}; reward {locked.reward_id} → "
            f"{reward.pk if reward else None}"
        )
        if share_email_with_organizer is not None and (
            bool(share_email_with_organizer) != locked.share_email_with_organizer
        ):
            locked.share_email_with_organizer = bool(share_email_with_organizer)
            note += "; " + _consent_note(locked.share_email_with_organizer)
        locked.amount_minor = amount_minor
        locked.reward = reward
        locked.save(
            update_fields=["amount_minor", "reward", "share_email_with_organizer", "updated_at"]
        )
        record(locked, action="changed", by=by, note=note)
        transaction.on_commit(lambda: _refresh_campaign_page(locked), robust=True)
    return locked


def _consent_note(shared):
    """The email consent as audit notes word it."""
    return "email shared with the organizer: " + ("yes" if shared else "no")


def set_email_consent(pledge, *, by, share):
    """The supporter gives (share=True) or withdraws the consent to show their email address
    to the campaign's team for delivering a reward.

    Their own pledge only (NotPermitted otherwise), in every status but pending (a pledge not
    made yet; DomainError): rewards go out after the deadline, when the pledge itself can no
    longer change, so neither the campaign's state nor the pledge's limits this. Audited
    ("email_consent:given", "email_consent:withdrawn"); the same choice again changes nothing.
    Returns the pledge.
    """
    if pledge.supporter_id != by.pk:
        raise NotPermitted(_("This is not your pledge."))
    share = bool(share)
    with transaction.atomic():
        locked = Pledge.objects.select_for_update().get(pk=pledge.pk)
        if locked.status == Status.PENDING:
            raise DomainError(_("Add your card first: until then this pledge is not made."))
        if locked.share_email_with_organizer != share:
            locked.share_email_with_organizer = share
            locked.save(update_fields=["share_email_with_organizer", "updated_at"])
            action = "email_consent:given" if share else "email_consent:withdrawn"
            record(locked, action=action, by=by)
    return locked


def start_card_update(pledge, *, by, ip="", gateway=None):
    """A new SetupIntent for an open pledge; confirm_card activates it or swaps the card.

    Used by "update card" on an active pledge, and by "Try another card" when a pending
    pledge's SetupIntent can no longer be confirmed (a declined card on localstripe, failed
    3-D Secure). A card the previous SetupIntent was refused is counted first, so a client
    that never reports its declines cannot test cards by asking for new SetupIntents. The
    SetupIntents this one replaces are cancelled at the provider after commit (a task).
    """
    from payments.gateway import PaymentError, get_gateway

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
    intent = _issue_setup_intent(pledge, by=by, ip=ip, purpose=purpose, gateway=gateway)
    # Only now: the task must find the new SetupIntent current, or it would keep the old one.
    transaction.on_commit(lambda: _cancel_superseded_later(pledge), robust=True)
    pledge.client_secret = intent.client_secret
    return pledge


def cancel_open_setup_intents(member=None, *, ip=None, gateway=None):
    """A block: every unfinished SetupIntent issued to the member, or from the IP, is cancelled.

    All of them, not only their pledges' current ones: an older card form's client secret
    still works at Stripe, and a card tester keeps them. Called after commit, never under a
    lock; best-effort (see _cancel_issued). Returns how many were cancelled.
    """
    ip = throttle.normalize_ip(ip)
    if member is None and ip is None:
        return 0
    issued = IssuedSetupIntent.objects.none()
    if member is not None:
        issued |= IssuedSetupIntent.objects.filter(pledge__supporter=member)
    if ip is not None:
        issued |= IssuedSetupIntent.objects.filter(ip=ip)
    return _cancel_issued(
        issued, note="pledging paused after repeated card failures.", gateway=gateway
    )


def cancel_superseded_setup_intents(pledge_id, *, gateway=None):
    """Cancel a pledge's card forms that can no longer be its current one.

    All but the current SetupIntent of an open pledge (a newer form replaced them: "Try
    another card", a card update); all of them once the pledge is closed (replaced by a new
    attempt, expired, cancelled, released). Worked out when it runs, so it is safe to run
    twice or late. Best-effort (see _cancel_issued). Returns how many were cancelled.
    """
    pledge = Pledge.objects.filter(pk=pledge_id).only("status", "setup_intent_id").first()
    if pledge is None:
        return 0
    issued = IssuedSetupIntent.objects.filter(pledge_id=pledge_id)
    if pledge.status in Pledge.OPEN_STATUSES:
        issued = issued.exclude(setup_intent_id=pledge.setup_intent_id)
    return _cancel_issued(issued, note="replaced by a newer card form.", gateway=gateway)


def _cancel_issued(issued, *, note, gateway=None):
    """Cancel the unfinished SetupIntents among `issued` at the provider; mark them finished.

    One that succeeded (a saved card) or was already cancelled is only marked. Never under a
    lock, one call at a time. A failure is logged and the others still go ahead; a retryable
    one (an outage) is raised at the end so that the task tries again (cancelling is
    idempotent, and finished ones are not asked about again); one the provider does not know
    (resource_missing) can never take a card and is marked finished.
    """
    from payments.gateway import PaymentError, PaymentProviderError, get_gateway

    gateway = gateway or get_gateway()
    cancelled, retry = 0, None
    for form in issued.filter(finished_at=None).select_related("pledge").order_by("pk"):
        cancelled_now = False
        try:
            intent = gateway.retrieve_setup_intent(form.setup_intent_id)
            if intent.status not in ("succeeded", "canceled"):
                gateway.cancel_setup_intent(intent.id)
                cancelled_now = True
        except PaymentError as error:
            logger.warning(
                "could not cancel %s of pledge %s: %s",
                form.setup_intent_id,
                form.pledge_id,
                getattr(error, "detail", "") or error.message,
            )
            outage = isinstance(error, PaymentProviderError) and error.retryable
            if outage:
                retry = error
            if outage or getattr(error, "code", "") != "resource_missing":
                continue
        IssuedSetupIntent.objects.filter(pk=form.pk).update(finished_at=timezone.now())
        if cancelled_now:
            cancelled += 1
            record(
                form.pledge, action="setup_intent_cancelled", note=f"{form.setup_intent_id}: {note}"
            )
    if retry is not None:
        raise retry
    return cancelled


def _cancel_superseded_later(pledge):
    """After commit: the worker cancels the pledge's card forms that were replaced."""
    from pledges.tasks import cancel_superseded_setup_intents

    # Most closing pledges (a release of a whole campaign) have none left: no task for them.
    if IssuedSetupIntent.objects.filter(pledge_id=pledge.pk, finished_at=None).exists():
        cancel_superseded_setup_intents.delay(pledge.pk)


def cancel_pledge(pledge, *, by):
    """The supporter withdraws an open pledge while the campaign is live (before its deadline)."""
    if pledge.supporter_id != by.pk:
        raise NotPermitted("This is not your pledge.")
    with transaction.atomic():
        campaign = lock_for_pledging(pledge.campaign_id)
        if campaign.status != Campaign.Status.LIVE or campaign.has_ended:
            raise DomainError("The campaign has ended; pledges can no longer change.")
        return transition(
            pledge,
            Status.CANCELLED,
            by=by,
            after_commit=[_refresh_campaign_page, _cancel_superseded_later],
        )


def release_pledges_for(
    campaign,
    *,
    by=None,
    limit=None,
    from_statuses=Pledge.OPEN_STATUSES,
    note="Campaign cancelled or not funded.",
):
    """The campaign will not charge: open pledges are released, their cards never charged.

    Batch work (campaign cancelled, or not funded at its deadline): chunks of pledges move
    with one statement each and their card forms are cancelled at the provider after commit.
    Pledges locked by a write in progress are skipped and left to the next sweep. Returns the
    number released.
    """
    result = transition_many(
        Pledge.objects.filter(campaign_id=campaign.pk),
        Status.RELEASED,
        from_statuses=from_statuses,
        by=by,
        note=note,
        after_commit_chunk=_after_release,
        limit=limit,
    )
    if result.count:
        page_cache.forget(campaign)
    return result.count


def _after_release(pledge_ids):
    """Once a chunk of released pledges committed: tell the supporters, cancel card forms."""
    from pledges.tasks import cancel_superseded_setup_intents

    released = Pledge.objects.filter(pk__in=pledge_ids).select_related("campaign", "supporter")
    for pledge in released:
        if pledge.activated_at is not None:  # a saved card: they were counting on it
            queue_email(
                f"pledge:{pledge.pk}:released",
                pledge.supporter.email,
                "pledge_released",
                {"pledge": pledge, "campaign": pledge.campaign},
            )
    forms = IssuedSetupIntent.objects.filter(pledge_id__in=pledge_ids, finished_at=None)
    for pledge_id in forms.values_list("pledge_id", flat=True).distinct():
        cancel_superseded_setup_intents.delay(pledge_id)


def expire_abandoned_pledges(*, older_than, now=None, gateway=None):
    """Pending pledges whose card was never saved: cancel them so nothing stays half-made.

    The provider is asked first: a supporter who saved a card and closed the page before we
    heard of it (a lost webhook) keeps the pledge, which is activated as the card page would
    have done. A provider that cannot be reached leaves the pledge for the next run. Card
    forms are cancelled at the provider after commit; a later setup_intent.succeeded for a
    cancelled pledge is ignored (it is no longer open). Returns how many were cancelled.
    """
    from payments.gateway import PaymentError, PaymentProviderError, get_gateway

    gateway = gateway or get_gateway()
    cutoff = (now or timezone.now()) - older_than
    expired = 0
    stale = Pledge.objects.filter(status=Status.PENDING, created_at__lt=cutoff).select_related(
        "campaign", "supporter"
    )
    for pledge in stale.iterator():
        if pledge.setup_intent_id:
            try:
                intent = gateway.retrieve_setup_intent(pledge.setup_intent_id)
            except PaymentProviderError as error:
                if error.retryable:
                    logger.warning("pledge %s left pending: %s", pledge.pk, error.detail)
                    continue
                intent = None  # the provider does not know it: nothing was saved
            if intent is not None and intent.status == "succeeded":
                try:
                    confirm_card(pledge, setup_intent_id=intent.id, gateway=gateway)
                except PaymentError as error:
                    logger.warning("pledge %s: saved card not usable: %s", pledge.pk, error)
                except DomainError:
                    pass  # refused (campaign closed, reward gone): confirm_card cancelled it
                continue
        moved = transition(
            pledge,
            Status.CANCELLED,
            note="The card was never saved.",
            after_commit=[_cancel_superseded_later],
        )
        expired += moved.moved
    return expired
