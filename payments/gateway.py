"""The payment gateway interface: plain dataclasses, domain errors and `get_gateway()`.

Every other app talks to the payment provider through this module only; it never imports
`stripe` (the Stripe implementation lives in `payments.stripe_gateway`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError
from core.jsonsafe import strict_loads

# Stripe's default: a signed webhook older than this many seconds is refused (replay defence).
WEBHOOK_TOLERANCE_SECONDS = 300
# Until settings.STRIPE_CONNECT_WEBHOOK_SECRET exists: what bin/dev starts the stand-in with.
DEFAULT_CONNECT_WEBHOOK_SECRET = "whsec_groundswell_connect_dev"  # noqa: S105


# --- Errors ------------------------------------------------------------------------------------


class PaymentError(DomainError):
    """Base of every error the gateway raises; `message` is safe to show to the member."""


class PaymentDeclined(PaymentError):
    """The card was declined (e.g. when saving it). `decline_code` is the issuer's reason."""

    def __init__(self, message="Your card was declined.", *, decline_code="", detail=""):
        super().__init__(message)
        self.decline_code = decline_code or ""
        self.detail = detail


class PaymentProviderError(PaymentError):
    """The provider refused the request or could not be reached.

    `retryable` is true for network errors, rate limits and provider-side 5xx errors: the same
    call with the same idempotency key may be tried again later. `replayed` is true when the
    provider answered from what it stored for the idempotency key (Stripe keeps a 500 too, and
    says `Idempotent-Replayed: true`): this call did nothing new, and sending it again with
    that key only replays the same answer. `detail` is for logs/admins.
    """

    def __init__(
        self,
        message="The payment provider could not handle the request. Please try again later.",
        *,
        retryable=False,
        code="",
        detail="",
        replayed=False,
    ):
        super().__init__(message)
        self.retryable = retryable
        self.code = code or ""
        self.detail = detail
        self.replayed = replayed


class SearchUnavailable(PaymentProviderError):
    """The provider has no search (localstripe answers 404): find the payment another way
    (by its PaymentIntent id, or by listing). Not retryable: asking again will not help."""

    def __init__(self, message=None, *, detail=""):
        super().__init__(
            message or _("The payment provider cannot search its payments."),
            retryable=False,
            code="search_unavailable",
            detail=detail,
        )


class ConnectUnavailable(PaymentProviderError):
    """The provider has no Stripe Connect (localstripe answers 404 for /v1/accounts,
    /v1/account_links and /v1/transfers): organizers cannot be paid out by transfer there.
    Not retryable: asking again will not help."""

    def __init__(self, message=None, *, detail=""):
        super().__init__(
            message
            or _(
                "The payment provider does not offer Stripe Connect, so it cannot create "
                "payout accounts or send transfers."
            ),
            retryable=False,
            code="connect_unavailable",
            detail=detail,
        )


class InvalidWebhook(PaymentError):
    """A webhook delivery whose signature, timestamp or body cannot be trusted."""


# --- Values ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Customer:
    id: str
    email: str = ""
    name: str = ""


@dataclass(frozen=True)
class SetupIntent:
    id: str
    client_secret: str
    status: str  # Stripe's: requires_payment_method, requires_action, succeeded, canceled, ...
    payment_method_id: str | None = None
    customer_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    # Stripe's last_setup_error: why the last card tried on it failed ("" when none did).
    last_error_code: str = ""  # e.g. card_declined, setup_intent_authentication_failure
    decline_code: str = ""  # the issuer's reason for a decline, e.g. insufficient_funds
    last_error_message: str = ""
    last_error_payment_method_id: str = ""  # the card that was refused

    @property
    def card_failed(self) -> bool:
        """A card was tried on this SetupIntent and the provider refused it.

        Stripe keeps the SetupIntent waiting for another card and says why in
        last_setup_error; localstripe cancels it with the refused card still on it. A
        SetupIntent cancelled before any card was tried (by us) is not a card failure.
        """
        if self.last_error_code or self.decline_code:
            return self.status in ("requires_payment_method", "canceled")
        return self.status == "canceled" and bool(self.payment_method_id)


