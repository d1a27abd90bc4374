"""The Stripe Connect contract: the gateway's payout calls against every provider we use.

Always against our Stripe stand-in through both of its doors (the HTTP server, and the
in-process FakeGateway) and against localstripe, which has no Connect: there each call is
asserted to say so (ConnectUnavailable), never skipped. Against real Stripe test mode too when
STRIPE_SECRET_KEY holds a real `sk_test_` key; its transfers need a verified Express account of
that platform in STRIPE_TEST_CONNECTED_ACCOUNT (onboarding one takes a person in a browser)
and money in euros (the platform's balance is funded with Stripe's 4000 0000 0000 0077, whose
money is available at once).

A provider-specific step (the organizer's onboarding, reading the stand-in's counters) is a
`ConnectProvider` method; the tests talk only to those and to the gateway.
"""

from __future__ import annotations

import json
import os
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from devtools.stripe_standin import webhooks as standin_webhooks
from devtools.stripe_standin.inprocess import FakeGateway
from payments.gateway import (
    Balance,
    ChargeStatus,
    ConnectUnavailable,
    InvalidWebhook,
    PaymentGateway,
    PaymentProviderError,
)
from payments.stripe_gateway import StripeGateway
from tests.conftest import wait_for
from tests.contract.test_gateway_contract import REAL_STRIPE_API_BASE, real_stripe_test_key
from tests.stripe_fixtures import (
    LOCALSTRIPE_SECRET_KEY,
    STANDIN_SECRET_KEY,
    sign_stripe_payload,
    stripe_event,
)

WEBHOOK_SECRET = "whsec_contract_suite"
CONNECT_WEBHOOK_SECRET = "whsec_contract_suite_connect"
RETURN_URL = "https://groundswell.example/payouts/onboarding/done"
REFRESH_URL = "https://groundswell.example/payouts/onboarding/again"
# The stand-in's hosted onboarding form, as the organizer fills it in.
ONBOARDING_FORM = {
    "first_name": "Amélie",
    "last_name": "Dubois",
    "dob": "1988-04-12",
    "iban": "DE89 3704 0044 0532 0130 00",
    "tos": "accepted",
    "outcome": "verified",
}

pytestmark = pytest.mark.django_db


@dataclass
class ConnectProvider:
    """A provider behind StripeGateway. The base class is the one without Connect."""

    name: str
    gateway: PaymentGateway
    has_connect: bool = True
    api_base: str = ""
    secret_key: str = ""

    def onboard(self, account_id: str, link_url: str) -> None:
        """The organizer goes through the hosted onboarding the link leads to."""
        raise NotImplementedError

    def verified_destination(self) -> str:
        """A connected account that can receive transfers now."""
        account = self.gateway.create_connected_account(
            email=f"organizer-{tag()}@example.org", country="BE", member_id=f"contract-{tag()}"
        )
        self.onboard(account.id, self.link(account.id))
        return account.id

    def link(self, account_id: str) -> str:
        return self.gateway.create_account_link(
            account_id, refresh_url=REFRESH_URL, return_url=RETURN_URL
        )

    def link_prefix(self) -> str:
        raise NotImplementedError

    def transfers_counted(self, payout_id: str) -> int | None:
        """The stand-in's double-payout counter for this payout (None: no such counter)."""
        return None


@dataclass
class StandinProvider(ConnectProvider):
    """The stand-in's HTTP door: the organizer fills in its hosted onboarding page."""

    server: object = None

    def onboard(self, account_id, link_url):
        status, _, page = fetch(link_url)
        assert status == 200, page
        session = re.search(r'name="session" value="([^"]+)"', page).group(1)
        status, headers, _ = fetch(link_url, {**ONBOARDING_FORM, "session": session})
        assert (status, headers.get("location")) == (303, RETURN_URL)

    def link_prefix(self):
        # Where browsers reach the stand-in (its --public-url, by default localhost:PORT).
        port = urllib.parse.urlsplit(self.api_base).port
        return f"http://localhost:{port}/_standin/connect/onboarding/link_"

    def transfers_counted(self, payout_id):
        return self.server.stats()["transfers_by_payout"].get(payout_id, 0)


