"""The stand-in's one object store: every Stripe object it has made, with Stripe's rules kept
in the resource modules (`resources/`). Both doors (the HTTP server and the in-process
gateway) share one `Standin`; nothing else holds state.

Objects are kept as the JSON dicts Stripe would answer with (so what a door returns is what
the store holds), in one dict per object type, insertion-ordered for lists. `private` keeps
what Stripe knows but does not show (a test card's behaviour, a PaymentIntent's 3-D Secure
state). Every read and write happens under `lock`; a request's work is short (no I/O), so one
lock serves hundreds of requests a second.
"""

from __future__ import annotations

import os
import pickle
import secrets
import string
import threading
import time
from collections import defaultdict
from pathlib import Path

from . import webhooks
from .errors import missing
from .faults import FaultState, Stats

API_VERSION = "2025-03-31.basil"
_ID_ALPHABET = string.ascii_letters + string.digits
IDEMPOTENCY_KEY_TTL = 24 * 3600  # Stripe keeps idempotent results for 24 hours
STATE_VERSION = 1  # of the file save() writes; a stand-in refuses files of another version

# Human names used in Stripe's "No such …" messages.
KIND_NAMES = {
    "customer": "customer",
    "payment_method": "PaymentMethod",
    "setup_intent": "setupintent",
    "payment_intent": "payment_intent",
    "charge": "charge",
    "refund": "refund",
    "balance_transaction": "balance transaction",
    "account": "account",
    "transfer": "transfer",
    "transfer_reversal": "transfer reversal",
    "event": "event",
    "webhook_endpoint": "webhook endpoint",
    "dispute": "dispute",
}


def new_id(prefix: str, length: int = 24) -> str:
    # 62 letters and digits; the modulo bias (256 % 62) does not matter for test ids.
    return f"{prefix}_{''.join(_ID_ALPHABET[byte % 62] for byte in secrets.token_bytes(length))}"


def snapshot(value):
    """A deep copy of JSON-shaped data (dicts, lists, scalars), several times faster than
    copy.deepcopy, for the object an event carries as it was when the event happened."""
    kind = type(value)
    if kind is dict:
        return {
            key: snapshot(item) if type(item) in _CONTAINERS else item
            for key, item in value.items()
        }
    if kind is list:
        return [snapshot(item) if type(item) in _CONTAINERS else item for item in value]
    return value


_CONTAINERS = (dict, list)