@dataclass(frozen=True)
class PaymentMethod:
    """A saved card. Use the returned `id`: Stripe's test ids (`pm_card_visa`) become new ones."""

    id: str
    customer_id: str | None = None
    brand: str = ""
    last4: str = ""
    exp_month: int | None = None
    exp_year: int | None = None


class ChargeStatus(StrEnum):
    SUCCEEDED = "succeeded"
    # Needs the member on-session (3-D Secure): show the payment page with `client_secret`.
    REQUIRES_ACTION = "requires_action"
    FAILED = "failed"
    # Not final (rare for cards): settle it later with `retrieve_payment` or a webhook.
    PROCESSING = "processing"


@dataclass(frozen=True)
class Charge:
    """The outcome of an off-session PaymentIntent.

    `id` is the PaymentIntent id (None only if the provider never told us one); `charge_id`
    the underlying charge, if one was made; `decline_code` the issuer's reason when FAILED;
    `client_secret` lets the member complete REQUIRES_ACTION on-session.

    `amount_minor`, `currency` (upper case, as the platform keeps it), `metadata` and `created`
    are the PaymentIntent's, so reconciliation can check a found payment against its attempt.
    `fee_minor` is the provider's processing fee from the charge's balance transaction, in the
    charge's currency; None when the provider did not say (no balance transaction yet, as
    after Stripe's asynchronous capture; one in another currency; a provider without them):
    the caller then uses its configured estimate, or asks again with `retrieve_payment`.
    """

    id: str | None
    status: ChargeStatus
    decline_code: str = ""
    charge_id: str | None = None
    client_secret: str | None = None
    failure_message: str = ""
    amount_minor: int | None = None
    currency: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    fee_minor: int | None = None
    created: datetime | None = None


@dataclass(frozen=True)
class Refund:
    id: str
    status: str  # succeeded, pending, requires_action, failed, canceled
    amount_minor: int
    charge_id: str | None = None
    payment_intent_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    created: datetime | None = None


@dataclass(frozen=True)
class ConnectedAccount:
    """A Stripe Connect (Express) account an organizer is paid out to.

    `requirements_due` is what Stripe needs from the owner now (its requirements'
    currently_due and past_due, sorted); `disabled_reason` Stripe's requirements
    disabled_reason ("" when nothing is disabled); `default_currency` upper case, as the
    platform keeps currencies. `charges_enabled` says little for an account that only
    receives transfers: `payouts_enabled` with nothing due is what makes it usable.
    """

    id: str
    charges_enabled: bool = False
    payouts_enabled: bool = False
    details_submitted: bool = False
    requirements_due: tuple[str, ...] = ()
    disabled_reason: str = ""
    email: str = ""
    country: str = ""
    default_currency: str = ""


@dataclass(frozen=True)
class Transfer:
    """Money moved from the platform's balance to a connected account (`destination`).

    `currency` upper case; `amount_reversed_minor` what reversals have moved back, `reversed`
    true once all of it is; `transfer_group` "" when it has none.
    """

    id: str
    amount_minor: int
    currency: str
    destination: str
    amount_reversed_minor: int = 0
    reversed: bool = False
    transfer_group: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    created: datetime | None = None


@dataclass(frozen=True)
class TransferReversal:
    id: str
    transfer_id: str
    amount_minor: int


@dataclass(frozen=True)
class Balance:
    """The platform's balance in one currency (upper case): `available_minor` can fund a
    transfer now; `pending_minor` is charged money the provider has not released yet."""

    available_minor: int
    pending_minor: int
    currency: str


@dataclass(frozen=True)
class WebhookEvent:
    """A verified provider event. `data_object` is the event's `data.object` as a plain dict.

    `account` is the connected account a Connect event happened on ("" for the platform's own
    events)."""

    id: str
    type: str
    created: datetime
    data_object: dict[str, Any]
    payload: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    account: str = ""


