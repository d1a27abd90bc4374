"""Forms for members: the extra sign-up fields and the profile editor."""

from django import forms
from django.utils.translation import gettext_lazy as _

from members.models import Member


class SignupProfileForm(forms.Form):
    """Extra fields on allauth's sign-up form (allauth calls `signup` after creating the user)."""

    display_name = forms.CharField(
        max_length=80, label="Display name", help_text="How other members will see you."
    )

    field_order = ["display_name", "email", "password1", "password2"]

    def signup(self, request, user):
        user.display_name = self.cleaned_data["display_name"].strip()
        user.save(update_fields=["display_name"])


class ProfileForm(forms.ModelForm):
    # A plain file field, not forms.ImageField (which runs Pillow with its own, looser rules and
    # lets a damaged file through to a 500): members.services checks and re-encodes the picture.
    avatar = forms.FileField(
        required=False,
        label=_("Picture"),
        help_text=_("JPEG, PNG or WebP, 2 MB at most. Shown as a square."),
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )

    class Meta:
        model = Member
        fields = ["display_name", "bio", "location"]
        widgets = {"bio": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.avatar:
            self.initial.setdefault("avatar", self.instance.avatar)
