"""The Stripe stand-in's per-request work does not grow with its store, and the indexes that make
it so answer what reading the whole store would.

One in-process store (`api.handle` on a `Standin`) is measured with 300 and then with 3,000
charges (and as many customers, saved cards, SetupIntents and events, and a transfer for every
tenth charge): each request's work is counted deterministically (the store's tables count the
entries a request walks through) and timed (the median of 30 calls). Charges are written the
cheap way (`balance.record` and the `charge.succeeded` event, which is what a balance and an
event list see of a charge); customers, cards, SetupIntents and transfers go through the API.
"""

from __future__ import annotations

import random
import statistics
import time
from collections import defaultdict
from types import SimpleNamespace

import pytest

from devtools.stripe_standin.resources import balance, connect
from devtools.stripe_standin.resources.common import newest_first, within
from devtools.stripe_standin.resources.events import _type_matches
from devtools.stripe_standin.state import Standin, new_id
from tests.standin.inprocess_api import Clock, call

SMALL, LARGE = 300, 3000
TIMED_CALLS = 30
MAX_GROWTH = 3  # the median time of a request at LARGE may be at most 3x that at SMALL
TIME_FLOOR_S = 0.0001  # below 0.1 ms, noise is more than the request: compare from there
MAX_WALKED = 20  # stored entries a request may walk through, at either size


class CountingTable(dict):
    """A store table that counts the entries anyone walks through (iteration, keys, values,
    items, reversed); looking an id up is not counted."""

    walked = 0

    def _walk(self, entries):
        for entry in entries:
            CountingTable.walked += 1
            yield entry

    def __iter__(self):
        return self._walk(super().__iter__())

    def __reversed__(self):
        return self._walk(super().__reversed__())

    def keys(self):
        return self._walk(super().keys())

    def values(self):
        return self._walk(super().values())

    def items(self):
        return self._walk(super().items())


def verified_account(standin) -> str:
    account = call(
        standin,
        "POST",
        "/v1/accounts",
        {"type": "express", "country": "BE", "capabilities": {"transfers": {"requested": True}}},
    )
    call(standin, "POST", f"/v1/accounts/{account['id']}/_complete_onboarding")
    return account["id"]


def customer_with_card(standin) -> str:
    customer = call(standin, "POST", "/v1/customers", {})
    call(standin, "POST", "/v1/payment_methods/pm_card_visa/attach", {"customer": customer["id"]})
    return customer["id"]


# --- the store measured at two sizes ---------------------------------------------------------


def grow(store, charges: int) -> None:
    """`charges` more charges, each with its own customer, saved card, SetupIntent and events;
    a transfer to the store's account for every tenth, and a reversal for every twentieth."""
    standin = store.standin
    writer = SimpleNamespace(standin=standin)
    for number in range(charges):
        charge_id = new_id("ch")
        balance.record(
            writer,
            type="charge",
            amount=10_000,
            currency="eur",
            source=charge_id,
            fee=balance.processing_fee(standin, 10_000),
        )
        with standin.lock:
            standin.emit("charge.succeeded", {"id": charge_id, "object": "charge"})
        customer_id = customer_with_card(standin)
        call(standin, "POST", "/v1/setup_intents", {"customer": customer_id})
        if number % 10 == 0:
            transfer = call(
                standin,
                "POST",
                "/v1/transfers",
                {"amount": 500, "currency": "eur", "destination": store.account},
            )
            if number % 20 == 0:
                call(standin, "POST", f"/v1/transfers/{transfer['id']}/reversals", {"amount": 100})
    # Customers with a saved card, for the timed deletes.
    store.doomed = iter([customer_with_card(standin) for _ in range(TIMED_CALLS + 2)])
    store.cursor = next(reversed(standin.objects["event"]))


