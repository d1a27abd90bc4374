"""The Stripe implementation of the payment gateway, the one module that imports `stripe`.

It works unchanged against real Stripe and localstripe: it sends no parameter localstripe
rejects, or, where the platform needs one (a statement descriptor suffix, a `created` filter
on lists), sends it and falls back without it the first time localstripe refuses it by name;
it accepts both shapes of an off-session 3-D Secure charge, and maps every Stripe exception to
a domain error from `payments.gateway` (localstripe's missing search: SearchUnavailable; its
missing Connect: ConnectUnavailable).
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import stripe
from django.utils.translation import gettext_lazy as _

from core.install import install_id as current_install_id
from payments.gateway import (
    WEBHOOK_TOLERANCE_SECONDS,
    Balance,
    Charge,
    ChargeStatus,
    ConnectedAccount,
    ConnectUnavailable,
    Customer,
    InvalidWebhook,
    PaymentDeclined,
    PaymentMethod,
    PaymentProviderError,
    Refund,
    SearchUnavailable,
    SetupIntent,
    Transfer,
    TransferReversal,
    parse_webhook_event,
)
from payments.gateway import idempotency_key as provider_key

logger = logging.getLogger(__name__)

# Errors worth trying again later with the same idempotency key.
_RETRYABLE_ERRORS = (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError)
# The charge's fee comes with the PaymentIntent (its balance transaction, expanded).
_WITH_FEE = ["latest_charge.balance_transaction"]
_EACH_WITH_FEE = ["data.latest_charge.balance_transaction"]
_PAGE_SIZE = 100  # Stripe's largest page of a list or a search
# What an admin reads when Stripe refuses a transfer for one of these reasons (Stripe's own
# message stays in `detail`).
_TRANSFER_REFUSALS = {
    "balance_insufficient": _(
        "The platform's Stripe balance has too little available money for this transfer. "
        "Money from recent charges may still be pending at Stripe: try again once it is "
        "available."
    ),
    "insufficient_capabilities_for_transfer": _(
        "The organizer's Stripe account cannot receive transfers yet: Stripe has not "
        "finished verifying it."
    ),
}


class StripeGateway:
    """One `StripeClient` per instance: no module-global API key or base URL."""

    def __init__(
        self,
        *,
        secret_key: str,
        api_base: str,
        webhook_secret: str,
        connect_webhook_secret: str = "",
        webhook_tolerance: int = WEBHOOK_TOLERANCE_SECONDS,
        timeout: float = 30,
        max_network_retries: int = 2,
        http_client: stripe.HTTPClient | None = None,
        install_id: str | None = None,
    ):
        self.webhook_secret = webhook_secret
        self.connect_webhook_secret = connect_webhook_secret
        self.webhook_tolerance = webhook_tolerance
        # None: core.install.install_id() (the database's) at each call that makes a key.
        self.install_id = install_id
        # Parameters this provider refused by name (localstripe); they are not sent again.
        self._refused_parameters: set[str] = set()
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
                options={
                    "idempotency_key": provider_key(
                        "member", member_id, "customer", install_id=self.install_id
                    )
                },
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
        *,
        statement_descriptor_suffix="",
    ):
        params = {
            "amount": int(amount_minor),
            "currency": currency.lower(),
            "customer": customer_id,
            "payment_method": payment_method_id,
            "payment_method_types": ["card"],
            "off_session": True,
            "confirm": True,
            # Not Stripe's default automatic_async, whose answer may come before the balance
            # transaction (and so without the fee); a settlement run does not need the speed.
            "capture_method": "automatic",
            "metadata": _string_values(metadata),
            "expand": _WITH_FEE,
        }
        if statement_descriptor_suffix:
            params["statement_descriptor_suffix"] = statement_descriptor_suffix
        try:
            with _translated_errors(card_errors=False):
                payment_intent = self._create_payment_intent(params, idempotency_key)
        except stripe.CardError as exc:
            return self._charge_from_card_error(exc, params)
        return _charge(payment_intent)

    def _create_payment_intent(self, params, idempotency_key):
        optional = "statement_descriptor_suffix"
        if optional in self._refused_parameters:
            params = {key: value for key, value in params.items() if key != optional}
        try:
            return self._v1.payment_intents.create(
                params=params, options={"idempotency_key": idempotency_key}
            ).to_dict()
        except stripe.InvalidRequestError as exc:
            if optional not in params or not _refuses_parameter(exc, optional):
                raise
        # localstripe knows no descriptors: the card statement of a test charge shows nothing
        # anyway. It refused the request before doing anything (and ignores keys), so the
        # same key again is safe; Stripe and the stand-in never get here.
        logger.warning("the payment provider refuses %s; sending charges without it", optional)
        self._refused_parameters.add(optional)
        return self._create_payment_intent(params, idempotency_key)

    def retrieve_payment(self, payment_intent_id):
        with _translated_errors():
            return _charge(
                self._v1.payment_intents.retrieve(
                    payment_intent_id, params={"expand": _WITH_FEE}
                ).to_dict()
            )

    def cancel_payment(self, payment_intent_id):
        params = {"expand": _WITH_FEE}
        with _translated_errors():
            # Stripe refuses to cancel a finished PaymentIntent; look first, as for SetupIntents.
            current = self._v1.payment_intents.retrieve(payment_intent_id, params=params).to_dict()
            if current["status"] in ("succeeded", "canceled"):
                return _charge(current)
            try:
                cancelled = self._v1.payment_intents.cancel(payment_intent_id, params=params)
            except stripe.InvalidRequestError as exc:
                if exc.code != "payment_intent_unexpected_state":
                    raise
                # It finished between the two calls (the member completed it): say how.
                return self.retrieve_payment(payment_intent_id)
        return _charge(cancelled.to_dict())

    def find_payments(self, metadata):
        if not metadata:
            raise ValueError("find_payments needs at least one metadata key to match")
        query = " AND ".join(
            f"metadata[{_quoted(key)}]:{_quoted(value)}"
            for key, value in sorted(_string_values(metadata).items())
        )
        params = {"query": query, "limit": _PAGE_SIZE, "expand": _EACH_WITH_FEE}
        with _translated_errors():
            try:
                result = self._v1.payment_intents.search(params=params)
                found = [_charge(item.to_dict()) for item in result.auto_paging_iter()]
            except stripe.InvalidRequestError as exc:
                # Stripe answers every path it knows; a 404 for the search itself means the
                # provider has none (localstripe takes "search" for a PaymentIntent id).
                if exc.http_status == 404:
                    raise SearchUnavailable(detail=_describe(exc)) from exc
                raise
        # Newest first whatever order the provider answers in (the sort is stable).
        return sorted(found, key=lambda charge: charge.created or _EPOCH, reverse=True)

    def list_payments(self, *, created_gte=None):
        since = None
        params: dict[str, Any] = {"limit": _PAGE_SIZE, "expand": _EACH_WITH_FEE}
        if created_gte is not None:
            if created_gte.tzinfo is None:
                raise ValueError("created_gte must be an aware datetime")
            since = int(created_gte.timestamp())  # Stripe's times are whole seconds
            if "created" not in self._refused_parameters:
                params["created"] = {"gte": since}
        with _translated_errors():
            try:
                first_page = self._v1.payment_intents.list(params=params)
            except stripe.InvalidRequestError as exc:
                if "created" not in params or not _refuses_parameter(exc, "created"):
                    raise
                # localstripe cannot filter lists by time: filter here instead.
                logger.warning("the payment provider refuses created[gte]; filtering here")
                self._refused_parameters.add("created")
                del params["created"]
                first_page = self._v1.payment_intents.list(params=params)
        return self._each_payment(first_page, since)

    def _each_payment(self, first_page, since):
        with _translated_errors():
            for item in first_page.auto_paging_iter():
                payment_intent = item.to_dict()
                if since is None or payment_intent["created"] >= since:
                    yield _charge(payment_intent)

    def refund(self, charge_or_payment_intent_id, amount_minor, idempotency_key, *, metadata=None):
        target = "payment_intent" if charge_or_payment_intent_id.startswith("pi_") else "charge"
        params: dict[str, Any] = {target: charge_or_payment_intent_id}
        if amount_minor is not None:
            params["amount"] = int(amount_minor)
        if metadata:
            params["metadata"] = _string_values(metadata)
        with _translated_errors():
            refund = self._v1.refunds.create(
                params=params, options={"idempotency_key": idempotency_key}
            ).to_dict()
        return _refund(refund)

    def retrieve_refund(self, refund_id):
        with _translated_errors():
            return _refund(self._v1.refunds.retrieve(refund_id).to_dict())

    def find_refunds(self, *, payment_intent):
        if not payment_intent:
            raise ValueError("find_refunds needs a PaymentIntent id")
        with _translated_errors():
            page = self._v1.refunds.list(
                params={"payment_intent": payment_intent, "limit": _PAGE_SIZE}
            )
            return [_refund(item.to_dict()) for item in page.auto_paging_iter()]

    def list_refunds(self, *, created_gte=None):
        return self._list_since("refunds", self._v1.refunds, _refund, created_gte)

    # --- Stripe Connect -------------------------------------------------------------------

    def create_connected_account(self, *, email, country, member_id):
        install = self.install_id if self.install_id is not None else current_install_id()
        params: dict[str, Any] = {
            "type": "express",
            "country": country.upper(),
            # Only transfers from the platform: the recipient service agreement, under which
            # Stripe allows no card_payments (the full agreement would ask for it, and the
            # owner for far more details).
            "capabilities": {"transfers": {"requested": True}},
            "tos_acceptance": {"service_agreement": "recipient"},
            "metadata": {"member_id": str(member_id), "install": install},
        }
        if email:
            params["email"] = email
        key = provider_key("member", member_id, "connect-account", install_id=install)
        with _translated_errors(connect=True):
            account = self._v1.accounts.create(
                params=params, options={"idempotency_key": key}
            ).to_dict()
        return _connected_account(account)

    def retrieve_connected_account(self, account_id):
        with _translated_errors(connect=True):
            return _connected_account(self._v1.accounts.retrieve(account_id).to_dict())

    def create_account_link(self, account_id, *, refresh_url, return_url):
        params = {
            "account": account_id,
            "refresh_url": refresh_url,
            "return_url": return_url,
            "type": "account_onboarding",
        }
        with _translated_errors(connect=True):
            return self._v1.account_links.create(params=params).url

    def create_transfer(
        self,
        *,
        amount_minor,
        currency,
        destination,
        idempotency_key,
        transfer_group="",
        metadata=None,
        source_transaction="",
    ):
        params: dict[str, Any] = {
            "amount": int(amount_minor),
            "currency": currency.lower(),
            "destination": destination,
            "metadata": _string_values(metadata),
        }
        if transfer_group:
            params["transfer_group"] = transfer_group
        if source_transaction:
            params["source_transaction"] = source_transaction
        with _translated_errors(connect=True, messages=_TRANSFER_REFUSALS):
            transfer = self._v1.transfers.create(
                params=params, options={"idempotency_key": idempotency_key}
            ).to_dict()
        return _transfer(transfer)

    def retrieve_transfer(self, transfer_id):
        with _translated_errors(connect=True):
            return _transfer(self._v1.transfers.retrieve(transfer_id).to_dict())

    def find_transfers(self, *, transfer_group):
        if not transfer_group:
            raise ValueError("find_transfers needs a transfer group")
        params = {"transfer_group": transfer_group, "limit": _PAGE_SIZE}
        with _translated_errors(connect=True):
            found = self._v1.transfers.list(params=params)
            return [_transfer(item.to_dict()) for item in found.auto_paging_iter()]

    def list_transfers(self, *, created_gte=None):
        return self._list_since(
            "transfers", self._v1.transfers, _transfer, created_gte, connect=True
        )

    def _list_since(self, name, resource, convert, created_gte, *, connect=False):
        """`resource`'s objects created at or after `created_gte` (all without it), converted,
        page after page as the iterator is consumed; the first page is asked for now. Where
        the provider refuses the `created` filter by name (localstripe), it is applied here
        instead, and not sent again for this resource."""
        since = None
        params: dict[str, Any] = {"limit": _PAGE_SIZE}
        refused = f"{name}.created"
        if created_gte is not None:
            if created_gte.tzinfo is None:
                raise ValueError("created_gte must be an aware datetime")
            since = int(created_gte.timestamp())  # Stripe's times are whole seconds
            if refused not in self._refused_parameters:
                params["created"] = {"gte": since}
        with _translated_errors(connect=connect):
            try:
                first_page = resource.list(params=params)
            except stripe.InvalidRequestError as exc:
                if "created" not in params or not _refuses_parameter(exc, "created"):
                    raise
                logger.warning("the payment provider refuses created[gte] on %s", name)
                self._refused_parameters.add(refused)
                del params["created"]
                first_page = resource.list(params=params)
        return _each_since(first_page, since, convert, connect=connect)

    def reverse_transfer(self, transfer_id, *, amount_minor, idempotency_key, metadata=None):
        params = {"amount": int(amount_minor), "metadata": _string_values(metadata)}
        with _translated_errors(connect=True):
            reversal = self._v1.transfers.reversals.create(
                transfer_id, params=params, options={"idempotency_key": idempotency_key}
            ).to_dict()
        return TransferReversal(
            id=reversal["id"],
            transfer_id=_id_of(reversal.get("transfer")) or transfer_id,
            amount_minor=reversal["amount"],
        )

    def retrieve_balance(self, currency):
        wanted = currency.lower()
        with _translated_errors():
            balance = self._v1.balance.retrieve().to_dict()

        def total(part):
            entries = balance.get(part) or []
            if isinstance(entries, dict):  # localstripe: one entry, not a list of them
                entries = [entries]
            return sum(
                entry.get("amount") or 0
                for entry in entries
                if (entry.get("currency") or "").lower() == wanted
            )

        return Balance(
            available_minor=total("available"),
            pending_minor=total("pending"),
            currency=currency.upper(),
        )

    def _charge_from_card_error(self, exc: stripe.CardError, params: dict) -> Charge:
        error = (exc.json_body or {}).get("error") or {}
        payment_intent = error.get("payment_intent") or {}
        payment_intent_id = _id_of(payment_intent)
        charge_id = _id_of(error.get("charge"))
        if payment_intent_id is None and charge_id:
            # localstripe leaves the PaymentIntent out of the error; its charge knows it.
            payment_intent_id = self._payment_intent_of_charge(charge_id)
        details = {
            # Stripe's error carries the PaymentIntent; without it, what we asked for.
            "amount_minor": _get(payment_intent, "amount", params["amount"]),
            "currency": (_get(payment_intent, "currency") or params["currency"]).upper(),
            "metadata": dict(_get(payment_intent, "metadata") or params["metadata"]),
            "created": _time(_get(payment_intent, "created")),
        }
        if error.get("code") == "authentication_required":  # Stripe's shape of 3-D Secure
            return Charge(
                id=payment_intent_id,
                status=ChargeStatus.REQUIRES_ACTION,
                charge_id=charge_id,
                client_secret=_get(payment_intent, "client_secret"),
                failure_message=error.get("message") or "",
                **details,
            )
        return Charge(
            id=payment_intent_id,
            status=ChargeStatus.FAILED,
            decline_code=error.get("decline_code") or error.get("code") or "card_declined",
            charge_id=charge_id,
            failure_message=error.get("message") or "",
            **details,
        )

    def _payment_intent_of_charge(self, charge_id):
        try:
            return _id_of(self._v1.charges.retrieve(charge_id).to_dict().get("payment_intent"))
        except stripe.StripeError:
            logger.warning("could not look up the PaymentIntent of charge %s", charge_id)
            return None

    # --- Webhooks --------------------------------------------------------------------------

    def ensure_webhook_endpoint(
        self, url: str, events: list[str], *, connect: bool = False
    ) -> tuple[str, str, str]:
        """Register `url` for `events` through Stripe's webhook endpoint API, or bring the
        endpoint already registered for it up to date; returns (endpoint id, "created" |
        "updated" | "unchanged", the signing secret: only Stripe's answer to a creation has
        it, else ""). `connect=True` makes a new endpoint one for the events of connected
        accounts (Stripe cannot change that flag later, nor shows it: an endpoint is found by
        its URL). Set-up tooling, not a gateway call the platform makes."""
        wanted = sorted(set(events))
        with _translated_errors():
            endpoints = self._v1.webhook_endpoints.list(params={"limit": 100})
            for endpoint in endpoints.auto_paging_iter():
                if endpoint.url != url:
                    continue
                if sorted(endpoint.enabled_events) == wanted and endpoint.status == "enabled":
                    return endpoint.id, "unchanged", ""
                self._v1.webhook_endpoints.update(
                    endpoint.id, params={"enabled_events": wanted, "disabled": False}
                )
                return endpoint.id, "updated", ""
            params: dict[str, Any] = {
                "url": url,
                "enabled_events": wanted,
                "description": "Groundswell (Connect)" if connect else "Groundswell",
            }
            if connect:
                params["connect"] = True
            created = self._v1.webhook_endpoints.create(params=params).to_dict()
        return created["id"], "created", created.get("secret") or ""

    def verify_webhook(self, payload, signature_header, *, connect=False):
        secret = self.connect_webhook_secret if connect else self.webhook_secret
        if not secret:
            raise InvalidWebhook(
                f"No {'Connect ' if connect else ''}webhook signing secret is configured."
            )
        if connect and secret == self.webhook_secret:
            # One secret for both would let each endpoint take the other's deliveries.
            raise InvalidWebhook("The Connect webhook signing secret is the platform endpoint's.")
        try:
            text = payload if isinstance(payload, str) else bytes(payload).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidWebhook("The body is not UTF-8.") from None
        _verify_signature(text, signature_header or "", secret, self.webhook_tolerance)
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
def _translated_errors(*, card_errors=True, connect=False, messages=None):
    """Turn stripe exceptions into domain errors (CardError too, unless the caller wants it).

    `connect`: a 404 without an error code is the provider not knowing the endpoint at all
    (localstripe's bare 404; Stripe names a missing object resource_missing), so
    ConnectUnavailable. `messages`: error code -> the message to give instead of the
    generic one.
    """
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
        if connect and exc.http_status == 404 and not exc.code:
            raise ConnectUnavailable(detail=_describe(exc)) from exc
        retryable = isinstance(exc, _RETRYABLE_ERRORS) or (exc.http_status or 0) >= 500
        logger.warning("Stripe request failed: %s", _describe(exc))
        code = exc.code or ""
        if not code and isinstance(exc, stripe.IdempotencyError):
            # Stripe names it by its type only. It means this key was used before with other
            # parameters: whatever that first request did (a charge?) happened.
            code = "idempotency_error"
        headers = {str(name).lower(): value for name, value in dict(exc.headers or {}).items()}
        replayed = str(headers.get("idempotent-replayed", "")).lower() == "true"
        special = {"message": messages[code]} if messages and code in messages else {}
        raise PaymentProviderError(
            **special, retryable=retryable, code=code, detail=_describe(exc), replayed=replayed
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


def _quoted(text: str) -> str:
    """A string in Stripe's search query language: single quotes, backslash escapes."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


_EPOCH = datetime.fromtimestamp(0, tz=UTC)


def _time(timestamp) -> datetime | None:
    return datetime.fromtimestamp(timestamp, tz=UTC) if isinstance(timestamp, int) else None


def _each_since(first_page, since, convert, *, connect=False):
    """The list's objects, page after page, created at or after `since` (all when None)."""
    with _translated_errors(connect=connect):
        for item in first_page.auto_paging_iter():
            found = item.to_dict()
            if since is None or found["created"] >= since:
                yield convert(found)


def _refuses_parameter(exc: stripe.InvalidRequestError, name: str) -> bool:
    """The provider refused the request for not knowing this parameter: Stripe's (and the
    stand-in's) parameter_unknown, or localstripe's bare "Unexpected <name>"."""
    if exc.http_status != 400:
        return False
    error = (exc.json_body or {}).get("error") or {}
    if error.get("code") == "parameter_unknown":
        return (error.get("param") or "").split("[")[0] == name
    message = error.get("message") or ""
    return message.startswith("Unexpected ") and name in message[11:].split(", ")


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
        "amount_minor": payment_intent.get("amount"),
        "currency": (payment_intent.get("currency") or "").upper(),
        "metadata": dict(payment_intent.get("metadata") or {}),
        "fee_minor": _fee(payment_intent),
        "created": _time(payment_intent.get("created")),
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


def _connected_account(account) -> ConnectedAccount:
    requirements = account.get("requirements") or {}
    due = set(requirements.get("currently_due") or ()) | set(requirements.get("past_due") or ())
    return ConnectedAccount(
        id=account["id"],
        charges_enabled=bool(account.get("charges_enabled")),
        payouts_enabled=bool(account.get("payouts_enabled")),
        details_submitted=bool(account.get("details_submitted")),
        requirements_due=tuple(sorted(due)),
        disabled_reason=requirements.get("disabled_reason") or "",
        email=account.get("email") or "",
        country=account.get("country") or "",
        default_currency=(account.get("default_currency") or "").upper(),
    )


def _transfer(transfer) -> Transfer:
    return Transfer(
        id=transfer["id"],
        amount_minor=transfer["amount"],
        currency=(transfer.get("currency") or "").upper(),
        destination=_id_of(transfer.get("destination")) or "",
        amount_reversed_minor=transfer.get("amount_reversed") or 0,
        reversed=bool(transfer.get("reversed")),
        transfer_group=transfer.get("transfer_group") or "",
        metadata=dict(transfer.get("metadata") or {}),
        created=_time(transfer.get("created")),
    )


def _refund(refund) -> Refund:
    return Refund(
        id=refund["id"],
        status=refund["status"],
        amount_minor=refund["amount"],
        charge_id=_id_of(refund.get("charge")),
        payment_intent_id=_id_of(refund.get("payment_intent")),
        metadata=dict(refund.get("metadata") or {}),
        created=_time(refund.get("created")),
    )


def _fee(payment_intent) -> int | None:
    """The processing fee from the expanded latest_charge.balance_transaction, if it is
    there and in the charge's own currency (a fee converted to another is not comparable)."""
    transaction = _get(payment_intent.get("latest_charge"), "balance_transaction")
    if not isinstance(transaction, dict) or not isinstance(transaction.get("fee"), int):
        return None
    if (transaction.get("currency") or "").lower() != (payment_intent.get("currency") or ""):
        return None
    return transaction["fee"]
