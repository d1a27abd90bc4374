"""An in-memory payment provider of our own, for load tests and fault injection.

It behaves like Stripe where localstripe does not (it honours idempotency keys, caps refunds,
refuses a detached or someone else's card, answers unknown ids with `resource_missing`),
answers at memory speed, can add latency or fail on demand, and is held to the same provider
contract suite (tests/contract) as localstripe and real Stripe. Never configured in production.

Cards are Stripe's test ids (`TEST_CARDS`): `pm_card_visa` succeeds, `pm_card_visa_chargeDeclined`
is declined when saved, `pm_card_chargeCustomerFail` is declined off-session and
`pm_card_authenticationRequired` needs 3-D Secure. As on Stripe, attaching or confirming with a
test id makes a new `pm_…` card; use the id that comes back.

Test hooks (not part of the gateway interface; they stand for what the member's browser does,
so neither latency nor `fail_next` applies to them): `confirm_setup_intent()` (Stripe.js
confirming the card form) and `authenticate_payment()` (3-D Secure on the payment page).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from dataclasses import dataclass, field, replace

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


@dataclass(frozen=True)
class CardBehaviour:
    """How one of Stripe's test cards behaves."""

    brand: str
    last4: str
    declined_when_saved: str = ""  # decline code when attaching / setting it up fails
    declined_off_session: str = ""  # decline code of every off-session charge
    requires_authentication: bool = False


TEST_CARDS = {
    "pm_card_visa": CardBehaviour("visa", "4242"),
    "pm_card_mastercard": CardBehaviour("mastercard", "4444"),
    "pm_card_visa_chargeDeclined": CardBehaviour(
        "visa", "0002", declined_when_saved="generic_decline"
    ),
    "pm_card_visa_chargeDeclinedInsufficientFunds": CardBehaviour(
        "visa", "9995", declined_when_saved="insufficient_funds"
    ),
    "pm_card_chargeCustomerFail": CardBehaviour(
        "visa", "0341", declined_off_session="generic_decline"
    ),
    "pm_card_authenticationRequired": CardBehaviour("visa", "3184", requires_authentication=True),
}

# Stripe's messages, as the member or the logs would see them.
DECLINED = "Your card was declined."
AUTHENTICATION_REQUIRED = "Your card was declined. This transaction requires authentication."
AUTHENTICATION_FAILED = (
    "We are unable to authenticate your payment method. Please choose a different payment "
    "method and try again."
)
CARD_EXPIRY_YEAR = dt.date.today().year + 5


@dataclass
class _Card:
    id: str
    behaviour: CardBehaviour
    customer_id: str | None = None
    detached: bool = False  # Stripe never lets a detached card be used again

    def public(self) -> PaymentMethod:
        return PaymentMethod(
            id=self.id,
            customer_id=self.customer_id,
            brand=self.behaviour.brand,
            last4=self.behaviour.last4,
            exp_month=12,
            exp_year=CARD_EXPIRY_YEAR,
        )


@dataclass
class _PaymentIntent:
    id: str
    customer_id: str
    payment_method_id: str
    amount: int
    currency: str
    metadata: dict[str, str]
    status: ChargeStatus
    charge_id: str | None = None
    decline_code: str = ""
    failure_message: str = ""
    refunded: int = 0
    client_secret: str = field(init=False)

    def __post_init__(self):
        self.client_secret = f"{self.id}_secret_{uuid.uuid4().hex[:24]}"

    def public(self) -> Charge:
        return Charge(
            id=self.id,
            status=self.status,
            decline_code=self.decline_code,
            charge_id=self.charge_id,
            client_secret=(
                self.client_secret if self.status == ChargeStatus.REQUIRES_ACTION else None
            ),
            failure_message=self.failure_message,
        )


def _missing(kind, object_id):
    return PaymentProviderError(code="resource_missing", detail=f"No such {kind}: '{object_id}'")


def _refused(detail, code=""):
    """A request Stripe refuses with HTTP 400 (not worth retrying)."""
    return PaymentProviderError(code=code, detail=detail)


