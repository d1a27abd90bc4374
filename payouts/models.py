"""Payouts: an organizer's payout account, payout requests with what the money is for (budget
items) and their receipts.

Lifecycle (DESIGN.md, Payout): requested → approved → processing → paid | failed;
requested → rejected; requested → on_hold (account not verified, an admin's hold, later an
open dispute) → requested; a failed payout goes back to review (failed → requested) with its
error, and its next approval is a new transfer attempt (`transfer_number`). Every change goes
through core.transitions with an audit row; the writes are in payouts.services.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.money import CURRENCY_CHOICES


class PayoutAccount(models.Model):
    """Where a member's payouts go: a Stripe Connect Express account (verification mirrored
    from `account.updated`), or a bank account the approving admin pays by hand."""

    class Method(models.TextChoices):
        STRIPE_CONNECT = "stripe_connect", _("Stripe Connect")
        BANK_TRANSFER = "bank_transfer", _("Manual bank transfer")

    class Verification(models.TextChoices):
        NOT_STARTED = "not_started", _("Not started")
        PENDING = "pending", _("Onboarding not finished")
        RESTRICTED = "restricted", _("Restricted: more details needed")
        VERIFIED = "verified", _("Verified")

    member = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="payout_account",
        verbose_name=_("member"),
    )
    method = models.CharField(
        _("method"), max_length=20, choices=Method, default=Method.STRIPE_CONNECT
    )
    verification = models.CharField(
        _("verification"), max_length=20, choices=Verification, default=Verification.NOT_STARTED
    )
    # Stripe Connect, as the last account.updated (or our own retrieve) said.
    stripe_account_id = models.CharField(_("Stripe account"), max_length=255, blank=True)
    charges_enabled = models.BooleanField(_("charges enabled"), default=False)
    payouts_enabled = models.BooleanField(_("payouts enabled"), default=False)
    details_submitted = models.BooleanField(_("details submitted"), default=False)
    requirements_due = models.JSONField(_("requirements due"), default=list, blank=True)
    disabled_reason = models.CharField(_("disabled reason"), max_length=255, blank=True)
    # Manual bank transfer: the IBAN normalised (no spaces, upper case) and its holder.
    iban = models.CharField(_("IBAN"), max_length=34, blank=True)
    account_holder = models.CharField(_("account holder"), max_length=140, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("payout account")
        verbose_name_plural = _("payout accounts")
        constraints = [
            models.UniqueConstraint(
                fields=["stripe_account_id"],
                condition=~Q(stripe_account_id=""),
                name="payout_account_unique_stripe_account",
            ),
        ]

    def __str__(self):
        return f"{self.member} ({self.get_method_display()})"

    @property
    def is_verified(self):
        return self.verification == self.Verification.VERIFIED

    @property
    def is_set_up(self):
        """There is somewhere to pay into: a bank account, or a Connect account opened (verified
        or not). Before that, no payout can be requested."""
        return self.method != self.Method.STRIPE_CONNECT or bool(self.stripe_account_id)

    @property
    def masked_iban(self):
        """The IBAN as people may see it: country, check digits and the last four."""
        return mask_iban(self.iban)

    @property
    def destination_label(self):
        if self.method == self.Method.BANK_TRANSFER:
            return self.masked_iban
        return self.stripe_account_id


def mask_iban(iban):
    if not iban:
        return ""
    return f"{iban[:4]} •••• {iban[-4:]}"


class Payout(models.Model):
    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        ON_HOLD = "on_hold", _("On hold")
        APPROVED = "approved", _("Approved")
        PROCESSING = "processing", _("Being transferred")
        PAID = "paid", _("Paid")
        FAILED = "failed", _("Failed")
        REJECTED = "rejected", _("Rejected")

    class HoldKind(models.TextChoices):
        ACCOUNT_UNVERIFIED = "account_unverified", _("Payout account not verified")
        ADMIN = "admin", _("Held by an admin")
        DISPUTE = "dispute", _("Open dispute")

    TRANSITIONS = {
        Status.REQUESTED: {Status.APPROVED, Status.REJECTED, Status.ON_HOLD},
        Status.ON_HOLD: {Status.REQUESTED, Status.REJECTED},
        Status.APPROVED: {Status.PROCESSING},
        Status.PROCESSING: {Status.PAID, Status.FAILED},
        # A failed transfer goes back to review with its error; approving it again makes a
        # new transfer attempt.
        Status.FAILED: {Status.REQUESTED},
    }
    # Waiting for a decision: what the review queue shows.
    IN_REVIEW_STATUSES = (Status.REQUESTED, Status.ON_HOLD)
    # Requested and not yet settled: counted against what is available to request.
    OPEN_STATUSES = (
        Status.REQUESTED,
        Status.ON_HOLD,
        Status.APPROVED,
        Status.PROCESSING,
        Status.FAILED,
    )

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        on_delete=models.PROTECT,
        related_name="payouts",
        verbose_name=_("campaign"),
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="requested_payouts",
        verbose_name=_("requested by"),
    )
    amount_minor = models.PositiveBigIntegerField(_("amount (minor units)"))
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES)
    status = models.CharField(
        _("status"), max_length=16, choices=Status, default=Status.REQUESTED, db_index=True
    )
    method = models.CharField(_("method"), max_length=20, choices=PayoutAccount.Method)
    # acct_… for Connect, the masked IBAN for a bank transfer: fixed when requested.
    destination = models.CharField(_("destination"), max_length=255, blank=True)
    # A bank transfer's full IBAN and holder as they were when requested: what the approving
    # admin pays (never shown on a public page), and compared with the account at approval.
    bank_iban = models.CharField(_("IBAN requested to"), max_length=34, blank=True)
    bank_account_holder = models.CharField(_("account holder"), max_length=140, blank=True)
    note = models.TextField(_("what the money is for"), max_length=2000)
    requested_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    review_window_ends_at = models.DateTimeField(_("review window ends at"))
    window_waived_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("review window waived by"),
    )
    window_waived_at = models.DateTimeField(_("review window waived at"), null=True, blank=True)
    window_waiver_reason = models.TextField(_("why the window was waived"), blank=True)
    # Who last changed the payout (requested, held, released, waived): they may not approve it.
    last_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("last changed by"),
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="approved_payouts",
        verbose_name=_("approved by"),
    )
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    # The reason of the last rejection or hold, shown to the organizer, and who held it: the
    # platform releases its own holds (the account verified), an admin's only an admin.
    decision_reason = models.TextField(_("reason"), blank=True)
    hold_kind = models.CharField(_("held because"), max_length=20, choices=HoldKind, blank=True)
    # Each approval is one transfer attempt with its own idempotency key.
    transfer_number = models.PositiveIntegerField(_("transfer attempt"), default=0)
    transfer_started_at = models.DateTimeField(_("transfer started at"), null=True, blank=True)
    transfer_enqueued_at = models.DateTimeField(null=True, blank=True, editable=False)
    transfer_id = models.CharField(_("transfer"), max_length=255, blank=True)
    bank_reference = models.CharField(_("bank reference"), max_length=140, blank=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    failure_message = models.TextField(_("last failure"), blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("payout")
        verbose_name_plural = _("payouts")
        ordering = ["-requested_at", "-id"]
        permissions = [
            ("approve_payout", _("Can approve payouts (four-eyes rule, two-factor required)")),
            ("refund_pledge", _("Can refund supporters' pledges (two-factor required)")),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="payout_amount_positive"),
            models.UniqueConstraint(
                fields=["transfer_id"],
                condition=~Q(transfer_id=""),
                name="payout_unique_transfer",
            ),
        ]
        indexes = [models.Index(fields=["campaign", "status"])]

    def __str__(self):
        from core.money import format_money

        return f"{format_money(self.amount_minor, self.currency)} · {self.campaign}"

    @property
    def short_id(self):
        return str(self.public_id)[:8]


class PayoutAllocation(models.Model):
    """Part of a payout's amount and the budget item it pays for (none: "other costs")."""

    payout = models.ForeignKey(
        Payout, on_delete=models.CASCADE, related_name="allocations", verbose_name=_("payout")
    )
    budget_item = models.ForeignKey(
        "campaigns.BudgetItem",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payout_allocations",
        verbose_name=_("budget item"),
    )
    # The budget item's label when requested (kept if the item is renamed), or what the
    # "other costs" line is for.
    label = models.CharField(_("label"), max_length=120)
    amount_minor = models.PositiveBigIntegerField(_("amount (minor units)"))

    class Meta:
        verbose_name = _("budget allocation")
        verbose_name_plural = _("budget allocations")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_minor__gt=0), name="payout_allocation_amount_positive"
            ),
            models.UniqueConstraint(
                fields=["payout", "budget_item"],
                condition=Q(budget_item__isnull=False),
                name="payout_allocation_one_per_item",
            ),
        ]

    def __str__(self):
        return self.label