@dataclass
class FakeProvider(ConnectProvider):
    """The stand-in's in-process door: the stand-in's own onboarding shortcut
    (`POST /v1/accounts/{id}/_complete_onboarding`, what submitting the page does)."""

    gateway: FakeGateway = None

    def onboard(self, account_id, link_url):
        assert link_url.startswith(self.link_prefix())
        self.gateway.complete_onboarding(account_id)

    def link_prefix(self):
        return "/_standin/connect/onboarding/link_"  # this door has no public URL

    def transfers_counted(self, payout_id):
        return self.gateway.standin.stats.transfers.get(payout_id, 0)


@dataclass
class StripeProvider(ConnectProvider):
    def onboard(self, account_id, link_url):
        pytest.skip("Stripe's hosted onboarding needs a person in a browser")

    def verified_destination(self):
        account_id = os.environ.get("STRIPE_TEST_CONNECTED_ACCOUNT", "")
        if not account_id:
            pytest.skip(
                "transfers on real Stripe need STRIPE_TEST_CONNECTED_ACCOUNT=acct_… (a verified "
                "Express account of the test platform)"
            )
        return account_id

    def link_prefix(self):
        return "https://connect.stripe.com/setup/"


@pytest.fixture(params=["standin", "fake", "localstripe", "stripe-test-mode"])
def provider(request) -> ConnectProvider:
    if request.param == "standin":
        server = request.getfixturevalue("stripe_standin")
        return StandinProvider(
            name="standin",
            gateway=StripeGateway(
                secret_key=STANDIN_SECRET_KEY,
                api_base=server.base_url,
                webhook_secret=WEBHOOK_SECRET,
                connect_webhook_secret=CONNECT_WEBHOOK_SECRET,
            ),
            api_base=server.base_url,
            secret_key=STANDIN_SECRET_KEY,
            server=server,
        )
    if request.param == "fake":
        return FakeProvider(
            name="fake",
            gateway=FakeGateway(
                webhook_secret=WEBHOOK_SECRET, connect_webhook_secret=CONNECT_WEBHOOK_SECRET
            ),
        )
    if request.param == "localstripe":
        base_url = request.getfixturevalue("localstripe")
        return ConnectProvider(
            name="localstripe",
            gateway=StripeGateway(
                secret_key=LOCALSTRIPE_SECRET_KEY,
                api_base=base_url,
                webhook_secret=WEBHOOK_SECRET,
                connect_webhook_secret=CONNECT_WEBHOOK_SECRET,
            ),
            has_connect=False,
            api_base=base_url,
            secret_key=LOCALSTRIPE_SECRET_KEY,
        )
    key = real_stripe_test_key()
    if not key:
        pytest.skip("real Stripe test mode is off: export STRIPE_SECRET_KEY=sk_test_... to run it")
    return StripeProvider(
        name="stripe",
        gateway=StripeGateway(
            secret_key=key,
            api_base=REAL_STRIPE_API_BASE,
            webhook_secret=WEBHOOK_SECRET,
            connect_webhook_secret=CONNECT_WEBHOOK_SECRET,
        ),
        api_base=REAL_STRIPE_API_BASE,
        secret_key=key,
    )


@pytest.fixture
def gateway(provider) -> PaymentGateway:
    return provider.gateway


def tag() -> str:
    return uuid.uuid4().hex[:12]


def unique_key(purpose: str) -> str:
    return f"contract-{purpose}-{uuid.uuid4().hex}"


