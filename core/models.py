"""The audit log: who moved what from which status to which, when and why."""

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models


class AuditEvent(models.Model):
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Empty for the system (tasks, webhooks).",
    )
    action = models.CharField(max_length=64)
    target_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    target_id = models.CharField(max_length=64)
    target = GenericForeignKey("target_type", "target_id")
    from_status = models.CharField(max_length=32, blank=True)
    to_status = models.CharField(max_length=32, blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["target_type", "target_id", "-created_at"])]

    def __str__(self):
        return f"{self.action}: {self.from_status or '—'} → {self.to_status or '—'}"


def record(target, *, action, by=None, from_status="", to_status="", note=""):
    """Write one audit row (call inside the transaction of the change it describes)."""
    return AuditEvent.objects.create(
        actor=by if getattr(by, "pk", None) else None,
        action=action,
        target_type=ContentType.objects.get_for_model(type(target)),
        target_id=str(target.pk),
        from_status=from_status,
        to_status=to_status,
        note=note,
    )


class Installation(models.Model):
    """This database's one row: the random id that keeps its idempotency keys apart from those
    of any other database sharing the same Stripe account (see core.install)."""

    SINGLETON_ID = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_ID, editable=False)
    install_id = models.CharField(max_length=40, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="installation_is_a_singleton")
        ]

    def __str__(self):
        return self.install_id
