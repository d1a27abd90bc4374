"""The in-process door: `StripeGateway` and the official SDK talking to a `Standin` without a
socket, for fast unit tests.

`InProcessHTTPClient` is a `stripe.HTTPClient` that hands each request to the same dispatcher
the HTTP server uses (`api.handle`), so the SDK's encoding, error mapping and `StripeGateway`'s
translation all run as they do against Stripe. `FakeGateway` is `StripeGateway` over that
client, plus what tests need: `fail_next` / `latency` / `calls` per gateway call, views of the
store (`setup_intents`, `payment_methods`, `connected_accounts`, `transfers`, …) and the
member's part in the browser (`confirm_setup_intent`, `authenticate_payment`, an organizer's
`complete_onboarding`), which neither counts as a call nor fails.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import MutableMapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import stripe
from requests.structures import CaseInsensitiveDict

from payments.gateway import Customer, PaymentDeclined, PaymentProviderError
from payments.stripe_gateway import (
    _WITH_FEE,
    StripeGateway,
    _charge,
    _connected_account,
    _payment_method,
    _setup_intent,
    _transfer,
)

from . import api, forms
from .state import Standin

SECRET_KEY = "sk_test_standin_inprocess"
PUBLISHABLE_KEY = "pk_test_standin_inprocess"


class InProcessHTTPClient(stripe.HTTPClient):
    name = "stripe-standin-inprocess"

    def __init__(self, standin: Standin):
        super().__init__()
        self.standin = standin
        self._pending_failure = threading.local()

    def fail_next_request(self) -> None:
        """This thread's next request answers 503, as a brief outage in front of Stripe."""
        self._pending_failure.active = True

    def request(self, method, url, headers, post_data=None, **_ignored):
        parts = urlsplit(url)
        if getattr(self._pending_failure, "active", False):
            self._pending_failure.active = False
            body = (
                b'{"error": {"type": "api_error", "message": "Injected (FakeGateway.fail_next)."}}'
            )
            return body, 503, CaseInsensitiveDict({"Stripe-Should-Retry": "true"})
        reply = api.handle(
            self.standin,
            method,
            parts.path,
            query=parts.query,
            body=post_data or b"",
            headers=dict(headers or {}),
        )
        if reply.delay:
            time.sleep(reply.delay)
        if reply.drop:
            raise stripe.APIConnectionError(
                "The connection closed before the response arrived (stand-in fault switch).",
                should_retry=True,
            )
        return reply.json(), reply.status, CaseInsensitiveDict(reply.headers)

    def request_stream(self, method, url, headers, post_data=None, **_ignored):
        return self.request(method, url, headers, post_data)

    def close(self):
        pass


# The gateway methods that are calls to the provider (verify_webhook is local computation).
GATEWAY_CALLS = (
    "create_customer",
    "delete_customer",
    "create_setup_intent",
    "retrieve_setup_intent",
    "cancel_setup_intent",
    "attach_payment_method",
    "detach_payment_method",
    "charge_saved_card",
    "retrieve_payment",
    "cancel_payment",
    "find_payments",
    "list_payments",
    "refund",
    "list_refunds",
    "retrieve_refund",
    "find_refunds",
    "create_connected_account",
    "retrieve_connected_account",
    "create_account_link",
    "create_transfer",
    "retrieve_transfer",
    "find_transfers",
    "list_transfers",
    "reverse_transfer",
    "retrieve_balance",
)