def fund(gateway, amount_minor=10_000):
    """Money on the platform's available balance: a charge on Stripe's card whose funds skip
    the pending balance (4000 0000 0000 0077)."""
    customer = gateway.create_customer(
        f"funds-{tag()}@example.org", "Contract Funds", f"contract-{tag()}"
    )
    card = gateway.attach_payment_method("pm_card_bypassPending", customer.id)
    charge = gateway.charge_saved_card(
        customer.id, card.id, amount_minor, "EUR", unique_key("fund")
    )
    assert charge.status == ChargeStatus.SUCCEEDED
    return charge


def assert_no_connect(call) -> None:
    """localstripe has no Connect: the gateway says so clearly, as a provider error."""
    with pytest.raises(ConnectUnavailable) as unavailable:
        call()
    error = unavailable.value
    assert isinstance(error, PaymentProviderError)
    assert (error.code, error.retryable) == ("connect_unavailable", False)
    assert "Connect" in str(error.message)
    assert "404" in error.detail


def send(gateway, destination, amount_minor=1_000, *, key=None, group=None, payout_id=None):
    payout_id = payout_id or f"p-{tag()}"
    return gateway.create_transfer(
        amount_minor=amount_minor,
        currency="EUR",
        destination=destination,
        idempotency_key=key or unique_key("transfer"),
        transfer_group=group or f"payout-{payout_id}",
        metadata={"payout_id": payout_id, "install": "contract"},
    )


# --- accounts and onboarding -----------------------------------------------------------------


def test_the_gateway_implements_the_interface(gateway):
    assert isinstance(gateway, PaymentGateway)


def test_one_member_gets_one_connected_account(provider, gateway):
    member_id = f"contract-{tag()}"

    def create(member=member_id):
        return gateway.create_connected_account(
            email="organizer@example.org",
            country="BE",
            member_id=member,
        )

    if not provider.has_connect:
        assert_no_connect(create)
        return
    first, again = create(), create()
    assert again == first
    assert create(f"contract-{tag()}").id != first.id
    assert first.id.startswith("acct_")
    assert (first.email, first.country, first.default_currency) == (
        "organizer@example.org",
        "BE",
        "EUR",
    )


def test_a_new_account_is_verified_through_its_link_and_hosted_onboarding(provider, gateway):
    if not provider.has_connect:
        assert_no_connect(
            lambda: gateway.create_connected_account(
                email="organizer@example.org", country="BE", member_id=f"contract-{tag()}"
            )
        )
        assert_no_connect(lambda: gateway.retrieve_connected_account("acct_doesnotexist"))
        assert_no_connect(lambda: provider.link("acct_doesnotexist"))
        return
    account = gateway.create_connected_account(
        email="organizer@example.org", country="BE", member_id=f"contract-{tag()}"
    )
    assert not (account.payouts_enabled or account.details_submitted)
    assert account.requirements_due and account.disabled_reason

    link = provider.link(account.id)
    assert link.startswith(provider.link_prefix())
    provider.onboard(account.id, link)

    verified = gateway.retrieve_connected_account(account.id)
    assert (verified.id, verified.payouts_enabled, verified.details_submitted) == (
        account.id,
        True,
        True,
    )
    assert (verified.requirements_due, verified.disabled_reason) == ((), "")


def test_unknown_connect_ids_are_missing_resources(provider, gateway):
    calls = {
        "retrieve account": lambda: gateway.retrieve_connected_account("acct_doesnotexist0"),
        "retrieve transfer": lambda: gateway.retrieve_transfer("tr_doesnotexist0"),
        "reverse": lambda: gateway.reverse_transfer(
            "tr_doesnotexist0", amount_minor=100, idempotency_key=unique_key("reverse")
        ),
        "transfer to nobody": lambda: send(gateway, "acct_doesnotexist0"),
    }
    for call, make in calls.items():
        if not provider.has_connect:
            assert_no_connect(make)
            continue
        with pytest.raises(PaymentProviderError) as missing:
            make()
        assert not missing.value.retryable, call
        assert missing.value.code == "resource_missing", call


