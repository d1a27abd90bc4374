"""Campaigns in the Django admin: the review queue, moderation actions and read-only money terms.

Every status change is an action that goes through campaigns.services (which writes the audit
event and emails the organizer); the status itself is never a form field. Money terms (goal,
currency, funding model, duration/end date) are editable only while a campaign is a draft —
stricter than "once live" because services freeze them at submission too — and a campaign's
identity (slug, organizer) freezes once it has been live. Deleting is for drafts only.
"""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db import models
from django.db.models import Q, Sum
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join

from campaigns import page_cache, selectors, services
from campaigns.models import (
    BudgetItem,
    Campaign,
    CampaignInReview,
    Collaborator,
    RewardTier,
    StretchGoal,
)
from campaigns.rendering import render_story
from core.errors import DomainError
from core.models import AuditEvent
from core.money import format_money, percent_of, validate_goal

Status = Campaign.Status

TERMS_FIELDS = ["goal_minor", "currency", "funding_model", "duration_days", "end_date"]
IDENTITY_FIELDS = ["slug", "organizer"]
# Set by services/transitions only.
ALWAYS_READONLY = [
    "goal",
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
    "cover_preview",
    "links",
    "audit_trail",
]
LIVE_AND_LATER = {Status.LIVE, Status.SETTLING, Status.FUNDED, Status.FAILED, Status.CANCELLED}


def _is_draft(campaign):
    return campaign is not None and campaign.status == Status.DRAFT


# --- inlines --------------------------------------------------------------------------------
class _AmountRulesFormSet(forms.BaseInlineFormSet):
    """Re-checks, in the admin, the money rules services enforce for organizers."""

    def _live_forms(self):
        return [
            form
            for form in self.forms
            if form.has_changed() or form.instance.pk
            if not (self.can_delete and self._should_delete_form(form))
            if hasattr(form, "cleaned_data")
        ]


class RewardFormSet(_AmountRulesFormSet):
    def clean(self):
        super().clean()
        goal = self.instance.goal_minor
        for form in self._live_forms():
            minimum = form.cleaned_data.get("minimum_minor")
            if minimum is None:
                continue
            if minimum < settings.MIN_PLEDGE_MINOR:
                form.add_error("minimum_minor", "Below the platform's minimum pledge.")
            elif goal and minimum > goal:
                form.add_error("minimum_minor", "A reward cannot ask more than the goal.")


class BudgetFormSet(_AmountRulesFormSet):
    def clean(self):
        super().clean()
        goal = self.instance.goal_minor
        required = sum(
            form.cleaned_data.get("amount_minor") or 0
            for form in self._live_forms()
            if form.cleaned_data.get("required")
        )
        if goal and required > goal:
            currency = self.instance.currency
            raise forms.ValidationError(
                f"Required budget items add up to {format_money(required, currency)}, "
                f"more than the goal of {format_money(goal, currency)}."
            )


class StretchGoalFormSet(_AmountRulesFormSet):
    def clean(self):
        super().clean()
        goal = self.instance.goal_minor
        for form in self._live_forms():
            amount = form.cleaned_data.get("amount_minor")
            if amount is not None and (not goal or amount <= goal):
                form.add_error("amount_minor", "A stretch goal must be above the goal.")


class RewardTierInline(admin.TabularInline):
    """Drafts: everything. Later: only descriptions (pledges rely on the rest)."""

    model = RewardTier
    formset = RewardFormSet
    extra = 0
    formfield_overrides = {
        models.TextField: {"widget": forms.Textarea(attrs={"rows": 2, "cols": 50})}
    }
    fields = [
        "title",
        "description",
        "minimum_minor",
        "quantity_limit",
        "estimated_delivery",
        "position",
    ]

    def get_readonly_fields(self, request, obj=None):
        if _is_draft(obj):
            return []
        return ["title", "minimum_minor", "quantity_limit", "estimated_delivery"]

    def has_add_permission(self, request, obj=None):
        return _is_draft(obj) and super().has_add_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return _is_draft(obj) and super().has_delete_permission(request, obj)


