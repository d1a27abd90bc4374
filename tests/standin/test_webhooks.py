"""The Stripe stand-in's events, webhook endpoints and signed webhook deliveries.

Most tests drive an in-process Standin (with `webhooks.install`) through `api.handle`, and a
small HTTP receiver in the test records what is delivered and answers with the statuses a test
asks for. The last ones start the HTTP server (`process.start`) and use the official SDK.
"""

from __future__ import annotations

import json
import re
import threading
import time
import typing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import stripe

from devtools.stripe_standin import process, webhooks
from devtools.stripe_standin.state import Standin
from tests.standin.inprocess_api import call

SECRET_KEY = "sk_test_x"
STANDIN_DIR = Path(webhooks.__file__).parent

# Stripe's published sample objects (stripe-fixtures3.json), the shapes to match.
EVENT_FIXTURE = {
    "api_version": None,
    "created": 1234567890,
    "data": {"object": {"id": "price_1PgafmB7WZ01zgkW6dKueIc5", "object": "plan"}},
    "id": "evt_1Pgc76B7WZ01zgkWwyRHS12y",
    "livemode": False,
    "object": "event",
    "pending_webhooks": 0,
    "request": {"id": None, "idempotency_key": None},
    "type": "plan.created",
}
WEBHOOK_ENDPOINT_FIXTURE = {
    "api_version": None,
    "application": None,
    "created": 1234567890,
    "description": "This is my webhook, I like it a lot",
    "enabled_events": ["charge.failed", "charge.succeeded"],
    "id": "we_1Pgc6yB7WZ01zgkWzAudq4eU",
    "livemode": False,
    "metadata": {},
    "object": "webhook_endpoint",
    "status": "enabled",
    "url": "https://example.com/my/webhook/endpoint",
}


# --- a receiving endpoint -----------------------------------------------------------------


