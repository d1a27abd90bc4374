"""Campaigns in the Django admin: the review queue, moderation buttons and actions, and edits.

Every write goes through campaigns.services, exactly as the organizer's pages do: status
changes (approve, request changes, reject, unpublish, feature) are buttons on a campaign's
page and bulk actions in the lists; saving the change form calls update_basics /
update_story / update_funding / set_allow_no_reward and the reward, budget and stretch-goal
services, which check the rules and write the audit trail. A rule the services refuse is
shown on the field it names and nothing is saved. What the services would refuse anyway is
read-only here: content once a campaign is no longer editable, money terms once it is
submitted, a tier's terms once live. Slug and organizer are never edited here (no service
changes them). Money is shown and typed in major units with its currency.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied
from django.db.models import Q, Sum
from django.forms.models import BaseInlineFormSet
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django_object_actions import DjangoObjectActions, action

from campaigns import page_cache, selectors, services
from campaigns.forms import MoneyField, MonthField
from campaigns.models import (
    BudgetItem,
    Campaign,
    CampaignInReview,
    Collaborator,
    RewardTier,
    StretchGoal,
)
from core.errors import DomainError
from core.models import AuditEvent
from core.money import format_money, input_text, percent_of

Status = Campaign.Status

BASICS_FIELDS = ["title", "summary", "category", "location"]
TERMS_FIELDS = ["goal_minor", "currency", "funding_model", "duration_days", "end_date"]
# Set by services/transitions only, or not editable here at all.
ALWAYS_READONLY = [
    "goal",
    "slug",
    "organizer",
    "status",
    "featured",
    "review_note",
    "cancellation_reason",
    "submitted_at",
    "launched_at",
    "deadline",
    "ended_at",
    "created_at",
    "updated_at",
    "public_id",
    "story_preview",
    "cover_preview",
    "links",
    "audit_trail",
]


def _is_draft(campaign):
    return campaign is not None and campaign.status == Status.DRAFT


def _content_editable(campaign):
    return campaign is not None and campaign.content_editable


def _money(amount_minor, currency):
    return format_money(amount_minor, currency) or "—"


def _date_time(value):
    """A date and time in the site's format (config/formats), in the site's time zone."""
    if value is None:
        return "—"
    return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")


# --- refusals from the services, shown on the form ---------------------------------------------
class ServiceRefusal(Exception):
    """A service refused part of an admin save: which form (by prefix), which field, why.

    Raised inside the admin's atomic change view, so everything that save wrote is rolled
    back; CampaignAdmin.changeform_view then shows the same form again with the message.
    """

    def __init__(self, prefix, field, message):
        super().__init__(message)
        self.prefix, self.field, self.message = prefix, field, message


# The services name fields as the organizer's forms do; the admin's fields are the model's.
FIELD_NAMES = {"goal": "goal_minor", "minimum": "minimum_minor", "amount": "amount_minor"}


def _refusal(error, *, prefix):
    """A DomainError as a ServiceRefusal on the admin field its `field` names."""
    return ServiceRefusal(prefix, FIELD_NAMES.get(error.field, error.field), error.message)


def _show_refusal(form, refusal):
    """Put a refusal for this form (same prefix) on its field, or on the form as a whole."""
    if refusal is None or refusal.prefix != form.prefix:
        return
    field = refusal.field if refusal.field in form.fields else None
    form.add_error(field, refusal.message)


# --- inlines --------------------------------------------------------------------------------
class _SeenWithTheCampaign:
    """Whoever may see a campaign sees its rewards, budget and team: a reviewer with only
    campaign permissions would otherwise review a campaign without its budget."""

    def has_view_permission(self, request, obj=None):
        opts = self.parent_model._meta
        may_see_campaign = request.user.has_perm(
            f"{opts.app_label}.{get_permission_codename('view', opts)}"
        ) or request.user.has_perm(f"{opts.app_label}.{get_permission_codename('change', opts)}")
        return may_see_campaign or super().has_view_permission(request, obj)


class _MoneyInlineForm(forms.ModelForm):
    """An inline row whose amount is typed in major units of the campaign's currency."""

    money_field = ""  # the model's *_minor field
    money_label = ""

    def __init__(self, *args, currency="EUR", **kwargs):
        super().__init__(*args, **kwargs)
        if self.money_field in self.fields:
            self.fields[self.money_field] = MoneyField(
                currency=currency, label=self.money_label, help_text=f"In {currency}."
            )
            amount = getattr(self.instance, self.money_field)
            if amount is not None:
                self.initial[self.money_field] = input_text(amount, currency)


