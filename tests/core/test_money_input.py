"""Money input from people and attackers: every money field reads a bounded plain decimal or
shows its usual error, never builds a huge number, never raises, and no view answers 500.

To cover another money field, add a `MoneyInput` to `MONEY_INPUTS`: a builder that binds
the form with the typed text in that field (and valid values elsewhere), and where the
cleaned minor units land.
"""

import datetime
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django import forms
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from campaigns.forms import BudgetItemForm, FundingForm, RewardForm, StretchGoalForm
from campaigns.models import Campaign
from core import money
from core.errors import DomainError
from pledges.forms import ChangePledgeForm, PledgeForm
from pledges.models import Pledge
from tests.factories import CampaignFactory, MemberFactory, PledgeFactory

ASCII_DIGITS = "0123456789"


# --- the money fields -------------------------------------------------------------------------
def draft_campaign(**overrides):
    """An unsaved draft campaign: enough for the forms, no database needed."""
    fields = {
        "title": "Garden",
        "currency": "EUR",
        "goal_minor": 500_000,
        "funding_model": "all_or_nothing",
        "duration_days": 30,
        "status": Campaign.Status.DRAFT,
        "allow_no_reward": True,
        **overrides,
    }
    return Campaign(**fields)


@dataclass(frozen=True)
class MoneyInput:
    name: str
    bind: Callable[[str], forms.Form]  # the form bound with this text in its money field
    field: str  # where the form shows the field's errors
    cleaned_key: str  # where the minor units land in cleaned_data
    maximum: Callable[[], int] = lambda: money.MAX_AMOUNT_MINOR


def _funding(typed):
    data = {"goal": typed, "currency": "EUR", "funding_model": "all_or_nothing",
            "schedule": "days", "duration_days": "30", "end_date": ""}  # fmt: skip
    return FundingForm(data, campaign=draft_campaign())


def _reward(typed):
    data = {"title": "Tote bag", "description": "", "minimum": typed, "quantity_limit": "",
            "estimated_delivery": ""}  # fmt: skip
    return RewardForm(data, campaign=draft_campaign())


def _budget_item(typed):
    return BudgetItemForm(
        {"label": "Soil", "amount": typed, "required": "1"}, campaign=draft_campaign()
    )


def _stretch_goal(typed):
    return StretchGoalForm({"amount": typed, "description": "A bench"}, campaign=draft_campaign())


def _pledge(typed):
    data = {"reward": "", "amount": typed, "public_name": "", "message": "",
            "idempotency_key": uuid.uuid4().hex}  # fmt: skip
    return PledgeForm(data, campaign=draft_campaign(status=Campaign.Status.LIVE), rewards=[])


def _change_pledge(typed):
    return ChangePledgeForm(
        {"reward": "", "amount": typed},
        campaign=draft_campaign(status=Campaign.Status.LIVE),
        rewards=[],
    )


MONEY_INPUTS = [
    MoneyInput("funding goal", _funding, "goal", "goal_minor", lambda: settings.MAX_GOAL_MINOR),
    MoneyInput("reward minimum", _reward, "minimum", "minimum"),
    MoneyInput("budget item", _budget_item, "amount", "amount"),
    MoneyInput("stretch goal", _stretch_goal, "amount", "amount"),
    MoneyInput("pledge amount", _pledge, "amount", "amount"),
    MoneyInput("change pledge amount", _change_pledge, "amount", "amount"),
]
each_money_input = pytest.mark.parametrize("case", MONEY_INPUTS, ids=lambda case: case.name)


# --- what people and attackers type -----------------------------------------------------------
def _major_text(minor, *, decimal=".", thousands=""):
    """12.50, 12,50, 1,250.00 or 1.250,00 (grouped amounts always show their cents: a lone
    "1,250" is ambiguous and refused)."""
    whole, cents = divmod(minor, 100)
    digits = str(whole)
    if not thousands:
        return digits if not cents else f"{digits}{decimal}{cents:02d}"
    groups = []
    while digits:
        digits, group = digits[:-3], digits[-3:]
        groups.insert(0, group)
    return f"{thousands.join(groups)}{decimal}{cents:02d}"


