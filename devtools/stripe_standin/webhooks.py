"""Signed webhook delivery: every event the stand-in emits is POSTed to the webhook endpoints
registered through `/v1/webhook_endpoints` (resources/events.py) that want it, the way Stripe
delivers them.

What an endpoint gets, and when:

- an enabled endpoint gets an event when its `enabled_events` name the event's type or hold
  `"*"` (as on Stripe, whose API refuses other patterns), and when its `connect` flag says
  whether it wants events from connected accounts (events with an `account`) or from the
  platform (events without);
- the body is the event's JSON (2-space indented, as Stripe sends it), with
  `Content-Type: application/json; charset=utf-8`, Stripe's User-Agent and
  `Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the endpoint's
  secret>`, so `stripe.Webhook.construct_event` verifies it;
- an answer other than 2xx, a connection error or no answer within 10 s
  (`settings["webhook_timeout_s"]`) is retried with exponential backoff: the first retry after
  `settings["webhook_retry_base_s"]` seconds (default 5), doubling each time, until
  `settings["webhook_max_attempts"]` attempts (default 8) have failed. Stripe keeps retrying for
  up to three days; the stand-in gives up much sooner so a test never waits on it;
- the event's `pending_webhooks` counts the deliveries that have not succeeded yet (one that
  has given up stays counted, as on Stripe);
- as on Stripe, the order is not guaranteed: up to four deliveries are in flight at once, so a
  slow endpoint does not hold up the others, and two events emitted together may arrive in
  either order.

Fault switches (faults.py): `webhook_duplicate_rate` sends that fraction of deliveries twice,
`webhook_shuffle` sends the deliveries queued within 200 ms of each other in a random order,
`webhook_delay_s` makes each first attempt wait that long. Counters:
`stats.webhook_deliveries` ("delivered", "retried", "failed", "duplicated", "dropped": a
delivery whose endpoint was deleted or disabled, or whose event was reset away, before it
was sent).

`Standin.emit` calls `Dispatcher.on_event` under the store's lock, so it only decides and
queues; the sending happens in the dispatcher's worker threads, never under the lock.
`install(standin)` gives a Standin its dispatcher; `dispatcher_of(standin)` finds it, and
`dispatcher_of(standin).drain(timeout)` waits until every queued delivery has been sent.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import http.client
import itertools
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

logger = logging.getLogger("stripe_standin.webhooks")

WORKERS = 4
TIMEOUT_S = 10.0  # Stripe waits 10-30 s for an answer
RETRY_BASE_S = 5.0
MAX_ATTEMPTS = 8
SHUFFLE_WINDOW_S = 0.2
STOP_TIMEOUT_S = 2.0
MAX_RESPONSE_BYTES = 64 * 1024  # what is read of an endpoint's answer before it is dropped
USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"

# Stripe's event types for the objects the stand-in has (Stripe's own names: each is in the
# official SDK's `stripe.Event.type`). `enabled_events` may name these or "*"; anything else
# is refused, as Stripe refuses it.
EVENT_TYPES = (
    "account.application.authorized",
    "account.application.deauthorized",
    "account.external_account.created",
    "account.external_account.deleted",
    "account.external_account.updated",
    "account.updated",
    "application_fee.created",
    "application_fee.refund.updated",
    "application_fee.refunded",
    "balance.available",
    "capability.updated",
    "charge.captured",
    "charge.dispute.closed",
    "charge.dispute.created",
    "charge.dispute.funds_reinstated",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.updated",
    "charge.expired",
    "charge.failed",
    "charge.pending",
    "charge.refund.updated",
    "charge.refunded",
    "charge.succeeded",
    "charge.updated",
    "customer.created",
    "customer.deleted",
    "customer.updated",
    "payment_intent.amount_capturable_updated",
    "payment_intent.canceled",
    "payment_intent.created",
    "payment_intent.partially_funded",
    "payment_intent.payment_failed",
    "payment_intent.processing",
    "payment_intent.requires_action",
    "payment_intent.succeeded",
    "payment_method.attached",
    "payment_method.automatically_updated",
    "payment_method.detached",
    "payment_method.updated",
    "payout.canceled",
    "payout.created",
    "payout.failed",
    "payout.paid",
    "payout.reconciliation_completed",
    "payout.updated",
    "person.created",
    "person.deleted",
    "person.updated",
    "refund.created",
    "refund.failed",
    "refund.updated",
    "setup_intent.canceled",
    "setup_intent.created",
    "setup_intent.requires_action",
    "setup_intent.setup_failed",
    "setup_intent.succeeded",
    "transfer.created",
    "transfer.reversed",
    "transfer.updated",
)
_KNOWN_TYPES = frozenset(EVENT_TYPES)


def valid_selector(selector: str) -> bool:
    """Whether `enabled_events` may hold this: a known type or "*", as on Stripe (whose API
    refuses "family.*" patterns, so the stand-in does too)."""
    return selector == "*" or selector in _KNOWN_TYPES


def matches(enabled_events: list[str], event_type: str) -> bool:
    return "*" in enabled_events or event_type in enabled_events


def signature_header(secret: str, payload: bytes, timestamp: int) -> str:
    """Stripe's `Stripe-Signature` header for this exact body."""
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass
class Delivery:
    """One event on its way to one endpoint."""

    event_id: str
    endpoint_id: str
    duplicate: bool = False  # the extra copy sent by webhook_duplicate_rate (never retried)
    attempt: int = 1
    due: float = 0.0  # time.monotonic() when it may be sent
    generation: int = 0  # the dispatcher's reset count when it was queued
    sequence: int = field(default=0, compare=False)