class RewardTierAdminForm(_MoneyInlineForm):
    money_field, money_label = "minimum_minor", _("Minimum pledge")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Not declared on the class: a declared field would stay in the form when read-only.
        if "estimated_delivery" in self.fields:
            self.fields["estimated_delivery"] = MonthField(
                required=False, label=_("Estimated delivery (month)")
            )

    class Meta:
        model = RewardTier
        fields = ["title", "description", "minimum_minor", "quantity_limit", "estimated_delivery"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2, "cols": 40})}


class BudgetItemAdminForm(_MoneyInlineForm):
    money_field, money_label = "amount_minor", _("Amount")

    class Meta:
        model = BudgetItem
        fields = ["label", "amount_minor", "required"]


class StretchGoalAdminForm(_MoneyInlineForm):
    money_field, money_label = "amount_minor", _("When the total reaches")

    class Meta:
        model = StretchGoal
        fields = ["amount_minor", "description"]


class ServiceFormSet(BaseInlineFormSet):
    """Gives each row the campaign's currency; shows a service's refusal on its row."""

    refusal = None  # set by CampaignAdmin on the second pass of a refused save

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "currency": self.instance.currency}

    def clean(self):
        super().clean()
        if self.refusal is None:
            return
        for form in self.forms:
            deleted = self.can_delete and self._should_delete_form(form)
            if not deleted:
                _show_refusal(form, self.refusal)
            elif self.refusal.prefix == form.prefix:
                # A refused deletion: the admin hides a deleted row's errors, so say it above.
                raise forms.ValidationError(self.refusal.message)


class _ServiceInline(_SeenWithTheCampaign, admin.TabularInline):
    """An inline saved row by row through campaigns.services (see CampaignAdmin.save_formset)."""

    formset = ServiceFormSet
    extra = 0
    editable_fields = []  # what the services let an admin change for this campaign
    display_fields = {}  # money fields and their read-only display methods

    def editable(self, obj):
        return []

    def get_fields(self, request, obj=None):
        editable = self.editable(obj)
        return [
            name if name in editable else self.display_fields.get(name, name)
            for name in self.editable_fields
        ]

    def get_readonly_fields(self, request, obj=None):
        editable = self.editable(obj)
        return [name for name in self.get_fields(request, obj) if name not in editable]

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.refusal = getattr(request, "_service_refusal", None)
        return formset

    # The campaigns.services functions that save and delete one row of this inline.
    save_service = None  # (campaign, stored row or None, *, by, **editable values) -> row
    delete_service = None  # (row, *, by)

    def save_row(self, campaign, form, *, by):
        stored = self._stored(form)
        values = self._values(form, stored, self.editable_fields)
        return self.save_service(campaign, stored, by=by, **values)

    def delete_row(self, instance, *, by):
        self.delete_service(instance, by=by)

    @staticmethod
    def _stored(form):
        """The row as stored, None for a new one (not the form's edited copy)."""
        if form.instance.pk is None:
            return None
        return type(form.instance).objects.get(pk=form.instance.pk)

    @staticmethod
    def _values(form, stored, names):
        """The row's values: what was typed for editable fields, the stored ones for the rest."""
        source = stored or form.instance
        return {
            name: form.cleaned_data[name] if name in form.cleaned_data else getattr(source, name)
            for name in names
        }


class RewardTierInline(_ServiceInline):
    """Drafts and approved campaigns: everything. Live: descriptions only (new tiers are added
    on the organizer's page: a row here would have the live columns read-only)."""

    model = RewardTier
    form = RewardTierAdminForm
    editable_fields = [
        "title",
        "description",
        "minimum_minor",
        "quantity_limit",
        "estimated_delivery",
    ]
    display_fields = {"minimum_minor": "minimum", "estimated_delivery": "delivery"}
    save_service = staticmethod(services.save_reward)
    delete_service = staticmethod(services.delete_reward)

    def editable(self, obj):
        if not _content_editable(obj):
            return []
        if obj.status == Status.LIVE:
            return ["description"]  # pledges rely on the rest
        return self.editable_fields

    def has_add_permission(self, request, obj=None):
        editable = _content_editable(obj) and obj.status != Status.LIVE
        return editable and super().has_add_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return _is_draft(obj) and super().has_delete_permission(request, obj)

    @admin.display(description=_("Minimum pledge"))
    def minimum(self, obj):
        return _money(obj.minimum_minor, obj.campaign.currency)

    @admin.display(description=_("Estimated delivery"))
    def delivery(self, obj):
        if obj.estimated_delivery is None:
            return "—"
        return formats.date_format(obj.estimated_delivery, "YEAR_MONTH_FORMAT")


