"""Members in the Django admin: search by email or name, filter by role and activity.

The avatar is shown, not edited: an upload here would skip the checks and re-encoding of
members.services.update_profile. Moderators take a picture down with the "remove" action.
"""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.utils.html import format_html

from members import services
from members.models import Member


@admin.register(Member)
class MemberAdmin(UserAdmin):
    ordering = ["-date_joined"]
    list_display = ["email", "display_name", "location", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active", "date_joined"]
    search_fields = ["email", "display_name", "location"]
    readonly_fields = ["last_login", "date_joined", "avatar_preview"]
    actions = ["remove_avatars"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Profile", {"fields": ["display_name", "bio", "location", "avatar_preview"]}),
        (
            "Permissions",
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (
            None,
            {"classes": ["wide"], "fields": ["email", "display_name", "password1", "password2"]},
        ),
    ]

    @admin.display(description="Picture")
    def avatar_preview(self, obj):
        if not obj.avatar:
            return "—"
        return format_html(
            '<img src="{}" alt="Picture of {}" width="96" height="96">',
            obj.avatar.url,
            obj.display_name,
        )

    @admin.action(description="Remove the picture of selected members", permissions=["change"])
    def remove_avatars(self, request, queryset):
        removed = 0
        for member in queryset.exclude(avatar=""):
            services.remove_avatar(member, by=request.user, reason="Removed in the admin.")
            removed += 1
        self.message_user(request, f"Removed {removed} picture(s).", messages.SUCCESS)
