"""Forms of the organizer's supporters pages: the list's filters, "Mark sent" with a tracking
reference, and the fulfilment CSV upload."""

from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from pledges import exports, fulfilment

FILTER_KEYS = ("status", "reward", "fulfilment", "page")


class SupportersFilterForm(forms.Form):
    """GET filters; a value that is not a choice is an error on the form, never a 500."""

    status = forms.ChoiceField(label=_("Status"), required=False)
    reward = forms.ChoiceField(label=_("Reward"), required=False)
    fulfilment = forms.ChoiceField(
        label=_("Reward sent"),
        required=False,
        choices=[
            ("", _("Sent or not")),
            (exports.SENT, _("Sent")),
            (exports.NOT_SENT, _("Not sent yet")),
        ],
    )

    def __init__(self, data=None, *, rewards):
        super().__init__(data)
        self.fields["status"].choices = [("", _("Any status")), *exports.supporter_statuses()]
        self.rewards = {str(reward.pk): reward for reward in rewards}
        self.fields["reward"].choices = [
            ("", _("Any reward")),
            *((pk, reward.title) for pk, reward in self.rewards.items()),
        ]

    def filters(self):
        """Keyword arguments for pledges.exports.supporters_of (none when invalid)."""
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        return {
            "status": data["status"],
            "reward": self.rewards.get(data["reward"]),
            "fulfilment": data["fulfilment"],
        }


class MarkSentForm(forms.Form):
    tracking = forms.CharField(
        label=_("Tracking reference"),
        required=False,
        max_length=fulfilment.TRACKING_MAX_LENGTH,
        help_text=_("Optional: a parcel number or a note such as “handed over at the fair”."),
    )


class FulfilmentUploadForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=format_lazy(
            _(
                "UTF-8, comma-separated, at most 2 MB and {rows} rows. "
                "First line: pledge id,tracking"
            ),
            rows=f"{fulfilment.UPLOAD_MAX_ROWS:,}",
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def clean_file(self):
        file = self.cleaned_data["file"]
        if file.size > fulfilment.UPLOAD_MAX_BYTES:
            raise forms.ValidationError(
                _("This file is larger than %(size)d MB."),
                params={"size": fulfilment.UPLOAD_MAX_BYTES // (1024 * 1024)},
            )
        return file
