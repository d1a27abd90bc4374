"""Payments in the Django admin: read-only webhook events (with reprocessing) and customers."""

import json

from django.contrib import admin, messages
from django.utils.html import format_html

from core.admin import ReadOnlyAdmin
from payments import services
from payments.models import StripeCustomer, WebhookEvent


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ["event_id", "type", "status", "attempts", "received_at", "processed_at"]
    list_filter = ["status", "type"]
    search_fields = ["=event_id"]
    date_hierarchy = "received_at"
    actions = ["reprocess_selected"]
    fields = [
        "event_id",
        "type",
        "status",
        "attempts",
        "created_at_provider",
        "received_at",
        "processed_at",
        "processing_error",
        "pretty_payload",
    ]
    readonly_fields = fields

    @admin.display(description="payload")
    def pretty_payload(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, sort_keys=True))

    def has_reprocess_permission(self, request):
        return request.user.has_perm("payments.reprocess_webhookevent")

    @admin.action(description="Reprocess selected events", permissions=["reprocess"])
    def reprocess_selected(self, request, queryset):
        count = services.reprocess_webhook_events(queryset, by=request.user)
        self.message_user(
            request, f"{count} event(s) queued for reprocessing.", level=messages.SUCCESS
        )


@admin.register(StripeCustomer)
class StripeCustomerAdmin(ReadOnlyAdmin):
    list_display = ["customer_id", "member", "created_at"]
    list_select_related = ["member"]
    search_fields = ["=customer_id", "member__email"]
    fields = ["member", "customer_id", "created_at"]
    readonly_fields = fields
