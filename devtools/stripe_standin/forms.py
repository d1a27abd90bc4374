"""Stripe's form encoding, both ways: `metadata[k]=v`, `items[0][price]=…`, `expand[]=…`.

`decode` turns a query string or form body into nested dicts and lists of strings (what the
official SDK sends); `encode` is the inverse, for tests and the in-process door.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode

from .errors import invalid

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
MAX_DEPTH = 6


def decode(text: str) -> dict:
    params: dict = {}
    for raw_key, value in parse_qsl(text, keep_blank_values=True, max_num_fields=2000):
        match = _KEY.match(raw_key)
        if not match:
            raise invalid(f"Invalid parameter name: {raw_key}", param=raw_key, stored=False)
        path = [match.group(1)] + re.findall(r"\[([^\[\]]*)\]", match.group(2))
        if len(path) > MAX_DEPTH:
            raise invalid(f"Parameter nested too deeply: {raw_key}", param=raw_key, stored=False)
        _put(params, path, value, raw_key)
    return _lists(params)


def _put(node: dict, path: list[str], value: str, raw_key: str) -> None:
    for part in path[:-1]:
        if part == "":
            part = str(len(node))
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise invalid(f"Conflicting values for {raw_key}", param=raw_key, stored=False)
        node = child
    last = path[-1]
    if last == "":
        last = str(len(node))
    if isinstance(node.get(last), dict):
        raise invalid(f"Conflicting values for {raw_key}", param=raw_key, stored=False)
    node[last] = value


def _lists(node):
    """Dicts whose keys are all 0..n-1 (from `[0]` or `[]`) become lists."""
    if not isinstance(node, dict):
        return node
    converted = {key: _lists(value) for key, value in node.items()}
    if converted and all(key.isdigit() for key in converted):
        ordered = sorted(converted, key=int)
        if [int(key) for key in ordered] == list(range(len(ordered))):
            return [converted[key] for key in ordered]
    return converted


def encode(params: dict, *, empty_brackets: bool = False) -> str:
    """Lists as `items[0]=…` (the SDK's way), or `items[]=…` with empty_brackets."""
    return urlencode(list(_flatten(params, "", empty_brackets)))


def _flatten(value, prefix, empty_brackets):
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{prefix}[{key}]" if prefix else str(key)
            yield from _flatten(item, name, empty_brackets)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _flatten(
                item, f"{prefix}[{'' if empty_brackets else index}]", empty_brackets
            )
    elif isinstance(value, bool):
        yield prefix, "true" if value else "false"
    elif value is None:
        yield prefix, ""
    else:
        yield prefix, str(value)
