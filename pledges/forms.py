"""Pledge forms: choose a reward and an amount (major units in, minor units out)."""

import uuid

from django import forms
from django.utils.translation import gettext_lazy

from core.errors import DomainError
from core.money import currency_symbol, format_money, parse_amount

QUICK_PICKS = (5, 10, 25, 50)


class AmountField(forms.CharField):
    """An amount in the campaign's currency, e.g. "10" or "12.50", cleaned to minor units
    above zero (the pledge services check the platform's and the reward's limits)."""

    default_error_messages = {"not_positive": gettext_lazy("Enter an amount above zero.")}

    def __init__(self, *, currency, **kwargs):
        self.currency = currency
        # The length cap runs (in CharField.clean) before any parsing.
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault(
            "widget", forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"})
        )
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        if value in (None, ""):
            return None
        try:
            amount_minor = parse_amount(value, self.currency)
        except DomainError as error:
            raise forms.ValidationError(error.message) from None
        if amount_minor <= 0:
            raise forms.ValidationError(self.error_messages["not_positive"], code="not_positive")
        return amount_minor


def reward_label(reward, currency):
    label = f"{reward.title} ({format_money(reward.minimum_minor, currency)} or more)"
    return f"{label}, sold out" if reward.is_sold_out else label


class RewardAndAmountForm(forms.Form):
    """A reward of this campaign (or none, where allowed) and an amount in its currency."""

    NO_REWARD_LABEL = "No reward"

    reward = forms.ChoiceField(
        widget=forms.RadioSelect,
        label="Reward",
        error_messages={"invalid_choice": "Choose one of this campaign's rewards."},
    )

    def __init__(self, *args, campaign, rewards, **kwargs):
        super().__init__(*args, **kwargs)
        self.campaign = campaign
        self.rewards = {str(r.pk): r for r in rewards}
        choices = [(str(r.pk), reward_label(r, campaign.currency)) for r in rewards]
        if campaign.allow_no_reward:
            choices.insert(0, ("", self.NO_REWARD_LABEL))
        self.fields["reward"].choices = choices
        self.fields["reward"].required = not campaign.allow_no_reward
        self.fields["amount"] = AmountField(
            currency=campaign.currency, label=f"Amount ({currency_symbol(campaign.currency)})"
        )
        self.order_fields(["reward", "amount"])

    def clean_reward(self):
        value = self.cleaned_data.get("reward") or ""
        if value and value not in self.rewards:
            raise forms.ValidationError("Choose one of this campaign's rewards.")
        return self.rewards.get(value)


def email_consent_field():
    """Off unless ticked: without it the organizer's supporters list never shows the address."""
    return forms.BooleanField(
        required=False,
        label=gettext_lazy(
            "Share my email address with the organizer so they can deliver my reward"
        ),
        help_text=gettext_lazy(
            "Only this campaign's organizers see it, on their list of supporters. You can "
            "change this on your pledge's page at any time, also after the campaign ends."
        ),
    )


class PledgeForm(RewardAndAmountForm):
    NO_REWARD_LABEL = "No reward, I just want to help"

    public_name = forms.CharField(
        max_length=80,
        required=False,
        label="Name shown with your pledge",
        help_text="Leave empty to use your display name.",
    )
    anonymous = forms.BooleanField(required=False, label="Pledge anonymously")
    message = forms.CharField(
        max_length=280,
        required=False,
        label="A message for the campaign (public)",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    share_email_with_organizer = email_consent_field()
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("idempotency_key", uuid.uuid4().hex)


class ChangePledgeForm(RewardAndAmountForm):
    share_email_with_organizer = email_consent_field()