def receipt_path(receipt, filename):
    """Our own random name (payouts.receipts.stored_name): never the uploader's."""
    from payouts.receipts import stored_name

    return f"receipts/{receipt.payout.public_id}/{stored_name(filename)}"


class PayoutReceipt(models.Model):
    """A receipt or invoice attached to a payout request: a PDF or an image, checked and
    stored under a name we choose (payouts.receipts)."""

    payout = models.ForeignKey(
        Payout, on_delete=models.CASCADE, related_name="receipts", verbose_name=_("payout")
    )
    file = models.FileField(_("file"), upload_to=receipt_path, max_length=255)
    # What the uploader called it, cleaned (shown as the link text only).
    original_name = models.CharField(_("original name"), max_length=120)
    content_type = models.CharField(_("type"), max_length=40)
    size = models.PositiveIntegerField(_("size (bytes)"))
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("receipt")
        verbose_name_plural = _("receipts")
        ordering = ["id"]

    def __str__(self):
        return self.original_name


class PayoutConcern(models.Model):
    """A supporter's concern about a payout request, raised in its review window: public on
    the campaign's Money page, shown to the approving admin, answered by the organizer in
    public. One per supporter and request; admins hide abuse with a reason (audited)."""

    MAX_LENGTH = 500

    payout = models.ForeignKey(
        Payout, on_delete=models.CASCADE, related_name="concerns", verbose_name=_("payout")
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="payout_concerns",
        verbose_name=_("raised by"),
    )
    text = models.TextField(_("concern"), max_length=MAX_LENGTH)
    created_at = models.DateTimeField(_("raised at"), auto_now_add=True)
    answer = models.TextField(_("organizer's answer"), max_length=2000, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("answered by"),
    )
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    hidden_at = models.DateTimeField(_("hidden at"), null=True, blank=True)
    hidden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("hidden by"),
    )
    hidden_reason = models.TextField(_("why it was hidden"), blank=True)

    class Meta:
        verbose_name = _("supporter's concern")
        verbose_name_plural = _("supporters' concerns")
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["payout", "author"], name="payout_concern_one_per_supporter"
            ),
        ]

    def __str__(self):
        return self.text[:60]

    @property
    def is_hidden(self):
        return self.hidden_at is not None


