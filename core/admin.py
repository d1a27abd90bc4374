"""The admin site's branding, the read-only admin every app uses for records only its services
write, and the audit log in the admin: read-only, filterable by action and target type."""

from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from core.models import AuditEvent

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
