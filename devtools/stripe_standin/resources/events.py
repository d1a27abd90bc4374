"""Events and webhook endpoints: retrieve and list events, and manage the endpoints that
webhooks.py delivers them to (Stripe's own `/v1/webhook_endpoints` API).

Events are what `Standin.emit` records. A Connect event (one about a connected account's
object) carries `account`: with a `Stripe-Account` header only that account's events are
listed or retrieved, without one only the platform's. Stripe keeps events for 30 days; the
stand-in keeps every event until `reset()`.

A webhook endpoint's signing `secret` is in the answer to its creation only, as on Stripe.
It is random (`whsec_…`), unless the command line set `--webhook-secret` (endpoints for the
platform's events) or `--connect-webhook-secret` (endpoints with `connect=true`), so a
development setup can know the secret before the endpoint exists. Unlike Stripe, a URL on
localhost is accepted (Stripe wants a public URL), and plain http is (test mode allows it).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from ..api import route
from ..errors import bad_value, invalid, missing
from ..params import METADATA, merge_metadata, require, take
from ..state import new_id
from ..webhooks import valid_selector
from .common import LIST_PARAMS, list_answer, take_list

MAX_TYPES = 20  # Stripe's limit on types[] when listing events
_CREATED = {"gt": int, "gte": int, "lt": int, "lte": int}
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
    bounds = _created_bounds(created)
    items = [
        event
        for event in call.standin.all("event")
        if event.get("account") == call.account
        and _type_matches(event["type"], values)
        and all(_within(event["created"], op, value) for op, value in bounds.items())
    ]
    # Newest first; events of the same second stay newest first (the store keeps insertion
    # order, and the sort is stable).
    return list_answer("/v1/events", items[::-1], values)


def _created_bounds(created) -> dict:
    if created is None:
        return {}
    if isinstance(created, dict):
        return take(created, _CREATED, prefix="created")
    return {"eq": take({"created": created}, {"created": int})["created"]}


def _within(created: int, op: str, value: int) -> bool:
    if op == "eq":
        return created == value
    if op == "gt":
        return created > value
    if op == "gte":
        return created >= value
    if op == "lt":
        return created < value
    return created <= value


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
        call.standin.set_metadata(
            endpoint, merge_metadata(endpoint["metadata"], values["metadata"])
        )
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
    items = call.standin.all("webhook_endpoint")
    return list_answer("/v1/webhook_endpoints", items[::-1], values)


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
                f"Invalid event type {selector!r}: must be '*', one of Stripe's event types "
                "the stand-in knows (devtools/stripe_standin/webhooks.py EVENT_TYPES) or "
                "a family of them such as 'charge.*'",
            )
    return list(enabled_events)
