"""Fault switches and the stats counters: what tests and benchmarks turn on and read back.

Switches (all off by default; set through `/_standin/faults`, the command line, or
`Standin.set_faults`):

- `rate_limit`: requests per second above which the API answers 429 `rate_limit`
  (a token bucket holding one second's worth);
- `error_next` / `error_rate` / `error_status`: the next n requests, or a fraction of them,
  answer `error_status` (500 by default). As on Stripe, a 500 is recorded under the request's
  idempotency key and replayed to a retry with that key (with `Stripe-Should-Retry: false`);
  a 502, 503 or 504 comes from in front of the API and is not recorded;
- `error_after_next` / `error_after_rate`: POST requests whose work is done (the charge made,
  the transfer sent) that answer 500 all the same, recorded under their idempotency key: a
  retry replays the 500, and only a search by metadata finds what happened;
- `latency_ms` / `jitter_ms`: added to every API answer;
- `drop_next` / `drop_rate`: PaymentIntent creations whose charge succeeded, and whose answer
  is then lost (the connection closes without a response): the idempotent result is stored,
  so a retry with the same key replays it;
- `search_lag_s`: objects younger than this are missing from search results (Stripe's
  search can lag new objects by up to a minute);
- `webhook_duplicate_rate`, `webhook_shuffle`, `webhook_delay_s`: deliveries sent twice,
  out of order, or late.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, fields


@dataclass
class Faults:
    rate_limit: float = 0.0
    error_next: int = 0
    error_rate: float = 0.0
    error_status: int = 500
    error_after_next: int = 0
    error_after_rate: float = 0.0
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    drop_next: int = 0
    drop_rate: float = 0.0
    search_lag_s: float = 0.0
    webhook_duplicate_rate: float = 0.0
    webhook_shuffle: bool = False
    webhook_delay_s: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def update(self, values: dict) -> None:
        """Set switches from strings or typed values; unknown names or bad values raise
        ValueError and change nothing."""
        types = {f.name: f.type for f in fields(self)}
        checked = {}
        for name, raw in values.items():
            if name not in types:
                raise ValueError(f"unknown fault switch {name!r}; known: {', '.join(types)}")
            kind = types[name]
            if kind in ("bool", bool):
                value = raw if isinstance(raw, bool) else str(raw).lower() in ("1", "true", "yes")
            elif kind in ("int", int):
                value = int(raw)
            else:
                value = float(raw)
            if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
                raise ValueError(f"{name} must not be negative")
            if name.endswith("_rate") and name != "rate_limit" and value > 1:
                raise ValueError(f"{name} is a fraction between 0 and 1")
            if name == "error_status" and not 500 <= value <= 599:
                raise ValueError("error_status must be a 5xx status")
            checked[name] = value
        for name, value in checked.items():
            setattr(self, name, value)


class FaultState:
    """The switches plus what they need to decide (the token bucket, a random source)."""

    def __init__(self, seed: int | None = None):
        self.switches = Faults()
        self._seed = seed
        self._random = random.Random(seed)
        self._tokens = 0.0
        self._bucket_size = 0.0
        self._refilled = time.monotonic()
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self.switches = Faults()
            self._tokens = self._bucket_size = 0.0
            self._random.seed(self._seed)  # a seeded run repeats after a reset too

    def rate_limited(self) -> bool:
        limit = self.switches.rate_limit
        if not limit:
            return False
        with self._lock:
            now = time.monotonic()
            if limit != self._bucket_size:  # a new limit starts with a full second's worth
                self._bucket_size, self._tokens, self._refilled = limit, limit, now
            self._tokens = min(limit, self._tokens + (now - self._refilled) * limit)
            self._refilled = now
            if self._tokens >= 1:
                self._tokens -= 1
                return False
            return True

    def injected_error(self) -> int | None:
        """The 5xx status to answer with now, or None."""
        with self._lock:
            if self.switches.error_next:
                self.switches.error_next -= 1
                return self.switches.error_status
            if self.switches.error_rate and self._random.random() < self.switches.error_rate:
                return self.switches.error_status
        return None

    def error_after_work(self) -> bool:
        with self._lock:
            if self.switches.error_after_next:
                self.switches.error_after_next -= 1
                return True
            rate = self.switches.error_after_rate
            return bool(rate) and self._random.random() < rate

    def drop_this_response(self) -> bool:
        with self._lock:
            if self.switches.drop_next:
                self.switches.drop_next -= 1
                return True
            return bool(self.switches.drop_rate) and self._random.random() < self.switches.drop_rate

    def delay(self) -> float:
        """Seconds to add to this answer."""
        latency, jitter = self.switches.latency_ms, self.switches.jitter_ms
        if not (latency or jitter):
            return 0.0
        with self._lock:
            return (latency + self._random.uniform(0, jitter)) / 1000

    def chance(self, fraction: float) -> bool:
        with self._lock:
            return bool(fraction) and self._random.random() < fraction

    def shuffle(self, items: list) -> None:
        with self._lock:
            self._random.shuffle(items)


class Stats:
    """Counters for tests and benchmarks (read with `/_standin/stats`)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.requests: Counter = Counter()  # "POST /v1/payment_intents" -> n
            self.statuses: Counter = Counter()  # "429" -> n
            self.rate_limited = 0
            self.injected_errors = 0
            self.dropped_responses = 0
            self.idempotent_replays = 0
            # The double-charge detector: succeeded PaymentIntents per metadata.pledge_id.
            self.succeeded_payment_intents: Counter = Counter()
            self.transfers: Counter = Counter()  # per metadata.payout_id
            self.webhook_deliveries: Counter = (
                Counter()
            )  # delivered, retried, failed, duplicated, dropped

    def count(self, counter: str, key: str | None = None, n: int = 1) -> None:
        with self._lock:
            if key is None:
                setattr(self, counter, getattr(self, counter) + n)
            else:
                getattr(self, counter)[key] += n

    def snapshot(self) -> dict:
        with self._lock:
            return {
                "requests": dict(self.requests),
                "requests_total": sum(self.requests.values()),
                "statuses": dict(self.statuses),
                "rate_limited": self.rate_limited,
                "injected_errors": self.injected_errors,
                "dropped_responses": self.dropped_responses,
                "idempotent_replays": self.idempotent_replays,
                "succeeded_payment_intents_by_pledge": dict(self.succeeded_payment_intents),
                "double_charged_pledges": sorted(
                    key for key, n in self.succeeded_payment_intents.items() if n > 1
                ),
                "transfers_by_payout": dict(self.transfers),
                "double_paid_payouts": sorted(key for key, n in self.transfers.items() if n > 1),
                "webhook_deliveries": dict(self.webhook_deliveries),
            }
