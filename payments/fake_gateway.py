"""An in-memory payment provider of our own, for load tests and fault injection.

It behaves like Stripe where localstripe does not (it honours idempotency keys, answers at
memory speed, can add latency or fail on demand) and is held to the same provider contract
suite as localstripe and real Stripe. Test card ids: `pm_card_visa` (succeeds),
`pm_card_chargeCustomerFail` (declined off-session), `pm_card_authenticationRequired`
(needs 3-D Secure). Never configured in production.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import replace

from payments.gateway import (
    WEBHOOK_TOLERANCE_SECONDS,
    Charge,
    ChargeStatus,
    Customer,
    PaymentDeclined,
    PaymentMethod,
    PaymentProviderError,
    Refund,
    SetupIntent,
)
from payments.stripe_gateway import StripeGateway

DECLINE_CARDS = {"pm_card_chargeCustomerFail": "card_declined"}
AUTHENTICATION_CARDS = {"pm_card_authenticationRequired"}
KNOWN_CARDS = {"pm_card_visa", *DECLINE_CARDS, *AUTHENTICATION_CARDS}


class FakeGateway:
    def __init__(self, *, webhook_secret="whsec_fake", latency=0.0, fail_next=0):  # noqa: S107
        self.webhook_secret = webhook_secret
        self.webhook_tolerance = WEBHOOK_TOLERANCE_SECONDS
        self.latency = latency
        self.fail_next = fail_next  # the next N calls raise a retryable provider error
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.customers: dict[str, Customer] = {}
        self.setup_intents: dict[str, SetupIntent] = {}
        self.payment_methods: dict[str, PaymentMethod] = {}
        self.charges: dict[str, Charge] = {}
        self.charge_amounts: dict[str, int] = {}
        self.refunds: dict[str, Refund] = {}
        self._idempotent: dict[str, object] = {}
        self._test_card_of: dict[str, str] = {}  # our pm id -> the test card it was made from
        self.calls = 0

    # --- plumbing ------------------------------------------------------------------------
    def _call(self):
        if self.latency:
            time.sleep(self.latency)
        with self._lock:
            self.calls += 1
            if self.fail_next:
                self.fail_next -= 1
                raise PaymentProviderError(retryable=True, code="fake_outage", detail="injected")

    def _id(self, prefix):
        return f"{prefix}_fake{next(self._ids)}"

    # --- customers and cards ---------------------------------------------------------------
    def create_customer(self, email, name, member_id):
        self._call()
        customer = Customer(id=self._id("cus"), email=email, name=name)
        self.customers[customer.id] = customer
        return customer

    def delete_customer(self, customer_id):
        self._call()
        self.customers.pop(customer_id, None)

    def create_setup_intent(self, customer_id, metadata=None):
        self._call()
        if customer_id not in self.customers:
            raise PaymentProviderError(code="resource_missing", detail=customer_id)
        intent_id = self._id("seti")
        intent = SetupIntent(
            id=intent_id,
            client_secret=f"{intent_id}_secret_fake",
            status="requires_payment_method",
            customer_id=customer_id,
            metadata={k: str(v) for k, v in (metadata or {}).items()},
        )
        self.setup_intents[intent_id] = intent
        return intent

    def confirm_setup_intent(self, setup_intent_id, payment_method="pm_card_visa"):
        """What Stripe.js does on the card page (a test hook, not part of the interface)."""
        intent = self.setup_intents[setup_intent_id]
        if payment_method not in KNOWN_CARDS:
            raise PaymentDeclined(decline_code="invalid_card")
        card = PaymentMethod(id=self._id("pm"), brand="visa", last4="4242")
        self.payment_methods[card.id] = card
        self._test_card_of[card.id] = payment_method
        intent = replace(intent, status="succeeded", payment_method_id=card.id)
        self.setup_intents[setup_intent_id] = intent
        return intent

    def retrieve_setup_intent(self, setup_intent_id):
        self._call()
        try:
            return self.setup_intents[setup_intent_id]
        except KeyError:
            raise PaymentProviderError(code="resource_missing", detail=setup_intent_id) from None

    def attach_payment_method(self, payment_method_id, customer_id):
        self._call()
        card = self.payment_methods.get(payment_method_id)
        if card is None:
            raise PaymentProviderError(code="resource_missing", detail=payment_method_id)
        card = replace(card, customer_id=customer_id)
        self.payment_methods[payment_method_id] = card
        return card

    def detach_payment_method(self, payment_method_id):
        self._call()
        card = self.payment_methods.get(payment_method_id)
        if card is None:
            raise PaymentProviderError(code="resource_missing", detail=payment_method_id)
        card = replace(card, customer_id=None)
        self.payment_methods[payment_method_id] = card
        return card

    # --- money -----------------------------------------------------------------------------
    def charge_saved_card(
        self, customer_id, payment_method_id, amount_minor, currency, idempotency_key, metadata=None
    ):
        self._call()
        with self._lock:
            if idempotency_key in self._idempotent:
                return self._idempotent[idempotency_key]
            test_card = self._test_card_of.get(payment_method_id, payment_method_id)
            intent_id = self._id("pi")
            if test_card in DECLINE_CARDS:
                charge = Charge(
                    id=intent_id,
                    status=ChargeStatus.FAILED,
                    decline_code=DECLINE_CARDS[test_card],
                    failure_message="Your card was declined.",
                )
            elif test_card in AUTHENTICATION_CARDS:
                charge = Charge(
                    id=intent_id,
                    status=ChargeStatus.REQUIRES_ACTION,
                    client_secret=f"{intent_id}_secret_fake",
                )
            else:
                charge = Charge(
                    id=intent_id, status=ChargeStatus.SUCCEEDED, charge_id=self._id("ch")
                )
                self.charge_amounts[intent_id] = amount_minor
            self.charges[intent_id] = charge
            self._idempotent[idempotency_key] = charge
            return charge

    def retrieve_payment(self, payment_intent_id):
        self._call()
        try:
            return self.charges[payment_intent_id]
        except KeyError:
            raise PaymentProviderError(code="resource_missing", detail=payment_intent_id) from None

    def refund(self, charge_or_payment_intent_id, amount_minor, idempotency_key):
        self._call()
        with self._lock:
            if idempotency_key in self._idempotent:
                return self._idempotent[idempotency_key]
            intent_id = next(
                (
                    pi
                    for pi, c in self.charges.items()
                    if charge_or_payment_intent_id in (pi, c.charge_id)
                ),
                None,
            )
            if intent_id is None or intent_id not in self.charge_amounts:
                raise PaymentProviderError(
                    code="resource_missing", detail=charge_or_payment_intent_id
                )
            refunded = sum(
                r.amount_minor for r in self.refunds.values() if r.payment_intent_id == intent_id
            )
            amount = (
                self.charge_amounts[intent_id] - refunded if amount_minor is None else amount_minor
            )
            if amount <= 0 or refunded + amount > self.charge_amounts[intent_id]:
                raise PaymentProviderError(code="charge_already_refunded", detail=intent_id)
            refund = Refund(
                id=self._id("re"),
                status="succeeded",
                amount_minor=amount,
                charge_id=self.charges[intent_id].charge_id,
                payment_intent_id=intent_id,
            )
            self.refunds[refund.id] = refund
            self._idempotent[idempotency_key] = refund
            return refund

    # The same signature check as for Stripe: one implementation of the scheme.
    verify_webhook = StripeGateway.verify_webhook
