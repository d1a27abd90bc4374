"""The notification settings form: one checkbox per optional kind of email, worded by the model
(community.models.NotificationSettings' labels and help texts); saved by
community.notifications.set_preferences, never by the form itself."""

from django import forms

from community.models import NotificationSettings
from community.notifications import Kind


class NotificationSettingsForm(forms.ModelForm):
    class Meta:
        model = NotificationSettings
        fields = [kind.value for kind in Kind]

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")  # checkboxes: "Updates", not "Updates:"
        super().__init__(*args, **kwargs)

    def choices(self):
        """The cleaned choices as set_preferences takes them (kind name → bool)."""
        return {name: bool(self.cleaned_data.get(name)) for name in self.Meta.fields}