class BudgetItemInline(admin.TabularInline):
    """The budget is part of the money terms: editable in drafts only."""

    model = BudgetItem
    formset = BudgetFormSet
    extra = 0
    fields = ["label", "amount_minor", "required", "position"]

    def get_readonly_fields(self, request, obj=None):
        return [] if _is_draft(obj) else self.fields

    def has_add_permission(self, request, obj=None):
        return _is_draft(obj) and super().has_add_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return _is_draft(obj) and super().has_delete_permission(request, obj)


class StretchGoalInline(admin.TabularInline):
    model = StretchGoal
    formset = StretchGoalFormSet
    extra = 0
    fields = ["amount_minor", "description"]

    def _editable(self, obj):
        return obj is not None and obj.content_editable

    def get_readonly_fields(self, request, obj=None):
        return [] if self._editable(obj) else self.fields

    def has_add_permission(self, request, obj=None):
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._editable(obj) and super().has_delete_permission(request, obj)


class CollaboratorInline(admin.TabularInline):
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


@admin.action(description="Approve selected campaigns", permissions=["review"])
def approve_campaigns(modeladmin, request, queryset):
    return _run_with_note(
        modeladmin,
        request,
        queryset,
        action="approve_campaigns",
        title="Approve campaigns",
        intro="These campaigns will be approved; their organizers can then launch them.",
        label="Note to the organizer",
        required=False,
        help_text="Optional. Sent with the approval email.",
        submit="Approve",
        run=lambda campaign, note: services.approve(campaign, by=request.user, note=note),
        done="Approved",
    )


@admin.action(description="Request changes to selected campaigns", permissions=["review"])
def request_changes(modeladmin, request, queryset):
    return _run_with_note(
        modeladmin,
        request,
        queryset,
        action="request_changes",
        title="Request changes",
        intro="These campaigns go back to draft; the organizer sees your note and can resubmit.",
        label="What should change",
        required=True,
        help_text="Shown to the organizer on their campaign and sent by email.",
        submit="Request changes",
        run=lambda campaign, note: services.request_changes(campaign, by=request.user, note=note),
        done="Changes requested",
    )


@admin.action(description="Reject selected campaigns", permissions=["review"])
def reject_campaigns(modeladmin, request, queryset):
    return _run_with_note(
        modeladmin,
        request,
        queryset,
        action="reject_campaigns",
        title="Reject campaigns",
        intro="These campaigns will be rejected for good; the organizer cannot resubmit them.",
        label="Reason for the rejection",
        required=True,
        help_text="Sent to the organizer by email.",
        submit="Reject",
        run=lambda campaign, note: services.reject(campaign, by=request.user, note=note),
        done="Rejected",
    )


def _unpublish(request):
    def run(campaign, reason):
        services.cancel(campaign, by=request.user, reason=reason)
        page_cache.forget(campaign)  # visitors must not see a cached "live" page afterwards

    return run