# (decimal mark, thousands separator, prefix, suffix) of the ways people write an amount.
STYLES = [
    (".", "", "", ""),
    (",", "", "", ""),
    (".", ",", "", ""),
    (",", ".", "", ""),
    (".", "", "€", ""),
    (",", ".", "€ ", ""),
    (".", "", "", " EUR"),
    (".", "", " ", "  "),
]


@st.composite
def valid_amounts(draw, maximum=10**12):
    """(text, minor units) of an amount written in one of STYLES."""
    minor = draw(st.integers(min_value=1, max_value=maximum))
    decimal, thousands, prefix, suffix = draw(st.sampled_from(STYLES))
    if not thousands and minor % 100 == 0 and minor // 100 >= 1_000 and draw(st.booleans()):
        # "1250.00" and "1250,00": a fraction that makes the lone separator unambiguous.
        return f"{prefix}{minor // 100}{decimal}00{suffix}", minor
    return f"{prefix}{_major_text(minor, decimal=decimal, thousands=thousands)}{suffix}", minor


def _exponent_text(mantissa, mark, sign, power):
    return f"{mantissa}{mark}{sign}{power}"


exponents = st.builds(
    _exponent_text,
    st.text(ASCII_DIGITS + ".", min_size=1, max_size=6),
    st.sampled_from("eE"),
    st.sampled_from(["", "+", "-"]),
    st.integers(min_value=0, max_value=10**7).map(str),
)
huge_digit_strings = st.one_of(
    st.integers(min_value=15, max_value=400).map(lambda n: "9" * n),
    st.text(ASCII_DIGITS, min_size=15, max_size=60),
)
other_scripts_digit = st.characters(categories=["Nd"], exclude_characters=ASCII_DIGITS)
# Other scripts' digits ("٣", "５"), alone or among ASCII digits and separators.
unicode_digits = st.builds(
    lambda before, digit, after: before + digit + after,
    st.text(ASCII_DIGITS + ".,", max_size=5),
    other_scripts_digit,
    st.text(st.one_of(st.sampled_from(ASCII_DIGITS + ".,"), other_scripts_digit), max_size=5),
)
stray_separators = st.text(ASCII_DIGITS + ".,", min_size=1, max_size=14)
signed = st.builds(
    lambda sign, body: sign + body,
    st.sampled_from(["+", "-", "--", "+-", "-+", "−", "- "]),
    st.one_of(valid_amounts().map(lambda pair: pair[0]), stray_separators),
)
padded = st.builds(
    lambda pad, body, tail: pad + body + tail,
    st.sampled_from(["", " ", "\t", "\n", "\u00a0", "\u2003", "\x00", "x"]),
    st.one_of(valid_amounts().map(lambda pair: pair[0]), stray_separators),
    st.sampled_from(["", " ", "\r\n", "\x00", "€", "EUR", "eur", "USD", "abc", "_0"]),
)
special_words = st.sampled_from(
    ["NaN", "nan", "sNaN", "-NaN", "Infinity", "-Infinity", "inf", "+inf", "∞", "1e999990",
     "1e1000000", "1E+999990", "-1e999990", "0x10", "1_000", "1_000.50", "١٢٣", "５０",
     "Ⅻ", ".", ",", ",5,", "1..2", "1,,000", "--5", "+5", "€", "EUR", "", " ", "0", "0.00",
     "-0", "0.001", "1,250", "1.250", "0,5", "12.", ".5", "€5€", "5 € 5"]
)  # fmt: skip
anything = st.text(max_size=40)

money_texts = st.one_of(
    exponents,
    huge_digit_strings,
    unicode_digits,
    stray_separators,
    signed,
    padded,
    special_words,
    anything,
    valid_amounts().map(lambda pair: pair[0]),
)

PROPERTY_SETTINGS = hypothesis_settings(
    max_examples=250,
    deadline=None,
    database=None,  # no .hypothesis/ directory in the shared checkout
    suppress_health_check=[HealthCheck.too_slow],
)


def _only_plain_decimal_characters(typed):
    """Whether the text holds nothing but whitespace, € / EUR, "-", ASCII digits, "." and ","."""
    rest = "".join(typed.split()).replace("€", "").replace("EUR", "")
    return set(rest) <= set(ASCII_DIGITS + ".,-") and rest.count("-") <= 1