def requests(store) -> dict:
    """What is measured: each a function making one request."""
    s = store.standin
    customer, account, quiet = store.customer, store.account, store.quiet_account
    to_account = {"amount": 1, "currency": "eur", "destination": account}
    return {
        "POST /v1/transfers": lambda: call(s, "POST", "/v1/transfers", to_account),
        "POST /v1/transfers from a charge": lambda: call(
            s, "POST", "/v1/transfers", {**to_account, "source_transaction": store.charge}
        ),
        "POST /v1/transfers/{id}/reversals": lambda: call(
            s, "POST", f"/v1/transfers/{store.transfer}/reversals", {"amount": 1}
        ),
        "GET /v1/balance": lambda: call(s, "GET", "/v1/balance"),
        "GET /v1/balance of the account": lambda: call(s, "GET", "/v1/balance", account=account),
        "GET /v1/balance_transactions of another account": lambda: call(
            s, "GET", "/v1/balance_transactions", account=quiet
        ),
        "GET /v1/events": lambda: call(s, "GET", "/v1/events"),
        "GET /v1/events?type=transfer.created": lambda: call(
            s, "GET", "/v1/events", {"type": "transfer.created"}
        ),
        "GET /v1/events?type=customer.*": lambda: call(
            s, "GET", "/v1/events", {"type": "customer.*", "limit": 3}
        ),
        "GET /v1/events?starting_after": lambda: call(
            s, "GET", "/v1/events", {"starting_after": store.cursor}
        ),
        "GET /v1/customers/{id}/payment_methods": lambda: call(
            s, "GET", f"/v1/customers/{customer}/payment_methods"
        ),
        "GET /v1/payment_methods?customer": lambda: call(
            s, "GET", "/v1/payment_methods", {"customer": customer, "type": "card"}
        ),
        "GET /v1/setup_intents?customer": lambda: call(
            s, "GET", "/v1/setup_intents", {"customer": customer}
        ),
        "GET /v1/transfers?destination": lambda: call(
            s, "GET", "/v1/transfers", {"destination": quiet}
        ),
        "DELETE /v1/customers/{id}": lambda: call(
            s, "DELETE", f"/v1/customers/{next(store.doomed)}"
        ),
    }


def measure(store) -> dict:
    """Per request: (entries walked by one call, median seconds of TIMED_CALLS calls)."""
    found = {}
    for name, request in requests(store).items():
        request()  # indexes that catch up with the store do so now
        CountingTable.walked = 0
        request()
        walked = CountingTable.walked
        times = []
        for _ in range(TIMED_CALLS):
            start = time.perf_counter()
            request()
            times.append(time.perf_counter() - start)
        found[name] = (walked, statistics.median(times))
    return found


@pytest.fixture
def store():
    clock = Clock()
    standin = Standin(clock=clock)
    standin.objects = defaultdict(CountingTable)
    account, quiet = verified_account(standin), verified_account(standin)
    customer = call(standin, "POST", "/v1/customers", {})["id"]
    for _ in range(3):
        call(standin, "POST", "/v1/payment_methods/pm_card_visa/attach", {"customer": customer})
    call(standin, "POST", "/v1/setup_intents", {"customer": customer})
    payment_intent = call(
        standin,
        "POST",
        "/v1/payment_intents",
        {"amount": 100_000, "currency": "eur", "payment_method": "pm_card_visa", "confirm": True},
    )
    transfer = call(
        standin,
        "POST",
        "/v1/transfers",
        {"amount": 50_000, "currency": "eur", "destination": account},
    )
    call(standin, "POST", "/v1/transfers", {"amount": 100, "currency": "eur", "destination": quiet})
    return SimpleNamespace(
        standin=standin,
        clock=clock,
        account=account,
        quiet_account=quiet,
        customer=customer,
        charge=payment_intent["latest_charge"],
        transfer=transfer["id"],
    )


