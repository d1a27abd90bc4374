"""The Stripe implementation of the payment gateway, the one module that imports `stripe`.

It works unchanged against real Stripe and localstripe (see LOCALSTRIPE.md): it sends no
parameter localstripe rejects, accepts both shapes of an off-session 3-D Secure charge, and
maps every Stripe exception to a domain error from `payments.gateway`.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Any

import stripe

from payments.gateway import (
    WEBHOOK_TOLERANCE_SECONDS,
    Charge,
    ChargeStatus,
    Customer,
    InvalidWebhook,
    PaymentDeclined,
    PaymentMethod,
    PaymentProviderError,
    Refund,
    SetupIntent,
    parse_webhook_event,
)

logger = logging.getLogger(__name__)

# Errors worth trying again later with the same idempotency key.
_RETRYABLE_ERRORS = (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError)


class StripeGateway:
    """One `StripeClient` per instance: no module-global API key or base URL."""

    def __init__(
        self,
        *,
        secret_key: str,
        api_base: str,
        webhook_secret: str,
        webhook_tolerance: int = WEBHOOK_TOLERANCE_SECONDS,
        timeout: float = 30,
        max_network_retries: int = 2,
        http_client: stripe.HTTPClient | None = None,
    ):
        self.webhook_secret = webhook_secret
        self.webhook_tolerance = webhook_tolerance
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base.rstrip("/")},
            max_network_retries=max_network_retries,
            # Another transport is for tests only (the stand-in's in-process door).
            http_client=http_client or stripe.RequestsClient(timeout=timeout),
        )
        self._v1 = self._client.v1

    # --- Customers -------------------------------------------------------------------------

    def create_customer(self, email, name, member_id):
        with _translated_errors():
            customer = self._v1.customers.create(
                params={"email": email, "name": name, "metadata": {"member_id": str(member_id)}},
                # Concurrent first pledges of one member then get one customer from Stripe.
                options={"idempotency_key": f"member-{member_id}-customer"},
            ).to_dict()
        return Customer(
            id=customer["id"], email=customer.get("email") or "", name=customer.get("name") or ""
        )

    def delete_customer(self, customer_id):
        with _translated_errors():
            self._v1.customers.delete(customer_id)

    # --- Saving a card ---------------------------------------------------------------------

    def create_setup_intent(self, customer_id, metadata=None):
        with _translated_errors():
            setup_intent = self._v1.setup_intents.create(
                params={
                    "customer": customer_id,
                    "usage": "off_session",
                    "payment_method_types": ["card"],
                    "metadata": _string_values(metadata),
                }
            ).to_dict()
        return _setup_intent(setup_intent)

    def retrieve_setup_intent(self, setup_intent_id):
        with _translated_errors():
            return _setup_intent(self._v1.setup_intents.retrieve(setup_intent_id).to_dict())

    def cancel_setup_intent(self, setup_intent_id):
        with _translated_errors():
            # Stripe refuses to cancel a cancelled SetupIntent; look first, as for detach.
            current = self._v1.setup_intents.retrieve(setup_intent_id).to_dict()
            if current.get("status") == "canceled":
                return _setup_intent(current)
            return _setup_intent(self._v1.setup_intents.cancel(setup_intent_id).to_dict())

    def attach_payment_method(self, payment_method_id, customer_id):
        with _translated_errors():
            # Stripe attaches the card when the SetupIntent is confirmed, localstripe does not;
            # attaching twice would fail on Stripe, so look first.
            current = self._v1.payment_methods.retrieve(payment_method_id).to_dict()
            if _id_of(current.get("customer")) == customer_id:
                return _payment_method(current)
            attached = self._v1.payment_methods.attach(
                payment_method_id, params={"customer": customer_id}
            ).to_dict()
        return _payment_method(attached)

    def detach_payment_method(self, payment_method_id):
        with _translated_errors():
            current = self._v1.payment_methods.retrieve(payment_method_id).to_dict()
            if not current.get("customer"):
                return _payment_method(current)
            return _payment_method(self._v1.payment_methods.detach(payment_method_id).to_dict())

    # --- Charging and refunding ------------------------------------------------------------

    def charge_saved_card(
        self,
        customer_id,
        payment_method_id,
        amount_minor,
        currency,
        idempotency_key,
        metadata=None,
    ):
        params = {
            "amount": int(amount_minor),
            "currency": currency.lower(),
            "customer": customer_id,
            "payment_method": payment_method_id,
            "payment_method_types": ["card"],
            "off_session": True,
            "confirm": True,
            "metadata": _string_values(metadata),
        }
        try:
            with _translated_errors(card_errors=False):
                payment_intent = self._v1.payment_intents.create(
                    params=params, options={"idempotency_key": idempotency_key}
                ).to_dict()
        except stripe.CardError as exc:
            return self._charge_from_card_error(exc)
        return _charge(payment_intent)

    def retrieve_payment(self, payment_intent_id):
        with _translated_errors():
            return _charge(self._v1.payment_intents.retrieve(payment_intent_id).to_dict())

    def refund(self, charge_or_payment_intent_id, amount_minor, idempotency_key):
        target = "payment_intent" if charge_or_payment_intent_id.startswith("pi_") else "charge"
        params: dict[str, Any] = {target: charge_or_payment_intent_id}
        if amount_minor is not None:
            params["amount"] = int(amount_minor)
        with _translated_errors():
            refund = self._v1.refunds.create(
                params=params, options={"idempotency_key": idempotency_key}
            ).to_dict()
        return Refund(
            id=refund["id"],
            status=refund["status"],
            amount_minor=refund["amount"],
            charge_id=_id_of(refund.get("charge")),
            payment_intent_id=_id_of(refund.get("payment_intent")),
        )

    def _charge_from_card_error(self, exc: stripe.CardError) -> Charge:
        error = (exc.json_body or {}).get("error") or {}
        payment_intent = error.get("payment_intent") or {}
        payment_intent_id = _id_of(payment_intent)
        charge_id = _id_of(error.get("charge"))
        if payment_intent_id is None and charge_id:
            # localstripe leaves the PaymentIntent out of the error; its charge knows it.
            payment_intent_id = self._payment_intent_of_charge(charge_id)
        if error.get("code") == "authentication_required":  # Stripe's shape of 3-D Secure
            return Charge(
                id=payment_intent_id,
                status=ChargeStatus.REQUIRES_ACTION,
                charge_id=charge_id,
                client_secret=_get(payment_intent, "client_secret"),
                failure_message=error.get("message") or "",
            )
        return Charge(
            id=payment_intent_id,
            status=ChargeStatus.FAILED,
            decline_code=error.get("decline_code") or error.get("code") or "card_declined",
            charge_id=charge_id,
            failure_message=error.get("message") or "",
        )

    def _payment_intent_of_charge(self, charge_id):
        try:
            return _id_of(self._v1.charges.retrieve(charge_id).to_dict().get("payment_intent"))
        except stripe.StripeError:
            logger.warning("could not look up the PaymentIntent of charge %s", charge_id)
            return None

    # --- Webhooks --------------------------------------------------------------------------

    def ensure_webhook_endpoint(self, url: str, events: list[str]) -> tuple[str, str]:
        """Register `url` for `events` through Stripe's webhook endpoint API, or bring the
        endpoint already registered for it up to date; returns (endpoint id, "created" |
        "updated" | "unchanged"). Set-up tooling, not a gateway call the platform makes."""
        wanted = sorted(set(events))
        with _translated_errors():
            endpoints = self._v1.webhook_endpoints.list(params={"limit": 100})
            for endpoint in endpoints.auto_paging_iter():
                if endpoint.url != url:
                    continue
                if sorted(endpoint.enabled_events) == wanted and endpoint.status == "enabled":
                    return endpoint.id, "unchanged"
                self._v1.webhook_endpoints.update(
                    endpoint.id, params={"enabled_events": wanted, "disabled": False}
                )
                return endpoint.id, "updated"
            created = self._v1.webhook_endpoints.create(
                params={"url": url, "enabled_events": wanted, "description": "Groundswell"}
            )
        return created.id, "created"

    def verify_webhook(self, payload, signature_header):
        if not self.webhook_secret:
            raise InvalidWebhook("No webhook signing secret is configured.")
        try:
            text = payload if isinstance(payload, str) else bytes(payload).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidWebhook("The body is not UTF-8.") from None
        _verify_signature(text, signature_header or "", self.webhook_secret, self.webhook_tolerance)
        return parse_webhook_event(text)


def _verify_signature(payload: str, header: str, secret: str, tolerance: int) -> None:
    """Stripe's scheme, checked by the SDK; any refusal or malformed header → InvalidWebhook.

    The SDK raises SignatureVerificationError for what it recognises, but TypeError for a
    non-ASCII signature (hmac.compare_digest) and would parse non-ASCII digits as a time, so
    the header must be ASCII before it gets there.
    """
    # Stripe sends "t=…,v1=…" with no spaces; tolerate them as our own parser always did.
    header = ",".join(item.strip() for item in header.split(","))
    if not header.isascii() or not header.isprintable():
        raise InvalidWebhook("The signature header is malformed.")
    try:
        stripe.WebhookSignature.verify_header(payload, header, secret, tolerance)
    except stripe.SignatureVerificationError as exc:
        if "tolerance" in str(exc):  # the SDK's only way of telling this case apart
            raise InvalidWebhook("The signature is too old.") from None
        raise InvalidWebhook("The signature is missing, malformed or does not match.") from None
    except (TypeError, ValueError):
        raise InvalidWebhook("The signature header is malformed.") from None


# --- Mapping Stripe objects and errors -------------------------------------------------------


@contextmanager
def _translated_errors(*, card_errors=True):
    """Turn stripe exceptions into domain errors (CardError too, unless the caller wants it)."""
    try:
        yield
    except stripe.CardError as exc:
        if not card_errors:
            raise
        error = (exc.json_body or {}).get("error") or {}
        raise PaymentDeclined(
            decline_code=error.get("decline_code") or exc.code or "card_declined",
            detail=_describe(exc),
        ) from exc
    except stripe.StripeError as exc:
        retryable = isinstance(exc, _RETRYABLE_ERRORS) or (exc.http_status or 0) >= 500
        logger.warning("Stripe request failed: %s", _describe(exc))
        raise PaymentProviderError(
            retryable=retryable, code=exc.code or "", detail=_describe(exc)
        ) from exc


def _describe(exc: stripe.StripeError) -> str:
    return f"{type(exc).__name__} (HTTP {exc.http_status}, code {exc.code}): {exc.user_message}"


def _id_of(value) -> str | None:
    """An expandable field is an id, an object (localstripe's `latest_charge`) or null."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    return _get(value, "id")


def _get(value, key, default=None):
    return value.get(key, default) if isinstance(value, dict) else default


def _string_values(metadata) -> dict[str, str]:
    return {str(key): str(value) for key, value in (metadata or {}).items()}


def _setup_intent(setup_intent) -> SetupIntent:
    error = setup_intent.get("last_setup_error") or {}
    return SetupIntent(
        id=setup_intent["id"],
        client_secret=setup_intent["client_secret"],
        status=setup_intent["status"],
        payment_method_id=_id_of(setup_intent.get("payment_method")),
        customer_id=_id_of(setup_intent.get("customer")),
        metadata=dict(setup_intent.get("metadata") or {}),
        last_error_code=error.get("code") or "",
        decline_code=error.get("decline_code") or "",
        last_error_message=error.get("message") or "",
        last_error_payment_method_id=_id_of(error.get("payment_method")) or "",
    )


def _payment_method(payment_method) -> PaymentMethod:
    card = payment_method.get("card") or {}
    return PaymentMethod(
        id=payment_method["id"],
        customer_id=_id_of(payment_method.get("customer")),
        brand=card.get("brand") or "",
        last4=card.get("last4") or "",
        exp_month=card.get("exp_month"),
        exp_year=card.get("exp_year"),
    )


def _charge(payment_intent) -> Charge:
    status = payment_intent["status"]
    common = {
        "id": payment_intent["id"],
        "charge_id": _id_of(payment_intent.get("latest_charge")),
    }
    if status == "succeeded":
        return Charge(status=ChargeStatus.SUCCEEDED, **common)
    error = payment_intent.get("last_payment_error") or {}
    # localstripe leaves an off-session 3-D Secure charge in requires_action; Stripe fails it
    # back to requires_payment_method with the error code authentication_required.
    if status == "requires_action" or (
        status == "requires_payment_method" and error.get("code") == "authentication_required"
    ):
        return Charge(
            status=ChargeStatus.REQUIRES_ACTION,
            client_secret=payment_intent.get("client_secret"),
            failure_message=error.get("message") or "",
            **common,
        )
    if status in ("requires_payment_method", "canceled"):
        return Charge(
            status=ChargeStatus.FAILED,
            decline_code=error.get("decline_code") or error.get("code") or status,
            failure_message=error.get("message") or "",
            **common,
        )
    return Charge(status=ChargeStatus.PROCESSING, **common)
