"""Forms of the organizer's workspace: they parse input (money in major units, months, the
schedule choice) into what campaigns.services expects; the services enforce the rules.

Field names match the `field` of the DomainErrors the services raise ("goal", "minimum",
"amount", "cover", "summary", "email", ...) so a refused value is shown next to its field.
"""

import datetime
import re
import uuid

from django import forms
from django.utils.translation import gettext_lazy

from campaigns.models import MAX_DURATION_DAYS, Campaign, Category, FundingModel
from campaigns.services import validate_schedule
from core.errors import DomainError
from core.money import CURRENCY_CHOICES, input_text, parse_amount, validate_goal

MONEY_ATTRS = {"inputmode": "decimal", "autocomplete": "off", "placeholder": "0.00"}


def parse_money(raw, currency):
    """Major-unit text ("1,250.50", "12,50" or "25") to minor units; see core.money.parse_amount."""
    try:
        return parse_amount(raw, currency)
    except DomainError as error:
        raise forms.ValidationError(error.message) from None


class MoneyField(forms.CharField):
    """A money amount typed in major units; cleaned to an int of minor units of `currency`,
    above zero (error_messages["not_positive"] words the refusal for a field)."""

    default_error_messages = {"not_positive": gettext_lazy("Enter an amount above zero.")}

    def __init__(self, *, currency="EUR", **kwargs):
        self.currency = currency
        # The length cap runs (in CharField.clean) before any parsing.
        kwargs.setdefault("max_length", 20)
        super().__init__(**kwargs)
        self.widget.attrs.update(MONEY_ATTRS)

    def clean(self, value):
        value = super().clean(value)
        if value in self.empty_values:
            return None
        amount_minor = parse_money(value, self.currency)
        if amount_minor <= 0:
            raise forms.ValidationError(self.error_messages["not_positive"], code="not_positive")
        return amount_minor


class MonthInput(forms.DateInput):
    input_type = "month"

    def format_value(self, value):
        if isinstance(value, datetime.date):
            return value.strftime("%Y-%m")
        return value


class MonthField(forms.Field):
    """<input type=month> ("2026-09") cleaned to the first day of that month."""

    widget = MonthInput
    default_error_messages = {"invalid": "Enter a month such as 2026-09."}

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, datetime.date):
            return value.replace(day=1)
        match = re.fullmatch(r"\s*(\d{4})-(\d{1,2})\s*", str(value))
        if not match:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        year, month = int(match[1]), int(match[2])
        if not 1 <= month <= 12 or year < 2000:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return datetime.date(year, month, 1)


class StartForm(forms.Form):
    title = forms.CharField(
        max_length=90,
        label="What is your campaign called?",
        help_text="You can change it later. Short and concrete works best, "
        "e.g. “A tool library for Brugse Poort”.",
    )
    # One token per rendered form: submitting the same form twice finds the same draft.
    creation_token = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)


class BasicsForm(forms.Form):
    title = forms.CharField(max_length=90)
    summary = forms.CharField(
        max_length=140,
        required=False,
        label="Short summary",
        help_text="One sentence shown on cards and when your campaign is shared (140 characters"
        " at most).",
        widget=forms.Textarea(attrs={"rows": 2, "data-char-counter": ""}),
    )
    category = forms.ChoiceField(choices=Category.choices)
    location = forms.CharField(
        max_length=120, required=False, help_text="Town or region, e.g. “Ghent” or “Leith”."
    )

    @classmethod
    def for_campaign(cls, campaign, data=None):
        return cls(
            data,
            initial={
                "title": campaign.title,
                "summary": campaign.summary,
                "category": campaign.category,
                "location": campaign.location,
            },
        )


class StoryForm(forms.Form):
    story = forms.CharField(
        required=False,
        label="Your story",
        help_text="Markdown: <code>**bold**</code>, <code>*italic*</code>, <code>## Heading</code>,"
        " <code>- list item</code>, <code>[link text](https://…)</code>. Blank line = new "
        "paragraph. HTML and images are removed (an image's description stays as text): add "
        "your picture as the cover below.",
        widget=forms.Textarea(attrs={"rows": 16}),
    )
    # A plain file field: campaigns.images (through the service) checks type, size, pixels.
    cover = forms.FileField(
        required=False,
        label="Cover image",
        help_text="JPEG, PNG or WebP, at least 600×300 pixels, 5 MB at most. A wide (16:9) "
        "picture works best.",
        widget=forms.FileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )


class FundingForm(forms.Form):
    SCHEDULE_CHOICES = [("days", "A number of days"), ("date", "An end date")]

    goal = forms.CharField(
        label="Funding goal",
        max_length=20,
        widget=forms.TextInput(attrs=MONEY_ATTRS),
        help_text="The amount you need, in whole units or with cents (e.g. 5000 or 5000.50).",
    )
    currency = forms.ChoiceField(choices=CURRENCY_CHOICES)
    funding_model = forms.ChoiceField(
        choices=FundingModel.choices, widget=forms.RadioSelect, label="Funding model"
    )
    schedule = forms.ChoiceField(
        choices=SCHEDULE_CHOICES,
        widget=forms.RadioSelect,
        label="How long does it run?",
        initial="days",
    )
    duration_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_DURATION_DAYS,
        label="Duration in days",
        help_text=f"Between 1 and {MAX_DURATION_DAYS} days, counted from the moment you launch.",
    )
    end_date = forms.DateField(
        required=False,
        label="End date",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=f"At most {MAX_DURATION_DAYS} days after you launch; the campaign ends at "
        "midnight that day.",
    )

    def __init__(self, data=None, *, campaign, **kwargs):
        self.campaign = campaign
        initial = {
            "goal": input_text(campaign.goal_minor, campaign.currency),
            "currency": campaign.currency,
            "funding_model": campaign.funding_model,
            "schedule": "date" if campaign.end_date else "days",
            "duration_days": campaign.duration_days,
            "end_date": campaign.end_date,
        }
        super().__init__(data, initial=initial, **kwargs)
        if not campaign.terms_editable:
            for field in self.fields.values():
                field.disabled = True

    def clean(self):
        # Every field's problem is reported at once: the goal's range and the schedule's
        # limits are checked here with the service's own rules, not only by the service
        # (which a form with any other error never reaches).
        cleaned = super().clean()
        if "goal" in cleaned:
            # An unknown currency has its own error; the goal is still read (with the
            # campaign's currency) so that its problems show as well.
            currency = cleaned.get("currency") or self.campaign.currency
            try:
                cleaned["goal_minor"] = parse_money(cleaned["goal"], currency)
                if self.campaign.terms_editable:
                    validate_goal(cleaned["goal_minor"])
            except forms.ValidationError as error:
                self.add_error("goal", error)
            except DomainError as error:
                self.add_error("goal", error.message)
        if cleaned.get("schedule") == "date":
            cleaned["duration_days"] = None
            chosen = "end_date"
            if not cleaned.get("end_date") and "end_date" not in self.errors:
                self.add_error("end_date", "Pick the day your campaign ends.")
        else:
            cleaned["end_date"] = None
            chosen = "duration_days"
            if not cleaned.get("duration_days") and "duration_days" not in self.errors:
                self.add_error("duration_days", "Say how many days your campaign runs.")
        if cleaned.get(chosen) and chosen not in self.errors and self.campaign.terms_editable:
            try:
                validate_schedule(
                    duration_days=cleaned["duration_days"], end_date=cleaned["end_date"]
                )
            except DomainError as error:
                self.add_error(error.field if error.field in self.fields else None, error.message)
        return cleaned


class RewardForm(forms.Form):
    title = forms.CharField(max_length=80)
    description = forms.CharField(
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What supporters get, and anything they should know (shipping, pick-up…).",
    )
    minimum = MoneyField(
        label="Minimum pledge",
        error_messages={"not_positive": "The minimum pledge must be more than zero."},
    )
    quantity_limit = forms.IntegerField(
        required=False,
        min_value=1,
        label="Limited quantity (optional)",
        help_text="Leave empty for unlimited.",
    )
    estimated_delivery = MonthField(required=False, label="Estimated delivery (month)")

    def __init__(self, data=None, *, campaign, reward=None, **kwargs):
        initial = {}
        if reward is not None:
            initial = {
                "title": reward.title,
                "description": reward.description,
                "minimum": input_text(reward.minimum_minor, campaign.currency),
                "quantity_limit": reward.quantity_limit,
                "estimated_delivery": reward.estimated_delivery,
            }
        super().__init__(data, initial=initial, **kwargs)
        self.fields["minimum"].currency = campaign.currency
        self.fields["minimum"].help_text = f"In {campaign.currency}."
        # Once live, a tier's terms are promises to its supporters: only the wording changes.
        if reward is not None and campaign.status == Campaign.Status.LIVE:
            for name in ("title", "minimum", "quantity_limit", "estimated_delivery"):
                self.fields[name].disabled = True


class AllowNoRewardForm(forms.Form):
    allow_no_reward = forms.BooleanField(
        required=False,
        label="Supporters may pledge without choosing a reward",
        help_text="Many people just want to help; this lets them pledge any amount.",
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")  # the checkbox label is a sentence: no colon
        super().__init__(*args, **kwargs)


class BudgetItemForm(forms.Form):
    label = forms.CharField(max_length=120, label="What it pays for")
    amount = MoneyField(
        label="Amount",
        error_messages={"not_positive": "A budget item's amount must be more than zero."},
    )
    required = forms.TypedChoiceField(
        choices=[
            ("1", "Required: the project cannot happen without it"),
            ("0", "Optional: nice to have if the money is there"),
        ],
        coerce=lambda value: value == "1",
        initial="1",
        widget=forms.RadioSelect,
        label="Required or optional?",
    )

    def __init__(self, data=None, *, campaign, **kwargs):
        super().__init__(data, **kwargs)
        self.fields["amount"].currency = campaign.currency
        self.fields["amount"].help_text = f"In {campaign.currency}."


class StretchGoalForm(forms.Form):
    amount = MoneyField(
        label="When the total reaches",
        error_messages={"not_positive": "A stretch goal must be above the campaign's goal."},
    )
    description = forms.CharField(max_length=200, label="We will also…")

    def __init__(self, data=None, *, campaign, **kwargs):
        super().__init__(data, **kwargs)
        self.fields["amount"].currency = campaign.currency
        self.fields["amount"].help_text = f"In {campaign.currency}, above your goal."


class InviteForm(forms.Form):
    email = forms.EmailField(
        label="Their email address",
        help_text="They get a link to join as a co-organizer: they can edit the campaign, "
        "but not cancel it or request payouts.",
    )


class CancelForm(forms.Form):
    reason = forms.CharField(
        required=False,
        max_length=1000,
        label="Why are you cancelling? (optional)",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