# --- the property: a form error or a valid amount in range, never an exception -----------------
@each_money_input
@PROPERTY_SETTINGS
@given(typed=money_texts)
def test_any_text_in_a_money_field_is_a_form_error_or_an_amount_in_range(case, typed):
    form = case.bind(typed)
    form.is_valid()  # must not raise
    if case.field in form.errors:
        assert all(str(message).strip() for message in form.errors[case.field])
        return
    amount = form.cleaned_data[case.cleaned_key]
    assert type(amount) is int
    assert 0 < amount <= case.maximum() <= money.MAX_AMOUNT_MINOR
    assert _only_plain_decimal_characters(typed), typed


@each_money_input
@PROPERTY_SETTINGS
@given(written=valid_amounts(maximum=settings.MAX_PLEDGE_MINOR))
def test_amounts_written_the_usual_ways_are_read_exactly(case, written):
    typed, minor = written
    form = case.bind(typed)
    form.is_valid()
    assert case.field not in form.errors, (typed, form.errors[case.field])
    assert form.cleaned_data[case.cleaned_key] == minor


@PROPERTY_SETTINGS
@given(typed=money_texts)
def test_parse_amount_returns_a_bounded_int_or_a_domain_error(typed):
    try:
        amount = money.parse_amount(typed, "EUR")
    except DomainError as error:
        assert error.message
        return
    assert type(amount) is int and abs(amount) <= money.MAX_AMOUNT_MINOR
    assert _only_plain_decimal_characters(typed), typed


# --- length and range come before any arithmetic ----------------------------------------------
@pytest.fixture
def forbid_decimal_arithmetic(monkeypatch):
    """Call it to make any Decimal that core.money builds from then on fail the test."""

    def forbidden(*args, **kwargs):
        pytest.fail(f"core.money built a Decimal from {str(args)[:60]} before refusing it")

    return lambda: monkeypatch.setattr(money, "Decimal", forbidden)


HOSTILE = ["1" * 10_000, "1e999990", "1e1000000", "9" * 21, "NaN", "Infinity", "1_000"]


@each_money_input
@pytest.mark.parametrize("typed", HOSTILE, ids=lambda typed: typed[:12])
def test_hostile_text_is_refused_by_the_form_before_any_decimal_arithmetic(
    forbid_decimal_arithmetic, case, typed
):
    form = case.bind(typed)  # (an unbound form's initial values may use Decimal)
    forbid_decimal_arithmetic()
    assert not form.is_valid()
    assert form.errors[case.field]


@pytest.mark.parametrize("typed", HOSTILE, ids=lambda typed: typed[:12])
def test_core_money_refuses_hostile_text_before_any_decimal_arithmetic(
    forbid_decimal_arithmetic, typed
):
    forbid_decimal_arithmetic()
    with pytest.raises(DomainError, match="Enter an amount|too large"):
        money.parse_amount(typed, "EUR")
    with pytest.raises(DomainError, match="Enter an amount|too large"):
        money.to_minor(typed, "EUR")


