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