class BudgetItemInline(_ServiceInline):
    """The budget is part of the money terms: editable in drafts only."""

    model = BudgetItem
    form = BudgetItemAdminForm
    editable_fields = ["label", "amount_minor", "required"]
    display_fields = {"amount_minor": "amount"}
    save_service = staticmethod(services.save_budget_item)
    delete_service = staticmethod(services.delete_budget_item)

    def editable(self, obj):
        return self.editable_fields if _is_draft(obj) else []

    def has_add_permission(self, request, obj=None):
        return _is_draft(obj) and super().has_add_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return _is_draft(obj) and super().has_delete_permission(request, obj)

    @admin.display(description=_("Amount"))
    def amount(self, obj):
        return _money(obj.amount_minor, obj.campaign.currency)


class StretchGoalInline(_ServiceInline):
    model = StretchGoal
    form = StretchGoalAdminForm
    editable_fields = ["amount_minor", "description"]
    display_fields = {"amount_minor": "amount"}
    save_service = staticmethod(services.save_stretch_goal)
    delete_service = staticmethod(services.delete_stretch_goal)

    def editable(self, obj):
        return self.editable_fields if _content_editable(obj) else []

    def has_add_permission(self, request, obj=None):
        return _content_editable(obj) and super().has_add_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return _content_editable(obj) and super().has_delete_permission(request, obj)

    @admin.display(description=_("When the total reaches"))
    def amount(self, obj):
        return _money(obj.amount_minor, obj.campaign.currency)