class Receiver:
    """An HTTP server on a free port that records each POST and answers `statuses` in turn
    (then 200), after `delay_s`."""

    def __init__(self):
        self.requests: list[dict] = []
        self.statuses: list[int] = []
        self.delay_s = 0.0
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.cond:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    delay = receiver.delay_s
                if delay:
                    time.sleep(delay)
                # Recorded before answering: once the dispatcher has its answer, it is here.
                with receiver.cond:
                    receiver.requests.append(
                        {
                            "path": self.path,
                            "headers": dict(self.headers),
                            "body": body,
                            "event": json.loads(body),
                            "at": time.monotonic(),
                            "status": status,
                        }
                    )
                    receiver.cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def wait_for(self, count: int, timeout: float = 2.0) -> list[dict]:
        with self.cond:
            self.cond.wait_for(lambda: len(self.requests) >= count, timeout)
            return list(self.requests)

    def at(self, path: str) -> list[dict]:
        with self.cond:
            return [request for request in self.requests if request["path"] == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def standin():
    standin = Standin(seed=7)
    standin.settings["webhook_retry_base_s"] = 0.05
    dispatcher = webhooks.install(standin)
    yield standin
    dispatcher.stop()


def register(standin, url, events=("*",), **more) -> dict:
    return call(
        standin, "POST", "/v1/webhook_endpoints", {"url": url, "enabled_events": events, **more}
    )


def emit(standin, event_type, obj=None, **kwargs) -> dict:
    """An event as the resource modules emit it: under the store's lock."""
    with standin.lock:
        return standin.emit(event_type, obj or {"id": "obj_1", "object": "thing"}, **kwargs)


def drain(standin, timeout: float = 2.0) -> None:
    assert webhooks.dispatcher_of(standin).drain(timeout), "deliveries still queued"


def wait_until(condition, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def same_shape(ours: dict, stripes: dict) -> None:
    assert set(ours) == set(stripes)
    for key, value in stripes.items():
        if value is not None and ours[key] is not None:
            assert type(ours[key]) is type(value), key


# --- delivery -------------------------------------------------------------------------------


def test_a_delivery_is_the_event_signed_with_stripes_scheme(standin, receiver):
    endpoint = register(standin, receiver.url(), ["customer.created"])
    customer = call(standin, "POST", "/v1/customers", {"email": "ada@example.com"})
    drain(standin)

    [request] = receiver.wait_for(1)
    headers = request["headers"]
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert headers["User-Agent"] == "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
    assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64}", headers["Stripe-Signature"])
    assert stripe.WebhookSignature.verify_header(
        request["body"], headers["Stripe-Signature"], endpoint["secret"], tolerance=300
    )
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(
            request["body"], headers["Stripe-Signature"], "whsec_other", tolerance=300
        )
    event = stripe.Webhook.construct_event(
        request["body"], headers["Stripe-Signature"], endpoint["secret"]
    )
    assert event.type == "customer.created"
    assert event.data.object.id == customer["id"]
    stored = call(standin, "GET", f"/v1/events/{event.id}")
    assert request["event"] == {**stored, "pending_webhooks": 1}  # as it was when sent
    assert stored["pending_webhooks"] == 0
    assert standin.stats.snapshot()["webhook_deliveries"] == {"delivered": 1}


def test_a_failed_delivery_is_retried_with_exponential_backoff(standin, receiver):
    receiver.statuses = [500, 503]
    register(standin, receiver.url())
    event = emit(standin, "customer.created")
    assert event["pending_webhooks"] == 1

    first, second, third = receiver.wait_for(3)
    drain(standin)
    assert [r["status"] for r in (first, second, third)] == [500, 503, 200]
    assert {r["event"]["id"] for r in (first, second, third)} == {event["id"]}
    assert second["at"] - first["at"] >= 0.05
    assert third["at"] - second["at"] >= 0.1
    assert event["pending_webhooks"] == 0
    assert standin.stats.snapshot()["webhook_deliveries"] == {"retried": 2, "delivered": 1}


def test_deliveries_give_up_after_the_last_attempt(standin, receiver):
    standin.settings["webhook_max_attempts"] = 3
    receiver.statuses = [500] * 5
    register(standin, receiver.url())
    event = emit(standin, "customer.created")

    drain(standin)
    assert len(receiver.requests) == 3
    assert event["pending_webhooks"] == 1  # never delivered, as on Stripe
    assert standin.stats.snapshot()["webhook_deliveries"] == {"retried": 2, "failed": 1}


def test_a_connection_error_counts_as_a_failure(standin):
    standin.settings["webhook_max_attempts"] = 2
    register(standin, f"http://127.0.0.1:{process.free_port()}/nobody-listens")
    emit(standin, "customer.created")

    drain(standin)
    assert standin.stats.snapshot()["webhook_deliveries"] == {"retried": 1, "failed": 1}


def test_a_slow_endpoint_does_not_hold_up_the_others(standin, receiver):
    slow = Receiver()
    slow.delay_s = 0.5
    try:
        register(standin, slow.url("/slow"), ["customer.updated"])
        register(standin, receiver.url("/fast"), ["customer.created"])
        for _ in range(3):
            emit(standin, "customer.updated")
        emit(standin, "customer.created")
        started = time.monotonic()
        receiver.wait_for(1)
        assert time.monotonic() - started < 0.4
    finally:
        drain(standin)
        slow.close()


def test_connect_endpoints_get_connected_accounts_events_and_others_the_platforms(
    standin, receiver
):
    register(standin, receiver.url("/platform"))
    register(standin, receiver.url("/connect"), connect=True)
    platform_event = emit(standin, "customer.created")
    connect_event = emit(
        standin, "account.updated", {"id": "acct_1", "object": "account"}, account="acct_1"
    )

    drain(standin)
    assert [r["event"]["id"] for r in receiver.at("/platform")] == [platform_event["id"]]
    [connected] = receiver.at("/connect")
    assert connected["event"]["id"] == connect_event["id"]
    assert connected["event"]["account"] == "acct_1"
    assert "account" not in receiver.at("/platform")[0]["event"]


def test_enabled_events_choose_the_types_an_endpoint_gets(standin, receiver):
    register(standin, receiver.url("/exact"), ["customer.created", "charge.succeeded"])
    register(standin, receiver.url("/disputes"), ["charge.dispute.created"])
    register(standin, receiver.url("/all"), ["*"])
    for event_type in ("customer.created", "customer.updated", "charge.dispute.created"):
        emit(standin, event_type)

    drain(standin)

    def types(path):
        return sorted(r["event"]["type"] for r in receiver.at(path))

    assert types("/exact") == ["customer.created"]
    assert types("/disputes") == ["charge.dispute.created"]
    assert types("/all") == ["charge.dispute.created", "customer.created", "customer.updated"]


def test_a_disabled_or_deleted_endpoint_gets_nothing(standin, receiver):
    disabled = register(standin, receiver.url("/disabled"))
    call(standin, "POST", f"/v1/webhook_endpoints/{disabled['id']}", {"disabled": True})
    event = emit(standin, "customer.created")
    assert event["pending_webhooks"] == 0

    standin.faults_update({"webhook_delay_s": 0.1})
    deleted = register(standin, receiver.url("/deleted"))
    queued = emit(standin, "customer.created")
    assert queued["pending_webhooks"] == 1
    call(standin, "DELETE", f"/v1/webhook_endpoints/{deleted['id']}")

    drain(standin)
    assert receiver.requests == []
    assert queued["pending_webhooks"] == 0
    assert standin.stats.snapshot()["webhook_deliveries"] == {"dropped": 1}


def test_duplicate_fault_sends_each_delivery_twice(standin, receiver):
    standin.faults_update({"webhook_duplicate_rate": 1})
    register(standin, receiver.url())
    event = emit(standin, "customer.created")

    first, second = receiver.wait_for(2)
    drain(standin)
    assert first["event"]["id"] == second["event"]["id"] == event["id"]
    assert event["pending_webhooks"] == 0
    assert standin.stats.snapshot()["webhook_deliveries"] == {"duplicated": 1, "delivered": 2}


def test_delay_fault_holds_each_delivery_back(standin, receiver):
    standin.faults_update({"webhook_delay_s": 0.3})
    register(standin, receiver.url())
    emitted = time.monotonic()
    emit(standin, "customer.created")

    [request] = receiver.wait_for(1)
    assert request["at"] - emitted >= 0.3


def test_shuffle_fault_sends_a_burst_out_of_order(standin, receiver):
    standin.faults_update({"webhook_shuffle": True})
    register(standin, receiver.url())
    emitted = [emit(standin, "customer.created")["id"] for _ in range(20)]

    received = [r["event"]["id"] for r in receiver.wait_for(20)]
    drain(standin)
    assert sorted(received) == sorted(emitted)
    assert received != emitted


def test_reset_drops_deliveries_waiting_for_a_retry(standin, receiver):
    standin.settings["webhook_retry_base_s"] = 0.2
    receiver.statuses = [500]
    register(standin, receiver.url())
    emit(standin, "customer.created")
    wait_until(lambda: standin.stats.snapshot()["webhook_deliveries"].get("retried"))

    dispatcher = webhooks.dispatcher_of(standin)
    standin.reset()
    dispatcher.reset()  # what Standin.reset calls once it is wired (see the module's report)
    assert dispatcher.pending() == 0
    time.sleep(0.3)
    assert len(receiver.requests) == 1


def test_a_retry_whose_event_was_reset_away_is_not_sent(standin, receiver):
    receiver.statuses = [500]
    register(standin, receiver.url())
    emit(standin, "customer.created")
    receiver.wait_for(1)
    with standin.lock:  # what Standin.reset does to the store
        standin._clear()

    drain(standin)
    assert len(receiver.requests) == 1
    assert standin.stats.snapshot()["webhook_deliveries"]["dropped"] == 1


def test_install_is_idempotent_and_stop_is_prompt(standin, receiver):
    dispatcher = webhooks.install(standin)
    assert webhooks.install(standin) is dispatcher
    assert standin.services.count(dispatcher) == 1
    assert standin.event_listeners.count(dispatcher.on_event) == 1
    standin.start()
    threads = list(dispatcher._threads)
    assert len(threads) == webhooks.WORKERS

    started = time.monotonic()
    standin.stop()
    assert time.monotonic() - started < 0.5
    assert not any(thread.is_alive() for thread in threads)

    register(standin, receiver.url())
    emit(standin, "customer.created")  # stopped: queued, not sent, no thread started
    assert dispatcher.pending() == 1 and dispatcher._threads == []
    standin.start()
    receiver.wait_for(1)
    drain(standin)


# --- events ---------------------------------------------------------------------------------


def test_events_are_shaped_like_stripes(standin):
    event = emit(standin, "customer.created")
    same_shape(call(standin, "GET", f"/v1/events/{event['id']}"), EVENT_FIXTURE)
    assert event["id"].startswith("evt_")


def test_events_list_newest_first_with_filters_and_pages(standin):
    now = int(time.time())
    standin.clock = lambda: now - 100
    old = emit(standin, "customer.created")
    standin.clock = lambda: now
    created, updated, charged = (
        emit(standin, event_type)
        for event_type in ("customer.created", "customer.updated", "charge.dispute.created")
    )

    def ids(params):
        return [event["id"] for event in call(standin, "GET", "/v1/events", params)["data"]]

    assert ids({}) == [charged["id"], updated["id"], created["id"], old["id"]]
    assert ids({"type": "customer.created"}) == [created["id"], old["id"]]
    assert ids({"type": "charge.*"}) == [charged["id"]]
    assert ids({"types": ["customer.updated", "charge.dispute.created"]}) == [
        charged["id"],
        updated["id"],
    ]
    assert ids({"created": {"gte": now}}) == [charged["id"], updated["id"], created["id"]]
    assert ids({"created": {"lt": now}}) == [old["id"]]
    assert ids({"created": {"gt": now - 100, "lte": now}, "type": "customer.*"}) == [
        updated["id"],
        created["id"],
    ]
    assert ids({"created": now - 100}) == [old["id"]]

    page = call(standin, "GET", "/v1/events", {"limit": 2})
    assert page["url"] == "/v1/events" and page["has_more"] is True
    rest = call(
        standin, "GET", "/v1/events", {"limit": 2, "starting_after": page["data"][-1]["id"]}
    )
    assert [e["id"] for e in rest["data"]] == [created["id"], old["id"]]
    assert rest["has_more"] is False
    before = call(standin, "GET", "/v1/events", {"ending_before": created["id"]})
    assert [e["id"] for e in before["data"]] == [charged["id"], updated["id"]]


def test_events_list_refuses_what_stripe_refuses(standin):
    both = call(standin, "GET", "/v1/events", {"type": "a.b", "types": ["c.d"]}, status=400)
    assert "either type or types" in both["error"]["message"]
    bad = call(standin, "GET", "/v1/events", {"created": {"since": "1"}}, status=400)
    assert bad["error"]["param"] == "created[since]"
    bad = call(standin, "GET", "/v1/events", {"created": "yesterday"}, status=400)
    assert bad["error"]["param"] == "created"
    bad = call(standin, "GET", "/v1/events", {"delivery_success": "true"}, status=400)
    assert bad["error"]["code"] == "parameter_unknown"
    missing = call(standin, "GET", "/v1/events/evt_nope", status=404)
    assert missing["error"]["code"] == "resource_missing"


def test_a_connected_accounts_events_are_seen_with_its_stripe_account_header(standin):
    platform = emit(standin, "customer.created")
    mine = emit(standin, "account.updated", account="acct_mine")
    emit(standin, "account.updated", account="acct_other")

    listed = call(standin, "GET", "/v1/events", account="acct_mine")["data"]
    assert [event["id"] for event in listed] == [mine["id"]]
    assert [e["id"] for e in call(standin, "GET", "/v1/events")["data"]] == [platform["id"]]
    assert call(standin, "GET", f"/v1/events/{mine['id']}", account="acct_mine")["account"] == (
        "acct_mine"
    )
    call(standin, "GET", f"/v1/events/{mine['id']}", status=404)
    call(standin, "GET", f"/v1/events/{platform['id']}", account="acct_mine", status=404)


def test_every_known_event_type_is_one_of_stripes():
    stripes = set(typing.get_args(stripe.Event.__annotations__["type"]))
    assert set(webhooks.EVENT_TYPES) <= stripes


def test_every_event_type_the_stand_in_emits_can_be_enabled():
    emitted = set()
    for path in STANDIN_DIR.rglob("*.py"):
        emitted.update(re.findall(r'emit\(\s*"([a-z_.]+)"', path.read_text()))
    assert emitted, "no emit() calls found"
    assert emitted <= set(webhooks.EVENT_TYPES), emitted - set(webhooks.EVENT_TYPES)


# --- webhook endpoints (in process) -------------------------------------------------------------


def test_webhook_endpoints_are_shaped_like_stripes(standin):
    created = register(standin, "https://example.com/hook", description="mine")
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 30
    assert created["id"].startswith("we_")
    shown = call(standin, "GET", f"/v1/webhook_endpoints/{created['id']}")
    assert "secret" not in shown  # shown on creation only, as on Stripe
    same_shape(shown, WEBHOOK_ENDPOINT_FIXTURE)
    same_shape({k: v for k, v in created.items() if k != "secret"}, WEBHOOK_ENDPOINT_FIXTURE)
    gone = call(standin, "DELETE", f"/v1/webhook_endpoints/{created['id']}")
    assert gone == {"id": created["id"], "object": "webhook_endpoint", "deleted": True}


def test_webhook_secrets_from_the_command_line(standin):
    standin.settings["webhook_secret"] = "whsec_platform"
    standin.settings["connect_webhook_secret"] = "whsec_connect"
    assert register(standin, "http://localhost/a")["secret"] == "whsec_platform"
    assert register(standin, "http://localhost/b", connect=True)["secret"] == "whsec_connect"


@pytest.mark.parametrize(
    ("params", "param", "words"),
    [
        ({"enabled_events": ["*"]}, "url", "Missing required param"),
        ({"url": "https://example.com/"}, "enabled_events", "Missing required param"),
        ({"url": "ftp://example.com/", "enabled_events": ["*"]}, "url", "Invalid URL"),
        ({"url": "example.com/hook", "enabled_events": ["*"]}, "url", "Invalid URL"),
        (
            {"url": "https://example.com/", "enabled_events": ["customer.created", "nope.made"]},
            "enabled_events[1]",
            "'nope.made'",
        ),
        (  # Stripe accepts exact types and "*" only
            {"url": "https://example.com/", "enabled_events": ["charge.*"]},
            "enabled_events[0]",
            "'charge.*'",
        ),
        (
            {"url": "https://example.com/", "enabled_events": ["*"], "api_version": "latest"},
            "api_version",
            "Invalid API version",
        ),
        (
            {"url": "https://example.com/", "enabled_events": ["*"], "secret": "whsec_mine"},
            "secret",
            "unknown parameter",
        ),
    ],
)
def test_webhook_endpoint_creation_refuses_what_stripe_refuses(standin, params, param, words):
    error = call(standin, "POST", "/v1/webhook_endpoints", params, status=400)["error"]
    assert error["param"] == param
    assert words in error["message"]


def test_webhook_endpoints_update_and_list(standin):
    first = register(standin, "https://example.com/1", metadata={"a": "1"})
    second = register(standin, "https://example.com/2")
    updated = call(
        standin,
        "POST",
        f"/v1/webhook_endpoints/{first['id']}",
        {
            "url": "https://example.com/one",
            "enabled_events": ["charge.refunded", "payment_intent.succeeded"],
            "disabled": True,
            "description": "renamed",
            "metadata": {"a": "", "b": "2"},
        },
    )
    assert updated["url"] == "https://example.com/one"
    assert updated["enabled_events"] == ["charge.refunded", "payment_intent.succeeded"]
    assert updated["status"] == "disabled"
    assert updated["description"] == "renamed"
    assert updated["metadata"] == {"b": "2"}
    error = call(
        standin,
        "POST",
        f"/v1/webhook_endpoints/{first['id']}",
        {"connect": True},
        status=400,
    )["error"]
    assert error["param"] == "connect"  # chosen when created, as on Stripe
    listed = call(standin, "GET", "/v1/webhook_endpoints")
    assert [endpoint["id"] for endpoint in listed["data"]] == [second["id"], first["id"]]
    assert all("secret" not in endpoint for endpoint in listed["data"])


# --- through the HTTP server and the official SDK -------------------------------------------------


@pytest.fixture(scope="module")
def server():
    server = process.start(["--webhook-secret", "whsec_test", "--webhook-retry-base", "0.05"])
    yield server
    server.stop()


@pytest.fixture
def client(server):
    server.reset()
    return stripe.StripeClient(SECRET_KEY, base_addresses={"api": server.base_url})


def test_webhook_endpoints_through_the_sdk(client):
    endpoints = client.v1.webhook_endpoints
    created = endpoints.create(
        {
            "url": "https://example.com/hook",
            "enabled_events": ["customer.created", "setup_intent.succeeded"],
            "description": "platform",
            "metadata": {"env": "dev"},
        }
    )
    assert created.secret == "whsec_test"  # --webhook-secret
    assert created.status == "enabled"
    shown = endpoints.retrieve(created.id)
    assert shown.url == "https://example.com/hook" and "secret" not in shown
    updated = endpoints.update(created.id, {"disabled": True, "enabled_events": ["*"]})
    assert updated.status == "disabled" and updated.enabled_events == ["*"]
    connect = endpoints.create(
        {"url": "http://localhost:9/c", "enabled_events": ["account.updated"], "connect": True}
    )
    assert connect.secret.startswith("whsec_") and connect.secret != "whsec_test"
    assert [endpoint.id for endpoint in endpoints.list().data] == [connect.id, created.id]
    assert endpoints.delete(created.id).deleted is True
    with pytest.raises(stripe.InvalidRequestError) as missing:
        endpoints.retrieve(created.id)
    assert missing.value.http_status == 404
    with pytest.raises(stripe.InvalidRequestError) as refused:
        endpoints.create({"url": "https://example.com/", "enabled_events": ["charge.maybe"]})
    assert refused.value.param == "enabled_events[0]"


def test_a_customer_created_through_the_sdk_is_delivered_signed(client, receiver):
    if webhooks.dispatcher_of(Standin()) is None:
        pytest.fail(
            "Standin.__init__ does not call webhooks.install(self) yet, so the server "
            "delivers no webhooks",
            pytrace=False,
        )
    client.v1.webhook_endpoints.create(
        {"url": receiver.url("/stripe/webhook"), "enabled_events": ["customer.created"]}
    )
    customer = client.v1.customers.create({"email": "grace@example.com"})

    [request] = receiver.wait_for(1)
    event = stripe.Webhook.construct_event(
        request["body"], request["headers"]["Stripe-Signature"], "whsec_test"
    )
    assert event.type == "customer.created"
    assert event.data.object.id == customer.id
    assert client.v1.events.retrieve(event.id).type == "customer.created"
    assert [e.id for e in client.v1.events.list({"type": "customer.created"}).data] == [event.id]
