"""Bank details for payouts by manual bank transfer: the IBAN and the account holder's name, as
an organizer types them, normalised and checked before payouts.services stores them.

schwifty knows every country's IBAN length and layout (the SWIFT IBAN registry) and whether
the country is in the SEPA area; the checksum is ISO 7064 mod 97-10. We do not ask schwifty to
check banks' own codes against its bank registry, which is not complete for every country:
a real account must never be refused. Masking for display is payouts.models.mask_iban.
"""

import re
import unicodedata

from babel import Locale, UnknownLocaleError
from django.conf import settings
from django.utils.translation import get_language, gettext, to_locale
from schwifty import IBAN
from schwifty.exceptions import (
    InvalidChecksumDigits,
    InvalidCountryCode,
    InvalidLength,
    InvalidStructure,
    SchwiftyException,
)

from core.errors import DomainError

# The longest IBAN anywhere is 34 characters (PayoutAccount.iban); leave room for spaces.
MAX_TYPED_LENGTH = 64
ACCOUNT_HOLDER_MIN_LENGTH = 2
ACCOUNT_HOLDER_MAX_LENGTH = 140  # PayoutAccount.account_holder
# White space (no-break spaces included) and the hyphens and dashes people paste.
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015]+")
_LETTERS_AND_DIGITS = re.compile(r"[A-Z0-9]+")
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def normalise_iban(text) -> str:
    """`text` without spaces or hyphens, in upper case: how an IBAN is stored and compared."""
    return _SEPARATORS.sub("", str(text or "")).upper()


def validate_iban(text) -> str:
    """The normalised IBAN, if `text` is a valid IBAN of a country in the SEPA area.

    Raises DomainError(field="iban") saying what is wrong: nothing typed, characters other than
    letters and digits, an unknown country, a country outside SEPA, the wrong length for the
    country, a layout the country does not use, or check digits that do not match.
    """
    typed = str(text or "")
    if len(typed) > MAX_TYPED_LENGTH:
        _refuse(gettext("An IBAN has at most 34 letters and digits."))
    iban = normalise_iban(typed)
    if not iban:
        _refuse(gettext("Enter the IBAN of the bank account."))
    if not _LETTERS_AND_DIGITS.fullmatch(iban):
        _refuse(gettext("An IBAN has only letters and digits (spaces are fine)."))
    country = iban[:2]
    try:
        account = IBAN(iban, allow_invalid=True)
        spec = account.spec
    except InvalidCountryCode:
        _refuse(
            gettext(
                "An IBAN starts with its country code, and “%(country)s” is not a country that "
                "uses IBANs."
            )
            % {"country": country}
        )
    except SchwiftyException:
        _refuse(gettext("This is not a valid IBAN. Please check it for typing mistakes."))
    if not account.in_sepa_zone:
        _refuse(
            gettext(
                "We can only pay into bank accounts in the SEPA area (the European Union, "
                "the United Kingdom, Switzerland, Norway and a few more). This IBAN is from "
                "%(country)s."
            )
            % {"country": _country_name(country)}
        )
    if len(iban) != spec.iban_length:
        _refuse(
            gettext(
                "An IBAN from %(country)s has %(expected)s characters; this one has %(actual)s."
            )
            % {"country": _country_name(country), "expected": spec.iban_length, "actual": len(iban)}
        )
    try:
        account.validate()
    except InvalidChecksumDigits:
        _refuse(
            gettext(
                "The IBAN's check digits do not match the rest of it. Please check it for "
                "typing mistakes."
            )
        )
    except (InvalidStructure, InvalidLength):
        _refuse(
            gettext(
                "This is not how an IBAN from %(country)s is written. Please check it for "
                "typing mistakes."
            )
            % {"country": _country_name(country)}
        )
    except SchwiftyException:
        _refuse(gettext("This is not a valid IBAN. Please check it for typing mistakes."))
    return iban


def validate_account_holder(text) -> str:
    """The account holder's name, trimmed: 2 to 140 characters, no control characters.

    Raises DomainError(field="account_holder").
    """
    name = str(text or "").strip()
    if any(_is_control(character) for character in name):
        _refuse(
            gettext(
                "The account holder's name cannot contain control characters such as line "
                "breaks or tabs."
            ),
            field="account_holder",
        )
    if len(name) < ACCOUNT_HOLDER_MIN_LENGTH:
        _refuse(
            gettext("Enter the account holder's name as the bank knows it."),
            field="account_holder",
        )
    if len(name) > ACCOUNT_HOLDER_MAX_LENGTH:
        _refuse(
            gettext("The account holder's name can have at most %(max)s characters.")
            % {"max": ACCOUNT_HOLDER_MAX_LENGTH},
            field="account_holder",
        )
    return name


def _country_name(code):
    """The country's name in the language of the request (Babel's CLDR data), else its code."""
    try:
        locale = Locale.parse(to_locale(get_language() or settings.LANGUAGE_CODE))
    except (UnknownLocaleError, ValueError):
        return code
    return locale.territories.get(code, code)


def _is_control(character):
    # Bidi overrides too: they make a name read differently to the admin who pays it.
    return unicodedata.category(character) == "Cc" or character in _BIDI_CONTROLS


def _refuse(message, *, field="iban"):
    raise DomainError(message, field=field)
