"""The community in the Django admin: the reports queue, comments, and read-only lists of
updates and follows. Nothing here is an edit form.

The queue is the Report list, open reports first and oldest first: what was reported (the
comment's text, its author, the campaign), who reported it, why, and how many other reports
the same thing has. A report's page shows it read-only with buttons, each opening a
confirmation page and then calling community.reports (by=request.user): "Hide the comment"
(a reason; its other open reports are resolved with it), "Mark as acted on" (a campaign's
report, or a comment hidden already) and "Dismiss". The comment list searches by text and
author, filters hidden ones, and hides or unhides through community.comments.

Everything is for staff holding community.moderate_community (the services check again);
a superuser holds it.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db.models import Case, Count, IntegerField, OuterRef, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import Truncator
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django_object_actions import DjangoObjectActions, action

from community import comments, reports, updates
from community.models import Comment, Follow, Report, Update
from core.admin import ReadOnlyAdmin
from core.errors import DomainError
from core.models import AuditEvent

MODERATE_PERMISSION = comments.MODERATE_PERMISSION
Status = Report.Status


def _date_time(value):
    if value is None:
        return "—"
    return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")


def _history(obj):
    events = (
        AuditEvent.objects.filter(
            target_type=ContentType.objects.get_for_model(type(obj)), target_id=str(obj.pk)
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
                    event.actor or gettext("the system"),
                    f": {event.note}" if event.note else "",
                )
                for event in events
            ),
        ),
    )


def _comment_html(comment):
    # body_html was sanitized by community.comments.render_comment when it was posted.
    return format_html('<div class="gs-story">{}</div>', mark_safe(comment.body_html))  # noqa: S308


def _campaign_link(campaign):
    return format_html(
        '<a href="{}">{}</a> (<a href="{}" target="_blank" rel="noopener">{}</a>)',
        reverse("admin:campaigns_campaign_change", args=[campaign.pk]),
        campaign.title,
        campaign.get_absolute_url(),
        gettext("public page"),
    )


def _member_link(member):
    if member is None:
        return "—"
    return format_html(
        '<a href="{}">{}</a> &lt;{}&gt;',
        reverse("admin:members_member_change", args=[member.pk]),
        member.display_name or member.email,
        member.email,
    )


class _ModeratorsSee:
    """Holders of community.moderate_community see these lists without the model's own
    view permission (the queue is their work)."""

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm(MODERATE_PERMISSION) or super().has_view_permission(
            request, obj
        )

    def has_moderate_permission(self, request):
        return request.user.has_perm(MODERATE_PERMISSION)


# --- the confirmation pages' forms ------------------------------------------------------------
def _text_area(rows=4):
    return forms.Textarea(attrs={"rows": rows, "cols": 60})


class HideReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for hiding"),
        max_length=comments.MAX_REASON_LENGTH,
        widget=_text_area(3),
        help_text=_("Shown in public in place of the comment, and kept in its history."),
        error_messages={"required": _("Give a reason for hiding this comment.")},
    )


class ResolutionForm(forms.Form):
    note = forms.CharField(
        label=_("Note"),
        required=False,
        widget=_text_area(3),
        help_text=_("Optional. Kept in the report's history; the reporter does not see it."),
    )


class UnhideForm(forms.Form):
    note = forms.CharField(
        label=_("Why show it again"),
        required=False,
        widget=_text_area(3),
        help_text=_("Optional. Kept in the comment's history."),
    )


def _posted(request):
    return request.POST if request.method == "POST" else None


# --- reports ------------------------------------------------------------------------------------
def _others(same):
    """A count of other reports of the same thing, as a subquery (0 when none)."""
    counted = same.exclude(pk=OuterRef("pk")).order_by().values("campaign")
    return Coalesce(
        Subquery(counted.annotate(n=Count("pk")).values("n")[:1], output_field=IntegerField()),
        Value(0),
    )


def with_other_reports(queryset):
    """Annotate other_reports and other_open_reports: reports of the same comment (for a
    comment's report) or of the same campaign itself (for a campaign's)."""
    same_comment = Report.objects.filter(comment=OuterRef("comment"))
    same_campaign = Report.objects.filter(campaign=OuterRef("campaign"), comment__isnull=True)

    def count(open_only):
        status = {"status": Status.OPEN} if open_only else {}
        return Case(
            When(comment__isnull=False, then=_others(same_comment.filter(**status))),
            default=_others(same_campaign.filter(**status)),
            output_field=IntegerField(),
        )

    return queryset.annotate(
        open_rank=Case(When(status=Status.OPEN, then=Value(0)), default=Value(1)),
        other_reports=count(False),
        other_open_reports=count(True),
    )


def _confirmation_page(
    modeladmin, request, *, target, form, run, done, success_url, template, page
):
    """A button's confirmation page (GET) and decision (POST): `run(target, cleaned_data)`,
    then `success_url` with the `done` message; a DomainError shows on the form."""
    back = reverse(
        f"admin:{target._meta.app_label}_{target._meta.model_name}_change", args=[target.pk]
    )
    if request.method == "POST" and form.is_valid():
        try:
            run(target, form.cleaned_data)
        except DomainError as error:
            field = error.field if error.field in form.fields else None
            # The services call the hiding reason hide_reason (reports) or reason (comments).
            if field is None and error.field == "hide_reason" and "reason" in form.fields:
                field = "reason"
            form.add_error(field, error.message)
        else:
            modeladmin.message_user(request, done, messages.SUCCESS)
            return redirect(success_url or back)
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": target._meta,
        target._meta.model_name: target,
        "form": form,
        "back_url": back,
        "media": modeladmin.media + form.media,
        **page,
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(request, template, context)


@dataclass(frozen=True)
class _Decision:
    """One of a report's buttons: when it is offered, its form, the outcome it resolves the
    report with, and its confirmation page's texts."""

    allowed: Callable
    form: type
    outcome: str
    done: str
    title: str
    intro: str
    submit_label: str


