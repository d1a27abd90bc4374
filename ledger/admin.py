"""The ledger in the Django admin, for whoever reviews the money: read-only (nothing edits a
ledger row), transactions with their entries, accounts with their balances."""

from django.contrib import admin
from django.db.models import Exists, OuterRef, Q, Sum
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.admin import ReadOnlyAdmin
from core.money import format_money
from ledger.models import Account, Entry, Transaction
from ledger.selectors import accounts_with_balances


class EntryInline(admin.TabularInline):
    """Each account's side of the transaction: money leaves the negative ones."""

    model = Entry
    fields = ["account", "direction", "amount"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False
    verbose_name = _("entry")
    verbose_name_plural = _("entries (they sum to zero)")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("Direction"))
    def direction(self, entry):
        return gettext("In") if entry.amount_minor > 0 else gettext("Out")

    @admin.display(description=_("Amount"))
    def amount(self, entry):
        return format_money(entry.amount_minor, entry.currency)


class AccountFilter(admin.SimpleListFilter):
    """The transactions that moved one account (the accounts list links here)."""

    title = _("account")
    parameter_name = "account"

    def lookups(self, request, model_admin):
        # Only the chosen account: listing every campaign's accounts would be a long sidebar.
        value = self.value()
        if not (value and value.isdigit()):
            return []
        chosen = Account.objects.filter(pk=value).first()
        return [(value, str(chosen))] if chosen else []

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        if not value.isdigit():
            return queryset.none()
        moved = Entry.objects.filter(transaction=OuterRef("pk"), account_id=int(value))
        return queryset.filter(Exists(moved))


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdmin):
    list_display = [
        "occurred_at",
        "kind",
        "amount",
        "campaign_id",
        "pledge_id",
        "provider_object_id",
        "is_estimate",
    ]
    list_filter = [AccountFilter, "kind", "currency", "is_estimate"]
    search_fields = ["=key", "=provider_object_id"]
    date_hierarchy = "occurred_at"
    fields = [
        "kind",
        "amount",
        "is_estimate",
        "occurred_at",
        "recorded_at",
        "key",
        "memo",
        "campaign_id",
        "pledge_id",
        "attempt_id",
        "provider_object_id",
    ]
    readonly_fields = fields
    inlines = [EntryInline]

    def get_queryset(self, request):
        # The amount a transaction moved: what its positive entries received (the negative
        # ones give as much), summed in the same query as the page's rows.
        return (
            super()
            .get_queryset(request)
            .annotate(
                moved_minor=Sum("entries__amount_minor", filter=Q(entries__amount_minor__gt=0))
            )
        )

    @admin.display(description=_("Amount moved"), ordering="moved_minor")
    def amount(self, transaction):
        return format_money(transaction.moved_minor, transaction.currency)


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "kind", "reference", "currency", "balance", "transactions"]
    list_filter = ["kind", "currency"]
    search_fields = ["=reference"]
    fields = ["kind", "reference", "currency", "created_at", "balance", "transactions"]
    readonly_fields = fields

    def get_queryset(self, request):
        return accounts_with_balances(super().get_queryset(request))

    @admin.display(description=_("Balance (in minus out)"), ordering="balance_minor")
    def balance(self, account):
        return format_money(account.balance_minor, account.currency)

    @admin.display(description=_("Transactions"))
    def transactions(self, account):
        url = reverse("admin:ledger_transaction_changelist")
        return format_html('<a href="{}?account={}">{}</a>', url, account.pk, gettext("View"))
