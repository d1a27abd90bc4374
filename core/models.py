"""Core records: the audit log (who moved what from which status to which, when and why), the
installation's id, and the email outbox."""

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext_lazy as _


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


class OutboundEmail(models.Model):
    """One email to one recipient, stored once per key (which event for whom) and sent by a
    task; the row is the record of what was sent, and a failure stays here for an admin."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        # A run claimed the row and is talking to the mail server (see core.emails.deliver).
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    key = models.CharField(
        _("key"),
        max_length=200,
        unique=True,
        help_text=_("Which event for whom, e.g. pledge:42:charge_failed:attempt:3."),
    )
    to = models.EmailField(_("to"))
    template = models.CharField(_("template"), max_length=100, db_index=True)
    subject = models.TextField(_("subject"))
    body_text = models.TextField(_("plain-text body"))
    body_html = models.TextField(_("HTML body"), blank=True)
    # Extra message headers, e.g. List-Unsubscribe and List-Unsubscribe-Post (RFC 8058).
    headers = models.JSONField(_("headers"), default=dict, blank=True)
    holds_secret = models.BooleanField(
        _("holds a one-time link"),
        default=False,
        help_text=_(
            "A sign-in, confirmation or password-reset link: the body is never shown in the "
            "admin, and is removed once the email is sent."
        ),
    )
    status = models.CharField(_("status"), max_length=16, choices=Status, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(
        _("attempts"), default=0, help_text=_("How many times a run tried to send it.")
    )
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("outbound email")
        verbose_name_plural = _("outbound emails")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(status="sent", sent_at__isnull=False)
                    | (~models.Q(status="sent") & models.Q(sent_at__isnull=True))
                ),
                name="outboundemail_sent_at_matches_status",
            ),
        ]
        permissions = [("resend_outboundemail", "Can send failed emails again")]

    def __str__(self):
        return f"{self.template} to {self.to}"
