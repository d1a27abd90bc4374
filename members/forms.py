"""Forms for members: the extra sign-up fields and the profile editor."""

from django import forms

from members.models import Member

AVATAR_MAX_BYTES = 2 * 1024 * 1024


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
    class Meta:
        model = Member
        fields = ["display_name", "bio", "location", "avatar"]
        widgets = {"bio": forms.Textarea(attrs={"rows": 4})}

    def clean_avatar(self):
        avatar = self.cleaned_data.get("avatar")
        if avatar and getattr(avatar, "size", 0) > AVATAR_MAX_BYTES:
            raise forms.ValidationError("The picture must be 2 MB or smaller.")
        return avatar
