"""get_gateway() and the boundary rules: settings-driven clients, only payments imports stripe;
idempotency keys namespaced by the install id; what StripeGateway makes of a provider that
lacks a parameter or search (localstripe's answers, replayed in-process)."""

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from requests.structures import CaseInsensitiveDict

from core.install import install_id
from devtools.stripe_standin.inprocess import FakeGateway, InProcessHTTPClient
from devtools.stripe_standin.process import free_port
from devtools.stripe_standin.state import Standin
from payments.gateway import (
    Charge,
    ChargeStatus,
    PaymentGateway,
    PaymentProviderError,
    SearchUnavailable,
    get_gateway,
    idempotency_key,
)
from payments.stripe_gateway import StripeGateway, _charge

BASE_DIR = Path(__file__).resolve().parents[2]
IMPORTS_STRIPE = re.compile(r"^\s*(import stripe\b|from stripe\b)", re.MULTILINE)


def test_get_gateway_follows_the_settings(settings):
    settings.STRIPE_API_BASE = "http://127.0.0.1:1"
    first = get_gateway()
    assert isinstance(first, PaymentGateway) and get_gateway() is first
    settings.STRIPE_API_BASE = "http://127.0.0.1:2"
    assert get_gateway() is not first


def test_an_unreachable_provider_is_a_retryable_provider_error():
    gateway = StripeGateway(
        secret_key="sk_test_x",
        api_base=f"http://127.0.0.1:{free_port()}",
        webhook_secret="whsec_x",
        max_network_retries=0,
        install_id="test",
    )
    with pytest.raises(PaymentProviderError) as failure:
        gateway.create_customer(email="a@example.org", name="A", member_id=1)
    assert failure.value.retryable
    assert "try again" in failure.value.message


def app_python_files():
    # devtools (the Stripe stand-in) is test and demo tooling above every app, like tests/.
    skipped = {"payments", "tests", "bench", "var", "node_modules", "test-artifacts", "static"}
    skipped |= {"devtools"}
    for top in BASE_DIR.iterdir():
        if top.is_dir() and not top.name.startswith(".") and top.name not in skipped:
            yield from top.rglob("*.py")


def test_only_the_payments_app_imports_stripe():
    offenders = [
        str(path.relative_to(BASE_DIR))
        for path in app_python_files()
        if IMPORTS_STRIPE.search(path.read_text(errors="replace"))
    ]
    assert offenders == []
    assert IMPORTS_STRIPE.search((BASE_DIR / "payments" / "stripe_gateway.py").read_text())
    assert not IMPORTS_STRIPE.search((BASE_DIR / "payments" / "gateway.py").read_text())


IMPORTS_DEVTOOLS = re.compile(r"^\s*(import devtools\b|from devtools\b)", re.MULTILINE)


def test_no_app_and_no_setting_imports_the_stripe_standin():
    """The stand-in is test and demo tooling: production code never loads it."""
    offenders = [
        str(path.relative_to(BASE_DIR))
        for path in [*app_python_files(), *(BASE_DIR / "payments").rglob("*.py")]
        if IMPORTS_DEVTOOLS.search(path.read_text(errors="replace"))
    ]
    assert offenders == []


# --- Idempotency keys ------------------------------------------------------------------------


def test_an_idempotency_key_starts_with_the_install_id(settings):
    settings.INSTALL_ID = "town-a"
    assert idempotency_key("pledge", "p7x", "attempt", 2) == "town-a-pledge-p7x-attempt-2"
    assert idempotency_key("member", 5, "customer", install_id="b") == "b-member-5-customer"
    with pytest.raises(ValueError):
        idempotency_key()


@pytest.mark.django_db
def test_the_customer_key_is_namespaced_by_the_databases_install_id():
    gateway = FakeGateway()
    gateway.create_customer("ada@example.org", "Ada", member_id=5)
    assert [key for _, key in gateway.standin.idempotency] == [f"{install_id()}-member-5-customer"]


def test_two_databases_sharing_one_stripe_account_get_their_own_customers():
    # Each numbers its members from 1: with the key member-5-customer, the second database's
    # member 5 was given the first one's customer (and email) for 24 hours.
    account = Standin()
    town_a = FakeGateway(standin=account, install_id="towna")
    town_b = FakeGateway(standin=account, install_id="townb")
    ada = town_a.create_customer("ada@a.example", "Ada", member_id=5)
    bo = town_b.create_customer("bo@b.example", "Bo", member_id=5)
    assert ada.id != bo.id and bo.email == "bo@b.example"
    assert town_a.create_customer("ada@a.example", "Ada", member_id=5) == ada


# --- Charge values ---------------------------------------------------------------------------


def test_a_charge_made_the_old_way_still_works_and_has_its_own_metadata():
    first = Charge(id="pi_1", status=ChargeStatus.SUCCEEDED)
    second = Charge(id="pi_2", status=ChargeStatus.FAILED, decline_code="generic_decline")
    assert (first.amount_minor, first.currency, first.fee_minor, first.created) == (
        None,
        "",
        None,
        None,
    )
    assert first.metadata == {} and first.metadata is not second.metadata


def _payment_intent(**changes):
    payment_intent = {
        "id": "pi_1",
        "object": "payment_intent",
        "status": "succeeded",
        "amount": 1000,
        "currency": "eur",
        "metadata": {"pledge": "p1"},
        "created": 1_800_000_000,
        "latest_charge": "ch_1",
    }
    return {**payment_intent, **changes}