class Dispatcher:
    """The queue of deliveries and the worker threads that send them."""

    def __init__(self, standin, *, workers: int = WORKERS):
        self.standin = standin
        self.workers = workers
        self._cond = threading.Condition()
        self._queue: list[tuple[float, int, Delivery]] = []  # a heap by (due, sequence)
        self._batch: list[Delivery] = []  # held back by webhook_shuffle until _batch_due
        self._batch_due = 0.0
        self._sequence = itertools.count()
        self._in_flight = 0
        self._generation = 0
        self._threads: list[threading.Thread] = []
        self._run: object | None = None  # the token of the running worker threads
        self._stopped = False  # stop() was called: new deliveries do not start the workers

    # --- the service ---------------------------------------------------------------------
    def start(self) -> None:
        """Start the workers (also done by the first delivery, unless stop() was called)."""
        with self._cond:
            if self._run is not None:
                return
            self._stopped = False
            run = self._run = object()
            self._threads = [
                threading.Thread(
                    target=self._work,
                    args=(run,),
                    name=f"stripe-standin-webhooks-{n}",
                    daemon=True,
                )
                for n in range(self.workers)
            ]
            threads = list(self._threads)
        for thread in threads:
            thread.start()

    def stop(self) -> None:
        """Stop the workers; a delivery in flight is left to finish (its thread is a daemon).
        Queued deliveries stay queued and go out if start() is called again."""
        with self._cond:
            self._stopped = True
            self._run = None
            threads, self._threads = self._threads, []
            self._cond.notify_all()
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))

    def reset(self) -> None:
        """Drop every queued delivery (Standin.reset: the events and endpoints are gone)."""
        with self._cond:
            self._generation += 1
            self._queue.clear()
            self._batch.clear()
            self._cond.notify_all()

    def drain(self, timeout: float = 5.0) -> bool:
        """Wait until nothing is queued or in flight (retries included); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._batch or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def pending(self) -> int:
        """Deliveries queued or in flight now."""
        with self._cond:
            return len(self._queue) + len(self._batch) + self._in_flight

    # --- queueing (under the store's lock: decide and queue, never send) ------------------
    def on_event(self, event: dict) -> None:
        standin = self.standin
        connected = bool(event.get("account"))
        with standin.lock:
            endpoints = [
                endpoint["id"]
                for endpoint in standin.all("webhook_endpoint")
                if endpoint["status"] == "enabled"
                and bool(standin.private[endpoint["id"]].get("connect")) == connected
                and matches(endpoint["enabled_events"], event["type"])
            ]
            event["pending_webhooks"] = len(endpoints)
        if not endpoints:
            return
        faults = standin.faults
        switches = faults.switches
        deliveries = []
        for endpoint_id in endpoints:
            deliveries.append(Delivery(event["id"], endpoint_id))
            if faults.chance(switches.webhook_duplicate_rate):
                standin.stats.count("webhook_deliveries", "duplicated")
                deliveries.append(Delivery(event["id"], endpoint_id, duplicate=True))
        now = time.monotonic()
        with self._cond:
            for delivery in deliveries:
                delivery.generation = self._generation
                delivery.due = now + switches.webhook_delay_s
            if switches.webhook_shuffle:
                if not self._batch:
                    self._batch_due = now + SHUFFLE_WINDOW_S
                self._batch.extend(deliveries)
            else:
                for delivery in deliveries:
                    self._push(delivery)
            self._cond.notify_all()
            idle = self._run is None and not self._stopped
        if idle:
            self.start()

    def _push(self, delivery: Delivery) -> None:
        """Queue one delivery (with _cond held)."""
        if delivery.generation == self._generation:
            delivery.sequence = next(self._sequence)
            heapq.heappush(self._queue, (delivery.due, delivery.sequence, delivery))

    def _flush_batch(self, now: float) -> None:
        """Queue the shuffle window's deliveries in a random order (with _cond held)."""
        batch, self._batch = self._batch, []
        self.standin.faults.shuffle(batch)
        due = max([now, *(delivery.due for delivery in batch)])
        for delivery in batch:
            delivery.due = due
            self._push(delivery)

    # --- the workers ----------------------------------------------------------------------
    def _work(self, run: object) -> None:
        while True:
            with self._cond:
                delivery = self._take(run)
                if delivery is None:
                    return
                self._in_flight += 1
            try:
                self._attempt(delivery)
            except Exception:  # a bug must not kill the worker and hang drain()
                logger.exception("webhook delivery %s failed unexpectedly", delivery)
            finally:
                with self._cond:
                    self._in_flight -= 1
                    self._cond.notify_all()

    def _take(self, run: object) -> Delivery | None:
        """The next delivery that is due, waiting for it; None once this run is stopped."""
        while self._run is run:
            now = time.monotonic()
            if self._batch and now >= self._batch_due:
                self._flush_batch(now)
            if self._queue and self._queue[0][0] <= now:
                return heapq.heappop(self._queue)[2]
            wakes = []
            if self._queue:
                wakes.append(self._queue[0][0])
            if self._batch:
                wakes.append(self._batch_due)
            self._cond.wait(min(wakes) - now if wakes else None)
        return None

    def _attempt(self, delivery: Delivery) -> None:
        standin = self.standin
        with standin.lock:
            endpoint = standin.objects["webhook_endpoint"].get(delivery.endpoint_id)
            event = standin.objects["event"].get(delivery.event_id)
            if (
                endpoint is None
                or event is None
                or endpoint["status"] != "enabled"
                or delivery.generation != self._generation
            ):
                if event is not None and not delivery.duplicate:
                    event["pending_webhooks"] = max(0, event["pending_webhooks"] - 1)
                standin.stats.count("webhook_deliveries", "dropped")
                return
            url = endpoint["url"]
            secret = standin.private[endpoint["id"]]["secret"]
            payload = json.dumps(event, indent=2).encode()
        timeout = float(standin.settings.get("webhook_timeout_s", TIMEOUT_S))
        problem = post(url, payload, secret, timeout)
        if delivery.generation != self._generation:  # reset while it was on its way
            return
        if problem is None:
            standin.stats.count("webhook_deliveries", "delivered")
            if not delivery.duplicate:
                with standin.lock:
                    event["pending_webhooks"] = max(0, event["pending_webhooks"] - 1)
            return
        max_attempts = int(standin.settings.get("webhook_max_attempts", MAX_ATTEMPTS))
        if delivery.duplicate or delivery.attempt >= max_attempts:
            standin.stats.count("webhook_deliveries", "failed")
            logger.warning(
                "gave up delivering %s to %s after %d attempts: %s",
                delivery.event_id,
                url,
                delivery.attempt,
                problem,
            )
            return
        base = float(standin.settings.get("webhook_retry_base_s", RETRY_BASE_S))
        wait = base * 2 ** (delivery.attempt - 1)
        delivery.attempt += 1
        delivery.due = time.monotonic() + wait
        standin.stats.count("webhook_deliveries", "retried")
        logger.info(
            "delivering %s to %s failed (%s); attempt %d in %.3g s",
            delivery.event_id,
            url,
            problem,
            delivery.attempt,
            wait,
        )
        with self._cond:
            self._push(delivery)
            self._cond.notify_all()