REPORT_DECISIONS = {
    "hide_the_comment": _Decision(
        allowed=lambda report: (
            report.status == Status.OPEN
            and report.comment_id is not None
            and not report.comment.is_hidden
        ),
        form=HideReasonForm,
        outcome=Status.ACTED_ON,
        done=_("The comment is hidden, and its open reports are closed."),
        title=_("Hide the comment"),
        intro=_(
            "The comment's text gives way to your reason on the campaign's page; its "
            "replies stay. This report and the comment's other open reports are "
            "closed as acted on."
        ),
        submit_label=_("Hide the comment"),
    ),
    "act_on": _Decision(
        allowed=lambda report: (
            report.status == Status.OPEN and (report.comment_id is None or report.comment.is_hidden)
        ),
        form=ResolutionForm,
        outcome=Status.ACTED_ON,
        done=_("The report is closed as acted on."),
        title=_("Mark as acted on"),
        intro=_(
            "Close the report once what it reported was dealt with (for a campaign: "
            "on the campaign's admin page, e.g. Unpublish)."
        ),
        submit_label=_("Mark as acted on"),
    ),
    "dismiss": _Decision(
        allowed=lambda report: report.status == Status.OPEN,
        form=ResolutionForm,
        outcome=Status.DISMISSED,
        done=_("The report is dismissed."),
        title=_("Dismiss the report"),
        intro=_(
            "Nothing changes on the site; the report leaves the queue. Other reports "
            "of the same thing stay open."
        ),
        submit_label=_("Dismiss"),
    ),
}


