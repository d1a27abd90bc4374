"""The admin site's branding, the read-only admin every app uses for records only its services
write, the audit log in the admin (read-only, filterable by action and target type) and the
email outbox (read-only, failed emails flagged, "Send again")."""

from django.contrib import admin, messages
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from core import emails
from core.models import AuditEvent, OutboundEmail

# Branding of the one admin site (templates/admin/base_site.html shows it, with a link back to
# the public site at site_url).
admin.site.site_header = _("Groundswell admin")
admin.site.site_title = _("Groundswell admin")
admin.site.index_title = _("Groundswell admin")
admin.site.site_url = "/"
# The app list is on the admin's home page and in the breadcrumbs; as a sidebar on every page
# it took a quarter of a 1280-pixel screen from the review queue's columns.
admin.site.enable_nav_sidebar = False


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written only by the app: admins may look, never add, edit or delete."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):  # the log is append-only
    list_display = ["created_at", "action", "target_link", "transition", "actor", "short_note"]
    list_filter = ["action", ("target_type", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["note"]
    list_select_related = ["actor", "target_type"]
    date_hierarchy = "created_at"
    fields = [
        "created_at",
        "actor",
        "action",
        "target_link",
        "from_status",
        "to_status",
        "note",
    ]
    readonly_fields = fields

    @admin.display(description="Target")
    def target_link(self, event):
        label = f"{event.target_type.name} #{event.target_id}"
        try:
            url = reverse(
                f"admin:{event.target_type.app_label}_{event.target_type.model}_change",
                args=[event.target_id],
            )
        except NoReverseMatch:
            return label
        return format_html('<a href="{}">{}</a>', url, label)

    @admin.display(description="From → to")
    def transition(self, event):
        if not (event.from_status or event.to_status):
            return "—"
        return f"{event.from_status or '—'} → {event.to_status or '—'}"

    @admin.display(description="Note")
    def short_note(self, event):
        return Truncator(event.note).chars(80)


@admin.register(OutboundEmail)
class OutboundEmailAdmin(ReadOnlyAdmin):  # only core.emails writes the outbox
    list_display = ["created_at", "to", "template", "subject", "status_flag", "attempts", "sent_at"]
    list_filter = ["status", "template"]
    search_fields = ["to", "^key"]  # "pledge:42:" finds all of its emails
    date_hierarchy = "created_at"
    actions = ["send_again"]
    fields = [
        "key",
        "to",
        "template",
        "subject",
        "status",
        "attempts",
        "last_error_block",
        "created_at",
        "updated_at",
        "sent_at",
        "body_text_block",
        "body_html_block",
    ]
    readonly_fields = fields

    def changelist_view(self, request, extra_context=None):
        # Failed emails are what an admin comes here for: say so above any list that does not
        # already show only them, with the link that does.
        # (GET only: an action posts here too, and has its own messages.)
        if (
            request.method == "GET"
            and request.GET.get("status__exact") != OutboundEmail.Status.FAILED
        ):
            failed = OutboundEmail.objects.filter(status=OutboundEmail.Status.FAILED).count()
            if failed:
                url = f"{request.path}?status__exact={OutboundEmail.Status.FAILED}"
                text = ngettext("%(count)d email failed.", "%(count)d emails failed.", failed) % {
                    "count": failed
                }
                messages.warning(
                    request,
                    format_html('{} <a href="{}">{}</a>', text, url, gettext("Show them")),
                )
        return super().changelist_view(request, extra_context)

    @admin.display(description=_("status"), ordering="status")
    def status_flag(self, email):
        if email.status == OutboundEmail.Status.FAILED:
            return format_html(
                '<strong style="color: var(--error-fg)" title="{}">{}</strong>',
                Truncator(email.last_error).chars(300),
                email.get_status_display(),
            )
        return email.get_status_display()

    @admin.display(description=_("last error"))
    def last_error_block(self, email):
        return format_html("<pre>{}</pre>", email.last_error) if email.last_error else "—"

    @admin.display(description=_("plain-text body"))
    def body_text_block(self, email):
        if email.holds_secret:
            return self.SECRET_HIDDEN
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', email.body_text)

    @admin.display(description=_("HTML body"))
    def body_html_block(self, email):
        if email.holds_secret:
            return self.SECRET_HIDDEN
        # Shown as source, never rendered: the admin page must not run the email's markup.
        return format_html("<pre>{}</pre>", email.body_html) if email.body_html else "—"

    # A password-reset or confirmation link would let whoever reads it act as the member.
    SECRET_HIDDEN = _("Hidden: this email holds a one-time link for its recipient only.")

    def has_resend_permission(self, request):
        return request.user.has_perm("core.resend_outboundemail")

    @admin.action(description=_("Send again (failed emails)"), permissions=["resend"])
    def send_again(self, request, queryset):
        selected = list(queryset)
        count = emails.requeue(selected, by=request.user)
        self.message_user(
            request,
            ngettext(
                "%(count)d email queued to be sent again.",
                "%(count)d emails queued to be sent again.",
                count,
            )
            % {"count": count},
            level=messages.SUCCESS if count else messages.WARNING,
        )
        if count < len(selected):
            self.message_user(
                request,
                gettext("Only failed emails are sent again; %(count)d left as they were.")
                % {"count": len(selected) - count},
                level=messages.WARNING,
            )