def _expanded_charge(fee=40, currency="eur"):
    return {
        "id": "ch_1",
        "object": "charge",
        "balance_transaction": {"id": "txn_1", "fee": fee, "currency": currency},
    }


def test_the_fee_is_read_from_the_expanded_balance_transaction_only():
    charge = _charge(_payment_intent(latest_charge=_expanded_charge()))
    assert (charge.charge_id, charge.fee_minor) == ("ch_1", 40)
    assert (charge.amount_minor, charge.currency, charge.metadata) == (
        1000,
        "EUR",
        {"pledge": "p1"},
    )
    assert charge.created == datetime.fromtimestamp(1_800_000_000, tz=UTC)
    assert _charge(_payment_intent()).fee_minor is None  # not expanded: not known
    # Stripe's asynchronous capture answers before the balance transaction exists.
    pending = {"id": "ch_1", "object": "charge", "balance_transaction": None}
    assert _charge(_payment_intent(latest_charge=pending)).fee_minor is None
    # A fee in the account's settlement currency is not a fee in the charge's.
    converted = _expanded_charge(fee=35, currency="usd")
    assert _charge(_payment_intent(latest_charge=converted)).fee_minor is None


# --- A provider without some of Stripe (localstripe's answers) ------------------------------


class LocalstripeLikeClient(InProcessHTTPClient):
    """The stand-in, but refusing what localstripe refuses, with localstripe's bodies."""

    def __init__(self, standin, *, refuses=(), no_search=False):
        super().__init__(standin)
        self.refuses, self.no_search = refuses, no_search
        self.requests = []

    def request(self, method, url, headers, post_data=None, **kwargs):
        self.requests.append((method, url, post_data))
        sent = f"{url}&{(post_data or b'').decode() if isinstance(post_data, bytes) else post_data}"
        for name in self.refuses:
            if f"{name}=" in sent or f"{name}%5B" in sent:
                return _localstripe_error(400, f"Unexpected {name}")
        if self.no_search and "/search" in url:
            return _localstripe_error(404, "Not Found")
        return super().request(method, url, headers, post_data, **kwargs)


def _localstripe_error(status, message):
    body = json.dumps({"error": {"message": message, "type": "invalid_request_error"}})
    return body.encode(), status, CaseInsensitiveDict()


def _gateway_over(client):
    return StripeGateway(
        secret_key="sk_test_x",
        api_base="http://localstripe.invalid",
        webhook_secret="whsec_x",
        max_network_retries=0,
        http_client=client,
        install_id="test",
    )


def _saved_card(gateway):
    customer = gateway.create_customer("ada@example.org", "Ada", member_id=1)
    return customer.id, gateway.attach_payment_method("pm_card_visa", customer.id).id


def test_a_provider_that_refuses_the_descriptor_suffix_is_charged_without_it():
    client = LocalstripeLikeClient(Standin(), refuses=["statement_descriptor_suffix"])
    gateway = _gateway_over(client)
    customer, card = _saved_card(gateway)

    def charge(key):
        return gateway.charge_saved_card(
            customer, card, 500, "EUR", key, statement_descriptor_suffix="GARDEN"
        )

    before = len(client.requests)
    assert charge("k1").status == ChargeStatus.SUCCEEDED
    assert len(client.requests) == before + 2  # refused by name once, then sent without it
    assert charge("k2").status == ChargeStatus.SUCCEEDED
    assert len(client.requests) == before + 3  # remembered: not sent again


def test_a_descriptor_suffix_the_provider_knows_but_refuses_is_not_dropped():
    gateway = FakeGateway(install_id="test")
    customer, card = _saved_card(gateway)
    with pytest.raises(PaymentProviderError) as refused:
        gateway.charge_saved_card(
            customer, card, 500, "EUR", "k1", statement_descriptor_suffix="12345"
        )
    assert not refused.value.retryable
    assert gateway.payment_intents == {}


def test_a_provider_without_a_created_filter_is_filtered_here():
    standin = Standin()
    client = LocalstripeLikeClient(standin, refuses=["created"])
    gateway = _gateway_over(client)
    customer, card = _saved_card(gateway)
    charge = gateway.charge_saved_card(customer, card, 500, "EUR", "k1")
    assert [found.id for found in gateway.list_payments(created_gte=charge.created)] == [charge.id]
    later = charge.created + timedelta(seconds=1)
    assert list(gateway.list_payments(created_gte=later)) == []
    with pytest.raises(ValueError):
        gateway.list_payments(created_gte=datetime(2030, 1, 1))  # naive: which zone?


def test_a_provider_without_search_raises_search_unavailable():
    gateway = _gateway_over(LocalstripeLikeClient(Standin(), no_search=True))
    with pytest.raises(SearchUnavailable) as unavailable:
        gateway.find_payments({"pledge": "p1", "attempt": "2"})
    assert not unavailable.value.retryable
    assert unavailable.value.code == "search_unavailable"
    with pytest.raises(ValueError):
        gateway.find_payments({})


def test_find_payments_sends_stripes_query_language():
    client = LocalstripeLikeClient(Standin())
    gateway = _gateway_over(client)
    gateway.find_payments({"pledge": "p1", "attempt": 2})
    method, url, _ = client.requests[-1]
    query = parse_qs(urlsplit(url).query)
    assert (method, urlsplit(url).path) == ("get", "/v1/payment_intents/search")
    assert query["query"] == ["metadata['attempt']:'2' AND metadata['pledge']:'p1'"]
