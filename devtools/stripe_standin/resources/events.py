"""Events and webhook endpoints: retrieve and list events, and manage the endpoints that
webhooks.py delivers them to (Stripe's own `/v1/webhook_endpoints` API).

Events are what `Standin.emit` records. A Connect event (one about a connected account's
object) carries `account`: with a `Stripe-Account` header only that account's events are
listed or retrieved, without one only the platform's. Stripe keeps events for 30 days; the
stand-in keeps every event until `reset()`.

Events are listed from an index (`_index`, kept in the store's `private` table), not by
reading every event: per account the ids in the order they were recorded (with each one's
position), and per account and type the same ids. `emit` only ever appends to the store, so
the index catches up by reading the events recorded since it last looked. A page costs what
is on it, however many events the store holds (a `type` or `created` filter adds a binary
search or two); only after the clock went back (a test's clock) are an account's events
sorted, as other lists are. The index also serves other modules: `objects_by_field` finds
objects through the events that announce a field being set (a card's customer through
`payment_method.attached`).

A webhook endpoint's signing `secret` is in the answer to its creation only, as on Stripe.
It is random (`whsec_…`), unless the command line set `--webhook-secret` (endpoints for the
platform's events) or `--connect-webhook-secret` (endpoints with `connect=true`), so a
development setup can know the secret before the endpoint exists. Unlike Stripe, a URL on
localhost is accepted (Stripe wants a public URL), and plain http is (test mode allows it).
"""

from __future__ import annotations

import heapq
import re
from bisect import bisect_left, bisect_right
from itertools import islice
from urllib.parse import urlsplit

from ..api import route
from ..errors import bad_value, invalid, missing
from ..params import METADATA, require, take
from ..state import new_id
from ..webhooks import valid_selector
from . import search
from .common import (
    LIST_PARAMS,
    MAX_LIMIT,
    created_bounds,
    list_answer,
    newest_first,
    take_list,
    within,
)

MAX_TYPES = 20  # Stripe's limit on types[] when listing events
_INDEX = "index:events"  # standin.private[_INDEX]: see _index()
_API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$")


# --- events --------------------------------------------------------------------------------


@route("GET", "/v1/events/{event_id}")
def retrieve_event(call, event_id):
    take(call.params, {})
    event = call.standin.get("event", event_id)
    if event.get("account") != call.account:
        # Another account's event is as missing as one that never existed.
        raise missing("event", event_id)
    return event


@route("GET", "/v1/events")
def list_events(call):
    params = dict(call.params)
    created = params.pop("created", None)
    values = take(params, {**LIST_PARAMS, "type": str, "types": [str]})
    if "type" in values and "types" in values:
        raise invalid(
            "You may pass either type or types, but not both.", param="types", stored=False
        )
    if len(values.get("types", [])) > MAX_TYPES:
        raise bad_value("types", f"Must have at most {MAX_TYPES} elements")
    limit = values.get("limit", 10)
    if not 1 <= limit <= MAX_LIMIT:
        raise bad_value("limit", f"This value must be between 1 and {MAX_LIMIT}.")
    bounds = created_bounds(created)
    standin = call.standin
    table = standin.objects["event"]
    account = _index(standin)["accounts"].get(call.account or "") or _new_account(0)
    if not account["in_order"]:
        # The clock went back at some point: sort by `created` as other lists do, and page
        # through that order.
        ordered = newest_first(
            table[event_id]
            for event_id in account["ids"]
            if _type_matches(table[event_id]["type"], values)
            and all(within(table[event_id]["created"], op, at) for op, at in bounds.items())
        )
        ids = [event["id"] for event in reversed(ordered)]
        at = {event_id: position for position, event_id in enumerate(ids)}
        return _page(table, [ids], at, (0, len(ids)), values)
    window = _window(table, account["ids"], bounds)
    return _page(table, _matching(account, values), account["at"], window, values)


def objects_by_field(standin, event_type: str, kind: str, field: str, value) -> list[dict]:
    """The objects of `kind` whose `field` is `value` now, in the order they were first
    announced, found through the events of `event_type` that announce `field` being set, e.g.
    ("payment_method.attached", "payment_method", "customer", "cus_…"): for a field that only
    ever changes to a value where such an event is emitted."""
    index = _index(standin)
    announced = index["everywhere"].get(event_type, [])
    reader = f"{event_type} {kind}.{field}"
    place = index["readers"].get(reader, 0)
    if place < len(announced):
        events, objects = standin.objects["event"], standin.objects[kind]
        for event_id in announced[place:]:
            obj = objects.get(events[event_id]["data"]["object"]["id"])
            if obj is not None:
                search.index_field(standin, obj, field)
        index["readers"][reader] = len(announced)
    return search.by_field(standin, kind, field, value) or []


