"""Helpers every resource module uses: list and search answers, timestamps, ids."""

from __future__ import annotations

from ..errors import bad_value, invalid
from ..params import take


def newest_first(items) -> list[dict]:
    """By `created`, newest first; objects of the same second newest first too: the tables
    keep insertion order, and a stable sort of the reversed order keeps it reversed."""
    latest_first = list(items)
    latest_first.reverse()
    latest_first.sort(key=lambda obj: obj.get("created", 0), reverse=True)
    return latest_first


LIST_PARAMS = {"limit": int, "starting_after": str, "ending_before": str}
MAX_LIMIT = 100
_CREATED = {"gt": int, "gte": int, "lt": int, "lte": int}


def created_bounds(created) -> dict:
    """A list's `created` filter, as Stripe takes it: a timestamp (`created=…`) or bounds
    (`created[gte]=…`, gt, lt, lte); {op: timestamp}, op "eq" for the plain timestamp."""
    if created is None:
        return {}
    if isinstance(created, dict):
        return take(created, _CREATED, prefix="created")
    return {"eq": take({"created": created}, {"created": int})["created"]}


def within(created: int, op: str, value: int) -> bool:
    if op == "eq":
        return created == value
    if op == "gt":
        return created > value
    if op == "gte":
        return created >= value
    if op == "lt":
        return created < value
    return created <= value


def created_matches(obj: dict, bounds: dict) -> bool:
    return all(within(obj["created"], op, at) for op, at in bounds.items())


def list_answer(url: str, items: list[dict], params: dict) -> dict:
    """Stripe's list object, newest first, with cursor pagination."""
    limit = params.get("limit", 10)
    if not 1 <= limit <= MAX_LIMIT:
        raise bad_value("limit", f"This value must be between 1 and {MAX_LIMIT}.")
    ordered = newest_first(items)
    ids = [obj["id"] for obj in ordered]
    for cursor in ("starting_after", "ending_before"):
        if params.get(cursor) and params[cursor] not in ids:
            raise invalid(
                f"No such object: '{params[cursor]}'", param=cursor, code="resource_missing"
            )
    if params.get("ending_before"):
        # The page just before the cursor; has_more: are there newer ones still (what the
        # SDK's backwards auto-pagination reads).
        newer = ordered[: ids.index(params["ending_before"])]
        page, has_more = newer[-limit:], len(newer) > limit
    else:
        if params.get("starting_after"):
            ordered = ordered[ids.index(params["starting_after"]) + 1 :]
        page, has_more = ordered[:limit], len(ordered) > limit
    return {"object": "list", "data": page, "has_more": has_more, "url": url}


def search_answer(url: str, items: list[dict], params: dict, *, count: bool = False) -> dict:
    """Stripe's search_result object (page cursor = an offset, opaque to clients), with
    `total_count` only when counted (Stripe counts when asked: `expand[]=total_count`)."""
    limit = params.get("limit", 10)
    if not 1 <= limit <= MAX_LIMIT:
        raise bad_value("limit", f"This value must be between 1 and {MAX_LIMIT}.")
    ordered = newest_first(items)
    offset = 0
    if params.get("page"):
        try:
            offset = int(params["page"].removeprefix("page_"))
        except ValueError:
            raise bad_value("page", "Invalid page cursor") from None
    page = ordered[offset : offset + limit]
    more = len(ordered) > offset + limit
    answer = {
        "object": "search_result",
        "data": page,
        "has_more": more,
        "next_page": f"page_{offset + limit}" if more else None,
        "url": url,
    }
    if count:
        answer["total_count"] = len(ordered)
    return answer


def take_list(call, extra: dict | None = None) -> dict:
    return take(call.params, {**LIST_PARAMS, **(extra or {})})
