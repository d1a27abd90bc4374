"""Payment records: the Stripe customer of each member and the store of received webhook events."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class StripeCustomer(models.Model):
    """The one provider-side customer a member's saved cards belong to."""

    member = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="stripe_customer"
    )
    customer_id = models.CharField(max_length=255, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "Stripe customer"

    def __str__(self):
        return self.customer_id


class WebhookEvent(models.Model):
    """One event delivered by Stripe, stored once (unique event id) and processed in a task."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored (no handler)"
        FAILED = "failed", "Failed"

    DONE_STATUSES = (Status.PROCESSED, Status.IGNORED)

    event_id = models.CharField("event id", max_length=255, unique=True)
    type = models.CharField(max_length=100, db_index=True)
    payload = models.JSONField(help_text="The whole event as Stripe sent it.")
    created_at_provider = models.DateTimeField(help_text="When Stripe created the event.")
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    status = models.CharField(max_length=16, choices=Status, default=Status.PENDING)
    processed_at = models.DateTimeField(null=True, blank=True)
    processing_error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(
        default=0, help_text="How many times processing ran for this event."
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["status", "received_at"])]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(status__in=["processed", "ignored"], processed_at__isnull=False)
                    | Q(status__in=["pending", "failed"], processed_at__isnull=True)
                ),
                name="webhookevent_processed_at_matches_status",
            ),
        ]
        permissions = [("reprocess_webhookevent", "Can reprocess webhook events")]

    def __str__(self):
        return f"{self.type} {self.event_id}"

    @property
    def is_done(self):
        return self.processed_at is not None
