"""Pledges: a supporter's promise to pay a campaign, backed by a saved card.

Lifecycle (DESIGN.md): pending (SetupIntent created) → active (card saved, counts toward the
total) → cancelled (by the supporter before the deadline) or, at the deadline, released
(campaign failed/cancelled) or charging → collected; charging → action_required | retrying
→ collected | dropped; collected → refunded | partially_refunded | disputed; disputed →
collected | partially_refunded (won) | charged_back (lost).
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext

from core.money import CURRENCY_CHOICES


class Pledge(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for card"
        ACTIVE = "active", "Active"
        CANCELLED = "cancelled", "Cancelled"
        RELEASED = "released", "Released"
        CHARGING = "charging", "Charging"
        ACTION_REQUIRED = "action_required", "Action required"
        RETRYING = "retrying", "Retrying"
        COLLECTED = "collected", "Collected"
        DROPPED = "dropped", "Dropped"
        REFUNDED = "refunded", "Refunded"
        PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
        DISPUTED = "disputed", "Disputed"
        CHARGED_BACK = "charged_back", "Charged back"

    TRANSITIONS = {
        Status.PENDING: {Status.ACTIVE, Status.CANCELLED, Status.RELEASED},
        Status.ACTIVE: {Status.CANCELLED, Status.RELEASED, Status.CHARGING},
        # charging → dropped: the fix window closed while no attempt could be made at all.
        Status.CHARGING: {
            Status.COLLECTED,
            Status.ACTION_REQUIRED,
            Status.RETRYING,
            Status.DROPPED,
        },
        Status.ACTION_REQUIRED: {Status.COLLECTED, Status.RETRYING, Status.DROPPED},
        Status.RETRYING: {Status.COLLECTED, Status.ACTION_REQUIRED, Status.DROPPED},
        # dropped → collected: a payment found to have succeeded after all (reconciliation,
        # or 3-D Secure completed late) is recorded, never hidden.
        Status.DROPPED: {Status.COLLECTED},
        Status.COLLECTED: {Status.REFUNDED, Status.PARTIALLY_REFUNDED, Status.DISPUTED},
        # A second partial refund keeps partially_refunded: payouts.refunds audits it itself,
        # since the transition helper passes over a move to the state a row is already in.
        Status.PARTIALLY_REFUNDED: {Status.REFUNDED, Status.DISPUTED},
        # A dispute won gives the pledge back what it was; one lost is a chargeback.
        Status.DISPUTED: {Status.COLLECTED, Status.PARTIALLY_REFUNDED, Status.CHARGED_BACK},
    }
    # Pledges that count toward a campaign's total, supporters and reward stock.
    COUNTED_STATUSES = (
        Status.ACTIVE,
        Status.CHARGING,
        Status.ACTION_REQUIRED,
        Status.RETRYING,
        Status.COLLECTED,
    )
    # A member holds at most one of these per campaign.
    OPEN_STATUSES = (Status.PENDING, Status.ACTIVE)
    # After the deadline: the money is still being taken (pledges.settlement).
    SETTLING_STATUSES = (Status.CHARGING, Status.ACTION_REQUIRED, Status.RETRYING)
    # The money was taken: collected, and what may become of it afterwards.
    TAKEN_STATUSES = (
        Status.COLLECTED,
        Status.REFUNDED,
        Status.PARTIALLY_REFUNDED,
        Status.DISPUTED,
        Status.CHARGED_BACK,
    )
    # The money was taken and a part of it may still be given back.
    REFUNDABLE_STATUSES = (Status.COLLECTED, Status.PARTIALLY_REFUNDED)

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.PROTECT, related_name="pledges"
    )
    supporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="pledges"
    )
    reward = models.ForeignKey(
        "campaigns.RewardTier",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="pledges",
    )
    amount_minor = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    status = models.CharField(max_length=20, choices=Status, default=Status.PENDING)
    public_name = models.CharField(max_length=80, blank=True)
    anonymous = models.BooleanField(default=False)
    message = models.CharField(max_length=280, blank=True)
    idempotency_key = models.CharField(max_length=64, blank=True)
    # A hash of the terms first sent with idempotency_key: the same key with other terms is
    # refused, not answered with this pledge (Stripe's rule). Empty on pledges made before it.
    idempotency_fingerprint = models.CharField(max_length=64, blank=True, editable=False)
    setup_intent_id = models.CharField(max_length=255, blank=True)
    payment_method_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    # Settlement (pledges.settlement). charge_enqueued_at: when a charge task was last sent
    # for it, so the sweep re-sends only what the broker lost, not what is still queued.
    charge_enqueued_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The next automatic try of a declined card (none after a hard decline: a new card is
    # needed), and the end of the window in which the supporter can fix it before it drops.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    fix_window_ends_at = models.DateTimeField(null=True, blank=True)
    collected_at = models.DateTimeField(null=True, blank=True)
    # Where the supporter came from (a share link's ?ref= and utm_source, captured at pledge
    # time by pledges.referrals); shown to organizers as referrers on their dashboard.
    referral_code = models.CharField(max_length=64, blank=True)
    referral_source = models.CharField(max_length=64, blank=True)
    # Consent to give the organizer the supporter's email address for delivering a reward:
    # without it the supporters list and its CSV never show the address.
    share_email_with_organizer = models.BooleanField(default=False)
    # Reward fulfilment (pledges.fulfilment): when the organizer marked the reward sent, and
    # the tracking reference they gave for it.
    reward_sent_at = models.DateTimeField(null=True, blank=True)
    reward_tracking = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="pledge_amount_positive"),
            models.UniqueConstraint(
                fields=["campaign", "supporter"],
                condition=Q(status__in=["pending", "active"]),
                name="pledge_one_open_per_member",
            ),
            models.UniqueConstraint(
                fields=["supporter", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="pledge_unique_idempotency_key",
            ),
        ]
        indexes = [
            models.Index(fields=["campaign", "status"]),
            models.Index(fields=["reward", "status"]),
            models.Index(fields=["status", "next_attempt_at"]),
        ]

    def __str__(self):
        return f"Pledge {self.pk} to {self.campaign_id}"

    @property
    def charge_promise(self):
        """The funding model in plain words, for the confirmation page and email."""
        from django.utils.dateformat import format as format_date
        from django.utils.timezone import localtime

        from core.money import format_money

        amount = format_money(self.amount_minor, self.currency)
        campaign = self.campaign
        when = (
            format_date(localtime(campaign.deadline), "j F Y")
            if campaign.deadline
            else "the deadline"
        )
        if campaign.is_all_or_nothing:
            goal = format_money(campaign.goal_minor, campaign.currency, whole=True)
            return (
                f"You will be charged {amount} on {when} only if the campaign reaches its goal "
                f"of {goal}. If it does not, you pay nothing."
            )
        return (
            f"You will be charged {amount} on {when}, when the campaign ends, whatever its total."
        )

    @property
    def can_change(self):
        return self.status == self.Status.ACTIVE and self.campaign.is_live

    @property
    def display_name(self):
        """The supporter as they chose to be shown (see shown_name)."""
        return self.shown_name(
            anonymous=self.anonymous,
            public_name=self.public_name,
            supporter_name=self.supporter.display_name,
        )

    @staticmethod
    def shown_name(*, anonymous, public_name, supporter_name):
        """What anyone may know of a pledge's supporter: "Anonymous", else the name given
        with the pledge, else the member's display name. For rows read as plain values (the
        supporters CSV); a pledge has display_name."""
        if anonymous:
            return gettext("Anonymous")
        return public_name or supporter_name


class PledgeFailure(models.Model):
    """A card that failed at the provider, kept for admins watching for card testing.

    Only the provider's verdict on a card counts (a decline, a failed 3-D Secure), never a
    typo in the form or a provider outage. One row per refused card on a SetupIntent (Stripe
    lets one SetupIntent try many cards): the webhook and the card page's confirm call both
    report the same failure, and it is counted once.
    """

    class Kind(models.TextChoices):
        DECLINED = "declined", "Card declined"
        CARD_ERROR = "card_error", "Card error (e.g. failed 3-D Secure)"

    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ip = models.GenericIPAddressField(null=True, blank=True)
    campaign = models.ForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=Kind, default=Kind.DECLINED)
    setup_intent_id = models.CharField(max_length=255, blank=True)
    payment_method_id = models.CharField(max_length=255, blank=True)  # the refused card
    reason = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["setup_intent_id", "payment_method_id"],
                condition=~Q(setup_intent_id=""),
                name="pledge_failure_once_per_refused_card",
            ),
        ]
        indexes = [
            models.Index(fields=["member", "created_at"]),
            models.Index(fields=["ip", "created_at"]),
        ]

    def __str__(self):
        return self.reason


class IssuedSetupIntent(models.Model):
    """Every SetupIntent (card form) we created, the IP that asked for it, and whether it is done.

    Why rows and not the pledge's `setup_intent_id`: that field holds only a pledge's current
    SetupIntent, but each one we ever issued keeps a working client secret at the provider (a
    declined one goes back to requires_payment_method) until it succeeds or is cancelled.
    "Try another card", card updates and a replaced pending pledge each leave an older one
    behind, so superseded ones are cancelled after commit and a block cancels every unfinished
    one of the member (or the IP) — which needs all of them on record, not the latest. The
    webhook, which Stripe sends without the client's IP, finds the IP by the SetupIntent's id
    (unique and indexed here; a list field on the pledge could not be, and appending to one
    would race between two requests).
    """

    pledge = models.ForeignKey(
        Pledge, on_delete=models.CASCADE, related_name="issued_setup_intents"
    )
    setup_intent_id = models.CharField(max_length=255, unique=True)
    ip = models.GenericIPAddressField(null=True, blank=True)  # of the request that asked for it
    created_at = models.DateTimeField(auto_now_add=True)
    # Set once the provider says it succeeded or was cancelled (or never knew it): from then on
    # it cannot take a card, and nothing needs cancelling or asking about again.
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["ip", "finished_at"])]

    def __str__(self):
        return self.setup_intent_id


class PaymentAttempt(models.Model):
    """One try at charging a pledge's saved card, with its own idempotency key.

    Written and committed before the provider is called (status `created`), marked `sent`
    just before the call, and given the outcome after it. A crash or a lost response leaves
    it `created`, `sent` or `unknown`; reconciliation (pledges.reconciliation) settles it with
    the provider before any new attempt is made, so a pledge is never charged twice: the
    database allows one unsettled attempt per pledge.
    """

    class Status(models.TextChoices):
        CREATED = "created", "Created (not sent yet)"
        SENT = "sent", "Sent (waiting for the provider)"
        SUCCEEDED = "succeeded", "Succeeded"
        REQUIRES_ACTION = "requires_action", "Needs the supporter (3-D Secure)"
        FAILED = "failed", "Failed"
        UNKNOWN = "unknown", "Unknown (response lost)"

    TRANSITIONS = {
        Status.CREATED: {Status.SENT, Status.UNKNOWN, Status.FAILED},
        Status.SENT: {
            Status.SUCCEEDED,
            Status.REQUIRES_ACTION,
            Status.FAILED,
            Status.UNKNOWN,
        },
        Status.UNKNOWN: {Status.SENT, Status.SUCCEEDED, Status.REQUIRES_ACTION, Status.FAILED},
        # The supporter completes (or fails) 3-D Secure on the same PaymentIntent; a
        # declined PaymentIntent can still succeed if it is confirmed again on-session.
        Status.REQUIRES_ACTION: {Status.SUCCEEDED, Status.FAILED},
        Status.FAILED: {Status.SUCCEEDED, Status.REQUIRES_ACTION},
    }
    # Not settled yet: the provider may or may not have charged. One per pledge at most.
    UNSETTLED_STATUSES = (Status.CREATED, Status.SENT, Status.UNKNOWN)

    class Trigger(models.TextChoices):
        DEADLINE = "deadline", "Deadline"
        AUTOMATIC_RETRY = "automatic_retry", "Automatic retry"
        NEW_CARD = "new_card", "Supporter saved a new card"
        ADMIN = "admin", "Admin: retry now"

    pledge = models.ForeignKey(Pledge, on_delete=models.PROTECT, related_name="attempts")
    number = models.PositiveSmallIntegerField()
    trigger = models.CharField(max_length=20, choices=Trigger, default=Trigger.DEADLINE)
    amount_minor = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    idempotency_key = models.CharField(max_length=200, unique=True, editable=False)
    payment_method_id = models.CharField(max_length=255)
    # Part of the request: fixed when the attempt is made, so a resend with the same key is
    # the same request even if the campaign's title changed in between.
    statement_descriptor_suffix = models.CharField(max_length=22, blank=True, editable=False)
    status = models.CharField(max_length=20, choices=Status, default=Status.CREATED)
    payment_intent_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    charge_id = models.CharField(max_length=255, blank=True)
    decline_code = models.CharField(max_length=100, blank=True)
    failure_message = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["pledge", "number"], name="attempt_unique_number"),
            models.UniqueConstraint(
                fields=["pledge"],
                condition=Q(status__in=["created", "sent", "unknown"]),
                name="attempt_one_unsettled_per_pledge",
            ),
            models.UniqueConstraint(
                fields=["pledge"],
                condition=Q(status="succeeded"),
                name="attempt_one_success_per_pledge",
            ),
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="attempt_amount_positive"),
            models.CheckConstraint(condition=Q(number__gte=1), name="attempt_number_positive"),
        ]
        indexes = [models.Index(fields=["status", "updated_at"])]
        permissions = [("retry_pledge", "Can retry and reconcile pledge charges")]

    def __str__(self):
        return f"Attempt {self.number} of pledge {self.pledge_id}"

    @property
    def is_unsettled(self):
        return self.status in self.UNSETTLED_STATUSES
