"""Balance transactions and the balance they add up to, for the platform and each connected
account. Every money movement writes one balance transaction (`record()`): a charge (+amount,
with the processing fee), a refund (−), a dispute (− amount and the dispute fee), a transfer
(− on the platform, + on the destination account), a reversal (the other way).

A transaction is `pending` until `available_on` (the charge's time plus the stand-in's
`available_after_s` setting, 0 by default), then `available`; transfers may only draw on the
available balance unless they name a `source_transaction`.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from ..api import route
from ..params import take
from ..state import new_id
from .common import list_answer, take_list

PLATFORM = ""  # the `account` of the platform's own balance transactions


def processing_fee(standin, amount: int) -> int:
    """Stripe's card fee: a percentage plus a fixed part, rounded half-up to the minor unit."""
    percent = Decimal(str(standin.settings["fee_percent"]))
    fee = (Decimal(amount) * percent / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return int(fee) + int(standin.settings["fee_fixed_minor"])


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
) -> dict:
    """Write one balance transaction and return it (its id goes on the charge, refund, …)."""
    standin = call.standin
    now = standin.now()
    delay = 0 if immediately_available or amount <= 0 else standin.settings["available_after_s"]
    transaction = {
        "id": new_id("txn"),
        "object": "balance_transaction",
        "amount": amount,
        "available_on": now + int(delay),
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
        "status": "pending" if delay else "available",
        "type": type,
    }
    standin.add(transaction, account=account or PLATFORM)
    return transaction


def _settle(standin, transaction: dict) -> dict:
    """Pending becomes available once its time has come."""
    if transaction["status"] == "pending" and transaction["available_on"] <= standin.now():
        transaction["status"] = "available"
    return transaction


def transactions_of(standin, account: str | None) -> list[dict]:
    wanted = account or PLATFORM
    return [
        _settle(standin, t)
        for t in standin.all("balance_transaction")
        if standin.private[t["id"]].get("account", PLATFORM) == wanted
    ]


def available(standin, currency: str, account: str | None = None) -> int:
    return sum(
        t["net"]
        for t in transactions_of(standin, account)
        if t["currency"] == currency and t["status"] == "available"
    )


def balance_of(standin, account: str | None = None) -> dict:
    totals: dict[tuple[str, str], int] = {}
    currencies = set()
    for transaction in transactions_of(standin, account):
        currencies.add(transaction["currency"])
        key = (transaction["status"], transaction["currency"])
        totals[key] = totals.get(key, 0) + transaction["net"]
    currencies = sorted(currencies) or ["eur"]

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
        from ..errors import missing

        raise missing("balance transaction", transaction_id)
    return _settle(call.standin, transaction)


@route("GET", "/v1/balance_transactions")
def list_transactions(call):
    values = take_list(call, {"source": str, "type": str, "currency": str})
    items = transactions_of(call.standin, call.account)
    for key in ("source", "type", "currency"):
        if key in values:
            items = [item for item in items if item[key] == values[key]]
    return list_answer("/v1/balance_transactions", items, values)