# --- transfers -------------------------------------------------------------------------------


def test_a_transfer_sent_twice_with_one_key_is_one_transfer(provider, gateway):
    if not provider.has_connect:
        assert_no_connect(lambda: send(gateway, "acct_doesnotexist0"))
        assert_no_connect(lambda: gateway.find_transfers(transfer_group="payout-none"))
        return
    destination = provider.verified_destination()
    fund(gateway)
    payout_id, key = f"p-{tag()}", unique_key("transfer")

    first = send(gateway, destination, 1_500, key=key, payout_id=payout_id)
    again = send(gateway, destination, 1_500, key=key, payout_id=payout_id)

    assert again == first
    assert (first.amount_minor, first.currency, first.destination) == (1_500, "EUR", destination)
    assert first.metadata == {"payout_id": payout_id, "install": "contract"}
    assert gateway.find_transfers(transfer_group=f"payout-{payout_id}") == [first]
    assert provider.transfers_counted(payout_id) in (1, None)
    assert gateway.retrieve_transfer(first.id) == first


def test_a_transfer_above_the_available_balance_is_balance_insufficient(provider, gateway):
    if not provider.has_connect:
        assert_no_connect(lambda: send(gateway, "acct_doesnotexist0", 10**9))
        return
    destination = provider.verified_destination()
    available = gateway.retrieve_balance("EUR").available_minor
    payout_id = f"p-{tag()}"

    with pytest.raises(PaymentProviderError) as refused:
        send(gateway, destination, max(available, 0) + 1, payout_id=payout_id)

    assert refused.value.code == "balance_insufficient"
    assert not refused.value.retryable
    assert "balance" in str(refused.value.message)
    assert gateway.find_transfers(transfer_group=f"payout-{payout_id}") == []
    assert provider.transfers_counted(payout_id) in (0, None)


def test_find_transfers_finds_only_its_groups(provider, gateway):
    if not provider.has_connect:
        assert_no_connect(lambda: gateway.find_transfers(transfer_group="payout-x"))
        return
    destination = provider.verified_destination()
    fund(gateway)
    group, other_group = f"payout-{tag()}", f"payout-{tag()}"
    first = send(gateway, destination, 100, group=group)
    other = send(gateway, destination, 100, group=other_group)
    second = send(gateway, destination, 100, group=group)

    found = gateway.find_transfers(transfer_group=group)
    assert {t.id for t in found} == {first.id, second.id}
    assert all(t.transfer_group == group for t in found)
    assert found[0].created >= found[1].created, "newest first"
    assert gateway.find_transfers(transfer_group=other_group) == [other]
    assert gateway.find_transfers(transfer_group=f"payout-{tag()}") == []


def test_list_transfers_includes_a_new_transfer(provider, gateway):
    if not provider.has_connect:
        assert_no_connect(lambda: gateway.list_transfers())
        return
    destination = provider.verified_destination()
    fund(gateway)
    sent = send(gateway, destination, 100)
    listed = {found.id: found for found in gateway.list_transfers(created_gte=sent.created)}
    assert listed[sent.id] == sent
    later = sent.created + timedelta(seconds=1)
    assert sent.id not in {found.id for found in gateway.list_transfers(created_gte=later)}


