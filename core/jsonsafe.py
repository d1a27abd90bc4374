"""Strict JSON decoding for bodies from outside (the API, signed webhooks).

json.loads accepts NaN, Infinity and -Infinity and reads an overflowing number such as 1e999 as
infinity; neither Python's datetime nor PostgreSQL's jsonb can hold them, so they are refused.
"""

import json
import math


def strict_loads(text):
    """json.loads without NaN/Infinity or overflowing floats; raises ValueError (and
    RecursionError for absurd nesting) like json.loads does."""
    return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)


def _refuse_constant(name):
    raise ValueError(f"{name} is not JSON")


def _finite_float(text):
    value = float(text)
    if not math.isfinite(value):  # "1e999" overflows to inf
        raise ValueError(f"{text[:20]} is out of range")
    return value