class Refund(models.Model):
    """Money given back to a supporter for a collected pledge, in full or in part: made at the
    provider with its own idempotency key, then written to the ledger (payouts.refunds)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Being refunded")
        SUCCEEDED = "succeeded", _("Refunded")
        FAILED = "failed", _("Failed")

    TRANSITIONS = {
        Status.PENDING: {Status.SUCCEEDED, Status.FAILED},
    }

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    pledge = models.ForeignKey(
        "pledges.Pledge", on_delete=models.PROTECT, related_name="refunds", verbose_name=_("pledge")
    )
    amount_minor = models.PositiveBigIntegerField(_("amount (minor units)"))
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES)
    status = models.CharField(
        _("status"), max_length=16, choices=Status, default=Status.PENDING, db_index=True
    )
    reason = models.TextField(_("reason"), max_length=2000)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("refunded by"),
        help_text=_("Empty for a refund made at the provider (its dashboard)."),
    )
    provider_refund_id = models.CharField(_("provider refund"), max_length=255, blank=True)
    # When the provider was first asked (then a retry looks for what it made before asking).
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    failure_message = models.TextField(_("failure"), blank=True)
    # What was taken back from the organizer's Connect transfers for this refund.
    reversed_minor = models.PositiveBigIntegerField(_("transfer reversed (minor units)"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="refund_amount_positive"),
            models.UniqueConstraint(
                fields=["provider_refund_id"],
                condition=~Q(provider_refund_id=""),
                name="refund_unique_provider_refund",
            ),
            # One refund in flight per pledge: the refundable amount is read under its lock.
            models.UniqueConstraint(
                fields=["pledge"],
                condition=Q(status="pending"),
                name="refund_one_pending_per_pledge",
            ),
        ]

    def __str__(self):
        from core.money import format_money

        pledge = str(self.pledge.public_id)[:8]
        return f"{format_money(self.amount_minor, self.currency)} refund of pledge {pledge}"


class Dispute(models.Model):
    """A supporter's bank disputed a charge (a chargeback): the amount and the provider's fee
    are held back from the campaign while it is open; payouts of the campaign wait."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        WON = "won", _("Won")
        LOST = "lost", _("Lost")

    TRANSITIONS = {
        Status.OPEN: {Status.WON, Status.LOST},
    }

    pledge = models.ForeignKey(
        "pledges.Pledge",
        on_delete=models.PROTECT,
        related_name="disputes",
        verbose_name=_("pledge"),
    )
    provider_dispute_id = models.CharField(_("provider dispute"), max_length=255, unique=True)
    # What the provider withdrew (0 for an inquiry, which withdraws nothing).
    amount_minor = models.PositiveBigIntegerField(_("amount withdrawn (minor units)"), default=0)
    fee_minor = models.PositiveBigIntegerField(_("dispute fee (minor units)"), default=0)
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES)
    status = models.CharField(
        _("status"), max_length=16, choices=Status, default=Status.OPEN, db_index=True
    )
    reason = models.CharField(_("reason"), max_length=64, blank=True)
    opened_at = models.DateTimeField(_("opened at"))
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("dispute")
        verbose_name_plural = _("disputes")
        ordering = ["-opened_at", "-id"]

    def __str__(self):
        return self.provider_dispute_id


