"""Bank details for manual transfers (payouts.banking): IBANs as people type them, normalised,
checked per country and by their check digits, SEPA only; account holders' names."""

import pytest
from django.utils import translation

from core.errors import DomainError
from payouts.banking import normalise_iban, validate_account_holder, validate_iban
from payouts.models import mask_iban

# Valid IBANs from SEPA countries (the registry's and the banks' published examples).
SEPA_IBANS = [
    "BE68539007547034",
    "NL91ABNA0417164300",
    "DE89370400440532013000",
    "FR1420041010050500013M02606",
    "LU280019400644750000",
    "GB82WEST12345698765432",
    "IE29AIBK93115212345678",
    "CH9300762011623852957",
    "NO9386011117947",
    "ES9121000418450200051332",
    "IT60X0542811101000000123456",
    "AT611904300234573201",
    "FI2112345600000785",
    "MC5811222000010123456789030",
]


def refusal(text, field="iban"):
    with pytest.raises(DomainError) as caught:
        if field == "iban":
            validate_iban(text)
        else:
            validate_account_holder(text)
    assert caught.value.field == field
    return caught.value.message


@pytest.mark.parametrize("iban", SEPA_IBANS)
def test_a_valid_sepa_iban_is_accepted_as_it_is_stored(iban):
    assert validate_iban(iban) == iban


@pytest.mark.parametrize(
    "typed",
    [
        "BE68 5390 0754 7034",
        "be68 5390 0754 7034",
        " BE68-5390-0754-7034 ",
        "BE68\u00a05390\u00a00754\u00a07034",  # no-break spaces, as banking sites copy them
        "BE68\u20135390\u20130754\u20137034",  # en dashes
        "BE68\t5390\n0754 7034",
    ],
)
def test_an_iban_is_normalised_however_it_was_typed(typed):
    assert normalise_iban(typed) == "BE68539007547034"
    assert validate_iban(typed) == "BE68539007547034"


def test_the_stored_iban_masks_as_the_model_shows_it():
    assert mask_iban(validate_iban("be68 5390 0754 7034")) == "BE68 •••• 7034"


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Enter the IBAN of the bank account."),
        ("   ", "Enter the IBAN of the bank account."),
        (None, "Enter the IBAN of the bank account."),
        (
            "BE68 5390 0754 703!",
            "An IBAN has only letters and digits (spaces are fine).",
        ),
        (
            "BÉ68539007547034",
            "An IBAN has only letters and digits (spaces are fine).",
        ),
        (
            "BE68５３９００７５４７０３４",  # full-width digits
            "An IBAN has only letters and digits (spaces are fine).",
        ),
        (
            "XX68539007547034",
            "An IBAN starts with its country code, and “XX” is not a country that uses IBANs.",
        ),
        (
            "US12345678901234",
            "An IBAN starts with its country code, and “US” is not a country that uses IBANs.",
        ),
        (
            "BE6853900754703",
            "An IBAN from Belgium has 16 characters; this one has 15.",
        ),
        (
            "DE893704004405320130001",
            "An IBAN from Germany has 22 characters; this one has 23.",
        ),
        (
            "BE68539007547035",
            "The IBAN's check digits do not match the rest of it. Please check it for typing "
            "mistakes.",
        ),
        (
            "NL19ABNA0417164300",  # two digits swapped
            "The IBAN's check digits do not match the rest of it. Please check it for typing "
            "mistakes.",
        ),
        (
            "BE68ABCD0754703X",
            "This is not how an IBAN from Belgium is written. Please check it for typing mistakes.",
        ),
        ("BE68" + "0" * 70, "An IBAN has at most 34 letters and digits."),
    ],
)
def test_a_bad_iban_is_refused_saying_why(typed, message):
    assert refusal(typed) == message


@pytest.mark.parametrize(
    ("iban", "country"),
    [
        ("BR1800360305000010009795493C1", "Brazil"),
        ("SA0380000000608010167519", "Saudi Arabia"),
        ("AE070331234567890123456", "United Arab Emirates"),
    ],
)
def test_a_valid_iban_outside_sepa_is_refused(iban, country):
    message = refusal(iban)
    assert "We can only pay into bank accounts in the SEPA area" in message
    assert message.endswith(f"This IBAN is from {country}.")


def test_country_names_are_in_the_language_of_the_page():
    with translation.override("nl"):
        assert refusal("BE6853900754703") == (
            "An IBAN from België has 16 characters; this one has 15."
        )
    with translation.override("fr"):
        assert "Belgique" in refusal("BE6853900754703")


# --- account holder ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("  Buurtwerking Elm Street vzw ", "Buurtwerking Elm Street vzw"),
        ("Zoë Ó Briain-Dupont", "Zoë Ó Briain-Dupont"),
        ("Al", "Al"),
        ("x" * 140, "x" * 140),
    ],
)
def test_an_account_holder_is_trimmed_and_kept(typed, stored):
    assert validate_account_holder(typed) == stored


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Enter the account holder's name as the bank knows it."),
        ("A", "Enter the account holder's name as the bank knows it."),
        ("   A   ", "Enter the account holder's name as the bank knows it."),
        (None, "Enter the account holder's name as the bank knows it."),
        ("x" * 141, "The account holder's name can have at most 140 characters."),
    ],
)
def test_an_account_holder_too_short_or_too_long_is_refused(typed, message):
    assert refusal(typed, field="account_holder") == message


@pytest.mark.parametrize(
    "typed",
    [
        "Elm Street\nvzw",
        "Elm\tStreet",
        "Elm Street\x00",
        "Elm Street\x1b[31m",
        "Elm \u202etseuqer\u202c Street",  # right-to-left override
    ],
)
def test_an_account_holder_with_control_characters_is_refused(typed):
    assert refusal(typed, field="account_holder") == (
        "The account holder's name cannot contain control characters such as line breaks or tabs."
    )
