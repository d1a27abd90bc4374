"""core.money.allocate (shares that add back to the whole, one rounding rule) and the system
check on the fee schedule's percentages."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.checks import check_fee_percentages
from core.money import allocate, round_minor


def test_the_remainder_goes_to_the_named_line():
    assert allocate(1001, {"organizer": 95, "platform": 5}, remainder_to="organizer") == {
        "organizer": 951,
        "platform": 50,
    }
    assert allocate(100, {"a": 1, "b": 1, "c": 1}, remainder_to="c") == {"a": 33, "b": 33, "c": 34}


@given(
    total=st.integers(min_value=0, max_value=10**12),
    weights=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=6),
)
def test_shares_always_add_back_to_the_whole(total, weights):
    named = {f"line{index}": weight for index, weight in enumerate(weights)}
    named["rest"] = max(weights) + 1  # the remainder line is the largest
    shares = allocate(total, named, remainder_to="rest")
    assert sum(shares.values()) == total
    whole = sum(named.values())
    for name, weight in named.items():
        if name != "rest":
            assert shares[name] == round_minor(Decimal(total) * weight / whole)
        assert shares[name] >= 0


@pytest.mark.parametrize(
    ("total", "weights", "remainder_to"),
    [
        (100, {"a": 1}, "b"),  # the remainder line is not a line
        (100, {"a": 0, "b": 0}, "a"),  # all weights zero
        (100, {"a": -1, "b": 2}, "b"),  # a negative weight
        (100, {"a": Decimal("NaN"), "b": 1}, "b"),
        (1, {"a": 1, "b": 1, "c": 0}, "c"),  # rounding the others would leave c at -1
    ],
)
def test_bad_allocations_are_refused(total, weights, remainder_to):
    with pytest.raises(ValueError):
        allocate(total, weights, remainder_to=remainder_to)


@pytest.mark.parametrize("amount", [10.5, "100", True, None])
def test_only_whole_minor_units_are_allocated(amount):
    with pytest.raises(TypeError):
        allocate(amount, {"a": 1}, remainder_to="a")


@pytest.mark.parametrize("value", ["5%", "abc", "-1", "101", "NaN", "Infinity", ""])
def test_a_fee_percentage_that_is_not_0_to_100_is_a_system_error(settings, value):
    settings.PLATFORM_FEE_PERCENT = value
    errors = check_fee_percentages()
    assert [error.id for error in errors] == ["groundswell.E002"]
    assert "PLATFORM_FEE_PERCENT" in errors[0].msg


@pytest.mark.parametrize("value", ["5", "0", "2.5", "100", 5])
def test_good_fee_percentages_pass(settings, value):
    settings.PLATFORM_FEE_PERCENT = value
    assert check_fee_percentages() == []