class PayoutReversal(models.Model):
    """Money taken back from a paid Connect payout's transfer for a refund: claimed (with its
    amount, fixed under the campaign's lock) before the provider is called, so a retry asks
    for the same reversal under the same key and two refunds never take the same money back."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Being reversed")
        SUCCEEDED = "succeeded", _("Reversed")
        FAILED = "failed", _("Failed")

    TRANSITIONS = {Status.PENDING: {Status.SUCCEEDED, Status.FAILED}}

    refund = models.ForeignKey(
        Refund, on_delete=models.PROTECT, related_name="reversals", verbose_name=_("refund")
    )
    payout = models.ForeignKey(
        Payout, on_delete=models.PROTECT, related_name="reversals", verbose_name=_("payout")
    )
    amount_minor = models.PositiveBigIntegerField(_("amount (minor units)"))
    status = models.CharField(
        _("status"), max_length=16, choices=Status, default=Status.PENDING, db_index=True
    )
    provider_reversal_id = models.CharField(_("provider reversal"), max_length=255, blank=True)
    failure_message = models.TextField(_("failure"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("transfer reversal")
        verbose_name_plural = _("transfer reversals")
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_minor__gt=0), name="payout_reversal_amount_positive"
            ),
            models.UniqueConstraint(fields=["refund", "payout"], name="payout_reversal_once"),
        ]

    def __str__(self):
        return f"{self.amount_minor} from payout {self.payout_id} for refund {self.refund_id}"
