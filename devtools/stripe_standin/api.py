"""The stand-in's API dispatcher: one function from a request to Stripe's answer, for both doors.

`handle()` does what Stripe's front end does, in this order: fault switches that act before the
API (rate limit, injected 5xx), authentication, routing, parameter decoding, the idempotency
layer (POST only: the first answer to a key is stored and replayed with
`Idempotent-Replayed: true`; the same key with other parameters is a 400 `idempotency_error`;
keys expire after 24 h), the endpoint itself under the store's lock, `expand[]`, and finally the
"response lost after the charge succeeded" switch. Endpoints are registered by the modules in
`resources/` with `@route(method, "/v1/…/{id}")`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

from . import forms
from .errors import StripeError, invalid
from .params import expand_paths
from .state import API_VERSION, IDEMPOTENCY_KEY_TTL, Standin, new_id, snapshot


@dataclass
class Call:
    """What an endpoint gets besides its path arguments."""

    standin: Standin
    params: dict
    method: str
    path: str
    request_id: str
    api_key: str
    idempotency_key: str | None = None
    account: str | None = None  # the Stripe-Account header (Connect)

    @property
    def publishable(self) -> bool:
        return self.api_key.startswith("pk_")

    @property
    def request(self) -> dict:
        """The `request` member of events this call causes."""
        return {"id": self.request_id, "idempotency_key": self.idempotency_key}


@dataclass
class Reply:
    status: int
    body: dict
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds the door waits before answering (latency switch)
    drop: bool = False  # the door closes the connection without answering

    def json(self) -> bytes:
        # Compact: Stripe indents its answers, but indenting costs more than the request.
        return json.dumps(self.body, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    pattern: re.Pattern
    handler: Callable
    publishable: bool  # Stripe.js may call it with a publishable key


_STATIC: dict[tuple[str, str], Route] = {}
_PARAMETERISED: dict[str, list[Route]] = {}  # by method, tried in registration order


def route(method: str, template: str, *, publishable: bool = False):
    """Register an endpoint: `handler(call, **path_arguments) -> dict` (the object to answer)."""

    def register(handler):
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
        entry = Route(method, template, re.compile(f"^{regex}$"), handler, publishable)
        if "{" in template:
            _PARAMETERISED.setdefault(method, []).append(entry)
        else:
            _STATIC[(method, template)] = entry
        return handler

    return register


def routes() -> list[Route]:
    _load_resources()
    return [*_STATIC.values(), *(entry for group in _PARAMETERISED.values() for entry in group)]


def _match(method: str, path: str) -> tuple[Route, dict] | None:
    entry = _STATIC.get((method, path))
    if entry is not None:
        return entry, {}
    for entry in _PARAMETERISED.get(method, ()):
        found = entry.pattern.match(path)
        if found:
            return entry, {key: unquote(value) for key, value in found.groupdict().items()}
    return None


_loaded = False


def _load_resources() -> None:
    global _loaded
    if not _loaded:
        from . import resources  # noqa: F401  (registers every endpoint)

        _loaded = True


# --- the request pipeline ----------------------------------------------------------------


def handle(
    standin: Standin,
    method: str,
    path: str,
    *,
    query: str = "",
    body: bytes | str = b"",
    headers: Mapping[str, str] | None = None,
) -> Reply:
    _load_resources()
    headers = {key.lower(): value for key, value in (headers or {}).items()}
    method = method.upper()
    request_id = new_id("req", 14)
    found = _match(method, path)
    endpoint = f"{method} {found[0].template if found else path}"
    standin.stats.count("requests", endpoint)
    reply = _answer(standin, method, path, found, query, body, headers, request_id)
    reply.headers["Request-Id"] = request_id
    reply.headers["Stripe-Version"] = headers.get("stripe-version") or API_VERSION
    # Stripe's advice to the SDK: retry a 429 and a 5xx from in front of the API, but not a
    # 500 that is kept under an idempotency key (a retry would only replay it).
    if reply.status == 429 or reply.status >= 500:
        reply.headers.setdefault("Stripe-Should-Retry", "true")
    reply.delay += standin.faults.delay()
    standin.stats.count("statuses", str(reply.status))
    return reply


def _answer(standin, method, path, found, query, body, headers, request_id) -> Reply:
    faults = standin.faults
    if faults.rate_limited():
        standin.stats.count("rate_limited")
        return _error_reply(
            StripeError(
                429,
                "invalid_request_error",
                "Request rate limit exceeded. Learn more about rate limits here "
                "https://stripe.com/docs/rate-limits.",
                code="rate_limit",
            )
        )
    api_key = _api_key(headers)
    if api_key is None:
        return _error_reply(
            StripeError(
                401,
                "invalid_request_error",
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY').",
            )
        )
    if not api_key.startswith(("sk_test_", "rk_test_", "pk_test_")):
        return _error_reply(
            StripeError(
                401,
                "invalid_request_error",
                f"Invalid API Key provided: {api_key[:8]}****. The Stripe stand-in accepts "
                "test-mode keys only (sk_test_…, pk_test_…).",
            )
        )
    if found is None:
        return _error_reply(
            invalid(
                f"Unrecognized request URL ({method}: {path}). The Stripe stand-in does not "
                "implement this endpoint; add it to devtools/stripe_standin if the platform "
                "needs it.",
                stored=False,
            )
        )
    entry, arguments = found
    if api_key.startswith("pk_") and not entry.publishable:
        return _error_reply(
            StripeError(
                401,
                "invalid_request_error",
                "This API call cannot be made with a publishable API key. Please use a secret "
                "API key.",
            )
        )
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        params = forms.decode(query) if query else {}
        if text:
            params.update(forms.decode(text))
    except UnicodeDecodeError:
        return _error_reply(invalid("The request body is not UTF-8.", stored=False))
    except StripeError as error:
        return _error_reply(error)

    key = headers.get("idempotency-key") if method == "POST" else None
    account = headers.get("stripe-account") or None
    call = Call(standin, params, method, path, request_id, api_key, key, account)
    with standin.lock:
        if key is not None:
            if len(key) > 255:
                return _error_reply(
                    invalid(
                        "Invalid idempotency key: must be at most 255 characters.",
                        param="Idempotency-Key",
                        stored=False,
                    )
                )
            # Stripe keeps keys per account (any of its API keys shares them).
            scope = (account or "", key)
            fingerprint = (method, path, json.dumps(params, sort_keys=True))
            saved = standin.idempotency.get(scope)
            if saved is not None and saved["created"] + IDEMPOTENCY_KEY_TTL < standin.clock():
                del standin.idempotency[scope]
                saved = None
            if saved is not None:
                if saved["fingerprint"] != fingerprint:
                    return _error_reply(
                        StripeError(
                            400,
                            "idempotency_error",
                            "Keys for idempotent requests can only be used with the same "
                            "parameters they were first used with. Try using a key other than "
                            f"'{key}' if you meant to execute a different request.",
                        )
                    )
                standin.stats.count("idempotent_replays")
                return Reply(
                    saved["status"],
                    saved["body"],  # a snapshot: never changed after it was stored
                    {
                        "Idempotent-Replayed": "true",
                        "Original-Request": saved["request_id"],
                        "Idempotency-Key": key,
                        **({"Stripe-Should-Retry": "false"} if saved["status"] >= 500 else {}),
                    },
                )
        reply, stored = _execute(standin, entry, arguments, call)
        if method == "POST" and reply.status == 200 and faults.error_after_work():
            # The work is done (a charge made, a transfer sent) but the answer is a 500: the
            # case that makes reconciliation find the result by id or metadata.
            standin.stats.count("injected_errors")
            reply = _injected_error(500, "after the request's work was done")
        if reply.status == 500:
            reply.headers["Stripe-Should-Retry"] = "false"
        if key is not None:
            reply.headers["Idempotency-Key"] = key
            if stored:
                _forget_expired_keys(standin)
                standin.idempotency[scope] = {
                    "fingerprint": fingerprint,
                    "status": reply.status,
                    "body": reply.body,
                    "request_id": request_id,
                    "created": standin.clock(),
                }
    if (
        entry.template == "/v1/payment_intents"
        and reply.status == 200
        and reply.body.get("status") == "succeeded"
        and faults.drop_this_response()
    ):
        standin.stats.count("dropped_responses")
        reply.drop = True
    return reply


def _execute(standin: Standin, entry: Route, arguments: dict, call: Call) -> tuple[Reply, bool]:
    """Run the endpoint (an injected 5xx stands in for a failure while it runs)."""
    status = standin.faults.injected_error()
    if status is not None:
        standin.stats.count("injected_errors")
        # A 500 is the API's own answer and is kept for the key; 502-504 come from in front.
        return _injected_error(status, "before the request's work started"), status == 500
    try:
        obj = entry.handler(call, **arguments)
        paths = expand_paths(call.params)
    except StripeError as error:
        return _error_reply(error), error.stored
    # A snapshot taken under the lock: the door serializes it after the lock is released.
    obj = expand(standin, obj, paths) if paths else snapshot(obj)
    return Reply(200, obj), True


def _injected_error(status: int, when: str) -> Reply:
    return _error_reply(
        StripeError(
            status,
            "api_error",
            f"An unknown error occurred (injected by the Stripe stand-in's fault switch {when}).",
        )
    )


def _forget_expired_keys(standin: Standin) -> None:
    """Stripe forgets a key after 24 hours; the store is in insertion order, oldest first."""
    deadline = standin.clock() - IDEMPOTENCY_KEY_TTL
    while standin.idempotency:
        oldest_scope = next(iter(standin.idempotency))
        if standin.idempotency[oldest_scope]["created"] >= deadline:
            return
        del standin.idempotency[oldest_scope]


def _error_reply(error: StripeError) -> Reply:
    # A snapshot: an error body may carry store objects (the declined SetupIntent).
    return Reply(error.status, snapshot(error.body()))


def _api_key(headers: Mapping[str, str]) -> str | None:
    authorization = headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        return authorization[7:].strip() or None
    if authorization.lower().startswith("basic "):
        import base64

        try:
            return base64.b64decode(authorization[6:]).decode().split(":")[0] or None
        except ValueError:
            return None
    return None


# (object name, field) -> make(standin, obj): a field Stripe leaves out unless it is expanded
# (a charge's `refunds` since API version 2022-11-15), registered by the resource modules.
_COMPUTED: dict[tuple[str, str], Callable] = {}


def expandable(object_name: str, field: str):
    """Register how to make a field that only an `expand[]` asks for."""

    def register(make):
        _COMPUTED[(object_name, field)] = make
        return make

    return register


def expand(standin: Standin, obj: dict, paths: list[str]) -> dict:
    """Replace ids by the objects they name, along each dotted path (`data.` for lists), and
    fill in the fields that exist only when expanded."""
    obj = snapshot(obj)
    for dotted in paths:
        _expand_path(standin, obj, dotted.split("."))
    return obj


def _expand_path(standin, node, parts):
    if not parts or not isinstance(node, dict):
        return
    head, rest = parts[0], parts[1:]
    if head == "data" and isinstance(node.get("data"), list):
        for item in node["data"]:
            _expand_path(standin, item, rest)
        return
    make = _COMPUTED.get((node.get("object"), head))
    if make is not None and head not in node:
        node[head] = make(standin, node)
    value = node.get(head)
    if isinstance(value, str):
        target = standin.find(value)
        if target is None:
            return
        value = node[head] = snapshot(target)
    _expand_path(standin, value, rest)
