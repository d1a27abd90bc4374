"""Checking an endpoint's parameters the way Stripe does: unknown ones are refused by name.

A spec maps each accepted parameter to its kind: `str`, `int`, `bool`, `METADATA`, a tuple of
allowed strings, `[kind]` (a list), or a nested spec dict. `take()` returns the coerced values;
a parameter the stand-in does not implement answers 400 `parameter_unknown`, never silence.
"""

from __future__ import annotations

import re

from .errors import bad_value, invalid, unknown_parameter

METADATA = "metadata"
ANY = "any"  # accepted and passed through unchecked (e.g. an id that may be expanded)
MAX_METADATA_KEYS, MAX_METADATA_KEY, MAX_METADATA_VALUE = 50, 40, 500
MAX_STRING = 5000
MAX_AMOUNT = 99_999_999  # Stripe's maximum amount in minor units (EUR 999,999.99)
_CURRENCY = re.compile(r"^[a-z]{3}$")


def take(params: dict, spec: dict, *, prefix: str = "") -> dict:
    if not isinstance(params, dict):
        raise bad_value(prefix.rstrip(".") or "body", "Invalid hash", "parameter_invalid_hash")
    for key in params:
        if key not in spec and not (not prefix and key == "expand"):
            raise unknown_parameter(_name(prefix, key))
    values = {}
    for key, kind in spec.items():
        if key in params:
            values[key] = _coerce(params[key], kind, _name(prefix, key))
    return values


def require(values: dict, *names: str) -> None:
    for name in names:
        if values.get(name) in (None, ""):
            raise invalid(
                f"Missing required param: {name}.",
                param=name,
                code="parameter_missing",
                stored=False,
            )


def expand_paths(params: dict) -> list[str]:
    expand = params.get("expand") or []
    if isinstance(expand, str):
        expand = [expand]
    if not isinstance(expand, list) or not all(isinstance(item, str) for item in expand):
        raise bad_value("expand", "Invalid array", "parameter_invalid_array")
    return expand


def _name(prefix: str, key: str) -> str:
    return f"{prefix}[{key}]" if prefix else key


def _coerce(value, kind, name):
    if kind is ANY:
        return value
    if kind is str:
        if not isinstance(value, str):
            raise bad_value(name, "Invalid string")
        if len(value) > MAX_STRING:
            raise bad_value(name, f"Must be at most {MAX_STRING} characters")
        return value
    if kind is int:
        if not isinstance(value, str) or not value.lstrip("-").isdigit() or len(value) > 18:
            raise bad_value(name, f"Invalid integer: {value}", "parameter_invalid_integer")
        return int(value)
    if kind is bool:
        if value not in ("true", "false"):
            raise bad_value(name, f"Invalid boolean: {value}", "parameter_invalid_boolean")
        return value == "true"
    if kind == METADATA:
        return _metadata(value, name)
    if isinstance(kind, tuple):
        if value not in kind:
            raise bad_value(name, f"Invalid {name}: must be one of {', '.join(kind)}")
        return value
    if isinstance(kind, list):
        if value == "":  # Stripe: an empty string clears a list
            return []
        if not isinstance(value, list):
            raise bad_value(name, "Invalid array", "parameter_invalid_array")
        return [_coerce(item, kind[0], f"{name}[{i}]") for i, item in enumerate(value)]
    if isinstance(kind, dict):
        return take(value, kind, prefix=name)
    raise TypeError(f"unknown parameter kind {kind!r}")


def _metadata(value, name):
    if value == "":
        return {}
    if not isinstance(value, dict):
        raise bad_value(name, "Invalid hash", "parameter_invalid_hash")
    if len(value) > MAX_METADATA_KEYS:
        raise bad_value(name, f"Metadata can have at most {MAX_METADATA_KEYS} keys")
    for key, item in value.items():
        if not isinstance(item, str):
            raise bad_value(f"{name}[{key}]", "Invalid string")
        if len(key) > MAX_METADATA_KEY or len(item) > MAX_METADATA_VALUE:
            raise bad_value(
                f"{name}[{key}]",
                f"Metadata keys are at most {MAX_METADATA_KEY} and values at most "
                f"{MAX_METADATA_VALUE} characters",
            )
    return dict(value)


def amount(values: dict, name: str = "amount", *, minimum: int = 1) -> int:
    value = values[name]
    if value < minimum:
        raise bad_value(
            name,
            f"This value must be greater than or equal to {minimum}.",
            "parameter_invalid_integer",
        )
    if value > MAX_AMOUNT:
        raise invalid(
            f"Amount must be no more than {MAX_AMOUNT}", param=name, code="amount_too_large"
        )
    return value


def currency(values: dict, name: str = "currency") -> str:
    """A three-letter ISO currency code, lower-cased as Stripe answers it."""
    value = values[name]
    code = value.lower()
    if not _CURRENCY.match(code):
        raise invalid(
            f"Invalid currency: {value}. A currency is a three-letter ISO code in lowercase, "
            "e.g. eur.",
            param=name,
            code="parameter_invalid_string",
        )
    return code
