"""Balance transactions and the balance they add up to, for the platform and each connected
account. Every money movement writes one balance transaction (`record()`): a charge (+amount,
with the processing fee), a refund (−), a dispute (− amount and the dispute fee), a transfer
(− on the platform, + on the destination account), a reversal (the other way).

A transaction is `pending` until `available_on` (the charge's time plus the stand-in's
`available_after_s` setting, 0 by default), then `available`; transfers may only draw on the
available balance unless they name a `source_transaction`.

Each account's balance is kept as it changes (its ledger: running totals per status and
currency, a heap of the transactions still pending, the account's transaction ids in order),
so reading a balance or checking a transfer against it costs the same with 100 transactions
as with 100,000: no request adds up the store. A pending transaction becomes available (its
`status` too) the first time the account's balance or transactions are read after its
`available_on`.
"""

from __future__ import annotations

import heapq
from decimal import Decimal

from core.money import round_minor

from ..api import route
from ..errors import missing
from ..params import take
from ..state import new_id
from .common import list_answer, take_list

PLATFORM = ""  # the `account` of the platform's own balance transactions
_LEDGERS = "index:balance"  # standin.private[_LEDGERS][account]: that account's ledger


def processing_fee(standin, amount: int) -> int:
    """Stripe's card fee: a percentage plus a fixed part, rounded half-up to the minor unit."""
    percent = Decimal(str(standin.settings["fee_percent"]))
    return round_minor(Decimal(amount) * percent / 100) + int(standin.settings["fee_fixed_minor"])


def record(
    call,
    *,
    type: str,
    amount: int,
    currency: str,
    source: str,
    fee: int = 0,
    fee_description: str = "Stripe processing fees",
    description: str | None = None,
    account: str | None = None,
    reporting_category: str | None = None,
    immediately_available: bool = False,
    available_on: int | None = None,
) -> dict:
    """Write one balance transaction and return it (its id goes on the charge, refund, …).

    It is available at once when `immediately_available` or money goes out (amount <= 0),
    at `available_on` when given, else after the `available_after_s` setting."""
    standin = call.standin
    now = standin.now()
    if available_on is None:
        out = immediately_available or amount <= 0
        available_on = now + (0 if out else int(standin.settings["available_after_s"]))
    transaction = {
        "id": new_id("txn"),
        "object": "balance_transaction",
        "amount": amount,
        "available_on": available_on,
        "balance_type": "payments",
        "created": now,
        "currency": currency,
        "description": description,
        "exchange_rate": None,
        "fee": fee,
        "fee_details": (
            [
                {
                    "amount": fee,
                    "application": None,
                    "currency": currency,
                    "description": fee_description,
                    "type": "stripe_fee",
                }
            ]
            if fee
            else []
        ),
        "net": amount - fee,
        "reporting_category": reporting_category or type,
        "source": source,
        "status": "pending" if available_on > now else "available",
        "type": type,
    }
    owner = account or PLATFORM
    standin.add(transaction, account=owner)
    ledger = _ledger(standin, owner)
    ledger["ids"].append(transaction["id"])
    ledger["currencies"].add(currency)
    _add(ledger, transaction["status"], currency, transaction["net"])
    if transaction["status"] == "pending":
        heapq.heappush(ledger["pending"], (available_on, transaction["id"]))
    return transaction


def _ledger(standin, account: str) -> dict:
    """One account's balance as `record()` keeps it: plain containers, in the store's
    `private` table (so that a reset forgets it and a saved store keeps it)."""
    ledgers = standin.private[_LEDGERS]
    ledger = ledgers.get(account)
    if ledger is None:
        ledger = ledgers[account] = {
            "ids": [],  # the account's balance transactions, oldest first
            "totals": {},  # (status, currency) -> the sum of their net amounts
            "currencies": set(),
            "pending": [],  # a heap of (available_on, id) of those still pending
        }
    return ledger


def _add(ledger: dict, status: str, currency: str, net: int) -> None:
    totals = ledger["totals"]
    totals[status, currency] = totals.get((status, currency), 0) + net


def _settled(standin, account: str | None) -> dict:
    """The account's ledger, with the pending transactions whose time has come made
    available (in the totals and on the transactions themselves)."""
    ledger = _ledger(standin, account or PLATFORM)
    pending = ledger["pending"]
    if pending:
        now = standin.now()
        table = standin.objects["balance_transaction"]
        while pending and pending[0][0] <= now:
            _, transaction_id = heapq.heappop(pending)
            transaction = table[transaction_id]
            transaction["status"] = "available"
            _add(ledger, "pending", transaction["currency"], -transaction["net"])
            _add(ledger, "available", transaction["currency"], transaction["net"])
    return ledger


def transactions_of(standin, account: str | None) -> list[dict]:
    """The account's balance transactions, oldest first, their statuses up to date."""
    table = standin.objects["balance_transaction"]
    return [table[transaction_id] for transaction_id in _settled(standin, account)["ids"]]


def available(standin, currency: str, account: str | None = None) -> int:
    return _settled(standin, account)["totals"].get(("available", currency), 0)


def balance_of(standin, account: str | None = None) -> dict:
    ledger = _settled(standin, account)
    totals = ledger["totals"]
    currencies = sorted(ledger["currencies"]) or ["eur"]

    def part(status):
        return [
            {
                "amount": totals.get((status, currency), 0),
                "currency": currency,
                "source_types": {"card": totals.get((status, currency), 0)},
            }
            for currency in currencies
        ]

    return {
        "object": "balance",
        "available": part("available"),
        "connect_reserved": [{"amount": 0, "currency": currency} for currency in currencies],
        "livemode": False,
        "pending": part("pending"),
    }


@route("GET", "/v1/balance")
def retrieve_balance(call):
    take(call.params, {})
    if call.account:
        call.standin.get("account", call.account, param="Stripe-Account")
    return balance_of(call.standin, call.account)


@route("GET", "/v1/balance_transactions/{transaction_id}")
def retrieve(call, transaction_id):
    take(call.params, {})
    transaction = call.standin.get("balance_transaction", transaction_id)
    owner = call.standin.private[transaction_id].get("account", PLATFORM)
    if owner != (call.account or PLATFORM):
        raise missing("balance transaction", transaction_id)
    _settled(call.standin, owner)
    return transaction


@route("GET", "/v1/balance_transactions")
def list_transactions(call):
    values = take_list(call, {"source": str, "type": str, "currency": str})
    items = transactions_of(call.standin, call.account)
    for key in ("source", "type", "currency"):
        if key in values:
            items = [item for item in items if item[key] == values[key]]
    return list_answer("/v1/balance_transactions", items, values)