class CollaboratorInline(_SeenWithTheCampaign, admin.TabularInline):
    """Shown for context; invitations go through the organizer's team page (it emails them)."""

    model = Collaborator
    fk_name = "campaign"
    extra = 0
    fields = ["email", "member", "invited_by", "invited_at", "accepted_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# --- the action page with a note ------------------------------------------------------------
class NoteForm(forms.Form):
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 5, "cols": 60}))

    def __init__(self, *args, label, required, help_text="", **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["note"]
        field.label, field.required, field.help_text = label, required, help_text
        if required:
            field.error_messages["required"] = f"{label} is required."


def _run_with_note(
    modeladmin,
    request,
    queryset,
    *,
    action,
    title,
    intro,
    label,
    required,
    submit,
    run,
    done,
    allowed_statuses=None,
    help_text="",
):
    """Show a page asking for a note, then call `run(campaign, note)` for each campaign.

    The standard admin confirmation pattern: the page re-posts the selected ids and the
    action's name plus "apply"; the changelist routes that back here. A domain error on one
    campaign is reported by name and the others are still processed.
    """
    if "apply" in request.POST:
        form = NoteForm(request.POST, label=label, required=required)
        if form.is_valid():
            note = form.cleaned_data["note"].strip()
            succeeded = []
            # Concrete Campaign rows, also when acting from the review queue's proxy.
            campaigns = Campaign.objects.filter(pk__in=queryset.values("pk")).select_related(
                "organizer"
            )
            for campaign in campaigns:
                if allowed_statuses and campaign.status not in allowed_statuses:
                    modeladmin.message_user(
                        request,
                        f"“{campaign.title}”: not changed, it is "
                        f"{campaign.get_status_display().lower()}.",
                        messages.ERROR,
                    )
                    continue
                try:
                    run(campaign, note)
                except DomainError as error:
                    modeladmin.message_user(
                        request, f"“{campaign.title}”: {error.message}", messages.ERROR
                    )
                else:
                    succeeded.append(campaign.title)
            if succeeded:
                modeladmin.message_user(
                    request,
                    f"{done}: " + ", ".join(f"“{t}”" for t in succeeded) + ".",
                    messages.SUCCESS,
                )
            return None  # back to the change list
    else:
        form = NoteForm(label=label, required=required, help_text=help_text)
    opts = modeladmin.model._meta
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "intro": intro,
        "opts": opts,
        "queryset": queryset.select_related("organizer"),
        "form": form,
        "action": action,
        "submit_label": submit,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "media": modeladmin.media,
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(request, "admin/campaigns/action_with_note.html", context)


def _unpublish_run(by):
    def run(campaign, reason):
        services.cancel(campaign, by=by, reason=reason)
        page_cache.forget(campaign)  # visitors must not see a cached "live" page afterwards

    return run


# One decision each, shared by the bulk action (several campaigns) and the button (one).
DECISIONS = {
    "approve": {
        "permission": "review",
        "statuses": {Status.IN_REVIEW},
        "title": "Approve",
        "intro": "Once approved, the organizer can launch the campaign.",
        "label": "Note to the organizer",
        "required": False,
        "help_text": "Optional. Sent with the approval email.",
        "submit": "Approve",
        "done": "Approved",
        "run": lambda by: lambda campaign, note: services.approve(campaign, by=by, note=note),
    },
    "request_changes": {
        "permission": "review",
        "statuses": {Status.IN_REVIEW},
        "title": "Request changes",
        "intro": "The campaign goes back to draft; the organizer sees your note and can resubmit.",
        "label": "What should change",
        "required": True,
        "help_text": "Shown to the organizer on their campaign and sent by email.",
        "submit": "Request changes",
        "done": "Changes requested",
        "run": lambda by: (
            lambda campaign, note: services.request_changes(campaign, by=by, note=note)
        ),
    },
    "reject": {
        "permission": "review",
        "statuses": {Status.IN_REVIEW},
        "title": "Reject",
        "intro": "The campaign is rejected for good; the organizer cannot resubmit it.",
        "label": "Reason for the rejection",
        "required": True,
        "help_text": "Sent to the organizer by email.",
        "submit": "Reject",
        "done": "Rejected",
        "run": lambda by: lambda campaign, note: services.reject(campaign, by=by, note=note),
    },
    "unpublish": {
        "permission": "moderate",
        "statuses": {Status.LIVE},
        "title": "Unpublish",
        "intro": (
            "The campaign is cancelled: it stops taking pledges, every pledge is released (no "
            "supporter is charged), and the organizer is emailed your reason."
        ),
        "label": "Reason",
        "required": True,
        "help_text": "Sent to the organizer and kept in the audit log.",
        "submit": "Unpublish",
        "done": "Unpublished",
        "run": _unpublish_run,
    },
}


def _bulk_decision(modeladmin, request, queryset, name, *, action, title, intro, **extra):
    """A DECISIONS entry as a bulk action: the list's own title and intro, the rest shared."""
    decision = DECISIONS[name]
    return _run_with_note(
        modeladmin,
        request,
        queryset,
        action=action,
        title=title,
        intro=intro,
        label=decision["label"],
        required=decision["required"],
        help_text=decision["help_text"],
        submit=decision["submit"],
        run=decision["run"](request.user),
        done=decision["done"],
        **extra,
    )


@admin.action(description="Approve selected campaigns", permissions=["review"])
def approve_campaigns(modeladmin, request, queryset):
    return _bulk_decision(
        modeladmin,
        request,
        queryset,
        "approve",
        action="approve_campaigns",
        title="Approve campaigns",
        intro="These campaigns will be approved; their organizers can then launch them.",
    )


@admin.action(description="Request changes to selected campaigns", permissions=["review"])
def request_changes(modeladmin, request, queryset):
    return _bulk_decision(
        modeladmin,
        request,
        queryset,
        "request_changes",
        action="request_changes",
        title="Request changes",
        intro="These campaigns go back to draft; the organizer sees your note and can resubmit.",
    )


@admin.action(description="Reject selected campaigns", permissions=["review"])
def reject_campaigns(modeladmin, request, queryset):
    return _bulk_decision(
        modeladmin,
        request,
        queryset,
        "reject",
        action="reject_campaigns",
        title="Reject campaigns",
        intro="These campaigns will be rejected for good; the organizer cannot resubmit them.",
    )


@admin.action(description="Unpublish (cancel) selected live campaigns", permissions=["moderate"])
def unpublish_campaigns(modeladmin, request, queryset):
    return _bulk_decision(
        modeladmin,
        request,
        queryset,
        "unpublish",
        action="unpublish_campaigns",
        title="Unpublish live campaigns",
        intro=(
            "These campaigns will be cancelled: they stop taking pledges, every pledge is "
            "released (no supporter is charged), and the organizer is emailed your reason."
        ),
        allowed_statuses=DECISIONS["unpublish"]["statuses"],
    )


def _set_featured(modeladmin, request, queryset, featured):
    changed = []
    for campaign in Campaign.objects.filter(pk__in=queryset.values("pk")):
        try:
            services.set_featured(campaign, by=request.user, featured=featured)
        except DomainError as error:
            modeladmin.message_user(request, f"“{campaign.title}”: {error.message}", messages.ERROR)
        else:
            changed.append(campaign.title)
    if changed:
        verb = "Featured" if featured else "No longer featured"
        modeladmin.message_user(request, f"{verb}: " + ", ".join(f"“{t}”" for t in changed) + ".")


@admin.action(description="Feature on the home page", permissions=["moderate"])
def feature_campaigns(modeladmin, request, queryset):
    _set_featured(modeladmin, request, queryset, True)


@admin.action(description="Stop featuring on the home page", permissions=["moderate"])
def unfeature_campaigns(modeladmin, request, queryset):
    _set_featured(modeladmin, request, queryset, False)


# --- campaigns ------------------------------------------------------------------------------
class CampaignAdminForm(forms.ModelForm):
    """The editable campaign fields; the goal is typed in major units of its currency."""

    refusal = None  # set by CampaignAdmin.get_form on the second pass of a refused save

    class Meta:
        model = Campaign
        fields = TERMS_FIELDS  # the admin replaces these with the fieldsets' editable fields
        widgets = {"story": forms.Textarea(attrs={"rows": 16, "cols": 80})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "goal_minor" in self.fields:
            currency = self.instance.currency
            self.fields["goal_minor"] = MoneyField(
                currency=currency,
                required=False,
                label=_("Goal"),
                help_text=f"In {currency}, e.g. 5000 or 5000.50.",
            )
            self.initial["goal_minor"] = input_text(self.instance.goal_minor, currency)

    def clean(self):
        cleaned = super().clean()
        terms_changed = set(self.changed_data) & set(TERMS_FIELDS)
        goal_missing = "goal_minor" in self.fields and cleaned.get("goal_minor") is None
        if terms_changed and goal_missing and "goal_minor" not in self.errors:
            self.add_error("goal_minor", "Enter the goal.")
        _show_refusal(self, self.refusal)
        return cleaned


class ReviewButtons(DjangoObjectActions):
    """Approve / request changes / reject / unpublish / feature buttons on a campaign's page.

    Each button shows only when the campaign's status allows it and the admin has the
    permission; the action checks both again (a URL can be typed), then the service checks.
    The note actions open a page with the note field; afterwards the admin is back on the
    campaign's own page with a message.
    """

    change_actions = ["approve", "request_changes", "reject", "unpublish", "feature", "unfeature"]

    def get_change_actions(self, request, object_id, form_url):
        campaign = Campaign.objects.filter(pk=object_id).first()
        if campaign is None:
            return []
        return [name for name in self.change_actions if self._may(request, name, campaign)]

    def _may(self, request, name, campaign):
        if name in ("feature", "unfeature"):
            allowed = (
                campaign.featured
                if name == "unfeature"
                else (not campaign.featured and campaign.status == Status.LIVE)
            )
            return allowed and self.has_moderate_permission(request)
        decision = DECISIONS[name]
        has_permission = getattr(self, f"has_{decision['permission']}_permission")(request)
        return campaign.status in decision["statuses"] and has_permission

    def _decide(self, request, obj, name):
        campaign = Campaign.objects.select_related("organizer").get(pk=obj.pk)
        back = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
        decision = DECISIONS[name]
        if not getattr(self, f"has_{decision['permission']}_permission")(request):
            raise PermissionDenied
        if campaign.status not in decision["statuses"]:
            self.message_user(
                request,
                f"“{campaign.title}”: not changed, it is {campaign.get_status_display().lower()}.",
                messages.ERROR,
            )
            return redirect(back)
        form_kwargs = {"label": decision["label"], "required": decision["required"]}
        if request.method == "POST":
            form = NoteForm(request.POST, **form_kwargs)
            if form.is_valid():
                try:
                    decision["run"](request.user)(campaign, form.cleaned_data["note"].strip())
                except DomainError as error:
                    field = "note" if error.field in ("note", "reason") else None
                    form.add_error(field, error.message)
                else:
                    self.message_user(
                        request, f"{decision['done']}: “{campaign.title}”.", messages.SUCCESS
                    )
                    return redirect(back)
        else:
            form = NoteForm(help_text=decision["help_text"], **form_kwargs)
        opts = Campaign._meta
        context = {
            **self.admin_site.each_context(request),
            "title": f"{decision['title']}: {campaign.title}",
            "intro": decision["intro"],
            "opts": opts,
            "campaign": campaign,
            "form": form,
            "submit_label": decision["submit"],
            "back_url": back,
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/campaigns/campaign_decision.html", context)

    @action(label=_("Approve"), description=_("Approve this campaign"), button_type="a")
    def approve(self, request, obj):
        return self._decide(request, obj, "approve")

    @action(
        label=_("Request changes"),
        description=_("Send it back to the organizer with a note"),
        button_type="a",
    )
    def request_changes(self, request, obj):
        return self._decide(request, obj, "request_changes")

    @action(label=_("Reject"), description=_("Reject this campaign for good"), button_type="a")
    def reject(self, request, obj):
        return self._decide(request, obj, "reject")

    @action(
        label=_("Unpublish"),
        description=_("Cancel this live campaign and release its pledges"),
        button_type="a",
    )
    def unpublish(self, request, obj):
        return self._decide(request, obj, "unpublish")

    def _feature(self, request, obj, featured):
        if not self.has_moderate_permission(request):
            raise PermissionDenied
        campaign = Campaign.objects.get(pk=obj.pk)
        try:
            services.set_featured(campaign, by=request.user, featured=featured)
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)
        else:
            verb = "Featured on the home page" if featured else "No longer featured"
            self.message_user(request, f"{verb}: “{campaign.title}”.", messages.SUCCESS)
        return redirect("admin:campaigns_campaign_change", campaign.pk)

    @action(
        label=_("Feature on the home page"),
        description=_("Show this campaign on the home page"),
        button_type="form",
        methods=("POST",),
    )
    def feature(self, request, obj):
        return self._feature(request, obj, True)

    @action(
        label=_("Stop featuring"),
        description=_("Take this campaign off the home page"),
        button_type="form",
        methods=("POST",),
    )
    def unfeature(self, request, obj):
        return self._feature(request, obj, False)


@admin.register(Campaign)
class CampaignAdmin(ReviewButtons, admin.ModelAdmin):
    form = CampaignAdminForm
    list_display = [
        "title",
        "organizer",
        "status",
        "funding_model",
        "goal",
        "progress",
        "ends",
        "featured",
    ]
    list_filter = ["status", "category", "funding_model", "featured"]
    search_fields = ["title", "organizer__email", "organizer__display_name", "location"]
    list_select_related = ["organizer"]
    date_hierarchy = "created_at"
    inlines = [RewardTierInline, BudgetItemInline, StretchGoalInline, CollaboratorInline]
    actions = [
        approve_campaigns,
        request_changes,
        reject_campaigns,
        unpublish_campaigns,
        feature_campaigns,
        unfeature_campaigns,
    ]

    def get_fieldsets(self, request, obj=None):
        money_terms = ["goal_minor" if _is_draft(obj) else "goal", *TERMS_FIELDS[1:]]
        fieldsets = [
            (None, {"fields": ["title", "slug", "organizer", "status", "featured", "links"]}),
            (
                _("Presentation"),
                {"fields": ["summary", "category", "location", "story_preview", "cover_preview"]},
            ),
        ]
        if _content_editable(obj) and self.has_change_permission(request, obj):
            fieldsets.append(
                (
                    _("Story source (Markdown)"),
                    {
                        "fields": ["story"],
                        "classes": ["collapse"],
                        "description": _("Edit the story here; the rendered version is above."),
                    },
                )
            )
        fieldsets += [
            (
                _("Money terms"),
                {
                    "fields": [*money_terms, "allow_no_reward"],
                    "description": _("Fixed once the campaign is submitted for review."),
                },
            ),
            (
                _("Review and schedule"),
                {
                    "fields": [
                        "review_note",
                        "cancellation_reason",
                        "submitted_at",
                        "launched_at",
                        "deadline",
                        "ended_at",
                    ]
                },
            ),
            (_("Record"), {"fields": ["public_id", "created_at", "updated_at", "audit_trail"]}),
        ]
        return fieldsets

    def get_queryset(self, request):
        return selectors.with_totals(super().get_queryset(request))

    def get_readonly_fields(self, request, obj=None):
        fields = list(ALWAYS_READONLY)
        if not _content_editable(obj):
            fields += [*BASICS_FIELDS, "allow_no_reward"]
        if not _is_draft(obj):
            fields += TERMS_FIELDS
        return fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.refusal = getattr(request, "_service_refusal", None)
        return form

    def get_actions(self, request):
        actions = super().get_actions(request)
        # Bulk delete would bypass the draft-only rule below.
        actions.pop("delete_selected", None)
        return actions

    # Checked by the actions (permissions=["review"] / ["moderate"]); the services check again.
    def has_review_permission(self, request):
        return request.user.has_perm(services.REVIEW_PERMISSION)

    def has_moderate_permission(self, request):
        return request.user.has_perm(services.MODERATE_PERMISSION)

    def has_add_permission(self, request):
        # Campaigns start with an organizer ("Start a campaign"), not in the admin.
        return False

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.status != Status.DRAFT:
            return False
        return super().has_delete_permission(request, obj)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        campaign = Campaign.objects.filter(pk=object_id).first()
        if campaign is not None and not campaign.content_editable:
            # Nothing on the page can be saved (the services would refuse): no Save buttons.
            extra_context = {
                **(extra_context or {}),
                "show_save": False,
                "show_save_and_continue": False,
                "show_save_and_add_another": False,
            }
        return super().change_view(request, object_id, form_url, extra_context)

    # --- saving through the services ---
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ServiceRefusal as refusal:
            # The view is atomic, so the refused save wrote nothing. Validate the same POST
            # again with the refusal as a form error: the admin's own error page, no save.
            request._service_refusal = refusal
            return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        # The services check the stored campaign, not the form's edited copy (`obj`).
        campaign = Campaign.objects.get(pk=obj.pk)
        data, changed, by = form.cleaned_data, set(form.changed_data), request.user

        def value(name):
            return data[name] if name in data else getattr(campaign, name)

        try:
            if changed & set(BASICS_FIELDS):
                services.update_basics(
                    campaign, by=by, **{name: value(name) for name in BASICS_FIELDS}
                )
            if "story" in changed:
                services.update_story(campaign, by=by, story=data["story"])
            if changed & set(TERMS_FIELDS):
                services.update_funding(
                    campaign, by=by, **{name: value(name) for name in TERMS_FIELDS}
                )
            if "allow_no_reward" in changed:
                services.set_allow_no_reward(campaign, by=by, allowed=data["allow_no_reward"])
        except DomainError as error:
            raise _refusal(error, prefix=form.prefix) from None
        page_cache.forget(campaign)

    def save_related(self, request, form, formsets, change):
        # No form.save_m2m(): a campaign has no many-to-many fields, and every write is a service.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def save_formset(self, request, form, formset, change):
        # What formset.save() would leave behind, for the admin's change message.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        inline = next(
            (
                i
                for i in self.get_inline_instances(request, form.instance)
                if i.model is formset.model
            ),
            None,
        )
        if not isinstance(inline, _ServiceInline):
            return  # read-only inlines (collaborators)
        campaign = Campaign.objects.get(pk=form.instance.pk)
        by = request.user
        for row in formset.deleted_forms:  # first, so a removed item frees room in the goal
            if row.instance.pk is None:
                continue
            try:
                inline.delete_row(row.instance, by=by)
            except DomainError as error:
                raise ServiceRefusal(row.prefix, None, error.message) from None
            formset.deleted_objects.append(row.instance)
        for row in formset.forms:
            if row in formset.deleted_forms or not row.has_changed():
                continue
            is_new = row.instance.pk is None
            try:
                saved = inline.save_row(campaign, row, by=by)
            except DomainError as error:
                raise _refusal(error, prefix=row.prefix) from None
            if is_new:
                formset.new_objects.append(saved)
            else:
                formset.changed_objects.append((saved, row.changed_data))
        page_cache.forget(campaign)

    def delete_model(self, request, obj):
        if obj.status != Status.DRAFT:
            raise DomainError("Only drafts can be deleted; cancel the campaign instead.")
        super().delete_model(request, obj)

    # --- columns and read-only displays ---
    @admin.display(description=_("Goal"), ordering="goal_minor")
    def goal(self, obj):
        return format_money(obj.goal_minor, obj.currency, whole=True) or "—"

    @admin.display(description=_("Pledged"), ordering="pledged_minor")
    def progress(self, obj):
        pledged = getattr(obj, "pledged_minor", None)
        if pledged is None or obj.launched_at is None:
            return "—"
        if not obj.goal_minor:
            return format_money(pledged, obj.currency, whole=True)
        return f"{percent_of(pledged, obj.goal_minor)}%"

    @admin.display(description=_("Deadline"), ordering="deadline")
    def ends(self, obj):
        if not obj.deadline:
            return "—"
        return formats.date_format(timezone.localtime(obj.deadline), "DATE_FORMAT")

    @admin.display(description=_("Story"))
    def story_preview(self, obj):
        if not obj.story_html:
            return "—"
        # story_html is rendered and sanitized by campaigns.rendering when the story is saved.
        return format_html('<div class="gs-story">{}</div>', mark_safe(obj.story_html))  # noqa: S308

    @admin.display(description=_("Cover"))
    def cover_preview(self, obj):
        image = obj.cover_card or obj.cover
        if not image:
            return "—"
        return format_html(
            '<img src="{}" alt="{}" width="320" style="max-width:100%;height:auto">',
            image.url,
            f"Cover of “{obj.title}”",
        )

    @admin.display(description=_("Pages"))
    def links(self, obj):
        if obj.pk is None:
            return "—"
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">Preview</a> · '
            '<a href="{}" target="_blank" rel="noopener">Public page</a>',
            _preview_url(obj),
            obj.get_absolute_url(),
        )

    @admin.display(description=_("History"))
    def audit_trail(self, obj):
        if obj.pk is None:
            return "—"
        events = (
            AuditEvent.objects.filter(
                target_type__app_label="campaigns",
                target_type__model="campaign",
                target_id=str(obj.pk),
            )
            .select_related("actor")
            .order_by("-created_at", "-id")[:25]
        )
        if not events:
            return "—"
        return format_html(
            "<ul class='gs-history'>{}</ul>",
            format_html_join(
                "",
                "<li>{} — {} by {}{}</li>",
                (
                    (
                        _date_time(event.created_at),
                        event.action,
                        event.actor or "the system",
                        f": {event.note}" if event.note else "",
                    )
                    for event in events
                ),
            ),
        )