def test_a_transfer_reversed_in_part_then_in_full(provider, gateway):
    if not provider.has_connect:
        assert_no_connect(
            lambda: gateway.reverse_transfer(
                "tr_doesnotexist0", amount_minor=1, idempotency_key=unique_key("reverse")
            )
        )
        return
    destination = provider.verified_destination()
    fund(gateway)
    sent = send(gateway, destination, 1_000)
    key = unique_key("reversal")

    part = gateway.reverse_transfer(sent.id, amount_minor=400, idempotency_key=key)
    assert gateway.reverse_transfer(sent.id, amount_minor=400, idempotency_key=key) == part

    assert (part.transfer_id, part.amount_minor) == (sent.id, 400)
    after_part = gateway.retrieve_transfer(sent.id)
    assert (after_part.amount_reversed_minor, after_part.reversed) == (400, False)
    gateway.reverse_transfer(sent.id, amount_minor=600, idempotency_key=unique_key("reversal"))
    after_all = gateway.retrieve_transfer(sent.id)
    assert (after_all.amount_reversed_minor, after_all.reversed) == (1_000, True)
    with pytest.raises(PaymentProviderError) as nothing_left:
        gateway.reverse_transfer(sent.id, amount_minor=1, idempotency_key=unique_key("reversal"))
    assert not nothing_left.value.retryable


# --- the platform's balance ------------------------------------------------------------------


def test_the_platform_balance_follows_charges_and_transfers(provider, gateway):
    before = gateway.retrieve_balance("eur")
    assert isinstance(before, Balance) and before.currency == "EUR"
    assert isinstance(before.available_minor, int) and isinstance(before.pending_minor, int)
    if not provider.has_connect:  # localstripe's balance is a fixed answer: nothing moves it
        return
    if provider.name == "stripe":
        pytest.skip("the test platform's balance moves with everything else on the account")
    charge = fund(gateway, 5_000)
    funded = gateway.retrieve_balance("EUR")
    assert funded.available_minor == before.available_minor + 5_000 - charge.fee_minor
    destination = provider.verified_destination()
    send(gateway, destination, 2_000)
    assert gateway.retrieve_balance("EUR").available_minor == funded.available_minor - 2_000


# --- Connect webhooks ------------------------------------------------------------------------
# Verification is local computation, the same for every provider: each gateway class once.


@pytest.fixture(params=["stripe-gateway", "fake-gateway"])
def webhook_gateway(request):
    if request.param == "fake-gateway":
        return FakeGateway(
            webhook_secret=WEBHOOK_SECRET, connect_webhook_secret=CONNECT_WEBHOOK_SECRET
        )
    return StripeGateway(
        secret_key=LOCALSTRIPE_SECRET_KEY,
        api_base="http://127.0.0.1:9",  # never called
        webhook_secret=WEBHOOK_SECRET,
        connect_webhook_secret=CONNECT_WEBHOOK_SECRET,
    )


def connect_event(account="acct_1Organizer"):
    event = stripe_event("account.updated", {"id": account, "object": "account"})
    event["account"] = account
    return event


def signed(event, secret):
    body = json.dumps(event).encode()
    return body, sign_stripe_payload(body, secret)


def test_a_connect_delivery_verifies_with_the_connect_secret_only(webhook_gateway):
    event = connect_event()
    body, header = signed(event, CONNECT_WEBHOOK_SECRET)

    verified = webhook_gateway.verify_webhook(body, header, connect=True)

    assert (verified.id, verified.type, verified.account) == (
        event["id"],
        "account.updated",
        "acct_1Organizer",
    )
    with pytest.raises(InvalidWebhook):  # the platform endpoint refuses it
        webhook_gateway.verify_webhook(body, header)


@pytest.mark.parametrize(
    "secret", [WEBHOOK_SECRET, "whsec_someone_else"], ids=["platform", "wrong"]
)
def test_a_connect_delivery_signed_with_another_secret_is_refused(webhook_gateway, secret):
    body, header = signed(connect_event(), secret)
    with pytest.raises(InvalidWebhook, match="signature"):
        webhook_gateway.verify_webhook(body, header, connect=True)


def test_a_gateway_without_a_connect_secret_refuses_connect_deliveries():
    gateway = StripeGateway(
        secret_key=LOCALSTRIPE_SECRET_KEY, api_base="http://127.0.0.1:9", webhook_secret="whsec_a"
    )
    body, header = signed(connect_event(), "whsec_a")
    with pytest.raises(InvalidWebhook, match="No Connect webhook signing secret"):
        gateway.verify_webhook(body, header, connect=True)


