"""Pledges, their card forms and refused pledge attempts in the Django admin: read-only,
services make changes."""

from django.contrib import admin

from core.admin import ReadOnlyAdmin
from core.money import format_money
from pledges.models import IssuedSetupIntent, Pledge, PledgeFailure


class IssuedSetupIntentInline(admin.TabularInline):
    """Every card form the pledge was given, the IP that asked for it, and when it finished."""

    model = IssuedSetupIntent
    fields = ["setup_intent_id", "ip", "created_at", "finished_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name = "card form"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Pledge)
class PledgeAdmin(ReadOnlyAdmin):
    list_display = ["campaign", "supporter", "amount", "status", "reward", "created_at"]
    list_filter = ["status", "currency"]
    search_fields = ["supporter__email", "supporter__display_name", "campaign__title"]
    list_select_related = ["campaign", "supporter", "reward"]
    date_hierarchy = "created_at"
    fields = [
        "public_id",
        "campaign",
        "supporter",
        "reward",
        "amount",
        "status",
        "public_name",
        "anonymous",
        "message",
        "setup_intent_id",
        "payment_method_id",
        "created_at",
        "activated_at",
        "updated_at",
    ]
    readonly_fields = fields
    inlines = [IssuedSetupIntentInline]

    @admin.display(description="Amount", ordering="amount_minor")
    def amount(self, pledge):
        return format_money(pledge.amount_minor, pledge.currency)


@admin.register(PledgeFailure)
class PledgeFailureAdmin(ReadOnlyAdmin):
    """Cards the provider refused, to spot card testing (many failures from one IP)."""

    list_display = ["created_at", "member", "ip", "campaign", "kind", "reason"]
    list_filter = ["kind", "created_at"]
    search_fields = ["ip", "member__email", "reason", "setup_intent_id"]
    list_select_related = ["member", "campaign"]
    readonly_fields = [*list_display, "setup_intent_id"]


@admin.register(IssuedSetupIntent)
class IssuedSetupIntentAdmin(ReadOnlyAdmin):
    """Card forms (SetupIntents) we issued, to see what one IP asked for and what a block
    cancelled; "Finished" is empty while a form could still take a card."""

    list_display = ["setup_intent_id", "pledge", "ip", "created_at", "finished_at"]
    list_filter = [("finished_at", admin.EmptyFieldListFilter), "created_at"]
    search_fields = ["setup_intent_id", "ip", "pledge__supporter__email"]
    list_select_related = ["pledge"]
    readonly_fields = list_display