# The latest `created` we accept (9999-12-31): beyond it no datetime can hold the time.
_MAX_EVENT_CREATED = 253_402_300_799
_MAX_EVENT_ID_LENGTH, _MAX_EVENT_TYPE_LENGTH = 255, 100  # payments.models.WebhookEvent


def parse_webhook_event(payload: bytes | str) -> WebhookEvent:
    """Read a webhook body whose signature has been checked; raises InvalidWebhook.

    The one set of rules for every gateway's `verify_webhook`: UTF-8 JSON, an object with a
    non-empty string `id` and `type`, an integer `created` in range, an object `data.object`,
    and an `account` (Connect events) that is a string when present.
    NaN and Infinity (which json.loads accepts) and overflowing floats are refused, because
    neither Python's datetime nor PostgreSQL's jsonb can hold them.
    """
    not_an_event = InvalidWebhook("The body is not a Stripe event.")
    try:
        text = payload if isinstance(payload, str) else bytes(payload).decode("utf-8")
        event = strict_loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise not_an_event from None
    if not isinstance(event, dict) or not _storable(event):
        raise not_an_event
    event_id, event_type, created = event.get("id"), event.get("type"), event.get("created")
    data = event.get("data")
    data_object = data.get("object") if isinstance(data, dict) else None
    if not (isinstance(event_id, str) and 0 < len(event_id) <= _MAX_EVENT_ID_LENGTH):
        raise not_an_event
    if not (isinstance(event_type, str) and 0 < len(event_type) <= _MAX_EVENT_TYPE_LENGTH):
        raise not_an_event
    if not isinstance(data_object, dict):
        raise not_an_event
    if type(created) is not int or not 0 <= created <= _MAX_EVENT_CREATED:
        raise InvalidWebhook("The event's creation time is not a valid timestamp.")
    account = event.get("account")
    if account is not None and not (
        isinstance(account, str) and len(account) <= _MAX_EVENT_ID_LENGTH
    ):
        raise not_an_event
    return WebhookEvent(
        id=event_id,
        type=event_type,
        created=datetime.fromtimestamp(created, tz=UTC),
        data_object=data_object,
        payload=event,
        account=account or "",
    )


