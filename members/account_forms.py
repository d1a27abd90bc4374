"""allauth's account forms with the site's sentence-case labels (settings.ACCOUNT_FORMS).

Their own module, not members.forms: allauth imports members.forms (ACCOUNT_SIGNUP_FORM_CLASS)
while building its forms, so members.forms cannot import them back.
"""

from allauth.account import forms as allauth_forms
from django.utils.translation import gettext_lazy as _


def _relabel(form, labels):
    """Set labels, and the placeholders allauth copies from them."""
    for name, label in labels.items():
        field = form.fields[name]
        field.label = label
        if "placeholder" in field.widget.attrs:
            field.widget.attrs["placeholder"] = label


class LoginForm(allauth_forms.LoginForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "remember" in self.fields:
            _relabel(self, {"remember": _("Remember me")})
            self.fields["remember"].label_suffix = ""  # a checkbox's label: no colon


class ChangePasswordForm(allauth_forms.ChangePasswordForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _relabel(
            self,
            {
                "oldpassword": _("Current password"),
                "password1": _("New password"),
                "password2": _("New password (again)"),
            },
        )


class ResetPasswordKeyForm(allauth_forms.ResetPasswordKeyForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _relabel(self, {"password1": _("New password"), "password2": _("New password (again)")})