class Standin:
    def __init__(self, *, clock=time.time, seed: int | None = None, public_url: str = ""):
        self.lock = threading.RLock()
        self.clock = clock
        self.public_url = public_url.rstrip("/")  # where browsers reach the HTTP door
        self.faults = FaultState(seed)
        self.stats = Stats()
        # Set by the webhooks module: called with each new event, outside no lock of its own.
        self.event_listeners: list = []
        # Background services with start()/stop() (the webhook dispatcher).
        self.services: list = []
        self.settings = {
            # Seconds until a charge's funds are available (Stripe: days; 0 = at once).
            "available_after_s": 0,
            # Stripe's fee for European cards: 1.5 % + 0.25 in the charge's currency.
            "fee_percent": "1.5",
            "fee_fixed_minor": 25,
        }
        self._clear()
        webhooks.install(self)

    def _clear(self) -> None:
        self.objects: dict[str, dict[str, dict]] = defaultdict(dict)
        self.private: dict[str, dict] = defaultdict(dict)
        # (object type, key, value) -> ids, as an insertion-ordered set (a dict of None).
        self._metadata_index: dict[tuple[str, str, str], dict[str, None]] = defaultdict(dict)
        # (account or "", idempotency key) -> the first answer, oldest first.
        self.idempotency: dict[tuple[str, str], dict] = {}

    def reset(self) -> None:
        """Forget every object, key, fault and counter (webhook endpoints included)."""
        with self.lock:
            self._clear()
            self.faults.reset()
            self.stats.reset()
            for service in self.services:
                service.reset()  # the webhook dispatcher drops the deliveries still queued

    # --- keeping the store across restarts (the quick start's saved cards) -----------------
    _SAVED = ("objects", "private", "_metadata_index", "idempotency")

    def save(self, path: Path) -> None:
        """Write the store to `path` atomically (a new file renamed over the old one), so a
        crash mid-write never leaves a truncated file behind. Faults and counters are not kept."""
        with self.lock:
            data = pickle.dumps(
                {"version": STATE_VERSION, **{name: getattr(self, name) for name in self._SAVED}}
            )
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        scratch.write_bytes(data)
        os.replace(scratch, path)

    def load(self, path: Path) -> bool:
        """Read a store written by save(); False (and an empty store) when there is none or it
        is from another version of the stand-in. Only ever load files the stand-in wrote."""
        try:
            saved = pickle.loads(Path(path).read_bytes())  # noqa: S301  (our own file)
        except FileNotFoundError:
            return False
        if not isinstance(saved, dict) or saved.get("version") != STATE_VERSION:
            return False
        with self.lock:
            for name in self._SAVED:
                setattr(self, name, saved[name])
        return True

    def start(self) -> None:
        """Start background work (webhook deliveries); the HTTP door calls it at start-up."""
        for service in self.services:
            service.start()

    def stop(self) -> None:
        for service in self.services:
            service.stop()

    def faults_update(self, values: dict) -> None:
        self.faults.switches.update(values)

    def stats_snapshot(self) -> dict:
        snapshot = self.stats.snapshot()
        with self.lock:
            snapshot["objects"] = {kind: len(table) for kind, table in self.objects.items()}
            snapshot["idempotency_keys"] = len(self.idempotency)
        return snapshot

    def expire_idempotency_keys(self) -> int:
        """The switch that makes every stored key expire now (Stripe: after 24 hours)."""
        with self.lock:
            expired = len(self.idempotency)
            self.idempotency.clear()
            return expired

    def now(self) -> int:
        return int(self.clock())

    # --- objects ------------------------------------------------------------------------
    def add(self, obj: dict, **private) -> dict:
        kind = obj["object"]
        self.objects[kind][obj["id"]] = obj
        if private:
            self.private[obj["id"]].update(private)
        if obj.get("metadata"):
            self.index_metadata(obj)
        return obj

    def get(self, kind: str, object_id, *, param: str = "id") -> dict:
        if not isinstance(object_id, str):
            raise missing(KIND_NAMES.get(kind, kind), str(object_id), param=param)
        obj = self.objects[kind].get(object_id)
        if obj is None:
            raise missing(KIND_NAMES.get(kind, kind), object_id, param=param)
        return obj

    def find(self, object_id: str) -> dict | None:
        """Any object by id (for `expand`)."""
        for table in self.objects.values():
            if object_id in table:
                return table[object_id]
        return None

    def all(self, kind: str) -> list[dict]:
        return list(self.objects[kind].values())

    def update_metadata(self, obj: dict, changes: dict) -> None:
        """Stripe's update rule: a key set to "" is removed, others are added or replaced."""
        merged = dict(obj.get("metadata") or {})
        for key, value in changes.items():
            if value == "":
                merged.pop(key, None)
            else:
                merged[key] = value
        obj["metadata"] = merged
        self.index_metadata(obj)

    def index_metadata(self, obj: dict) -> None:
        for key, value in (obj.get("metadata") or {}).items():
            self._metadata_index[(obj["object"], key, value)][obj["id"]] = None

    def by_metadata(self, kind: str, key: str, value: str) -> list[dict]:
        """Objects whose metadata[key] is value now (the index may hold stale ids)."""
        table = self.objects[kind]
        found = []
        for object_id in self._metadata_index.get((kind, key, value), ()):
            obj = table.get(object_id)
            if obj is not None and (obj.get("metadata") or {}).get(key) == value:
                found.append(obj)
        return found

    # --- events -------------------------------------------------------------------------
    def emit(
        self,
        event_type: str,
        obj: dict,
        *,
        account: str | None = None,
        previous_attributes: dict | None = None,
        request: dict | None = None,
    ) -> dict:
        """Record an event about `obj` (a snapshot of it now) and tell the listeners."""
        data = {"object": snapshot(obj)}
        if previous_attributes:
            data["previous_attributes"] = previous_attributes
        event = {
            "id": new_id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": self.now(),
            "data": data,
            "livemode": False,
            "pending_webhooks": 0,
            "request": request or {"id": None, "idempotency_key": None},
            "type": event_type,
        }
        if account:
            event["account"] = account
        self.add(event)
        for listener in self.event_listeners:
            listener(event)
        return event
