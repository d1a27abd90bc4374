"""Forms of the organizer's payout pages: the bank account for manual transfers and the payout
request (amount, budget lines, note, receipts). They parse input (money through
core.money.parse_amount, like every money field of the site; each receipt through
payouts.receipts.check_receipt); payouts.services enforces the rules.

Field names match the `field` of the DomainErrors the services raise ("iban",
"account_holder", "amount", "note", "receipts"), so a refused value is shown next to its field;
"allocations" errors are shown above the budget lines (`allocation_errors`).
"""

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from campaigns.forms import MoneyField, parse_money
from core.errors import DomainError
from core.money import format_money
from payouts import services
from payouts.receipts import MAX_RECEIPTS_PER_PAYOUT, check_receipt, clean_original_name

RECEIPT_ACCEPT = "application/pdf,image/jpeg,image/png,image/webp"
OTHER_LABEL_MAX_LENGTH = 120  # PayoutAllocation.label


class BankAccountForm(forms.Form):
    """The IBAN is never shown back: the field starts empty, whatever is saved."""

    iban = forms.CharField(
        label=_("IBAN"),
        max_length=64,  # payouts.banking.MAX_TYPED_LENGTH: spaces are fine
        help_text=_("Of a bank account in the SEPA area. Spaces are fine."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    account_holder = forms.CharField(
        label=_("Account holder"),
        max_length=140,
        help_text=_("The name the bank knows the account by."),
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )


class AllocationAmountField(MoneyField):
    """A budget line's amount: like every money field, but empty or zero means "nothing for
    this line" (cleaned to 0)."""

    default_error_messages = {"negative": _("Enter zero or an amount above zero.")}

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def clean(self, value):
        value = forms.CharField.clean(self, value)
        if value in self.empty_values:
            return 0
        amount_minor = parse_money(value, self.currency)
        if amount_minor < 0:
            raise forms.ValidationError(self.error_messages["negative"], code="negative")
        return amount_minor


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (Django 5.2 docs, "Uploading multiple files"): a list."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": RECEIPT_ACCEPT}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single_file_clean = super().clean
        if isinstance(data, (list, tuple)):
            return [single_file_clean(item, initial) for item in data if item]
        return [single_file_clean(data, initial)] if data else []


class PayoutRequestForm(forms.Form):
    """Built for one campaign: an amount line per budget item ("item_<pk>"), then "Other costs"
    with what they are for. `allocations()` gives the services.Allocation rows."""

    amount = MoneyField(
        label=_("Amount to pay out"),
        error_messages={"not_positive": _("Enter an amount above zero.")},
    )
    other_amount = AllocationAmountField(label=_("Other costs"))
    other_label = forms.CharField(
        label=_("What the other costs are for"),
        max_length=OTHER_LABEL_MAX_LENGTH,
        required=False,
    )
    note = forms.CharField(
        label=_("What the money is for"),
        max_length=services.MAX_NOTE_LENGTH,
        help_text=_("Supporters read this on the campaign's Money page."),
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    receipts = MultipleFileField(label=_("Receipts or invoices"), required=False)

    def __init__(self, data=None, files=None, *, campaign, budget_items, **kwargs):
        super().__init__(data, files, **kwargs)
        self.campaign = campaign
        self.budget_items = list(budget_items)
        self.allocation_errors = []
        currency = campaign.currency
        self.fields["amount"].currency = currency
        self.fields["amount"].help_text = gettext("In %(currency)s.") % {"currency": currency}
        self.fields["receipts"].help_text = gettext(
            "PDF, JPEG, PNG or WebP, up to %(max)d files. Supporters can see them."
        ) % {"max": MAX_RECEIPTS_PER_PAYOUT}
        self.fields["other_amount"].currency = currency
        for item in self.budget_items:
            field = AllocationAmountField(currency=currency, label=item.label)
            field.help_text = gettext("Planned in the budget: %(amount)s") % {
                "amount": format_money(item.amount_minor, currency)
            }
            self.fields[self.item_field_name(item)] = field
        # The budget lines after the amount, in the budget's order, "Other costs" last.
        order = ["amount", *map(self.item_field_name, self.budget_items)]
        order += ["other_amount", "other_label", "note", "receipts"]
        self.order_fields(order)

    @staticmethod
    def item_field_name(item):
        return f"item_{item.pk}"

    @property
    def item_fields(self):
        return [self[self.item_field_name(item)] for item in self.budget_items]

    def clean_receipts(self):
        uploads = self.cleaned_data["receipts"]
        if len(uploads) > MAX_RECEIPTS_PER_PAYOUT:
            raise forms.ValidationError(
                gettext("Attach at most %(max)d files.") % {"max": MAX_RECEIPTS_PER_PAYOUT}
            )
        checked = []
        for upload in uploads:
            try:
                checked.append(check_receipt(upload))
            except DomainError as error:
                raise forms.ValidationError(
                    gettext("%(name)s: %(problem)s")
                    % {"name": clean_original_name(upload.name), "problem": error.message}
                ) from None
        return checked

    def clean(self):
        data = super().clean()
        if data.get("other_amount") and not (data.get("other_label") or "").strip():
            self.add_error("other_label", gettext("Say what the other costs are for."))
        return data

    def allocations(self):
        data = self.cleaned_data
        rows = [
            services.Allocation(budget_item_id=item.pk, amount_minor=amount)
            for item in self.budget_items
            if (amount := data.get(self.item_field_name(item)))
        ]
        if data.get("other_amount"):
            rows.append(
                services.Allocation(
                    budget_item_id=None,
                    amount_minor=data["other_amount"],
                    label=data.get("other_label", ""),
                )
            )
        return rows

    def add_domain_error(self, error):
        """Show a service's DomainError next to the field it names."""
        if error.field in self.fields:
            self.add_error(error.field, error.message)
        elif error.field == "allocations":
            self.allocation_errors.append(error.message)
        else:
            self.add_error(None, error.message)
