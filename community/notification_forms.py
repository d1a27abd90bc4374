"""The notification settings form: one checkbox per optional kind of email, worded by the model
(community.models.NotificationSettings' labels and help texts); saved by
community.notifications.set_preferences, never by the form itself."""

from django import forms

from community.models import NotificationSettings
from community.notifications import Kind


class NotificationSettingsForm(forms.ModelForm):
    label_suffix = ""  # checkboxes: "Updates", not "Updates:"

    class Meta:
        model = NotificationSettings
        fields = [kind.value for kind in Kind]

    def choices(self):
        """The cleaned choices as set_preferences takes them (kind name → bool)."""
        return {name: bool(self.cleaned_data.get(name)) for name in self.Meta.fields}