def post(url: str, payload: bytes, secret: str, timeout: float) -> str | None:
    """POST one signed delivery; None when the endpoint answered 2xx, else what went wrong.
    Redirects are not followed (Stripe counts a 3xx as a failure)."""
    parts = urlsplit(url)
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "Accept": "*/*; q=0.5, application/xml",
        "Cache-Control": "no-cache",
        "Stripe-Signature": signature_header(secret, payload, int(time.time())),
    }
    connection = None
    try:
        connection = connection_class(parts.hostname, parts.port, timeout=timeout)
        connection.request("POST", path, body=payload, headers=headers)
        response = connection.getresponse()
        response.read(MAX_RESPONSE_BYTES)
    except (OSError, ValueError, http.client.HTTPException) as error:
        return f"{type(error).__name__}: {error}"
    finally:
        if connection is not None:
            connection.close()
    if 200 <= response.status < 300:
        return None
    return f"HTTP {response.status}"


def install(standin) -> Dispatcher:
    """Give a Standin its webhook dispatcher (once: a second call returns the first one)."""
    dispatcher = dispatcher_of(standin)
    if dispatcher is None:
        dispatcher = Dispatcher(standin)
        standin.event_listeners.append(dispatcher.on_event)
        standin.services.append(dispatcher)
    return dispatcher


def dispatcher_of(standin) -> Dispatcher | None:
    for service in standin.services:
        if isinstance(service, Dispatcher):
            return service
    return None