def test_to_minor_refuses_huge_and_non_finite_numbers_without_building_them():
    from decimal import Decimal

    for amount in (Decimal("1E+999990"), Decimal("NaN"), Decimal("-Infinity"), float("inf"),
                   1e20, "1e5", " 1E5 ", "+5", "٣", "1_0", True):  # fmt: skip
        with pytest.raises(DomainError, match="Enter an amount"):
            money.to_minor(amount, "EUR")
    with pytest.raises(DomainError, match="too large"):
        money.to_minor(10**1_000_000, "EUR")
    with pytest.raises(DomainError, match="too large"):
        money.to_minor(money.MAX_AMOUNT_MINOR // 100 + 1, "EUR")
    assert money.to_minor(money.MAX_AMOUNT_MINOR // 100, "EUR") == money.MAX_AMOUNT_MINOR
    assert money.to_minor(Decimal("12.50"), "EUR") == 1_250
    assert money.to_minor(" -3 ", "EUR") == -300


# --- the grammar, example by example ----------------------------------------------------------
FORMAT = "Enter an amount such as 25 or 12.50."
DECIMALS = "EUR amounts can have at most 2 decimal places."
TOO_LARGE = "That amount is too large."


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("25", 2_500),
        ("12.50", 1_250),
        ("12,5", 1_250),
        (".5", 50),
        ("12.", 1_200),
        ("€ 1.250,00", 125_000),
        ("1,250,000.5", 125_000_050),
        ("1 250", 125_000),
        ("-€5", -500),
        ("€-5", -500),
        ("5 EUR", 500),
        ("10.50000", 1_050),  # zeros beyond the cents change nothing
        ("0,250", 25),  # a leading 0 is no thousands group
        ("10000000000000", money.MAX_AMOUNT_MINOR),
        # refused: not a plain decimal
        ("1e5", FORMAT), ("1E-2", FORMAT), ("NaN", FORMAT), ("Infinity", FORMAT), ("inf", FORMAT),
        ("٣", FORMAT), ("５", FORMAT), ("1_000", FORMAT), ("+5", FORMAT), ("--5", FORMAT),
        ("−5", FORMAT), ("1..2", FORMAT), (".", FORMAT), (",5,", FORMAT), ("€5€", FORMAT),
        ("5\x00", FORMAT), ("5abc", FORMAT), ("", FORMAT), ("1" * 33, FORMAT),
        # refused: too precise or too large
        ("0.001", DECIMALS), ("0,001", DECIMALS), ("1234.567", DECIMALS), ("10.0055", DECIMALS),
        (",255", DECIMALS), ("10000000000000.01", TOO_LARGE), ("99999999999999", TOO_LARGE),
        # refused: a separator that could be either
        ("1,250", money.AMBIGUOUS_AMOUNT), ("1.250", money.AMBIGUOUS_AMOUNT),
        ("999.000", money.AMBIGUOUS_AMOUNT), ("1,25,0", money.AMBIGUOUS_AMOUNT),
        ("0,250,000", money.AMBIGUOUS_AMOUNT), ("12.345,678.9", money.AMBIGUOUS_AMOUNT),
    ],
)  # fmt: skip
def test_what_parse_amount_reads_and_refuses(typed, expected):
    if isinstance(expected, int):
        assert money.parse_amount(typed, "EUR") == expected
    else:
        with pytest.raises(DomainError) as refused:
            money.parse_amount(typed, "EUR")
        assert refused.value.message == expected


@pytest.mark.parametrize(
    "currency, typed, expected",
    [("USD", "$12.50", 1_250), ("USD", "12.50 USD", 1_250), ("GBP", "£ 1,250.00", 125_000),
     ("GBP", "-£5", -500), ("USD", "€5", FORMAT), ("GBP", "$5", FORMAT)],
)  # fmt: skip
def test_each_currency_takes_its_own_symbol_and_code_only(currency, typed, expected):
    if isinstance(expected, int):
        assert money.parse_amount(typed, currency) == expected
    else:
        with pytest.raises(DomainError, match=expected):
            money.parse_amount(typed, currency)


def test_zero_or_less_is_refused_by_each_money_field():
    for case in MONEY_INPUTS:
        for typed in ("0", "-5", "0.00", "-0"):
            form = case.bind(typed)
            assert not form.is_valid() and form.errors[case.field], (case.name, typed)


# --- over HTTP: the real views answer 200 with the field's error, quickly ----------------------
HOSTILE_POSTS = ["1e999990", "1e1000000", "1" * 10_000]
# A generous bound: these pages answer in milliseconds; "1e999990" used to take ~30 s.
QUICKLY = 5.0


def _post(client, path, data):
    started = time.monotonic()
    response = client.post(path, data)
    elapsed = time.monotonic() - started
    assert elapsed < QUICKLY, f"{path} took {elapsed:.1f} s"
    return response


def _workspace(name, campaign):
    return reverse(f"campaigns:{name}", args=[campaign.pk])


def _assert_refused(response, field):
    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="id_{field}_errors"' in html
    assert "Enter an amount such as 25 or 12.50." in html or "at most 20 characters" in html