class ReportDecisionButtons(DjangoObjectActions):
    """Hide the comment, Mark as acted on, Dismiss (REPORT_DECISIONS): on an open report's
    page, for holders of community.moderate_community. Each opens a confirmation page (GET)
    and decides (POST), then goes back to the queue with a message; the service checks
    everything again."""

    change_actions = list(REPORT_DECISIONS)

    def get_change_actions(self, request, object_id, form_url):
        if not self.has_moderate_permission(request):
            return []
        report = self._stored(object_id)
        if report is None:
            return []
        return [name for name in self.change_actions if REPORT_DECISIONS[name].allowed(report)]

    @staticmethod
    def _stored(pk):
        return (
            Report.objects.select_related("reporter", "campaign", "comment__author")
            .filter(pk=pk)
            .first()
        )

    def _decide(self, request, obj, name):
        if not self.has_moderate_permission(request):
            raise PermissionDenied
        decision = REPORT_DECISIONS[name]
        report = self._stored(obj.pk)
        if not decision.allowed(report):
            self.message_user(
                request,
                gettext("Nothing was changed: the report is %(status)s.")
                % {"status": report.get_status_display().lower()}
                if report.status != Status.OPEN
                else gettext("Nothing was changed: the comment is hidden already."),
                messages.ERROR,
            )
            return redirect("admin:community_report_change", report.pk)
        return _confirmation_page(
            self,
            request,
            target=report,
            form=decision.form(_posted(request)),
            run=lambda report, data: reports.resolve_report(
                report,
                by=request.user,
                outcome=decision.outcome,
                note=data.get("note", ""),
                hide_reason=data.get("reason", ""),
            ),
            done=decision.done,
            success_url=reverse("admin:community_report_changelist"),
            template="admin/community/report_decision.html",
            page={
                "title": decision.title,
                "intro": decision.intro,
                "submit_label": decision.submit_label,
            },
        )

    @action(
        label=_("Hide the comment"),
        description=_("Hide the reported comment with a reason, and close its reports"),
        button_type="a",
    )
    def hide_the_comment(self, request, obj):
        return self._decide(request, obj, "hide_the_comment")

    @action(
        label=_("Mark as acted on"),
        description=_("Close this report: what it reported was dealt with"),
        button_type="a",
    )
    def act_on(self, request, obj):
        return self._decide(request, obj, "act_on")

    @action(
        label=_("Dismiss"),
        description=_("Close this report without acting on it"),
        button_type="a",
    )
    def dismiss(self, request, obj):
        return self._decide(request, obj, "dismiss")


class ReportStatusFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status__exact"

    def lookups(self, request, model_admin):
        return Status.choices

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(status=self.value())
        return queryset


@admin.register(Report)
class ReportAdmin(_ModeratorsSee, ReportDecisionButtons, ReadOnlyAdmin):
    list_display = [
        "created_at",
        "status",
        "reason",
        "reported",
        "reported_author",
        "campaign_title",
        "reporter",
        "others",
    ]
    list_filter = [ReportStatusFilter, "reason"]
    search_fields = ["note", "comment__body", "reporter__email", "campaign__title"]
    list_select_related = ["reporter", "campaign", "comment__author"]
    fields = [
        "status",
        "reason",
        "note",
        "reporter_link",
        "created_at",
        "reported_thing",
        "other_reports_list",
        "resolved_at",
        "resolved_by",
        "resolution_note",
        "history",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        # Not super(): it orders by get_ordering before the annotation it names exists.
        return with_other_reports(Report.objects.all()).order_by(*self.get_ordering(request))

    def get_ordering(self, request):
        return ["open_rank", "created_at", "id"]  # open first, oldest first

    def changelist_view(self, request, extra_context=None):
        title = gettext("Reports: open first, oldest first")
        return super().changelist_view(request, {**(extra_context or {}), "title": title})

    # --- columns ---
    @admin.display(description=_("Reported"))
    def reported(self, report):
        if report.comment_id is None:
            return gettext("The campaign")
        text = Truncator(report.comment.body).chars(100)
        if report.comment.is_hidden:
            return format_html("{} <em>({})</em>", text, gettext("hidden"))
        return text

    @admin.display(description=_("Author"))
    def reported_author(self, report):
        if report.comment_id is None:
            return report.campaign.organizer if report.campaign.organizer_id else "—"
        return report.comment.author

    @admin.display(description=_("Campaign"), ordering="campaign__title")
    def campaign_title(self, report):
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">{}</a>',
            report.campaign.get_absolute_url(),
            report.campaign.title,
        )

    @admin.display(description=_("Other reports"), ordering="other_reports")
    def others(self, report):
        total = getattr(report, "other_reports", 0)
        if not total:
            return "—"
        return gettext("%(total)d (%(open)d open)") % {
            "total": total,
            "open": getattr(report, "other_open_reports", 0),
        }

    # --- the page's read-only fields ---
    @admin.display(description=_("Reporter"))
    def reporter_link(self, report):
        return _member_link(report.reporter)

    @admin.display(description=_("What was reported"))
    def reported_thing(self, report):
        campaign = _campaign_link(report.campaign)
        if report.comment_id is None:
            return format_html("{}: {}", gettext("The campaign"), campaign)
        comment = report.comment
        hidden = ""
        if comment.is_hidden:
            hidden = format_html(
                "<p><strong>{}</strong> {}</p>",
                gettext("Hidden on %(date)s:") % {"date": _date_time(comment.hidden_at)},
                comment.hidden_reason,
            )
        return format_html(
            "<p>{} {} · {} · <a href='{}'>{}</a></p>{}{}",
            gettext("A comment by"),
            _member_link(comment.author),
            _date_time(comment.created_at),
            reverse("admin:community_comment_change", args=[comment.pk]),
            gettext("the comment's page"),
            _comment_html(comment),
            hidden,
        ) + format_html("<p>{} {}</p>", gettext("On"), campaign)

    @admin.display(description=_("Other reports of it"))
    def other_reports_list(self, report):
        if report.comment_id is not None:
            others = Report.objects.filter(comment_id=report.comment_id)
        else:
            others = Report.objects.filter(campaign_id=report.campaign_id, comment__isnull=True)
        others = others.exclude(pk=report.pk).select_related("reporter").order_by("created_at")
        if not others:
            return "—"
        return format_html(
            "<ul class='gs-history'>{}</ul>",
            format_html_join(
                "",
                "<li><a href='{}'>{}</a> — {}, {}, {}{}</li>",
                (
                    (
                        reverse("admin:community_report_change", args=[other.pk]),
                        _date_time(other.created_at),
                        other.get_reason_display(),
                        other.reporter,
                        other.get_status_display().lower(),
                        f": {other.note}" if other.note else "",
                    )
                    for other in others
                ),
            ),
        )

    @admin.display(description=_("History"))
    def history(self, report):
        return _history(report)


