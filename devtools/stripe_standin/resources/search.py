"""Stripe's search query language (the part the stand-in implements) and the indexes behind it.

    metadata['pledge_id']:'42' AND status:'succeeded' AND amount>=1000

A query is clauses joined with `AND`. A clause is `field:value` (equality), or `field>n`,
`field<n`, `field>=n`, `field<=n` on number fields; string values are quoted ('…' or "…"),
numbers are not; `metadata['key']:'value'` matches one metadata key. What the stand-in does not
implement (`OR`, `-` negation, `~` substring, other fields) answers 400 naming it, never a
silently wrong result.

Searches are answered from an index where a clause allows: metadata clauses from the store's
metadata index (`Standin.by_metadata`), and the fields a resource registers with
`index_field()` (a customer's PaymentIntents, …) from an index kept here, so a search over
100,000 objects looks at the few that can match. Like Stripe's, whose search lags new objects
by up to a minute, results leave out objects younger than the `search_lag_s` fault switch
(list and retrieve still show them).
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass

from ..errors import invalid
from ..params import expand_paths, require, take
from .common import search_answer

STRING, NUMBER, METADATA = "string", "number", "metadata"

_CLAUSE = re.compile(
    r"""
    \s*(?P<negated>-)?
    (?P<field>[A-Za-z_][A-Za-z0-9_.]*)
    (?:\[\s*(?P<key_quote>['"])(?P<key>(?:\\.|(?!(?P=key_quote)).)*)(?P=key_quote)\s*\])?
    \s*(?P<op>>=|<=|:|>|<|~)\s*
    (?:
        (?P<value_quote>['"])(?P<text>(?:\\.|(?!(?P=value_quote)).)*)(?P=value_quote)
      | (?P<number>-?\d+)(?![\w.])
      | (?P<null>null)\b
    )
    """,
    re.VERBOSE,
)
_JOINER = re.compile(r"\s+(?P<word>AND|OR)\s+", re.IGNORECASE)
_END = re.compile(r"\s*$")
_COMPARE = {
    ":": operator.eq,
    ">": operator.gt,
    "<": operator.lt,
    ">=": operator.ge,
    "<=": operator.le,
}


@dataclass(frozen=True)
class Clause:
    field: str
    op: str
    value: str | int | None
    key: str | None = None  # the metadata key

    def matches(self, obj: dict) -> bool:
        if self.key is not None:
            return (obj.get("metadata") or {}).get(self.key) == self.value
        current = obj.get(self.field)
        if isinstance(current, dict):  # an expanded id
            current = current.get("id")
        if self.op == ":":
            return current == self.value
        return isinstance(current, int) and _COMPARE[self.op](current, self.value)


def search(call, kind: str, url: str, fields: dict[str, str]) -> dict:
    """The `GET /v1/<things>/search` endpoint for objects of `kind` (fields: name → type)."""
    values = take(call.params, {"query": str, "limit": int, "page": str})
    require(values, "query")
    clauses = parse(values["query"], fields, url)
    standin = call.standin
    items = [obj for obj in _candidates(standin, kind, clauses) if _all_match(obj, clauses)]
    lag = standin.faults.switches.search_lag_s
    if lag:
        cutoff = standin.clock() - lag
        items = [obj for obj in items if created_at(standin, obj) <= cutoff]
    return search_answer(url, items, values, count="total_count" in expand_paths(call.params))


def parse(query: str, fields: dict[str, str], url: str = "this search") -> list[Clause]:
    clauses = []
    position = 0
    while True:
        found = _CLAUSE.match(query, position)
        if found is None:
            raise _refused(
                f"Could not parse the search query at position {position} "
                f"({query[position : position + 30]!r}). The Stripe stand-in understands "
                "clauses such as metadata['key']:'value', status:'succeeded' and amount>100, "
                "joined with AND."
            )
        clauses.append(_clause(found, fields, url))
        position = found.end()
        if _END.fullmatch(query, position):
            return clauses
        joiner = _JOINER.match(query, position)
        if joiner is None:
            raise _refused(
                f"Expected AND after the clause ending at position {position} of the search "
                f"query ({query[position : position + 30]!r})."
            )
        if joiner.group("word").upper() == "OR":
            raise _refused(
                "OR is not supported by the Stripe stand-in's search: join clauses with AND, "
                "or run one search per alternative."
            )
        position = joiner.end()


def created_at(standin, obj: dict) -> float:
    """When the object was made, to the fraction of a second where it was recorded."""
    return standin.private[obj["id"]].get("created_at", obj.get("created", 0))


# --- indexes of plain fields ------------------------------------------------------------------

_INDEXED: set[tuple[str, str]] = set()


def register_index(kind: str, field: str) -> None:
    """Declare that objects of `kind` are indexed by `field` (kept up with `index_field`)."""
    _INDEXED.add((kind, field))


def index_field(standin, obj: dict, field: str, previous=None) -> None:
    """Record obj under obj[field] (and forget it under `previous`, its old value)."""
    register_index(obj["object"], field)
    index = _field_index(standin, obj["object"], field)
    if previous is not None:
        index.get(previous, {}).pop(obj["id"], None)
    value = obj.get(field)
    if value is not None:
        index.setdefault(value, {})[obj["id"]] = None


def by_field(standin, kind: str, field: str, value) -> list[dict] | None:
    """Objects whose field is value (None when the field is not indexed)."""
    if (kind, field) not in _INDEXED:
        return None
    index = standin.private.get(_index_name(kind, field), {})
    table = standin.objects[kind]
    return [
        table[object_id]
        for object_id in index.get(value, ())
        if object_id in table and table[object_id].get(field) == value
    ]


def _field_index(standin, kind: str, field: str) -> dict:
    # Kept in the store's `private` table so that a reset forgets it with everything else.
    return standin.private[_index_name(kind, field)]


def _index_name(kind: str, field: str) -> str:
    return f"index:{kind}:{field}"


# --- evaluation -------------------------------------------------------------------------------


def _candidates(standin, kind: str, clauses: list[Clause]) -> list[dict]:
    """The smallest set an index gives for one of the clauses; every object if none does."""
    best = None
    for clause in clauses:
        if clause.op != ":" or clause.value is None:
            continue
        if clause.key is not None:
            found = standin.by_metadata(kind, clause.key, clause.value)
        else:
            found = by_field(standin, kind, clause.field, clause.value)
        if found is not None and (best is None or len(found) < len(best)):
            best = found
    return standin.all(kind) if best is None else best


def _all_match(obj: dict, clauses: list[Clause]) -> bool:
    return all(clause.matches(obj) for clause in clauses)


def _clause(found: re.Match, fields: dict[str, str], url: str) -> Clause:
    field, op, key = found.group("field"), found.group("op"), found.group("key")
    if found.group("negated"):
        raise _refused(f"Negation (-{field}…) is not supported by the Stripe stand-in's search.")
    if op == "~":
        raise _refused(
            f"The substring operator ~ ({field}~…) is not supported by the Stripe stand-in's "
            "search; use : for equality."
        )
    kind = fields.get(field)
    if kind is None:
        raise _refused(
            f"The field {field!r} is not supported by the Stripe stand-in's search of {url}; "
            f"it supports {', '.join(sorted(fields))}."
        )
    text, number = found.group("text"), found.group("number")
    if text is not None:
        text = re.sub(r"\\(.)", r"\1", text)
    if kind == METADATA:
        if key is None:
            raise _refused("Search metadata with metadata['key']:'value'.")
        if op != ":" or text is None:
            raise _refused(
                f"metadata[{key!r}] takes : and a quoted string, e.g. metadata[{key!r}]:'value'."
            )
        return Clause(field, op, text, re.sub(r"\\(.)", r"\1", key))
    if key is not None:
        raise _refused(f"Only metadata takes a [key]; {field}[{key!r}] is not a field.")
    if kind == NUMBER:
        if number is None and not (text and text.lstrip("-").isdigit()):
            raise _refused(f"{field} is a number: write e.g. {field}>100 or {field}:100.")
        return Clause(field, op, int(number if number is not None else text))
    if op != ":":
        raise _refused(f"{field} is a string field: compare it with : only.")
    if number is not None:
        raise _refused(f"{field} takes a quoted string, e.g. {field}:'{number}'.")
    if field == "currency" and text:
        text = text.lower()  # stored lowercase
    return Clause(field, op, text)  # None for `field:null`


def _refused(message: str):
    return invalid(f"Invalid search query: {message}", param="query")