@pytest.mark.django_db
@pytest.mark.parametrize("typed", HOSTILE_POSTS, ids=lambda typed: typed[:12])
def test_organizer_money_fields_refuse_hostile_amounts_over_http(client, typed):
    campaign = CampaignFactory(goal_minor=300_000, duration_days=20)
    client.force_login(campaign.organizer)

    funding = {"goal": typed, "currency": "EUR", "funding_model": "all_or_nothing",
               "schedule": "days", "duration_days": "30", "end_date": ""}  # fmt: skip
    _assert_refused(_post(client, _workspace("edit_funding", campaign), funding), "goal")

    reward = {"action": "add_reward", "title": "Tote bag", "description": "",
              "minimum": typed, "quantity_limit": "", "estimated_delivery": ""}  # fmt: skip
    _assert_refused(_post(client, _workspace("edit_rewards", campaign), reward), "minimum")

    budget = {"label": "Soil", "amount": typed, "required": "1"}
    _assert_refused(_post(client, _workspace("edit_budget", campaign), budget), "amount")

    stretch = {"amount": typed, "description": "A bench"}
    _assert_refused(_post(client, _workspace("edit_stretch_goals", campaign), stretch), "amount")

    campaign.refresh_from_db()
    assert (campaign.goal_minor, campaign.duration_days) == (300_000, 20)
    assert not campaign.rewards.exists()
    assert not campaign.budget_items.exists()
    assert not campaign.stretch_goals.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("typed", HOSTILE_POSTS, ids=lambda typed: typed[:12])
def test_pledge_amounts_refuse_hostile_amounts_over_http(client, typed):
    campaign = CampaignFactory(live=True, goal_minor=500_000)
    supporter = MemberFactory()
    client.force_login(supporter)

    new = {"reward": "", "amount": typed, "public_name": "", "message": "",
           "idempotency_key": uuid.uuid4().hex}  # fmt: skip
    response = _post(client, reverse("pledges:new", args=[campaign.slug]), new)
    _assert_refused(response, "amount")
    assert not Pledge.objects.filter(supporter=supporter).exists()

    pledge = PledgeFactory(campaign=campaign, supporter=supporter, amount_minor=1_000)
    detail = reverse("pledges:detail", args=[pledge.public_id])
    _assert_refused(_post(client, detail, {"reward": "", "amount": typed}), "amount")
    pledge.refresh_from_db()
    assert pledge.amount_minor == 1_000


# --- the funding step shows every field's error at once ---------------------------------------
def _errors_next_to(html, field):
    match = re.search(rf'<ul class="errorlist" id="id_{field}_errors"[^>]*>(.*?)</ul>', html, re.S)
    return re.findall(r"<li>(.*?)</li>", match.group(1)) if match else []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "overrides, expected",
    [
        (
            {"goal": "-5", "duration_days": ""},
            {"goal": "The goal must be more than zero.",
             "duration_days": "Say how many days your campaign runs."},
        ),
        (
            {"goal": "2000000000", "schedule": "date", "end_date": "-1"},
            {"goal": "The goal is above the platform&#x27;s maximum.",
             "end_date": "The end date must be in the future."},
        ),
        (
            {"goal": "0.001", "schedule": "date", "end_date": "+61"},
            {"goal": DECIMALS, "end_date": "The end date can be at most 60 days from today."},
        ),
        (
            {"goal": "1e999990", "currency": "XYZ", "duration_days": "61"},
            {"goal": FORMAT,
             "currency": "Select a valid choice. XYZ is not one of the available choices.",
             "duration_days": "Ensure this value is less than or equal to 60."},
        ),
    ],
)  # fmt: skip
def test_the_funding_step_shows_every_fields_error_at_once(client, overrides, expected):
    if overrides.get("end_date", "").startswith(("+", "-")):
        offset = datetime.timedelta(days=int(overrides["end_date"]))
        overrides = {**overrides, "end_date": (timezone.localdate() + offset).isoformat()}
    campaign = CampaignFactory(goal_minor=300_000, duration_days=20)
    client.force_login(campaign.organizer)
    data = {"goal": "5000", "currency": "EUR", "funding_model": "all_or_nothing",
            "schedule": "days", "duration_days": "30", "end_date": "", **overrides}  # fmt: skip
    response = _post(client, _workspace("edit_funding", campaign), data)
    assert response.status_code == 200
    html = response.content.decode()
    for field, message in expected.items():
        assert _errors_next_to(html, field) == [message], field
    stored = Campaign.objects.get(pk=campaign.pk)
    assert (stored.goal_minor, stored.duration_days, stored.end_date) == (300_000, 20, None)