def _storable(value) -> bool:
    """No NUL character and no lone surrogate in any key or string: PostgreSQL's jsonb refuses
    both, so such an event could never be stored (a 500 that Stripe would redeliver for days)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                return False
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
    return True


# --- Interface ---------------------------------------------------------------------------------


@runtime_checkable
class PaymentGateway(Protocol):
    """What the platform needs from a payment provider. Every method may raise PaymentError."""

    def create_customer(self, email: str, name: str, member_id: int | str) -> Customer:
        """With the idempotency key `<install id>-member-<member_id>-customer`: concurrent
        first pledges of one member get one customer."""
        ...

    def delete_customer(self, customer_id: str) -> None: ...

    def create_setup_intent(
        self, customer_id: str, metadata: dict[str, str] | None = None
    ) -> SetupIntent: ...

    def retrieve_setup_intent(self, setup_intent_id: str) -> SetupIntent: ...

    def cancel_setup_intent(self, setup_intent_id: str) -> SetupIntent:
        """Cancel it so its client secret can save no card; a no-op when already cancelled."""
        ...

    def attach_payment_method(self, payment_method_id: str, customer_id: str) -> PaymentMethod:
        """Attach a card to a customer; a no-op when it already is (as after a SetupIntent)."""
        ...

    def detach_payment_method(self, payment_method_id: str) -> PaymentMethod:
        """Detach a card; a no-op when it is not attached."""
        ...

    def charge_saved_card(
        self,
        customer_id: str,
        payment_method_id: str,
        amount_minor: int,
        currency: str,
        idempotency_key: str,
        metadata: dict[str, str] | None = None,
        *,
        statement_descriptor_suffix: str = "",
    ) -> Charge:
        """Charge a saved card off-session. Declines and 3-D Secure are outcomes, not errors.

        `idempotency_key` should come from `idempotency_key()` (this installation's id first).
        `statement_descriptor_suffix` (Stripe's rule for cards: the account's prefix, "* " and
        the suffix, at most 22 characters in all, at least one letter, none of < > \\ ' " *)
        is left out when empty. The answer carries the fee when the provider gives it.
        """
        ...

    def retrieve_payment(self, payment_intent_id: str) -> Charge:
        """The PaymentIntent as it is now, with its fee once the provider has it."""
        ...

    def cancel_payment(self, payment_intent_id: str) -> Charge:
        """Cancel a PaymentIntent that is not finished, so that nobody can complete it any more
        (e.g. one waiting for 3-D Secure whose pledge gets a new card); returns it as it is
        then: FAILED once cancelled. A no-op on one that already succeeded or was cancelled
        (also when it finished while we asked): the answer says which, so a payment the
        member completed at the last moment is recorded, never lost."""
        ...

    def find_payments(self, metadata: dict[str, str]) -> list[Charge]:
        """The PaymentIntents whose metadata has all these key/value pairs, newest first; []
        when there are none. For reconciliation after a lost response.

        Raises SearchUnavailable where the provider has no search (localstripe). Stripe's
        search lags new PaymentIntents by up to a minute: an empty answer soon after a charge
        was sent does not prove that none was made.
        """
        ...

    def list_payments(self, *, created_gte: datetime | None = None) -> Iterator[Charge]:
        """Every PaymentIntent of the account (created at or after `created_gte`, an aware
        datetime, when given) in the provider's order (Stripe's: newest first), page after
        page as the iterator is consumed; the first page is asked for at the call, so an
        unreachable provider raises there. For checking the ledger against the provider
        (e.g. counting its succeeded charges). Without `created_gte` it walks the account's
        whole history, other installations' PaymentIntents included: filter by metadata."""
        ...

    def refund(
        self,
        charge_or_payment_intent_id: str,
        amount_minor: int | None,
        idempotency_key: str,
        *,
        metadata: dict[str, str] | None = None,
    ) -> Refund:
        """Refund a charge (`ch_…`) or PaymentIntent (`pi_…`); amount None refunds in full.
        `metadata` names our refund, so a `refund.*` event is matched to it even when this
        call's answer was lost."""
        ...

    def list_refunds(self, *, created_gte: datetime | None = None) -> Iterator[Refund]:
        """Every refund of the account (created at or after `created_gte`, an aware datetime,
        when given) in the provider's order (Stripe's: newest first), page after page as the
        iterator is consumed; the first page is asked for at the call, so an unreachable
        provider raises there. For checking the ledger against the provider (refunds made
        in its dashboard too). Without `created_gte` it walks the account's whole history,
        other installations' refunds included: match them by PaymentIntent or metadata."""
        ...

    def retrieve_refund(self, refund_id: str) -> Refund:
        """The refund as it is now (a pending one finishes later)."""
        ...

    def find_refunds(self, *, payment_intent: str) -> list[Refund]:
        """The refunds of one PaymentIntent, newest first ([] when none): to find a refund
        whose answer was lost by the metadata we put on it, before asking for it again."""
        ...

    # --- Stripe Connect: organizers' payout accounts and transfers to them ----------------
    # Each raises ConnectUnavailable where the provider has no Connect (localstripe).

    def create_connected_account(
        self, *, email: str, country: str, member_id: int | str
    ) -> ConnectedAccount:
        """An Express account that only receives transfers from the platform (the transfers
        capability under Stripe's recipient service agreement), with metadata member_id and
        install, and the idempotency key `<install id>-member-<member_id>-connect-account`:
        within the provider's 24 hours, calling again for the member gives the same account
        (asking with another email or country under that key is an idempotency_error)."""
        ...

    def retrieve_connected_account(self, account_id: str) -> ConnectedAccount: ...

    def create_account_link(self, account_id: str, *, refresh_url: str, return_url: str) -> str:
        """The URL of the provider's hosted onboarding (an account_onboarding link) for the
        account's owner. It works once and expires within minutes: make one per visit and
        redirect to it at once. The provider sends the owner to `return_url` when they leave
        (finished or not: read the account to know), to `refresh_url` when the link expired."""
        ...

    def create_transfer(
        self,
        *,
        amount_minor: int,
        currency: str,
        destination: str,
        idempotency_key: str,
        transfer_group: str = "",
        metadata: dict[str, str] | None = None,
        source_transaction: str = "",
    ) -> Transfer:
        """Move money from the platform's balance to a connected account, once per key.

        Without `source_transaction` only from the available balance: too little there is a
        PaymentProviderError with code "balance_insufficient" (not retryable as such; it may
        succeed once pending funds are available). With it (a charge id), from that charge's
        funds even while pending. A destination that cannot receive transfers yet is code
        "insufficient_capabilities_for_transfer". Empty `transfer_group` and
        `source_transaction` are left out."""
        ...

    def retrieve_transfer(self, transfer_id: str) -> Transfer: ...

    def find_transfers(self, *, transfer_group: str) -> list[Transfer]:
        """The transfers of this group, newest first; [] when there are none. For
        reconciliation after a lost response (transfers are listed by group at once: no
        search lag)."""
        ...

    def list_transfers(self, *, created_gte: datetime | None = None) -> Iterator[Transfer]:
        """Every transfer of the platform (created at or after `created_gte`, an aware
        datetime, when given), newest first, page after page as the iterator is consumed; the
        first page is asked for at the call. Other installations' transfers included: filter
        by metadata."""
        ...

    def reverse_transfer(
        self,
        transfer_id: str,
        *,
        amount_minor: int,
        idempotency_key: str,
        metadata: dict[str, str] | None = None,
    ) -> TransferReversal:
        """Move (part of) a transfer back from the connected account to the platform's
        balance, once per key; more than is left of it is refused."""
        ...

    def retrieve_balance(self, currency: str) -> Balance:
        """The platform's own balance in this currency (0 and 0 for one it holds none of)."""
        ...

    def verify_webhook(
        self, payload: bytes, signature_header: str, *, connect: bool = False
    ) -> WebhookEvent:
        """Check the Stripe-Signature header and parse the event; raises InvalidWebhook.

        `connect=True` for a delivery to the Connect endpoint: checked against that
        endpoint's own secret, so neither endpoint accepts the other's signatures."""
        ...


def idempotency_key(*parts: object, install_id: str | None = None) -> str:
    """A key for the provider from our own ids, this installation's id first:
    `idempotency_key("pledge", pledge.public_id, "attempt", 2)` ->
    "<install id>-pledge-<public id>-attempt-2".

    Stripe keeps keys per account, and two databases sharing an account (staging and a
    laptop) number their members and pledges independently: without the install id, member 5
    of one would get member 5 of the other's customer, or a pledge the other's charge.
    `install_id` replaces core.install.install_id() (which reads the database).
    """
    if not parts:
        raise ValueError("an idempotency key needs at least one part besides the install id")
    if install_id is None:
        from core.install import install_id as current_install_id

        install_id = current_install_id()
    return "-".join([install_id, *(str(part) for part in parts)])


def get_gateway() -> PaymentGateway:
    """The gateway configured by the STRIPE_* settings (one client per configuration)."""
    return _gateway_for(
        settings.STRIPE_SECRET_KEY,
        settings.STRIPE_API_BASE,
        settings.STRIPE_WEBHOOK_SECRET,
        connect_webhook_secret(),
    )


def connect_webhook_secret() -> str:
    """The signing secret of the Connect webhook endpoint (settings, else the development
    default the stand-in is started with)."""
    return getattr(settings, "STRIPE_CONNECT_WEBHOOK_SECRET", DEFAULT_CONNECT_WEBHOOK_SECRET)


@lru_cache(maxsize=8)
def _gateway_for(
    secret_key: str, api_base: str, webhook_secret: str, connect_webhook_secret: str
) -> PaymentGateway:
    from payments.stripe_gateway import StripeGateway

    return StripeGateway(
        secret_key=secret_key,
        api_base=api_base,
        webhook_secret=webhook_secret,
        connect_webhook_secret=connect_webhook_secret,
    )