@admin.action(description="Unpublish (cancel) selected live campaigns", permissions=["moderate"])
def unpublish_campaigns(modeladmin, request, queryset):
    return _run_with_note(
        modeladmin,
        request,
        queryset,
        action="unpublish_campaigns",
        title="Unpublish live campaigns",
        intro=(
            "These campaigns will be cancelled: they stop taking pledges, every pledge is "
            "released (no supporter is charged), and the organizer is emailed your reason."
        ),
        label="Reason",
        required=True,
        help_text="Sent to the organizer and kept in the audit log.",
        submit="Unpublish",
        run=_unpublish(request),
        done="Unpublished",
        allowed_statuses={Status.LIVE},
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
    class Meta:
        model = Campaign
        fields = TERMS_FIELDS  # the admin replaces these with the fieldsets' editable fields
        labels = {"goal_minor": "Goal in minor units (cents)"}

    def clean_goal_minor(self):
        goal = self.cleaned_data.get("goal_minor")
        if goal is not None:
            try:
                validate_goal(goal)
            except DomainError as error:
                raise forms.ValidationError(error.message) from None
        return goal


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
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
    raw_id_fields = ["organizer"]
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
    fieldsets = [
        (None, {"fields": ["title", "slug", "organizer", "status", "featured", "links"]}),
        ("Presentation", {"fields": ["summary", "category", "location", "story", "cover_preview"]}),
        (
            "Money terms",
            {
                "fields": ["goal", *TERMS_FIELDS, "allow_no_reward"],
                "description": "Fixed once the campaign is submitted for review.",
            },
        ),
        (
            "Review and schedule",
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
        (
            "Record",
            {"fields": ["public_id", "created_at", "updated_at", "audit_trail"]},
        ),
    ]

    def get_queryset(self, request):
        return selectors.with_totals(super().get_queryset(request))

    def get_readonly_fields(self, request, obj=None):
        fields = list(ALWAYS_READONLY)
        if not _is_draft(obj):
            fields += TERMS_FIELDS
        if obj is None or obj.status in LIVE_AND_LATER:
            fields += IDENTITY_FIELDS
        return fields

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

    def save_model(self, request, obj, form, change):
        if "story" in form.changed_data:
            obj.story_html = render_story(obj.story)
        super().save_model(request, obj, form, change)
        page_cache.forget(obj)

    def delete_model(self, request, obj):
        if obj.status != Status.DRAFT:
            raise DomainError("Only drafts can be deleted; cancel the campaign instead.")
        super().delete_model(request, obj)

    # --- columns and read-only displays ---
    @admin.display(description="Goal", ordering="goal_minor")
    def goal(self, obj):
        return format_money(obj.goal_minor, obj.currency, whole=True) or "—"

    @admin.display(description="Pledged", ordering="pledged_minor")
    def progress(self, obj):
        pledged = getattr(obj, "pledged_minor", None)
        if pledged is None or obj.launched_at is None:
            return "—"
        if not obj.goal_minor:
            return format_money(pledged, obj.currency, whole=True)
        return f"{percent_of(pledged, obj.goal_minor)}%"

    @admin.display(description="Deadline", ordering="deadline")
    def ends(self, obj):
        return (
            formats.date_format(timezone.localtime(obj.deadline), "j M Y") if obj.deadline else "—"
        )

    @admin.display(description="Cover")
    def cover_preview(self, obj):
        image = obj.cover_card or obj.cover
        if not image:
            return "—"
        return format_html(
            '<img src="{}" alt="" width="320" style="max-width:100%;height:auto">', image.url
        )

    @admin.display(description="Pages")
    def links(self, obj):
        if obj.pk is None:
            return "—"
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">Preview</a> · '
            '<a href="{}" target="_blank" rel="noopener">Public page</a>',
            _preview_url(obj),
            obj.get_absolute_url(),
        )

    @admin.display(description="History")
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
            "<ul style='margin:0;padding-left:1.2em'>{}</ul>",
            format_html_join(
                "",
                "<li>{} — {} by {}{}</li>",
                (
                    (
                        timezone.localtime(event.created_at).strftime("%Y-%m-%d %H:%M"),
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
        "preview_link",
        "public_link",
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

    @admin.display(description="Required budget")
    def budget(self, obj):
        total = getattr(obj, "required_budget_minor", None)
        return format_money(total, obj.currency, whole=True) if total else "—"

    @admin.display(description="Preview")
    def preview_link(self, obj):
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">Preview</a>', _preview_url(obj)
        )

    @admin.display(description="Public page")
    def public_link(self, obj):
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">{}</a>',
            obj.get_absolute_url(),
            obj.slug,
        )