def test_per_request_work_does_not_grow_with_the_store(store):
    grow(store, SMALL)
    small = measure(store)
    grow(store, LARGE - SMALL)
    assert len(store.standin.objects["balance_transaction"]) > LARGE
    large = measure(store)

    for name, (walked, median) in large.items():
        small_walked, small_median = small[name]
        assert walked <= MAX_WALKED and walked <= small_walked + 2, (
            f"{name} walked through {small_walked} stored entries with {SMALL} charges and "
            f"{walked} with {LARGE}"
        )
        assert median <= MAX_GROWTH * max(small_median, TIME_FLOOR_S), (
            f"{name} took {small_median * 1000:.3f} ms with {SMALL} charges and "
            f"{median * 1000:.3f} ms with {LARGE}"
        )


# --- the indexes answer what reading the store would ------------------------------------------


def test_kept_balances_add_up_to_their_transactions_as_funds_become_available(store):
    standin, clock, account = store.standin, store.clock, store.account
    standin.settings["available_after_s"] = 3600
    charges = [
        call(
            standin,
            "POST",
            "/v1/payment_intents",
            {"amount": 2_000 * n, "currency": currency, "payment_method": "pm_card_visa"}
            | {"confirm": True},
        )["latest_charge"]
        for n, currency in ((1, "eur"), (2, "eur"), (3, "usd"))
    ]
    clock.now += 1800
    call(standin, "POST", "/v1/refunds", {"charge": charges[1], "amount": 500})
    moved = call(
        standin,
        "POST",
        "/v1/transfers",
        {
            "amount": 1_500,
            "currency": "eur",
            "destination": account,
            "source_transaction": charges[0],
        },
    )
    call(standin, "POST", f"/v1/transfers/{moved['id']}/reversals", {"amount": 400})
    left = connect.source_left(standin, standin.get("charge", charges[0]))
    assert left == 2_000 - 1_500 + 400
    refused = call(
        standin,
        "POST",
        "/v1/transfers",
        {"amount": left + 1, "currency": "eur", "destination": account}
        | {"source_transaction": charges[0]},
        status=400,
    )
    assert refused["error"]["code"] == "balance_insufficient"

    for step in range(4):
        for owner in (None, account):
            assert_balance_is_the_sum_of_its_transactions(standin, owner)
        clock.now += 1000 * step


def assert_balance_is_the_sum_of_its_transactions(standin, owner):
    now = standin.now()
    expected = defaultdict(int)
    for transaction in list(standin.objects["balance_transaction"].values()):
        if standin.private[transaction["id"]]["account"] == (owner or balance.PLATFORM):
            status = "available" if transaction["available_on"] <= now else "pending"
            expected[status, transaction["currency"]] += transaction["net"]
            retrieved = call(
                standin, "GET", f"/v1/balance_transactions/{transaction['id']}", account=owner
            )
            assert retrieved["status"] == status
    answer = call(standin, "GET", "/v1/balance", account=owner)
    for status in ("available", "pending"):
        for part in answer[status]:
            assert part["amount"] == expected[status, part["currency"]], (owner, status, part)


def test_a_customers_cards_are_listed_however_they_were_saved(store):
    standin = store.standin
    customer = call(standin, "POST", "/v1/customers", {})["id"]
    other = customer_with_card(standin)
    attached = call(
        standin, "POST", "/v1/payment_methods/pm_card_visa/attach", {"customer": customer}
    )
    set_up = call(
        standin,
        "POST",
        "/v1/setup_intents",
        {"customer": customer, "payment_method": "pm_card_visa", "confirm": True},
    )
    paid = call(
        standin,
        "POST",
        "/v1/payment_intents",
        {"amount": 1_000, "currency": "eur", "customer": customer, "payment_method": "pm_card_visa"}
        | {"confirm": True, "setup_future_usage": "off_session"},
    )
    saved = [paid["payment_method"], set_up["payment_method"], attached["id"]]  # newest first

    def listed():
        by_path = call(standin, "GET", f"/v1/customers/{customer}/payment_methods")["data"]
        by_param = call(standin, "GET", "/v1/payment_methods", {"customer": customer})["data"]
        assert by_path == by_param
        return [card["id"] for card in by_path]

    assert listed() == saved
    call(standin, "POST", f"/v1/payment_methods/{saved[1]}/detach")
    assert listed() == [saved[0], saved[2]]
    setup_intents = call(standin, "GET", "/v1/setup_intents", {"customer": customer})["data"]
    assert [intent["id"] for intent in setup_intents] == [set_up["id"]]

    call(standin, "DELETE", f"/v1/customers/{customer}")
    for card_id in saved:
        card = standin.get("payment_method", card_id)
        assert card["customer"] is None and standin.private[card_id]["detached"]
    assert len(call(standin, "GET", f"/v1/customers/{other}/payment_methods")["data"]) == 1