# --- comments -----------------------------------------------------------------------------------
class HiddenFilter(admin.SimpleListFilter):
    title = _("hidden")
    parameter_name = "hidden"

    def lookups(self, request, model_admin):
        return [("yes", _("Hidden")), ("no", _("Shown"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(hidden_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(hidden_at__isnull=True)
        return queryset


def _selected_comments(queryset):
    return Comment.objects.filter(pk__in=queryset.values("pk")).select_related("campaign", "author")


def _bulk_page(modeladmin, request, queryset, *, action_name, form, title, intro, submit, run):
    """The admin's confirmation pattern for a bulk action: a page with the form that re-posts
    the selection and the action's name with "apply"; then `run(comment, data)` for each."""
    if "apply" in request.POST and form.is_valid():
        done, refused = 0, []
        for comment in _selected_comments(queryset):
            try:
                run(comment, form.cleaned_data)
            except DomainError as error:
                refused.append(f"#{comment.pk}: {error.message}")
            else:
                done += 1
        if done:
            modeladmin.message_user(
                request,
                ngettext("%(count)d comment changed.", "%(count)d comments changed.", done)
                % {"count": done},
                messages.SUCCESS,
            )
        for message in refused:
            modeladmin.message_user(request, message, messages.ERROR)
        return None  # back to the list
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "intro": intro,
        "opts": Comment._meta,
        "comments": _selected_comments(queryset),
        "form": form,
        "action": action_name,
        "submit_label": submit,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "media": modeladmin.media,
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(request, "admin/community/comments_action.html", context)


@admin.action(description=_("Hide selected comments"), permissions=["moderate"])
def hide_comments(modeladmin, request, queryset):
    return _bulk_page(
        modeladmin,
        request,
        queryset,
        action_name="hide_comments",
        form=HideReasonForm(request.POST if "apply" in request.POST else None),
        title=gettext("Hide comments"),
        intro=gettext(
            "Their text gives way to your reason on the site; their replies stay. Comments "
            "hidden already are left as they are."
        ),
        submit=gettext("Hide comments"),
        run=lambda comment, data: comments.hide_comment(
            comment, by=request.user, reason=data["reason"]
        ),
    )


@admin.action(description=_("Show selected hidden comments again"), permissions=["moderate"])
def unhide_comments(modeladmin, request, queryset):
    return _bulk_page(
        modeladmin,
        request,
        queryset,
        action_name="unhide_comments",
        form=UnhideForm(request.POST if "apply" in request.POST else None),
        title=gettext("Show comments again"),
        intro=gettext("Their text is shown again on the site."),
        submit=gettext("Show again"),
        run=lambda comment, data: comments.unhide_comment(
            comment, by=request.user, note=data["note"]
        ),
    )


class CommentButtons(DjangoObjectActions):
    """Hide / Show again on a comment's page (moderating staff), through community.comments."""

    change_actions = ["hide", "unhide"]

    def get_change_actions(self, request, object_id, form_url):
        if not self.has_moderate_permission(request):
            return []
        comment = Comment.objects.filter(pk=object_id).first()
        if comment is None:
            return []
        return ["unhide"] if comment.is_hidden else ["hide"]

    def _comment_page(self, request, obj, *, form, run, done, page):
        if not self.has_moderate_permission(request):
            raise PermissionDenied
        return _confirmation_page(
            self,
            request,
            target=Comment.objects.select_related("campaign", "author").get(pk=obj.pk),
            form=form,
            run=run,
            done=done,
            success_url=None,  # back to the comment's page
            template="admin/community/comment_decision.html",
            page=page,
        )

    @action(label=_("Hide"), description=_("Hide this comment with a reason"), button_type="a")
    def hide(self, request, obj):
        return self._comment_page(
            request,
            obj,
            form=HideReasonForm(_posted(request)),
            run=lambda comment, data: comments.hide_comment(
                comment, by=request.user, reason=data["reason"]
            ),
            done=gettext("The comment is hidden."),
            page={
                "title": gettext("Hide the comment"),
                "intro": gettext(
                    "Its text gives way to your reason on the site; its replies stay."
                ),
                "submit_label": gettext("Hide the comment"),
            },
        )

    @action(label=_("Show again"), description=_("Show this hidden comment again"), button_type="a")
    def unhide(self, request, obj):
        return self._comment_page(
            request,
            obj,
            form=UnhideForm(_posted(request)),
            run=lambda comment, data: comments.unhide_comment(
                comment, by=request.user, note=data["note"]
            ),
            done=gettext("The comment is shown again."),
            page={
                "title": gettext("Show the comment again"),
                "intro": gettext("Its text is shown again on the site."),
                "submit_label": gettext("Show again"),
            },
        )


@admin.register(Comment)
class CommentAdmin(_ModeratorsSee, CommentButtons, ReadOnlyAdmin):
    list_display = ["created_at", "author", "campaign", "where", "excerpt", "hidden"]
    list_filter = [HiddenFilter]
    search_fields = ["body", "author__email", "author__display_name"]
    list_select_related = ["author", "campaign", "update"]
    date_hierarchy = "created_at"
    actions = [hide_comments, unhide_comments]
    fields = [
        "author_link",
        "campaign_link",
        "where",
        "created_at",
        "body_preview",
        "body",
        "hidden_at",
        "hidden_by",
        "hidden_reason",
        "reports_list",
        "history",
    ]
    readonly_fields = fields

    @admin.display(description=_("Where"))
    def where(self, comment):
        if comment.update_id:
            text = gettext("Update %(number)s") % {"number": comment.update.number}
        else:
            text = gettext("Campaign page")
        if comment.parent_id:
            text += " · " + gettext("reply")
        return text

    @admin.display(description=_("Comment"))
    def excerpt(self, comment):
        return Truncator(comment.body).chars(100)

    @admin.display(description=_("Hidden"), boolean=True, ordering="hidden_at")
    def hidden(self, comment):
        return comment.is_hidden

    @admin.display(description=_("Author"))
    def author_link(self, comment):
        return _member_link(comment.author)

    @admin.display(description=_("Campaign"))
    def campaign_link(self, comment):
        return _campaign_link(comment.campaign)

    @admin.display(description=_("As shown"))
    def body_preview(self, comment):
        return _comment_html(comment)

    @admin.display(description=_("Reports"))
    def reports_list(self, comment):
        found = comment.reports.select_related("reporter").order_by("created_at")
        if not found:
            return "—"
        return format_html(
            "<ul class='gs-history'>{}</ul>",
            format_html_join(
                "",
                "<li><a href='{}'>{}</a> — {}, {}, {}</li>",
                (
                    (
                        reverse("admin:community_report_change", args=[report.pk]),
                        _date_time(report.created_at),
                        report.get_reason_display(),
                        report.reporter,
                        report.get_status_display().lower(),
                    )
                    for report in found
                ),
            ),
        )

    @admin.display(description=_("History"))
    def history(self, comment):
        return _history(comment)


# --- updates and follows, to look at ------------------------------------------------------------
class FanOutFilter(admin.SimpleListFilter):
    title = _("emails")
    parameter_name = "fan_out"

    def lookups(self, request, model_admin):
        return [("stuck", _("Not sent: the sweep gave up"))]

    def queryset(self, request, queryset):
        if self.value() == "stuck":
            return queryset.filter(pk__in=updates.stuck_fan_outs().values("pk"))
        return queryset


@admin.register(Update)
class UpdateAdmin(_ModeratorsSee, ReadOnlyAdmin):
    list_display = [
        "published_at",
        "title",
        "campaign",
        "number",
        "audience",
        "author",
        "emails_state",
    ]
    list_filter = [FanOutFilter, "audience"]
    actions = ["email_again"]
    search_fields = ["title", "campaign__title", "author__email"]
    list_select_related = ["campaign", "author"]
    date_hierarchy = "published_at"
    fields = [
        "campaign",
        "number",
        "title",
        "author",
        "audience",
        "public_from",
        "published_at",
        "created_at",
        "edited_at",
        "made_public_at",
        "emailed_at",
        "public_emailed_at",
        "fan_out_claimed_at",
        "fan_out_failures",
        "fan_out_error",
        "body",
    ]
    readonly_fields = fields

    def changelist_view(self, request, extra_context=None):
        # An update its supporters never got is what an admin must not miss.
        if request.method == "GET" and request.GET.get("fan_out") != "stuck":
            stuck = updates.stuck_fan_outs().count()
            if stuck:
                text = ngettext(
                    "%(count)d update was not emailed: sending it failed again and again.",
                    "%(count)d updates were not emailed: sending them failed again and again.",
                    stuck,
                ) % {"count": stuck}
                messages.warning(
                    request,
                    format_html('{} <a href="?fan_out=stuck">{}</a>', text, gettext("Show them")),
                )
        return super().changelist_view(request, extra_context)

    @admin.display(description=_("emails"))
    def emails_state(self, update):
        if update.fan_out_failures >= updates.FAN_OUT_MAX_FAILURES:
            return format_html(
                '<strong style="color: var(--error-fg)" title="{}">{}</strong>',
                Truncator(update.fan_out_error).chars(300),
                gettext("Not sent"),
            )
        if update.emailed_at is None:
            return gettext("Being sent")
        return gettext("Sent")

    @admin.action(
        description=_("Email it again (updates the sweep gave up on)"), permissions=["moderate"]
    )
    def email_again(self, request, queryset):
        count = sum(updates.retry_fan_out(update, by=request.user) for update in queryset)
        self.message_user(
            request,
            ngettext(
                "%(count)d update queued to be emailed again.",
                "%(count)d updates queued to be emailed again.",
                count,
            )
            % {"count": count},
            level=messages.SUCCESS if count else messages.WARNING,
        )


@admin.register(Follow)
class FollowAdmin(_ModeratorsSee, ReadOnlyAdmin):
    list_display = ["created_at", "member", "campaign", "launch_emailed_at", "reminder_emailed_at"]
    search_fields = ["member__email", "campaign__title"]
    list_select_related = ["member", "campaign"]
    fields = list_display
    readonly_fields = fields