class FakeGateway(StripeGateway):
    def __init__(
        self,
        *,
        webhook_secret="whsec_fake",  # noqa: S107
        connect_webhook_secret="whsec_fake_connect",  # noqa: S107
        latency=0.0,
        fail_next=0,
        standin: Standin | None = None,
        max_network_retries=0,
        install_id: str | None = None,
    ):
        self.standin = standin or Standin()
        self.http_client = InProcessHTTPClient(self.standin)
        super().__init__(
            secret_key=SECRET_KEY,
            api_base="http://stripe-standin.invalid",
            webhook_secret=webhook_secret,
            connect_webhook_secret=connect_webhook_secret,
            max_network_retries=max_network_retries,
            http_client=self.http_client,
            install_id=install_id,  # None: the database's, as in production
        )
        self.latency = latency  # seconds added to every gateway call
        self.fail_next = fail_next  # the next N gateway calls fail retryably (HTTP 503)
        self.calls = 0  # gateway calls made (failed ones included)
        self._lock = threading.Lock()
        self.customers = _View(self.standin, "customer", _customer)
        self.setup_intents = _View(self.standin, "setup_intent", _setup_intent)
        self.payment_methods = _View(self.standin, "payment_method", self._card)
        self.payment_intents = _View(self.standin, "payment_intent", _charge)
        self.refunds = _View(self.standin, "refund", lambda refund: refund)
        self.connected_accounts = _View(self.standin, "account", _connected_account)
        self.transfers = _View(self.standin, "transfer", _transfer)

    def _call(self) -> None:
        """Every gateway call starts here: injected latency, then an injected outage."""
        if self.latency:
            time.sleep(self.latency)
        with self._lock:
            self.calls += 1
            fail = self.fail_next > 0
            if fail:
                self.fail_next -= 1
        if fail:
            self.http_client.fail_next_request()

    # --- the member's part, in the browser (not gateway calls) ---------------------------
    def browser(self, method: str, path: str, params: dict | None = None) -> tuple[int, dict]:
        """A request as Stripe.js would make it (the publishable key)."""
        reply = api.handle(
            self.standin,
            method,
            path,
            body=forms.encode(params or {}),
            headers={"Authorization": f"Bearer {PUBLISHABLE_KEY}"},
        )
        return reply.status, reply.body

    def confirm_setup_intent(self, setup_intent_id, payment_method="pm_card_visa"):
        """Stripe.js confirming the card form; a decline raises PaymentDeclined."""
        intent = self.standin.get("setup_intent", setup_intent_id)
        status, body = self.browser(
            "POST",
            f"/v1/setup_intents/{setup_intent_id}/confirm",
            {"payment_method": payment_method, "client_secret": intent["client_secret"]},
        )
        _raise_for(status, body)
        return _setup_intent(body)

    def authenticate_setup_intent(self, setup_intent_id, *, success=True):
        """The member passes (or fails) 3-D Secure on the card form."""
        intent = self.standin.get("setup_intent", setup_intent_id)
        status, body = self.browser(
            "POST",
            f"/v1/setup_intents/{setup_intent_id}/_authenticate",
            {"client_secret": intent["client_secret"], "success": success},
        )
        _raise_for(status, body)
        return _setup_intent(body)

    def authenticate_payment(self, payment_intent_id, *, success=True):
        """The member completes a charge that needs 3-D Secure on the payment page: confirm it
        on-session with its card, then pass (or fail) the 3-D Secure page."""
        intent = self.standin.get("payment_intent", payment_intent_id)
        secret = intent["client_secret"]
        if intent["status"] == "requires_payment_method":
            card = intent["payment_method"] or (intent.get("last_payment_error") or {}).get(
                "payment_method", {}
            ).get("id")
            status, body = self.browser(
                "POST",
                f"/v1/payment_intents/{payment_intent_id}/confirm",
                {"client_secret": secret, "payment_method": card},
            )
            _raise_for(status, body)
        status, body = self.browser(
            "POST",
            f"/v1/payment_intents/{payment_intent_id}/_authenticate",
            # With the fee, as StripeGateway.retrieve_payment answers.
            {"client_secret": secret, "success": success, "expand": _WITH_FEE},
        )
        _raise_for(status, body)
        return _charge(body)

    def complete_onboarding(self, account_id, *, outcome="verified"):
        """The organizer submits the hosted onboarding page: "verified", or "restricted" (a
        verification document still due). Emits account.updated, as Stripe does."""
        reply = api.handle(
            self.standin,
            "POST",
            f"/v1/accounts/{account_id}/_complete_onboarding",
            body=forms.encode({"outcome": outcome}),
            headers={"Authorization": f"Bearer {SECRET_KEY}"},
        )
        _raise_for(reply.status, reply.body)
        return _connected_account(reply.body)

    def _card(self, payment_method: dict) -> _Card:
        private = self.standin.private[payment_method["id"]]
        return _Card(_payment_method(payment_method), bool(private.get("detached")))


for _name in GATEWAY_CALLS:

    def _counted(method):
        @functools.wraps(method)
        def call(self, *args, **kwargs):
            self._call()
            return method(self, *args, **kwargs)

        return call

    setattr(FakeGateway, _name, _counted(getattr(StripeGateway, _name)))


@dataclass(frozen=True)
class _Card:
    card: object  # payments.gateway.PaymentMethod
    detached: bool

    def __getattr__(self, name):
        return getattr(self.card, name)


def _customer(customer: dict) -> Customer:
    return Customer(id=customer["id"], email=customer["email"] or "", name=customer["name"] or "")


def _raise_for(status: int, body: dict) -> None:
    if status == 200:
        return
    error = body.get("error") or {}
    if status == 402:
        raise PaymentDeclined(
            error.get("message") or "Your card was declined.",
            decline_code=error.get("decline_code") or error.get("code") or "card_declined",
        )
    raise PaymentProviderError(
        code=error.get("code") or "", detail=f"HTTP {status}: {error.get('message')}"
    )


class _View(MutableMapping):
    """The store's objects of one kind as the gateway's values (tests read and delete them)."""

    def __init__(self, standin: Standin, kind: str, convert):
        self._standin, self._kind, self._convert = standin, kind, convert

    @property
    def _table(self) -> dict:
        return self._standin.objects[self._kind]

    def __getitem__(self, object_id):
        return self._convert(self._table[object_id])

    def __setitem__(self, object_id, value):
        raise TypeError("change the stand-in through the API, not the view")

    def __delitem__(self, object_id):
        with self._standin.lock:
            del self._table[object_id]

    def __iter__(self):
        return iter(list(self._table))

    def __len__(self):
        return len(self._table)
