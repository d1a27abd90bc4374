"""Forms of the community pages: they parse input into what community's services expect; the
services enforce the rules (field names match the `field` of their DomainErrors)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from community.models import Update

DATETIME_LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs, format=DATETIME_LOCAL_FORMAT)


class UpdateForm(forms.Form):
    """Post or edit an update (community.updates.post_update / edit_update)."""

    title = forms.CharField(label=_("Title"), max_length=120)
    body = forms.CharField(
        label=_("Text"),
        max_length=20_000,
        help_text=_(
            "Markdown: <code>**bold**</code>, <code>*italic*</code>, <code>## Heading</code>, "
            "<code>- list item</code>, <code>[link text](https://…)</code>. Blank line = new "
            "paragraph. HTML is removed; add a picture below."
        ),
        widget=forms.Textarea(attrs={"rows": 14}),
    )
    audience = forms.ChoiceField(
        label=_("Who can read it"),
        choices=Update.Audience.choices,
        initial=Update.Audience.PUBLIC,
        widget=forms.RadioSelect,
        help_text=_(
            "Everyone: on the campaign page and emailed to supporters and followers. Supporters "
            "only: emailed to supporters, hidden from everyone else."
        ),
    )
    public_from = forms.DateTimeField(
        label=_("Public from (optional)"),
        required=False,
        input_formats=[DATETIME_LOCAL_FORMAT, "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=DateTimeLocalInput(),
        help_text=_(
            "For a supporters-only update: the date it becomes public, when followers are "
            "emailed too. Leave empty to keep it for supporters."
        ),
    )
    # A plain file field: community.updates (core.images) checks type, size and pixels.
    image = forms.FileField(
        label=_("Image (optional)"),
        required=False,
        help_text=_("JPEG, PNG or WebP, at least 200×100 pixels, 5 MB at most."),
        widget=forms.FileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )

    def clean(self):
        cleaned = super().clean()
        if (
            cleaned.get("public_from")
            and cleaned.get("audience") == Update.Audience.PUBLIC
            and "public_from" not in self.errors
        ):
            self.add_error(
                "public_from",
                _("Only a supporters-only update can turn public on a later date."),
            )
        return cleaned

    def service_arguments(self):
        data = self.cleaned_data
        return {
            "title": data["title"],
            "body": data["body"],
            "audience": data["audience"],
            "public_from": data["public_from"],
            "image": data["image"] or None,
        }


class EditUpdateForm(UpdateForm):
    remove_image = forms.BooleanField(label=_("Remove the image"), required=False, label_suffix="")

    @classmethod
    def for_update(cls, update, data=None, files=None):
        return cls(
            data,
            files,
            initial={
                "title": update.title,
                "body": update.body,
                "audience": update.audience,
                "public_from": update.public_from,
            },
        )

    def service_arguments(self):
        return {**super().service_arguments(), "remove_image": self.cleaned_data["remove_image"]}