class FakeGateway:
    def __init__(self, *, webhook_secret="whsec_fake", latency=0.0, fail_next=0):  # noqa: S107
        self.webhook_secret = webhook_secret
        self.webhook_tolerance = WEBHOOK_TOLERANCE_SECONDS
        self.latency = latency  # seconds added to every gateway call
        self.fail_next = fail_next  # the next N gateway calls raise a retryable provider error
        self.calls = 0  # gateway calls made (failed ones included)
        self._lock = threading.RLock()
        self.customers: dict[str, Customer] = {}
        self.setup_intents: dict[str, SetupIntent] = {}
        self.payment_methods: dict[str, _Card] = {}
        self.payment_intents: dict[str, _PaymentIntent] = {}
        self.refunds: dict[str, Refund] = {}
        self._intent_of_charge: dict[str, str] = {}
        # idempotency key -> (endpoint, parameters, result), like Stripe (without its 24 h expiry)
        self._idempotent: dict[str, tuple[str, tuple, object]] = {}

    # --- plumbing ------------------------------------------------------------------------
    def _call(self):
        """Every gateway call starts here: injected latency, then an injected outage."""
        if self.latency:
            time.sleep(self.latency)
        with self._lock:
            self.calls += 1
            if self.fail_next:
                self.fail_next -= 1
                # Like a connection error or a Stripe 5xx: nothing happened, try again later.
                raise PaymentProviderError(retryable=True, code="fake_outage", detail="injected")

    @staticmethod
    def _id(prefix):
        return f"{prefix}_fake{uuid.uuid4().hex[:16]}"

    def _once(self, idempotency_key, endpoint, params, make):
        """Run `make` once per key; replay its result, refuse the key with other parameters.

        Only results are kept: a request refused by validation is not, as on Stripe.
        Call with the lock held.
        """
        saved = self._idempotent.get(idempotency_key)
        if saved is not None:
            if saved[:2] != (endpoint, params):
                # Stripe's IdempotencyError (HTTP 400) carries no error code.
                raise _refused(
                    "idempotency_error: Keys for idempotent requests can only be used with the "
                    f"same parameters they were first used with ('{idempotency_key}')."
                )
            return saved[2]
        result = make()
        self._idempotent[idempotency_key] = (endpoint, params, result)
        return result

    def _customer(self, customer_id):
        if customer_id not in self.customers:
            raise _missing("customer", customer_id)
        return self.customers[customer_id]

    def _card(self, payment_method_id):
        """An existing card, or a new one made from one of Stripe's test ids."""
        if payment_method_id in TEST_CARDS:
            card = _Card(id=self._id("pm"), behaviour=TEST_CARDS[payment_method_id])
            self.payment_methods[card.id] = card
            return card
        card = self.payment_methods.get(payment_method_id)
        if card is None:
            raise _missing("PaymentMethod", payment_method_id)
        return card

    @staticmethod
    def _usable(card, customer_id):
        if card.detached:
            raise _refused(
                f"The PaymentMethod {card.id} was detached from a Customer. "
                "It may not be used again."
            )
        if card.customer_id not in (None, customer_id):
            raise _refused(
                f"The PaymentMethod {card.id} has already been attached to another customer."
            )

    # --- customers -------------------------------------------------------------------------
    def create_customer(self, email, name, member_id):
        self._call()

        def make():
            customer = Customer(id=self._id("cus"), email=email, name=name)
            self.customers[customer.id] = customer
            return customer

        with self._lock:  # the same idempotency key as StripeGateway sends
            return self._once(
                f"member-{member_id}-customer", "customers", (email, name, str(member_id)), make
            )

    def delete_customer(self, customer_id):
        self._call()
        with self._lock:
            self._customer(customer_id)
            del self.customers[customer_id]
            for card in self.payment_methods.values():
                if card.customer_id == customer_id:
                    card.customer_id, card.detached = None, True

    # --- saving a card ---------------------------------------------------------------------
    def create_setup_intent(self, customer_id, metadata=None):
        self._call()
        with self._lock:
            self._customer(customer_id)
            intent_id = self._id("seti")
            intent = SetupIntent(
                id=intent_id,
                client_secret=f"{intent_id}_secret_{uuid.uuid4().hex[:24]}",
                status="requires_payment_method",
                customer_id=customer_id,
                metadata={str(k): str(v) for k, v in (metadata or {}).items()},
            )
            self.setup_intents[intent_id] = intent
            return intent

    def confirm_setup_intent(self, setup_intent_id, payment_method="pm_card_visa"):
        """Test hook: what Stripe.js does when the member submits the card form.

        As on Stripe, the card is attached to the SetupIntent's customer; a card declined when
        saved raises PaymentDeclined and leaves the SetupIntent waiting for another card.
        """
        with self._lock:
            intent = self.setup_intents.get(setup_intent_id)
            if intent is None:
                raise _missing("setup_intent", setup_intent_id)
            if intent.status != "requires_payment_method":
                raise _refused(
                    f"You cannot confirm this SetupIntent because it has status {intent.status}.",
                    code="setup_intent_unexpected_state",
                )
            card = self._card(payment_method)
            self._usable(card, intent.customer_id)
            if card.behaviour.declined_when_saved:
                # As on Stripe: the SetupIntent waits for another card and says why.
                self.setup_intents[setup_intent_id] = replace(
                    intent,
                    last_error_code="card_declined",
                    decline_code=card.behaviour.declined_when_saved,
                    last_error_message=DECLINED,
                    last_error_payment_method_id=card.id,
                )
                raise PaymentDeclined(
                    DECLINED, decline_code=card.behaviour.declined_when_saved, detail=card.id
                )
            card.customer_id = intent.customer_id
            intent = SetupIntent(
                id=intent.id,
                client_secret=intent.client_secret,
                status="succeeded",
                payment_method_id=card.id,
                customer_id=intent.customer_id,
                metadata=intent.metadata,
            )
            self.setup_intents[setup_intent_id] = intent
            return intent

    def retrieve_setup_intent(self, setup_intent_id):
        self._call()
        with self._lock:
            intent = self.setup_intents.get(setup_intent_id)
            if intent is None:
                raise _missing("setup_intent", setup_intent_id)
            return intent

    def cancel_setup_intent(self, setup_intent_id):
        self._call()
        with self._lock:
            intent = self.setup_intents.get(setup_intent_id)
            if intent is None:
                raise _missing("setup_intent", setup_intent_id)
            if intent.status == "canceled":
                return intent
            if intent.status == "succeeded":  # Stripe's answer (localstripe cancels anyway)
                raise _refused(
                    "You cannot cancel this SetupIntent because it has a status of succeeded.",
                    code="setup_intent_unexpected_state",
                )
            intent = replace(intent, status="canceled")
            self.setup_intents[setup_intent_id] = intent
            return intent

    def attach_payment_method(self, payment_method_id, customer_id):
        self._call()
        with self._lock:
            self._customer(customer_id)
            card = self._card(payment_method_id)
            if card.customer_id == customer_id:  # already attached (after a SetupIntent)
                return card.public()
            self._usable(card, customer_id)
            if card.behaviour.declined_when_saved:
                raise PaymentDeclined(
                    DECLINED, decline_code=card.behaviour.declined_when_saved, detail=card.id
                )
            card.customer_id = customer_id
            return card.public()

    def detach_payment_method(self, payment_method_id):
        self._call()
        with self._lock:
            card = self._card(payment_method_id)
            if card.customer_id is not None:
                card.customer_id, card.detached = None, True
            return card.public()

    # --- charging and refunding ------------------------------------------------------------
    def charge_saved_card(
        self, customer_id, payment_method_id, amount_minor, currency, idempotency_key, metadata=None
    ):
        self._call()
        amount_minor = int(amount_minor)  # as StripeGateway sends it
        metadata = {str(k): str(v) for k, v in (metadata or {}).items()}
        params = (
            customer_id,
            payment_method_id,
            amount_minor,
            currency.lower(),
            tuple(sorted(metadata.items())),
        )

        def make():
            if amount_minor < 1:
                raise _refused(
                    "amount: This value must be greater than or equal to 1.",
                    code="parameter_invalid_integer",
                )
            self._customer(customer_id)
            card = self._card(payment_method_id)
            self._usable(card, customer_id)
            intent = _PaymentIntent(
                id=self._id("pi"),
                customer_id=customer_id,
                payment_method_id=card.id,
                amount=amount_minor,
                currency=currency.lower(),
                metadata=metadata,
                status=ChargeStatus.SUCCEEDED,
            )
            behaviour = card.behaviour
            if behaviour.requires_authentication:
                intent.status = ChargeStatus.REQUIRES_ACTION
                intent.failure_message = AUTHENTICATION_REQUIRED
            else:
                intent.charge_id = self._id("ch")
                self._intent_of_charge[intent.charge_id] = intent.id
                decline_code = behaviour.declined_off_session or behaviour.declined_when_saved
                if decline_code:
                    intent.status = ChargeStatus.FAILED
                    intent.decline_code, intent.failure_message = decline_code, DECLINED
            self.payment_intents[intent.id] = intent
            return intent.public()

        with self._lock:
            return self._once(idempotency_key, "payment_intents", params, make)

    def authenticate_payment(self, payment_intent_id, *, success=True):
        """Test hook: the member passes (or fails) 3-D Secure on the payment page."""
        with self._lock:
            intent = self.payment_intents.get(payment_intent_id)
            if intent is None:
                raise _missing("payment_intent", payment_intent_id)
            if intent.status != ChargeStatus.REQUIRES_ACTION:
                raise _refused(
                    f"This PaymentIntent's status is {intent.status}; it needs no action.",
                    code="payment_intent_unexpected_state",
                )
            intent.charge_id = self._id("ch")
            self._intent_of_charge[intent.charge_id] = intent.id
            if success:
                intent.status, intent.failure_message = ChargeStatus.SUCCEEDED, ""
            else:
                intent.status = ChargeStatus.FAILED
                intent.decline_code = "payment_intent_authentication_failure"
                intent.failure_message = AUTHENTICATION_FAILED
            return intent.public()

    def retrieve_payment(self, payment_intent_id):
        self._call()
        with self._lock:
            intent = self.payment_intents.get(payment_intent_id)
            if intent is None:
                raise _missing("payment_intent", payment_intent_id)
            return intent.public()

    def refund(self, charge_or_payment_intent_id, amount_minor, idempotency_key):
        self._call()
        target = charge_or_payment_intent_id
        amount_minor = None if amount_minor is None else int(amount_minor)

        def make():
            if amount_minor is not None and amount_minor < 1:
                raise _refused(
                    "amount: This value must be greater than or equal to 1.",
                    code="parameter_invalid_integer",
                )
            intent = self.payment_intents.get(self._intent_of_charge.get(target, target))
            if intent is None:
                raise _missing("charge" if target.startswith("ch_") else "payment_intent", target)
            if intent.status != ChargeStatus.SUCCEEDED:
                raise _refused(f"{target} does not have a successful charge to refund.")
            remaining = intent.amount - intent.refunded
            if remaining == 0:
                raise _refused(
                    f"Charge {intent.charge_id} has already been refunded.",
                    code="charge_already_refunded",
                )
            amount = remaining if amount_minor is None else amount_minor
            if amount > remaining:
                raise _refused(
                    f"Refund amount ({amount}) is greater than unrefunded amount on charge "
                    f"({remaining}).",
                    code="amount_too_large",
                )
            intent.refunded += amount
            refund = Refund(
                id=self._id("re"),
                status="succeeded",
                amount_minor=amount,
                charge_id=intent.charge_id,
                payment_intent_id=intent.id,
            )
            self.refunds[refund.id] = refund
            return refund

        with self._lock:
            return self._once(idempotency_key, "refunds", (target, amount_minor), make)

    # --- webhooks --------------------------------------------------------------------------
    # The same signature check as for Stripe: one implementation of the scheme.
    verify_webhook = StripeGateway.verify_webhook