EVENT_TYPES = [
    "charge.succeeded",
    "charge.refunded",
    "charge.dispute.created",
    "customer.created",
    "customer.updated",
    "payment_intent.succeeded",
]


def events_read_from_the_store(standin, account, params):
    """What GET /v1/events answers, worked out by reading every event (None: a 400)."""
    matching = [
        event
        for event in standin.objects["event"].values()
        if event.get("account") == account
        and _type_matches(event["type"], params)
        and all(within(event["created"], op, value) for op, value in params["bounds"].items())
    ]
    ordered = newest_first(matching)
    ids = [event["id"] for event in ordered]
    limit = params.get("limit", 10)
    for cursor in ("starting_after", "ending_before"):
        if cursor in params and params[cursor] not in ids:
            return None
    if "starting_after" in params:
        older = ids[ids.index(params["starting_after"]) + 1 :]
        return older[:limit], len(older) > limit
    if "ending_before" in params:
        # Toward newer events; has_more says whether there are more that way (as the SDK's
        # auto-pagination backwards reads it).
        newer = ids[: ids.index(params["ending_before"])]
        return newer[-limit:], len(newer) > limit
    return ids[:limit], len(ids) > limit


@pytest.mark.parametrize("clock_goes_back", [False, True])
def test_event_pages_are_what_reading_every_event_gives(clock_goes_back):
    chooser = random.Random(20_260_101)
    clock = Clock()
    standin = Standin(clock=clock)
    steps = [0, 0, 1, 2, -3] if clock_goes_back else [0, 0, 1, 2]
    for _ in range(120):
        clock.now += chooser.choice(steps)
        with standin.lock:
            standin.emit(
                chooser.choice(EVENT_TYPES),
                {"id": "obj_1", "object": "thing"},
                account=chooser.choice([None, None, "acct_a", "acct_b"]),
            )
    now = int(clock.now)
    ids = [*standin.objects["event"], "evt_unknown"]
    for _ in range(400):
        account = chooser.choice([None, "acct_a", "acct_unknown"])
        params = {"limit": chooser.choice([1, 2, 3, 10, 100])}
        kind = chooser.random()
        if kind < 0.3:
            params["type"] = chooser.choice([*EVENT_TYPES, "charge.*", "*.created", "nope.nope"])
        elif kind < 0.45:
            params["types"] = chooser.sample(EVENT_TYPES, chooser.randint(1, 3))
        bounds = {}
        if chooser.random() < 0.4:
            for op in chooser.sample(["gt", "gte", "lt", "lte"], chooser.randint(1, 2)):
                bounds[op] = chooser.randint(now - 200, now + 2)
        elif chooser.random() < 0.1:
            params["created"] = bounds["eq"] = chooser.randint(now - 200, now)
        if bounds and "created" not in params:
            params["created"] = dict(bounds)
        cursor = chooser.random()
        if cursor < 0.3:
            params["starting_after"] = chooser.choice(ids)
        elif cursor < 0.5:
            params["ending_before"] = chooser.choice(ids)

        expected = events_read_from_the_store(standin, account, {**params, "bounds": bounds})
        answer = call(
            standin,
            "GET",
            "/v1/events",
            params,
            account=account,
            status=200 if expected is not None else 400,
        )
        if expected is None:
            assert answer["error"]["code"] == "resource_missing", params
        else:
            got = ([event["id"] for event in answer["data"]], answer["has_more"])
            assert got == expected, (account, params)