class _Receiver(ThreadingHTTPServer):
    """A webhook endpoint on this machine that keeps what it is sent: (path, body, header)."""

    def __init__(self):
        self.deliveries: list[tuple[str, bytes, str]] = []
        super().__init__(("127.0.0.1", 0), _Keep)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Keep(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802  (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.deliveries.append((self.path, body, self.headers.get("Stripe-Signature") or ""))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    server = _Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_providers_connect_events_verify_on_the_connect_endpoint(provider, receiver):
    """What the provider signs and sends to a Connect endpoint (connect=true) verifies with
    that endpoint's secret, carries the account, and is not sent to the platform endpoint."""
    gateway = provider.gateway
    if not provider.has_connect:  # localstripe has no account to send an event about
        assert_no_connect(
            lambda: gateway.create_connected_account(
                email="organizer@example.org", country="BE", member_id=f"contract-{tag()}"
            )
        )
        return
    if provider.name == "stripe":
        pytest.skip("real Stripe cannot deliver to an endpoint on this machine")
    if provider.name == "fake":
        standin_webhooks.install(gateway.standin)  # the in-process door sends webhooks too
    platform_id, _, platform_secret = gateway.ensure_webhook_endpoint(
        f"{receiver.url}/platform", ["account.updated"]
    )
    connect_id, outcome, connect_secret = gateway.ensure_webhook_endpoint(
        f"{receiver.url}/connect", ["account.updated"], connect=True
    )
    try:
        assert outcome == "created" and connect_secret.startswith("whsec_")
        assert connect_secret != platform_secret
        account = gateway.create_connected_account(
            email="organizer@example.org", country="BE", member_id=f"contract-{tag()}"
        )
        provider.onboard(account.id, provider.link(account.id))

        def delivered():
            return [
                (path, body, header)
                for path, body, header in list(receiver.deliveries)
                if json.loads(body).get("account") == account.id
            ]

        assert wait_for(delivered, timeout=15), receiver.deliveries
    finally:
        delete_endpoints(provider, platform_id, connect_id)
    verifier = StripeGateway(
        secret_key=provider.secret_key or STANDIN_SECRET_KEY,
        api_base="http://127.0.0.1:9",  # never called
        webhook_secret=platform_secret,
        connect_webhook_secret=connect_secret,
    )
    [(path, body, header)] = delivered()
    assert path == "/connect"
    event = verifier.verify_webhook(body, header, connect=True)
    assert (event.type, event.account, event.data_object["id"]) == (
        "account.updated",
        account.id,
        account.id,
    )
    assert event.data_object["payouts_enabled"] is True
    with pytest.raises(InvalidWebhook):
        verifier.verify_webhook(body, header)  # not with the platform endpoint's secret


def delete_endpoints(provider, *endpoint_ids):
    """The session's stand-in would go on sending to a receiver that is gone."""
    if provider.name == "fake":
        provider.gateway.standin.stop()
        return
    for endpoint_id in endpoint_ids:
        request = urllib.request.Request(
            f"{provider.api_base}/v1/webhook_endpoints/{endpoint_id}",
            method="DELETE",
            headers={"Authorization": f"Bearer {provider.secret_key}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200


# --- helpers ---------------------------------------------------------------------------------


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def fetch(url, form=None):
    """(status, headers, text) of a browser's request, without following redirects."""
    opener = urllib.request.build_opener(_NoRedirects)
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    try:
        with opener.open(url, data=data, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as answer:
        return answer.code, dict(answer.headers), answer.read().decode()


def test_transfer_values_are_plain_data():
    from payments.gateway import Transfer

    sent = Transfer(id="tr_1", amount_minor=100, currency="EUR", destination="acct_1")
    with pytest.raises(AttributeError):
        sent.amount_minor = 200
    assert sent.created is None and sent.metadata == {}