def _index(standin) -> dict:
    """The event index, brought up to date: "accounts" maps an account ("" for the platform)
    to its events, {"ids": [...] in the order recorded, "at": {id: position in ids},
    "in_order": whether `created` never goes down along ids, "last_created": that of the
    last one, "types": {type: [its ids in the order recorded]}}; "everywhere" maps a type to
    its ids across accounts; "seen" counts the events indexed; "readers" is where each
    `objects_by_field` reader is in "everywhere"."""
    index = standin.private[_INDEX]
    if not index:
        index.update(seen=0, accounts={}, everywhere={}, readers={})
    table = standin.objects["event"]
    new = len(table) - index["seen"]
    if new > 0:
        # The store's events are insertion-ordered and never removed: the new ones are last.
        for event_id in reversed(list(islice(reversed(table), new))):
            _add(index, table[event_id])
        index["seen"] = len(table)
    return index


def _add(index: dict, event: dict) -> None:
    account = index["accounts"].get(event.get("account") or "")
    if account is None:
        account = index["accounts"][event.get("account") or ""] = _new_account(event["created"])
    if event["created"] < account["last_created"]:
        account["in_order"] = False
    account["last_created"] = event["created"]
    ids = account["ids"]
    account["at"][event["id"]] = len(ids)
    ids.append(event["id"])
    account["types"].setdefault(event["type"], []).append(event["id"])
    index["everywhere"].setdefault(event["type"], []).append(event["id"])


def _new_account(created: int) -> dict:
    return {"ids": [], "at": {}, "in_order": True, "last_created": created, "types": {}}


def _matching(account: dict, values: dict) -> list[list[str]]:
    """The lists of the account's events that the type filter lets through (each in the
    order recorded): all its events, or those of each type that matches."""
    if not values.get("types") and not values.get("type"):
        return [account["ids"]]
    return [ids for name, ids in account["types"].items() if _type_matches(name, values)]


def _window(table: dict, ids: list[str], bounds: dict) -> tuple[int, int]:
    """The positions lo <= position < hi in ids within the `created` bounds (ids in order of
    `created`)."""
    lo, hi = 0, len(ids)

    def created(event_id):
        return table[event_id]["created"]

    for op, value in bounds.items():
        if op in ("gt", "eq", "gte"):
            bisect = bisect_right if op == "gt" else bisect_left
            lo = max(lo, bisect(ids, value, lo, hi, key=created))
        if op in ("lt", "eq", "lte"):
            bisect = bisect_left if op == "lt" else bisect_right
            hi = min(hi, bisect(ids, value, lo, hi, key=created))
        hi = max(lo, hi)
    return lo, hi


def _page(table: dict, sources: list[list[str]], at: dict, window, values: dict) -> dict:
    """One page, newest first, of the events in `sources` (lists of ids, each in the order of
    `at`, an event's position) whose position is within `window` (lo, hi).

    `starting_after` pages to older events, `ending_before` to newer ones (the `limit` just
    newer than it); `has_more` says whether there are more beyond the page in that direction
    (what the SDK's auto-pagination follows either way). Only the events on the page (and
    one more) are read, however many the sources hold."""
    lo, hi = window
    limit = values.get("limit", 10)
    position = at.__getitem__
    if values.get("ending_before"):
        lo = _cursor(table, at, window, values, "ending_before") + 1
        spans = [_span(ids, position, lo, hi) for ids in sources]
        oldest_first = heapq.merge(
            *(
                _walk(ids, range(start, end))
                for ids, (start, end) in zip(sources, spans, strict=True)
            ),
            key=position,
        )
        picked = list(islice(oldest_first, limit + 1))
        page = picked[:limit][::-1]
    else:
        if values.get("starting_after"):
            hi = _cursor(table, at, window, values, "starting_after")
        spans = [_span(ids, position, lo, hi) for ids in sources]
        newest = heapq.merge(
            *(
                _walk(ids, range(end - 1, start - 1, -1))
                for ids, (start, end) in zip(sources, spans, strict=True)
            ),
            key=position,
            reverse=True,
        )
        picked = list(islice(newest, limit + 1))
        page = picked[:limit]
    return _answer(table, page, has_more=len(picked) > limit)


def _walk(ids: list[str], positions: range):
    return (ids[k] for k in positions)


def _span(ids: list[str], position, lo: int, hi: int) -> tuple[int, int]:
    """Where the events with positions lo <= position < hi are in ids."""
    return bisect_left(ids, lo, key=position), bisect_left(ids, hi, key=position)


