"""Pledges, their charge attempts, card forms and refused pledge attempts in the Django admin:
read-only; the two buttons ("Retry now" on a pledge, "Reconcile" on an attempt) ask for a
confirmation and call the settlement services, which write the audit rows."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django_object_actions import DjangoObjectActions, action

from core.admin import ReadOnlyAdmin
from core.errors import DomainError
from core.money import format_money
from pledges.models import IssuedSetupIntent, PaymentAttempt, Pledge, PledgeFailure


class PaymentAttemptInline(admin.TabularInline):
    """Every try at charging the pledge, newest first, with the provider's answer."""

    model = PaymentAttempt
    fields = [
        "number",
        "trigger",
        "status",
        "amount",
        "payment_intent_id",
        "decline_code",
        "created_at",
        "finished_at",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name = "charge attempt"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Amount")
    def amount(self, attempt):
        return format_money(attempt.amount_minor, attempt.currency)


def confirm_then(model_admin, request, obj, *, title, intro, submit, run, done):
    """The admin's confirmation page for a button that moves money; POST runs `run(by)`."""
    opts = model_admin.model._meta
    back = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    if not model_admin.has_settle_permission(request):
        raise PermissionDenied
    if request.method == "POST":
        try:
            run(request.user)
        except DomainError as error:
            model_admin.message_user(request, error.message, messages.ERROR)
        else:
            model_admin.message_user(request, done, messages.SUCCESS)
        return redirect(back)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "intro": intro,
        "object": obj,
        "opts": opts,
        "submit_label": submit,
        "back_url": back,
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/pledges/confirm_action.html", context)


class SettlementPermission:
    def has_settle_permission(self, request):
        return request.user.has_perm("pledges.retry_pledge")


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
class PledgeAdmin(SettlementPermission, DjangoObjectActions, ReadOnlyAdmin):
    list_display = ["campaign", "supporter", "amount", "status", "reward", "created_at"]
    list_filter = [
        "status",
        ("campaign", admin.RelatedOnlyFieldListFilter),
        "currency",
        "created_at",
    ]
    search_fields = [
        "=public_id",
        "supporter__email",
        "supporter__display_name",
        "campaign__title",
    ]
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
        "next_attempt_at",
        "fix_window_ends_at",
        "collected_at",
        "updated_at",
    ]
    readonly_fields = fields
    inlines = [PaymentAttemptInline, IssuedSetupIntentInline]
    change_actions = ["retry_now"]
    # Object actions, and a Refund link to the payouts app's refund page (by URL name only).
    change_form_template = "admin/pledges/pledge/change_form.html"

    @admin.display(description="Amount", ordering="amount_minor")
    def amount(self, pledge):
        return format_money(pledge.amount_minor, pledge.currency)

    def get_change_actions(self, request, object_id, form_url):
        pledge = Pledge.objects.filter(pk=object_id).first()
        retryable = pledge is not None and pledge.status in (
            Pledge.Status.CHARGING,
            Pledge.Status.RETRYING,
        )
        return ["retry_now"] if retryable and self.has_settle_permission(request) else []

    @action(label=_("Retry now"), description=_("Charge the saved card again now"))
    def retry_now(self, request, obj):
        from pledges import settlement

        amount = format_money(obj.amount_minor, obj.currency)
        return confirm_then(
            self,
            request,
            obj,
            title=f"Retry now: {amount} from {obj.supporter}",
            intro=(
                f"The saved card is charged {amount} now, with a new attempt and its own "
                "idempotency key. Refused if the pledge is collected or an attempt is in flight."
            ),
            submit="Yes, charge the card now",
            run=lambda by: settlement.retry_now(obj, by=by),
            done="A new attempt was queued; its result appears below in a few seconds.",
        )


@admin.register(PaymentAttempt)
class PaymentAttemptAdmin(SettlementPermission, DjangoObjectActions, ReadOnlyAdmin):
    """Charge attempts: what was sent to the provider for each pledge, and its answer."""

    list_display = [
        "created_at",
        "pledge",
        "campaign",
        "number",
        "trigger",
        "status",
        "amount",
        "payment_intent_id",
        "decline_code",
    ]
    list_filter = [
        "status",
        "trigger",
        ("pledge__campaign", admin.RelatedOnlyFieldListFilter),
        "created_at",
    ]
    search_fields = ["=payment_intent_id", "=idempotency_key", "=pledge__public_id"]
    list_select_related = ["pledge__campaign"]
    date_hierarchy = "created_at"
    fields = [
        "pledge",
        "number",
        "trigger",
        "status",
        "amount",
        "idempotency_key",
        "payment_method_id",
        "payment_intent_id",
        "charge_id",
        "decline_code",
        "failure_message",
        "created_at",
        "sent_at",
        "finished_at",
        "updated_at",
    ]
    readonly_fields = fields
    change_actions = ["reconcile"]

    @admin.display(description="Campaign", ordering="pledge__campaign__title")
    def campaign(self, attempt):
        return attempt.pledge.campaign

    @admin.display(description="Amount", ordering="amount_minor")
    def amount(self, attempt):
        return format_money(attempt.amount_minor, attempt.currency)

    def get_change_actions(self, request, object_id, form_url):
        return ["reconcile"] if self.has_settle_permission(request) else []

    @action(label=_("Reconcile"), description=_("Ask the provider what became of this attempt"))
    def reconcile(self, request, obj):
        from pledges import reconciliation

        return confirm_then(
            self,
            request,
            obj,
            title=f"Reconcile attempt {obj.number} of pledge {obj.pledge.public_id}",
            intro=(
                "The provider is asked what became of this attempt (by its PaymentIntent, the "
                "same idempotency key within 24 hours, or a search by its metadata) and the "
                "answer is recorded. Nothing is charged that was not already asked for."
            ),
            submit="Yes, ask the provider",
            run=lambda by: reconciliation.reconcile_now(obj, by=by),
            done="Reconciled: the attempt shows what the provider answered.",
        )


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
