"""Money: integer minor units plus an ISO-4217 currency, parsing, rounding and display.

Amounts are stored as integers in the currency's minor unit (cents). Decimal arithmetic
uses one rounding rule, half-up to the minor unit, in `round_minor`.
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel.numbers import format_currency
from django.conf import settings

from core.errors import DomainError

# Currencies a campaign may use, with the number of digits of their minor unit.
CURRENCIES = {"EUR": 2, "USD": 2, "GBP": 2}
CURRENCY_CHOICES = [("EUR", "Euro (€)"), ("USD", "US dollar ($)"), ("GBP", "Pound sterling (£)")]
DEFAULT_LOCALE = "en_IE"
# English formatting that shows each currency's own plain symbol (€, $, £).
LOCALE_FOR_CURRENCY = {"EUR": "en_IE", "USD": "en_US", "GBP": "en_GB"}


def exponent(currency):
    try:
        return CURRENCIES[currency]
    except KeyError:
        raise DomainError(f"Unknown currency {currency!r}.", field="currency") from None


def to_minor(amount, currency):
    """Major units (str/Decimal/int, e.g. "12.50") to minor units; refuses fractions of a cent."""
    try:
        value = Decimal(str(amount).strip())
    except (InvalidOperation, ValueError):
        raise DomainError("Enter an amount such as 25 or 12.50.") from None
    if not value.is_finite():
        raise DomainError("Enter an amount such as 25 or 12.50.")
    scaled = value.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise DomainError(
            f"{currency} amounts can have at most {exponent(currency)} decimal places."
        )
    return int(scaled)


def to_major(amount_minor, currency):
    return Decimal(amount_minor).scaleb(-exponent(currency))


def round_minor(value: Decimal) -> int:
    """The one rounding rule for computed amounts (fees, shares): half-up to the minor unit."""
    return int(Decimal(value).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def format_money(amount_minor, currency, *, locale=None, whole=False):
    """`€1,234.50`; with whole=True, drop the cents when they are zero (`€5,000`)."""
    if amount_minor is None:
        return ""
    locale = locale or LOCALE_FOR_CURRENCY.get(currency, DEFAULT_LOCALE)
    major = to_major(amount_minor, currency)
    if whole and major == major.to_integral_value():
        return format_currency(
            major, currency, locale=locale, format="¤#,##0", currency_digits=False
        )
    return format_currency(major, currency, locale=locale)


def currency_symbol(currency):
    return format_currency(
        0,
        currency,
        locale=LOCALE_FOR_CURRENCY.get(currency, DEFAULT_LOCALE),
        format="¤",
        currency_digits=False,
    ).rstrip("0")


def validate_goal(goal_minor):
    if goal_minor <= 0:
        raise DomainError("The goal must be more than zero.", field="goal")
    if goal_minor > settings.MAX_GOAL_MINOR:
        raise DomainError("The goal is above the platform's maximum.", field="goal")


AMBIGUOUS_AMOUNT = (
    "Is that a thousands separator or a decimal point? Write the amount without "
    "thousands separators, e.g. 1250 or 12.50."
)


def parse_amount(text, currency):
    """What a person typed ("25", "12.50", "12,50", "1,250.00", "€ 1.250,00") to minor units.

    The last separator before one or two digits is the decimal mark, whichever it is; full
    groups of three digits may be separated by the other one. A lone separator followed by
    exactly three digits ("1,250" or "1.250") is ambiguous and refused rather than guessed.
    """
    cleaned = "".join(str(text or "").split())
    cleaned = cleaned.replace(currency_symbol(currency), "").removeprefix(currency)
    if "," in cleaned and "." in cleaned:
        decimal = "," if cleaned.rfind(",") > cleaned.rfind(".") else "."
        thousands = "." if decimal == "," else ","
        whole, _, fraction = cleaned.rpartition(decimal)
        if not _grouped(whole, thousands):
            raise DomainError(AMBIGUOUS_AMOUNT)
        cleaned = f"{whole.replace(thousands, '')}.{fraction}"
    elif "," in cleaned or "." in cleaned:
        separator = "," if "," in cleaned else "."
        parts = cleaned.split(separator)
        if len(parts) > 2:
            if not _grouped(cleaned, separator):
                raise DomainError(AMBIGUOUS_AMOUNT)
            cleaned = cleaned.replace(separator, "")
        elif len(parts[1]) == 3 and parts[0].lstrip("-").isdigit() and parts[1].isdigit():
            raise DomainError(AMBIGUOUS_AMOUNT)
        else:
            cleaned = f"{parts[0]}.{parts[1]}"
    return to_minor(cleaned, currency)


def _grouped(number, separator):
    """'1,250,000' with ',': digits in full groups of three after the first group."""
    groups = number.lstrip("-").split(separator)
    return (
        all(group.isdigit() for group in groups)
        and 1 <= len(groups[0]) <= 3
        and all(len(group) == 3 for group in groups[1:])
    )


def percent_of(part_minor, whole_minor):
    """Whole percent of `whole` that `part` is, rounded down (0 without a whole; may pass 100)."""
    if not whole_minor:
        return 0
    return int((part_minor or 0) * 100 // whole_minor)


def input_text(amount_minor, currency):
    """Minor units as the plain number a money input shows: "25", "12.50" ("" for None)."""
    if amount_minor is None:
        return ""
    value = to_major(amount_minor, currency)
    return (
        f"{value:.0f}" if value == value.to_integral_value() else f"{value:.{exponent(currency)}f}"
    )