def _cursor(table: dict, at: dict, window, values: dict, param: str) -> int:
    """The position of the event a cursor names: one of those being listed."""
    event_id = values[param]
    position = at.get(event_id)
    lo, hi = window
    if (
        position is None
        or not lo <= position < hi
        or not _type_matches(table[event_id]["type"], values)
    ):
        raise invalid(f"No such object: '{event_id}'", param=param, code="resource_missing")
    return position


def _answer(table: dict, ids: list[str], *, has_more: bool) -> dict:
    return {
        "object": "list",
        "data": [table[event_id] for event_id in ids],
        "has_more": has_more,
        "url": "/v1/events",
    }


def _type_matches(event_type: str, values: dict) -> bool:
    """`type` may name a group with "*" ("charge.*"); `types` are exact names."""
    if "types" in values and values["types"]:
        return event_type in values["types"]
    pattern = values.get("type")
    if not pattern:
        return True
    if "*" not in pattern:
        return event_type == pattern
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, event_type) is not None


# --- webhook endpoints -------------------------------------------------------------------


@route("POST", "/v1/webhook_endpoints")
def create_endpoint(call):
    values = take(
        call.params,
        {
            "url": str,
            "enabled_events": [str],
            "connect": bool,
            "description": str,
            "metadata": METADATA,
            "api_version": str,
        },
    )
    require(values, "url", "enabled_events")
    url = _checked_url(values["url"])
    enabled_events = _checked_events(values["enabled_events"])
    api_version = values.get("api_version") or None
    if api_version is not None and not _API_VERSION.match(api_version):
        raise bad_value("api_version", f"Invalid API version: {api_version}")
    standin = call.standin
    connect = values.get("connect", False)
    setting = "connect_webhook_secret" if connect else "webhook_secret"
    secret = standin.settings.get(setting) or new_id("whsec", 32)
    endpoint = {
        "id": new_id("we"),
        "object": "webhook_endpoint",
        "api_version": api_version,
        "application": None,
        "created": standin.now(),
        "description": values.get("description") or None,
        "enabled_events": enabled_events,
        "livemode": False,
        "metadata": values.get("metadata", {}),
        "status": "enabled",
        "url": url,
    }
    standin.add(endpoint, secret=secret, connect=connect)
    return {**endpoint, "secret": secret}


@route("GET", "/v1/webhook_endpoints/{endpoint_id}")
def retrieve_endpoint(call, endpoint_id):
    take(call.params, {})
    return call.standin.get("webhook_endpoint", endpoint_id)


@route("POST", "/v1/webhook_endpoints/{endpoint_id}")
def update_endpoint(call, endpoint_id):
    values = take(
        call.params,
        {
            "url": str,
            "enabled_events": [str],
            "disabled": bool,
            "description": str,
            "metadata": METADATA,
        },
    )
    endpoint = call.standin.get("webhook_endpoint", endpoint_id)
    url = _checked_url(values["url"]) if "url" in values else None
    events = _checked_events(values["enabled_events"]) if "enabled_events" in values else None
    if url is not None:
        endpoint["url"] = url
    if events is not None:
        endpoint["enabled_events"] = events
    if "disabled" in values:
        endpoint["status"] = "disabled" if values["disabled"] else "enabled"
    if "description" in values:
        endpoint["description"] = values["description"] or None
    if "metadata" in values:
        call.standin.update_metadata(endpoint, values["metadata"])
    return endpoint


@route("DELETE", "/v1/webhook_endpoints/{endpoint_id}")
def delete_endpoint(call, endpoint_id):
    take(call.params, {})
    standin = call.standin
    standin.get("webhook_endpoint", endpoint_id)
    del standin.objects["webhook_endpoint"][endpoint_id]
    return {"id": endpoint_id, "object": "webhook_endpoint", "deleted": True}


@route("GET", "/v1/webhook_endpoints")
def list_endpoints(call):
    values = take_list(call)
    return list_answer("/v1/webhook_endpoints", call.standin.all("webhook_endpoint"), values)


def _checked_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid(
            f"Invalid URL: {url}. The URL must be an absolute http or https URL.",
            param="url",
            code="url_invalid",
        )
    return url


def _checked_events(enabled_events: list[str]) -> list[str]:
    if not enabled_events:
        raise bad_value("enabled_events", "Must have at least one element")
    for index, selector in enumerate(enabled_events):
        if not valid_selector(selector):
            name = f"enabled_events[{index}]"
            raise bad_value(
                name,
                f"Invalid event type {selector!r}: must be '*' or one of Stripe's event "
                "types the stand-in knows (devtools/stripe_standin/webhooks.py EVENT_TYPES)",
            )
    return list(enabled_events)
