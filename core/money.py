"""Money: integer minor units plus an ISO-4217 currency, parsing, rounding and display.

Amounts are stored as integers in the currency's minor unit (cents). Decimal arithmetic
uses one rounding rule, half-up to the minor unit, in `round_minor`.
"""

import re
from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import format_currency
from django.conf import settings
from django.utils.translation import gettext, gettext_noop

from core.errors import DomainError

# Currencies a campaign may use, with the number of digits of their minor unit.
CURRENCIES = {"EUR": 2, "USD": 2, "GBP": 2}
CURRENCY_CHOICES = [("EUR", "Euro (€)"), ("USD", "US dollar ($)"), ("GBP", "Pound sterling (£)")]
DEFAULT_LOCALE = "en_IE"
# English formatting that shows each currency's own plain symbol (€, $, £).
LOCALE_FOR_CURRENCY = {"EUR": "en_IE", "USD": "en_US", "GBP": "en_GB"}

# Bounds on money input, checked before any arithmetic so that no text a person types can
# build a huge number ("1e999990" once held the GIL for 30 s) or overflow a bigint column.
# Longer than any amount a person types ("€ 1.000.000.000,00" is 18 characters).
MAX_AMOUNT_TEXT_LENGTH = 32
# Ten trillion in major units: far above MAX_GOAL_MINOR and MAX_PLEDGE_MINOR, far below the
# largest PostgreSQL bigint (about 9.2e18).
MAX_AMOUNT_MINOR = 10**15

AMOUNT_FORMAT = gettext_noop("Enter an amount such as 25 or 12.50.")
AMOUNT_TOO_LARGE = gettext_noop("That amount is too large.")
AMBIGUOUS_AMOUNT = gettext_noop(
    "Is that a thousands separator or a decimal point? Write the amount without "
    "thousands separators, e.g. 1250 or 12.50."
)

# The digits are written [0-9], never \d or str.isdigit(): those (and Decimal) also accept
# other scripts' digits such as "٣" or "５".
_PLAIN_DECIMAL = re.compile(r"(?P<sign>-?)(?P<whole>[0-9]*)(?:\.(?P<fraction>[0-9]*))?")
_NUMBER = re.compile(r"[0-9.,]*[0-9][0-9.,]*")  # at least one digit
_LEADING_GROUP = re.compile(r"[1-9][0-9]{0,2}")
_FULL_GROUP = re.compile(r"[0-9]{3}")


def exponent(currency):
    try:
        return CURRENCIES[currency]
    except KeyError:
        raise DomainError(f"Unknown currency {currency!r}.", field="currency") from None


def to_minor(amount, currency):
    """Major units as a plain decimal ("12.50", Decimal("12.50"), 25) to minor units.

    Only an optional "-", ASCII digits and at most one "." are accepted: exponents ("1e5"),
    NaN, infinities, underscores, other scripts' digits and fractions of the minor unit are
    refused, and so is anything beyond MAX_AMOUNT_MINOR, before any big number is built.
    """
    places = exponent(currency)
    if isinstance(amount, int) and not isinstance(amount, bool):
        if abs(amount) > MAX_AMOUNT_MINOR // 10**places:
            raise DomainError(gettext(AMOUNT_TOO_LARGE))
        return amount * 10**places
    # str() of a Decimal or float in exponent form ("1E+999990") is refused like typed text.
    text = amount if isinstance(amount, str) else str(amount)
    if len(text) > MAX_AMOUNT_TEXT_LENGTH:
        raise DomainError(gettext(AMOUNT_FORMAT))
    match = _PLAIN_DECIMAL.fullmatch(text.strip())
    if not match or not (match["whole"] or match["fraction"]):
        raise DomainError(gettext(AMOUNT_FORMAT))
    return _minor_units(match["sign"], match["whole"], match["fraction"] or "", currency)


def _minor_units(sign, whole, fraction, currency):
    """ASCII digit strings (already bounded in length) to a signed int of minor units."""
    places = exponent(currency)
    significant = fraction.rstrip("0")
    if len(significant) > places:
        raise DomainError(
            gettext("%(currency)s amounts can have at most %(places)d decimal places.")
            % {"currency": currency, "places": places}
        )
    whole = whole.lstrip("0")
    if len(whole) + places > len(str(MAX_AMOUNT_MINOR)):
        raise DomainError(gettext(AMOUNT_TOO_LARGE))
    minor = int(whole or "0") * 10**places + int(significant.ljust(places, "0") or "0")
    if minor > MAX_AMOUNT_MINOR:
        raise DomainError(gettext(AMOUNT_TOO_LARGE))
    return -minor if sign else minor


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