def _preview_url(campaign):
    try:
        return reverse("campaigns:preview", args=[campaign.pk])
    except NoReverseMatch:  # pragma: no cover - the URL ships with the organizer pages
        return campaign.get_absolute_url()


@admin.register(CampaignInReview)
class ReviewQueueAdmin(CampaignAdmin):
    """Campaigns waiting for a decision, oldest submission first."""

    list_display = [
        "title",
        "organizer",
        "submitted_at",
        "location",
        "goal",
        "budget",
        "pages",
    ]
    list_filter = ["category", "funding_model"]
    ordering = ["submitted_at", "id"]
    date_hierarchy = None
    actions = [approve_campaigns, request_changes, reject_campaigns]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(status=Status.IN_REVIEW)
            .annotate(
                required_budget_minor=Sum(
                    "budget_items__amount_minor", filter=Q(budget_items__required=True)
                )
            )
        )

    def changelist_view(self, request, extra_context=None):
        title = _("Campaigns in review, oldest submission first")
        return super().changelist_view(request, {**(extra_context or {}), "title": title})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        title = _("Review campaign")
        return super().change_view(
            request, object_id, form_url, {**(extra_context or {}), "title": title}
        )

    @admin.display(description=_("Required budget"))
    def budget(self, obj):
        total = getattr(obj, "required_budget_minor", None)
        return format_money(total, obj.currency, whole=True) if total else "—"

    @admin.display(description=_("Pages"))
    def pages(self, obj):
        # One link a line (admin.css): the column stays narrow enough for 1280 pixels.
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">Preview</a>'
            '<a href="{}" target="_blank" rel="noopener">Public page</a>',
            _preview_url(obj),
            obj.get_absolute_url(),
        )