def parse_amount(text, currency):
    """What a person typed ("25", "12.50", "12,50", "1,250.00", "€ 1.250,00") to minor units.

    Accepted: whitespace anywhere, one currency symbol or code before or after the number,
    one leading "-", ASCII digits, and separators. The last separator before the fraction is
    the decimal mark, whichever it is; full groups of three digits may be separated by the
    other one. A lone separator that could be either ("1,250" or "1.250": a leading group of
    one to three digits, not starting with 0, then exactly three digits) is refused rather
    than guessed; "0.001" or "12.3456" cannot be thousands groups, so they are read as
    decimals and refused for their decimal places. Anything else, and text longer than
    MAX_AMOUNT_TEXT_LENGTH, is refused before any arithmetic; results stay within
    ±MAX_AMOUNT_MINOR.
    """
    text = "" if text is None else str(text)
    if len(text) > MAX_AMOUNT_TEXT_LENGTH:
        raise DomainError(gettext(AMOUNT_FORMAT))
    exponent(currency)  # an unknown currency is refused first, as to_minor does
    sign, number = _unwrap("".join(text.split()), currency)
    if not _NUMBER.fullmatch(number):
        raise DomainError(gettext(AMOUNT_FORMAT))
    whole, fraction = _split_at_decimal_mark(number)
    return _minor_units(sign, whole, fraction, currency)


def _unwrap(cleaned, currency):
    """("-" or "", the number) from "-€12.50", "€-12.50", "12.50 EUR" and the like."""
    sign = ""
    if cleaned.startswith("-"):
        sign, cleaned = "-", cleaned[1:]
    for affix in (currency_symbol(currency), currency):
        if affix and cleaned.startswith(affix):
            cleaned = cleaned[len(affix) :]
            break
        if affix and cleaned.endswith(affix):
            cleaned = cleaned[: -len(affix)]
            break
    if not sign and cleaned.startswith("-"):
        sign, cleaned = "-", cleaned[1:]
    return sign, cleaned


def _split_at_decimal_mark(number):
    """(whole digits, fraction digits) of ASCII digits and separators, or a DomainError."""
    if "," in number and "." in number:
        decimal = "," if number.rfind(",") > number.rfind(".") else "."
        thousands = "." if decimal == "," else ","
        whole, _, fraction = number.rpartition(decimal)
        if not _grouped(whole, thousands):
            raise DomainError(gettext(AMBIGUOUS_AMOUNT))
        return whole.replace(thousands, ""), fraction
    if "," not in number and "." not in number:
        return number, ""
    separator = "," if "," in number else "."
    parts = number.split(separator)
    if len(parts) > 2:
        if "" in parts:  # "1..2", ",5,"
            raise DomainError(gettext(AMOUNT_FORMAT))
        if not _grouped(number, separator):
            raise DomainError(gettext(AMBIGUOUS_AMOUNT))
        return number.replace(separator, ""), ""
    whole, fraction = parts
    if len(fraction) == 3 and _LEADING_GROUP.fullmatch(whole):
        raise DomainError(gettext(AMBIGUOUS_AMOUNT))
    return whole, fraction


def _grouped(number, separator):
    """'1,250,000' with ',': a leading group of 1-3 digits (not 0…), then full groups of three."""
    groups = number.split(separator)
    return bool(_LEADING_GROUP.fullmatch(groups[0])) and all(
        _FULL_GROUP.fullmatch(group) for group in groups[1:]
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


def allocate(total_minor, weights, *, remainder_to):
    """Split `total_minor` by `weights` ({name: weight}): every line but `remainder_to` gets
    its share rounded with the one rule (`round_minor`), and `remainder_to` gets exactly what
    is left, so the shares always add back up to the whole.

    `allocate(1001, {"organizer": 95, "platform": 5}, remainder_to="organizer")` ->
    {"organizer": 951, "platform": 50}. Weights are finite, not negative and not all zero;
    the remainder line should be the largest, so that rounding the others can never leave it
    less than nothing (ValueError if it would).
    """
    if isinstance(total_minor, bool) or not isinstance(total_minor, int):
        raise TypeError("allocate splits a whole number of minor units")
    if remainder_to not in weights:
        raise ValueError(f"the remainder line {remainder_to!r} is not one of the weights")
    decimals = {name: Decimal(str(weight)) for name, weight in weights.items()}
    if any(not weight.is_finite() or weight < 0 for weight in decimals.values()):
        raise ValueError("weights are finite and not negative")
    whole = sum(decimals.values())
    if not whole:
        raise ValueError("at least one weight is more than zero")
    shares = {
        name: round_minor(Decimal(total_minor) * weight / whole)
        for name, weight in decimals.items()
        if name != remainder_to
    }
    rest = total_minor - sum(shares.values())
    if (rest < 0) != (total_minor < 0) and rest != 0:
        raise ValueError("rounding the other lines would leave the remainder line negative")
    return {name: rest if name == remainder_to else shares[name] for name in weights}
