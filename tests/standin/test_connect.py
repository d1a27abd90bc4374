"""Stripe Connect in the stand-in: Express accounts, account links and the hosted onboarding
page, transfers and their reversals, and each account's balance.

Most tests run in-process: the official SDK over `InProcessHTTPClient` (the dispatcher the HTTP
door uses) against a `Standin` the test can fund and whose clock it moves, and the pages through
the HTTP door's ASGI app (`server.create_app`) driven without a socket. The last tests start a
stand-in server (`process.start()`): the SDK over HTTP, the onboarding form with plain HTTP, and
headless Chromium for a screenshot of the page.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest
import stripe

from devtools.stripe_standin import process
from devtools.stripe_standin.inprocess import InProcessHTTPClient
from devtools.stripe_standin.resources import balance, connect
from devtools.stripe_standin.server import create_app
from devtools.stripe_standin.state import Standin, new_id
from tests.standin.inprocess_api import Clock

SECRET_KEY = "sk_test_connect"
PUBLIC_URL = "http://standin.test"
RETURN_URL = "https://groundswell.example/payouts/onboarding/done"
REFRESH_URL = "https://groundswell.example/payouts/onboarding/again"

# Stripe's published sample objects (MIT, see tests/data/stripe/README.md), the shapes to match:
# every key, the same value types (null where Stripe allows it).
FIXTURES = json.loads(
    (Path(__file__).resolve().parents[1] / "data" / "stripe" / "stripe-fixtures3.json").read_text()
)["resources"]
ACCOUNT_FIXTURE = FIXTURES["account"]
ACCOUNT_LINK_FIXTURE = FIXTURES["account_link"]
BANK_ACCOUNT_FIXTURE = FIXTURES["bank_account"]
TRANSFER_FIXTURE = FIXTURES["transfer"]
TRANSFER_REVERSAL_FIXTURE = FIXTURES["transfer_reversal"]
BALANCE_FIXTURE = FIXTURES["balance"]

# Where Stripe's API reference allows null though the sample has a value.
NULLABLE = {
    "business_profile.annual_revenue",
    "business_profile.support_address",
    "email",
    "requirements.disabled_reason",
    "routing_number",
    "account_holder_name",
    "description",
    "transfer_group",
    "source_transaction",
    "destination_payment_refund",
}


def assert_stripe_shape(ours, sample, path=""):
    """Every key of Stripe's sample is in ours, with a value of the same type."""
    if ours is None and sample is not None:
        assert path in NULLABLE, f"{path} is null, Stripe's sample has {sample!r}"
    elif isinstance(sample, dict):
        assert isinstance(ours, dict), f"{path or 'object'} is not an object"
        for key, value in sample.items():
            where = f"{path}.{key}" if path else key
            assert key in ours, f"{where} is missing"
            assert_stripe_shape(ours[key], value, where)
    elif isinstance(sample, list):
        assert isinstance(ours, list), f"{path} is not a list"
        if sample and ours:
            assert_stripe_shape(ours[0], sample[0], f"{path}[0]")
    elif sample is not None:
        assert type(ours) is type(sample), f"{path}: {ours!r} is not like {sample!r}"


# --- the in-process stand-in ------------------------------------------------------------


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def standin(clock):
    return Standin(clock=clock, public_url=PUBLIC_URL)


@pytest.fixture
def sdk(standin):
    return stripe.StripeClient(
        SECRET_KEY,
        base_addresses={"api": PUBLIC_URL},
        http_client=InProcessHTTPClient(standin),
        max_network_retries=0,
    )


def asgi(standin, method, url, *, form=None, headers=None):
    """One request to the HTTP door's app, without a socket: (status, headers, text)."""
    parts = urllib.parse.urlsplit(url)
    body = urllib.parse.urlencode(form).encode() if form is not None else b""
    request_headers = {"host": "standin.test", **(headers or {})}
    if form is not None:
        request_headers["content-type"] = "application/x-www-form-urlencoded"
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": parts.path,
        "raw_path": parts.path.encode(),
        "query_string": parts.query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in request_headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("standin.test", 80),
    }
    messages = []

    async def run():
        delivered = False

        async def receive():
            nonlocal delivered
            if delivered:
                return {"type": "http.disconnect"}
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message):
            messages.append(message)

        await create_app(standin)(scope, receive, send)

    # In a thread of its own: the browser tests' Playwright keeps an event loop in this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, run()).result()
    start = next(m for m in messages if m["type"] == "http.response.start")
    text = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    answer_headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], answer_headers, text.decode()


def express_account(sdk, **extra):
    params = {
        "type": "express",
        "country": "BE",
        "email": "organizer@example.org",
        "capabilities": {"card_payments": {"requested": True}, "transfers": {"requested": True}},
        **extra,
    }
    return sdk.v1.accounts.create(params)


def onboarding_link(sdk, account_id):
    return sdk.v1.account_links.create(
        {
            "account": account_id,
            "type": "account_onboarding",
            "refresh_url": REFRESH_URL,
            "return_url": RETURN_URL,
        }
    )


def complete(sdk, account_id, outcome="verified"):
    response = sdk.raw_request(
        "post", f"/v1/accounts/{account_id}/_complete_onboarding", outcome=outcome
    )
    return sdk.deserialize(response, api_mode="V1")


def verified_account(sdk):
    account = express_account(sdk)
    complete(sdk, account.id)
    return account.id


def session_of(page_html):
    return re.search(r'name="session" value="([^"]+)"', page_html).group(1)


FORM = {
    "first_name": "Amélie",
    "last_name": "Dubois",
    "dob": "1988-04-12",
    "iban": "DE89 3704 0044 0532 0130 00",
    "tos": "accepted",
    "outcome": "verified",
}


def fund_platform(standin, amount, currency="eur"):
    """Money on the platform's balance, as a succeeded charge leaves it."""
    with standin.lock:
        balance.record(
            SimpleNamespace(standin=standin),
            type="charge",
            amount=amount,
            currency=currency,
            source=new_id("ch"),
        )


def charge(sdk, amount, *, refunded=0, currency="eur"):
    """A succeeded card charge (through a PaymentIntent), part of it refunded if asked."""
    payment_intent = sdk.v1.payment_intents.create(
        {
            "amount": amount,
            "currency": currency,
            "payment_method": "pm_card_visa",
            "payment_method_types": ["card"],
            "confirm": True,
        }
    )
    assert payment_intent.status == "succeeded"
    if refunded:
        sdk.v1.refunds.create({"charge": payment_intent.latest_charge, "amount": refunded})
    return payment_intent.latest_charge


def amounts(balance_object):
    def by_currency(part):
        return {entry["currency"]: entry["amount"] for entry in balance_object[part]}

    return by_currency("available"), by_currency("pending")


def events(standin, event_type):
    return [event for event in standin.all("event") if event["type"] == event_type]


# --- accounts ---------------------------------------------------------------------------


def test_a_new_express_account_is_restricted_and_shaped_like_stripes(sdk):
    account = express_account(
        sdk,
        business_type="individual",
        business_profile={"name": "Park benches for Ledeberg", "mcc": "8398"},
        metadata={"member_id": "42"},
    )

    assert account.id.startswith("acct_")
    assert account.type == "express"
    assert (account.charges_enabled, account.payouts_enabled, account.details_submitted) == (
        False,
        False,
        False,
    )
    assert account.capabilities.to_dict() == {"card_payments": "inactive", "transfers": "inactive"}
    due = account.requirements.currently_due
    for item in (
        "external_account",
        "individual.first_name",
        "individual.dob.day",
        "tos_acceptance.date",
        "business_profile.url",
    ):
        assert item in due
    assert "business_profile.mcc" not in due  # given
    assert account.requirements.disabled_reason == "requirements.past_due"
    assert account.default_currency == "eur"
    assert account.metadata.to_dict() == {"member_id": "42"}
    assert account.settings.dashboard.display_name == "Park benches for Ledeberg"
    assert_stripe_shape(account.to_dict(), ACCOUNT_FIXTURE)
    assert sdk.v1.accounts.retrieve(account.id).to_dict() == (account.to_dict())
    # Without a business type, choosing one is due too.
    assert "business_type" in express_account(sdk).requirements.currently_due


@pytest.mark.parametrize(
    ("params", "param", "message"),
    [
        ({"type": "standard"}, "type", "Express accounts only"),
        ({"type": "custom"}, "type", "Express accounts only"),
        ({"type": "express", "country": "BE"}, "capabilities", "transfers"),
        (
            {"type": "express", "capabilities": {"card_payments": {"requested": True}}},
            "capabilities",
            "transfers",
        ),
        (
            {
                "type": "express",
                "country": "XX",
                "capabilities": {"transfers": {"requested": True}},
            },
            "country",
            "XX",
        ),
        (
            {"type": "express", "tos_acceptance": {"date": "1"}},
            "tos_acceptance[date]",
            "unknown parameter",
        ),
    ],
)
def test_accounts_the_stand_in_refuses(sdk, params, param, message):
    with pytest.raises(stripe.InvalidRequestError) as refused:
        sdk.v1.accounts.create(params)

    assert refused.value.http_status == 400
    assert refused.value.param == param
    assert message in refused.value.user_message


def test_update_list_and_delete_an_account(sdk, standin):
    account = express_account(sdk)
    other = express_account(sdk)

    updated = sdk.v1.accounts.update(
        account.id,
        {
            "email": "new@example.org",
            "metadata": {"campaign": "7"},
            "business_profile": {"url": "https://groundswell.example/c/7"},
        },
    )

    assert updated.email == "new@example.org"
    assert updated.metadata.to_dict() == {"campaign": "7"}
    assert updated.business_profile.url == "https://groundswell.example/c/7"
    assert "business_profile.url" not in updated.requirements.currently_due
    (event,) = events(standin, "account.updated")
    assert event["account"] == account.id
    assert event["data"]["previous_attributes"]["email"] == "organizer@example.org"
    assert event["data"]["previous_attributes"]["metadata"] == {}
    listed = sdk.v1.accounts.list({"limit": 10})
    assert {item.id for item in listed.data} == {account.id, other.id}

    deleted = sdk.v1.accounts.delete(account.id)

    assert (deleted.id, deleted.deleted) == (account.id, True)
    with pytest.raises(stripe.InvalidRequestError) as gone:
        sdk.v1.accounts.retrieve(account.id)
    assert gone.value.http_status == 404
    assert [item.id for item in sdk.v1.accounts.list().data] == [other.id]


def test_the_platforms_own_account(sdk):
    account = express_account(sdk)

    platform = sdk.v1.accounts.retrieve_current()
    acting = sdk.v1.accounts.retrieve_current(options={"stripe_account": account.id})

    assert platform.id == connect.PLATFORM_ACCOUNT_ID
    assert (platform.charges_enabled, platform.payouts_enabled) == (True, True)
    assert_stripe_shape(platform.to_dict(), ACCOUNT_FIXTURE)
    assert acting.id == account.id
    assert connect.PLATFORM_ACCOUNT_ID not in {item.id for item in sdk.v1.accounts.list().data}


# --- account links and the onboarding page ---------------------------------------------


def test_an_account_link_is_shaped_like_stripes_and_expires_after_five_minutes(sdk):
    account = express_account(sdk)

    link = onboarding_link(sdk, account.id)

    assert_stripe_shape(link.to_dict(), ACCOUNT_LINK_FIXTURE)
    assert link.expires_at == link.created + 300
    assert link.url.startswith(f"{PUBLIC_URL}/_standin/connect/onboarding/link_")


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"type": "account_update"}, "type"),
        ({"account": "acct_missing"}, "account"),
        ({"return_url": "not a url"}, "return_url"),
        ({"refresh_url": None}, "refresh_url"),
    ],
)
def test_account_links_the_stand_in_refuses(sdk, change, param):
    account = express_account(sdk)
    params = {
        "account": account.id,
        "type": "account_onboarding",
        "refresh_url": REFRESH_URL,
        "return_url": RETURN_URL,
        **change,
    }
    params = {key: value for key, value in params.items() if value is not None}

    with pytest.raises(stripe.InvalidRequestError) as refused:
        sdk.v1.account_links.create(params)

    assert refused.value.param == param


def test_the_onboarding_page_verifies_the_account(sdk, standin):
    account = express_account(sdk)
    link = onboarding_link(sdk, account.id)

    status, _, page = asgi(standin, "GET", link.url)

    assert status == 200
    assert "Stripe stand-in · test mode" in page
    assert 'value="DE89 3704 0044 0532 0130 00"' in page  # Stripe's test IBAN
    assert re.search(r'value="verified"\s+checked', page)
    status, headers, _ = asgi(
        standin,
        "POST",
        link.url,
        form={**FORM, "session": session_of(page)},
        headers={"user-agent": "pytest"},
    )

    assert (status, headers["location"]) == (303, RETURN_URL)
    verified = sdk.v1.accounts.retrieve(account.id)
    assert (verified.details_submitted, verified.charges_enabled, verified.payouts_enabled) == (
        True,
        True,
        True,
    )
    assert verified.capabilities.to_dict() == {"card_payments": "active", "transfers": "active"}
    assert verified.requirements.currently_due == []
    assert verified.requirements.disabled_reason is None
    assert verified.business_type == "individual"
    assert verified.tos_acceptance.ip == "127.0.0.1"
    assert verified.tos_acceptance.user_agent == "pytest"
    (bank_account,) = verified.external_accounts.data
    assert bank_account.id.startswith("ba_")
    assert (bank_account.last4, bank_account.country, bank_account.currency) == (
        "3000",
        "DE",
        "eur",
    )
    assert bank_account.account_holder_name == "Amélie Dubois"
    assert_stripe_shape(bank_account.to_dict(), BANK_ACCOUNT_FIXTURE)
    (updated,) = events(standin, "account.updated")
    assert updated["account"] == account.id
    assert updated["data"]["object"]["charges_enabled"] is True
    previous = updated["data"]["previous_attributes"]
    assert previous["charges_enabled"] is False
    assert previous["capabilities"] == {"card_payments": "inactive", "transfers": "inactive"}
    (attached,) = events(standin, "account.external_account.created")
    assert (attached["account"], attached["data"]["object"]["id"]) == (account.id, bank_account.id)


def test_the_onboarding_page_can_leave_the_account_restricted(sdk, standin):
    account = express_account(sdk)
    link = onboarding_link(sdk, account.id)
    _, _, page = asgi(standin, "GET", link.url)

    status, headers, _ = asgi(
        standin,
        "POST",
        link.url,
        form={**FORM, "outcome": "restricted", "session": session_of(page)},
    )

    assert (status, headers["location"]) == (303, RETURN_URL)
    restricted = sdk.v1.accounts.retrieve(account.id)
    assert restricted.details_submitted is True
    assert (restricted.charges_enabled, restricted.payouts_enabled) == (False, False)
    assert restricted.requirements.currently_due == ["individual.verification.document"]
    assert restricted.requirements.disabled_reason == "requirements.past_due"
    assert restricted.capabilities.transfers == "inactive"
    (updated,) = events(standin, "account.updated")
    assert updated["account"] == account.id
    assert updated["data"]["previous_attributes"]["details_submitted"] is False
    assert "charges_enabled" not in updated["data"]["previous_attributes"]  # still false

    (first_bank_account,) = restricted.external_accounts.data

    # The owner comes back through a new link, with another bank account, and finishes.
    again = onboarding_link(sdk, account.id)
    _, _, page = asgi(standin, "GET", again.url)
    asgi(
        standin,
        "POST",
        again.url,
        form={**FORM, "iban": "NL91ABNA0417164300", "session": session_of(page)},
    )
    verified = sdk.v1.accounts.retrieve(account.id)
    assert verified.charges_enabled is True
    (bank_account,) = verified.external_accounts.data
    assert (bank_account.country, bank_account.last4) == ("NL", "4300")
    assert len(events(standin, "account.updated")) == 2
    (deleted,) = events(standin, "account.external_account.deleted")
    assert deleted["data"]["object"]["id"] == first_bank_account.id
    assert len(events(standin, "account.external_account.created")) == 2
    # The same IBAN once more keeps the bank account.
    third = onboarding_link(sdk, account.id)
    _, _, page = asgi(standin, "GET", third.url)
    asgi(
        standin,
        "POST",
        third.url,
        form={**FORM, "iban": "NL91 ABNA 0417 1643 00", "session": session_of(page)},
    )
    assert sdk.v1.accounts.retrieve(account.id).external_accounts.data[0].id == bank_account.id
    assert len(events(standin, "account.external_account.created")) == 2


def test_a_link_opens_the_page_once(sdk, standin):
    account = express_account(sdk)
    link = onboarding_link(sdk, account.id)
    _, _, page = asgi(standin, "GET", link.url)

    reopened = asgi(standin, "GET", link.url)
    forged = asgi(standin, "POST", link.url, form={**FORM, "session": "guessed"})
    not_ascii = asgi(standin, "POST", link.url, form={**FORM, "session": "é"})

    assert reopened[:2] == (302, {**reopened[1], "location": REFRESH_URL})
    assert (forged[0], forged[1]["location"]) == (303, REFRESH_URL)
    assert (not_ascii[0], not_ascii[1]["location"]) == (303, REFRESH_URL)
    submitted = asgi(standin, "POST", link.url, form={**FORM, "session": session_of(page)})
    assert (submitted[0], submitted[1]["location"]) == (303, RETURN_URL)
    resubmitted = asgi(standin, "POST", link.url, form={**FORM, "session": session_of(page)})
    assert (resubmitted[0], resubmitted[1]["location"]) == (303, REFRESH_URL)
    assert len(events(standin, "account.updated")) == 1
    assert asgi(standin, "GET", f"{PUBLIC_URL}/_standin/connect/onboarding/link_nope")[0] == 404


def test_an_expired_link_sends_the_browser_to_refresh_url(sdk, standin, clock):
    account = express_account(sdk)
    link = onboarding_link(sdk, account.id)
    clock.now += 301

    status, headers, _ = asgi(standin, "GET", link.url)

    assert (status, headers["location"]) == (302, REFRESH_URL)
    assert sdk.v1.accounts.retrieve(account.id).details_submitted is False
    # A page opened in time may still be submitted after the link's five minutes.
    fresh = onboarding_link(sdk, account.id)
    _, _, page = asgi(standin, "GET", fresh.url)
    clock.now += 600
    status, headers, _ = asgi(
        standin, "POST", fresh.url, form={**FORM, "session": session_of(page)}
    )
    assert (status, headers["location"]) == (303, RETURN_URL)


def test_a_link_to_a_deleted_account_sends_the_browser_to_refresh_url(sdk, standin):
    account = express_account(sdk)
    link = onboarding_link(sdk, account.id)
    sdk.v1.accounts.delete(account.id)

    status, headers, _ = asgi(standin, "GET", link.url)

    assert (status, headers["location"]) == (302, REFRESH_URL)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"iban": "DE89370400440532013001"}, "iban", "check digits"),
        ({"iban": "not an iban"}, "iban", "two letters"),
        ({"first_name": "  "}, "first_name", "Enter your first name"),
        ({"dob": "2030-01-01"}, "dob", "in the past"),
        ({"dob": "12/04/1988"}, "dob", "date of birth"),
        ({"tos": ""}, "tos", "Accept the terms"),
    ],
)
def test_the_form_shows_what_to_correct_and_changes_nothing(sdk, standin, change, field, message):
    account = express_account(sdk)
    link = onboarding_link(sdk, account.id)
    _, _, page = asgi(standin, "GET", link.url)
    session = session_of(page)

    status, _, answer = asgi(standin, "POST", link.url, form={**FORM, **change, "session": session})

    assert status == 400
    assert f"id='{field}-error'" in answer
    assert message in answer
    assert sdk.v1.accounts.retrieve(account.id).details_submitted is False
    assert events(standin, "account.updated") == []
    # The same page, corrected, goes through.
    status, headers, _ = asgi(standin, "POST", link.url, form={**FORM, "session": session})
    assert (status, headers["location"]) == (303, RETURN_URL)


def test_the_page_escapes_what_it_shows(sdk, standin):
    account = express_account(sdk)
    link = onboarding_link(sdk, account.id)
    _, _, page = asgi(standin, "GET", link.url)

    _, _, answer = asgi(
        standin,
        "POST",
        link.url,
        form={**FORM, "first_name": "<script>x</script>", "tos": "", "session": session_of(page)},
    )

    assert "<script>x" not in answer
    assert "&lt;script&gt;x&lt;/script&gt;" in answer


@pytest.mark.parametrize("outcome", ["verified", "restricted"])
def test_the_api_shortcut_does_what_the_page_does(sdk, standin, outcome):
    account = express_account(sdk)

    finished = complete(sdk, account.id, outcome)

    assert finished.details_submitted is True
    assert finished.charges_enabled is (outcome == "verified")
    assert finished.external_accounts.data[0].last4 == "3000"
    (updated,) = events(standin, "account.updated")
    assert updated["account"] == account.id
    assert updated["request"]["id"].startswith("req_")


# --- transfers --------------------------------------------------------------------------


def test_a_transfer_moves_available_money_to_the_connected_account(sdk, standin):
    destination = verified_account(sdk)
    fund_platform(standin, 5000)

    transfer = sdk.v1.transfers.create(
        {
            "amount": 1500,
            "currency": "eur",
            "destination": destination,
            "transfer_group": "campaign_7",
            "description": "Payout for campaign 7",
            "metadata": {"payout_id": "po_1"},
        }
    )

    assert transfer.id.startswith("tr_")
    assert (transfer.amount, transfer.amount_reversed, transfer.reversed) == (1500, 0, False)
    assert transfer.destination == destination
    assert transfer.destination_payment.startswith("py_")
    assert transfer.source_transaction is None
    assert_stripe_shape(transfer.to_dict(), TRANSFER_FIXTURE)
    assert amounts(sdk.v1.balance.retrieve()) == ({"eur": 3500}, {"eur": 0})
    connected = sdk.v1.balance.retrieve(options={"stripe_account": destination})
    assert amounts(connected) == ({"eur": 1500}, {"eur": 0})
    assert_stripe_shape(connected.to_dict(), BALANCE_FIXTURE)
    platform_side = sdk.v1.balance_transactions.retrieve(transfer.balance_transaction)
    assert (platform_side.type, platform_side.amount, platform_side.source) == (
        "transfer",
        -1500,
        transfer.id,
    )
    (received,) = sdk.v1.balance_transactions.list(options={"stripe_account": destination}).data
    assert (received.type, received.amount, received.source) == (
        "payment",
        1500,
        transfer.destination_payment,
    )
    (created,) = events(standin, "transfer.created")
    assert created["data"]["object"]["id"] == transfer.id
    assert "account" not in created  # a platform event
    assert sdk.v1.transfers.retrieve(transfer.id).to_dict() == (transfer.to_dict())


def test_a_transfer_beyond_the_available_balance_is_refused(sdk, standin):
    destination = verified_account(sdk)
    fund_platform(standin, 1000)
    standin.settings["available_after_s"] = 3600
    charge(sdk, 5000)  # pending: not available for transfers without source_transaction

    with pytest.raises(stripe.InvalidRequestError) as refused:
        sdk.v1.transfers.create({"amount": 1001, "currency": "eur", "destination": destination})

    assert refused.value.http_status == 400
    assert refused.value.code == "balance_insufficient"
    assert refused.value.user_message.startswith(
        "You have insufficient available funds in your Stripe account"
    )
    assert standin.all("transfer") == []
    with pytest.raises(stripe.InvalidRequestError):  # no money at all in that currency
        sdk.v1.transfers.create({"amount": 1, "currency": "usd", "destination": destination})
    sdk.v1.transfers.create({"amount": 1000, "currency": "eur", "destination": destination})
    assert amounts(sdk.v1.balance.retrieve())[0] == {"eur": 0}


def test_a_transfer_needs_a_destination_with_active_transfers(sdk, standin):
    fund_platform(standin, 5000)
    new = express_account(sdk)
    restricted = express_account(sdk)
    complete(sdk, restricted.id, "restricted")

    for destination in (new.id, restricted.id):
        with pytest.raises(stripe.InvalidRequestError) as refused:
            sdk.v1.transfers.create({"amount": 100, "currency": "eur", "destination": destination})
        assert refused.value.http_status == 400
        assert refused.value.code == "insufficient_capabilities_for_transfer"
        assert refused.value.param == "destination"
        assert "capabilities enabled: transfers" in refused.value.user_message
    with pytest.raises(stripe.InvalidRequestError) as missing:
        sdk.v1.transfers.create({"amount": 100, "currency": "eur", "destination": "acct_nope"})
    assert missing.value.user_message == "No such destination: 'acct_nope'"
    assert standin.all("transfer") == []


def test_source_transaction_draws_on_a_pending_charge_up_to_what_is_left(sdk, standin, clock):
    destination = verified_account(sdk)
    standin.settings["available_after_s"] = 3600
    charge_id = charge(sdk, 10_000, refunded=2000)
    assert amounts(sdk.v1.balance.retrieve())[0] == {"eur": -2000}  # the refund, at once

    first = sdk.v1.transfers.create(
        {
            "amount": 5000,
            "currency": "eur",
            "destination": destination,
            "source_transaction": charge_id,
        }
    )

    assert first.source_transaction == charge_id
    connected = sdk.v1.balance.retrieve(options={"stripe_account": destination})
    assert amounts(connected) == ({"eur": 0}, {"eur": 5000})  # pending like the charge
    with pytest.raises(stripe.InvalidRequestError) as refused:
        sdk.v1.transfers.create(
            {
                "amount": 3001,
                "currency": "eur",
                "destination": destination,
                "source_transaction": charge_id,
            }
        )
    assert refused.value.code == "balance_insufficient"
    assert "3000" in refused.value.user_message
    with pytest.raises(stripe.InvalidRequestError) as currency:
        sdk.v1.transfers.create(
            {
                "amount": 100,
                "currency": "usd",
                "destination": destination,
                "source_transaction": charge_id,
            }
        )
    assert currency.value.param == "currency"
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        sdk.v1.transfers.create(
            {
                "amount": 100,
                "currency": "eur",
                "destination": destination,
                "source_transaction": "ch_nope",
            }
        )
    assert unknown.value.param == "source_transaction"
    sdk.v1.transfers.create(
        {
            "amount": 3000,
            "currency": "eur",
            "destination": destination,
            "source_transaction": charge_id,
        }
    )

    # What a reversal gives back, the charge can fund again.
    sdk.v1.transfers.reversals.create(first.id, {"amount": 1000})
    sdk.v1.transfers.create(
        {
            "amount": 1000,
            "currency": "eur",
            "destination": destination,
            "source_transaction": charge_id,
        }
    )
    clock.now += 3600
    fee = balance.processing_fee(standin, 10_000)
    assert amounts(sdk.v1.balance.retrieve()) == ({"eur": 10_000 - fee - 2000 - 8000}, {"eur": 0})
    connected = sdk.v1.balance.retrieve(options={"stripe_account": destination})
    assert amounts(connected) == ({"eur": 8000}, {"eur": 0})


def test_update_and_list_transfers(sdk, standin):
    first, second = verified_account(sdk), verified_account(sdk)
    fund_platform(standin, 10_000)
    to_first = sdk.v1.transfers.create(
        {"amount": 100, "currency": "eur", "destination": first, "transfer_group": "g1"}
    )
    to_second = sdk.v1.transfers.create(
        {"amount": 200, "currency": "eur", "destination": second, "transfer_group": "g2"}
    )

    updated = sdk.v1.transfers.update(
        to_first.id, {"description": "Campaign 7", "metadata": {"payout_id": "po_9"}}
    )

    assert (updated.description, updated.metadata.to_dict()) == (
        "Campaign 7",
        {"payout_id": "po_9"},
    )
    (event,) = events(standin, "transfer.updated")
    assert event["data"]["previous_attributes"] == {"description": None, "metadata": {}}
    assert [t.id for t in sdk.v1.transfers.list({"destination": second}).data] == [to_second.id]
    assert [t.id for t in sdk.v1.transfers.list({"transfer_group": "g1"}).data] == [to_first.id]
    assert {t.id for t in sdk.v1.transfers.list().data} == {to_first.id, to_second.id}


# --- reversals --------------------------------------------------------------------------


def test_reversals_are_capped_at_what_is_left_of_the_transfer(sdk, standin):
    destination = verified_account(sdk)
    fund_platform(standin, 5000)
    transfer = sdk.v1.transfers.create(
        {"amount": 2000, "currency": "eur", "destination": destination}
    )

    part = sdk.v1.transfers.reversals.create(
        transfer.id, {"amount": 500, "metadata": {"reason": "refund"}, "description": "x"}
    )

    assert part.id.startswith("trr_")
    assert (part.amount, part.currency, part.transfer) == (500, "eur", transfer.id)
    assert_stripe_shape(part.to_dict(), TRANSFER_REVERSAL_FIXTURE)
    after = sdk.v1.transfers.retrieve(transfer.id)
    assert (after.amount_reversed, after.reversed) == (500, False)
    assert [r.id for r in after.reversals.data] == [part.id]
    assert amounts(sdk.v1.balance.retrieve())[0] == {"eur": 3500}
    connected = sdk.v1.balance.retrieve(options={"stripe_account": destination})
    assert amounts(connected)[0] == {"eur": 1500}
    back = sdk.v1.balance_transactions.retrieve(part.balance_transaction)
    assert (back.type, back.amount, back.source) == ("transfer_refund", 500, part.id)

    with pytest.raises(stripe.InvalidRequestError) as too_much:
        sdk.v1.transfers.reversals.create(transfer.id, {"amount": 1501})
    assert too_much.value.http_status == 400
    assert too_much.value.param == "amount"

    rest = sdk.v1.transfers.reversals.create(transfer.id)  # no amount: what is left

    assert rest.amount == 1500
    after = sdk.v1.transfers.retrieve(transfer.id)
    assert (after.amount_reversed, after.reversed) == (2000, True)
    assert [r.id for r in after.reversals.data] == [rest.id, part.id]
    assert amounts(sdk.v1.balance.retrieve())[0] == {"eur": 5000}
    connected = sdk.v1.balance.retrieve(options={"stripe_account": destination})
    assert amounts(connected)[0] == {"eur": 0}
    with pytest.raises(stripe.InvalidRequestError) as none_left:
        sdk.v1.transfers.reversals.create(transfer.id, {"amount": 1})
    assert "fully reversed" in none_left.value.user_message

    listed = sdk.v1.transfers.reversals.list(transfer.id)
    assert {r.id for r in listed.data} == {part.id, rest.id}
    assert sdk.v1.transfers.reversals.retrieve(transfer.id, part.id).metadata.to_dict() == {
        "reason": "refund"
    }
    sdk.v1.transfers.reversals.update(transfer.id, part.id, {"metadata": {"reason": ""}})
    assert sdk.v1.transfers.reversals.retrieve(transfer.id, part.id).metadata.to_dict() == {}
    other = sdk.v1.transfers.create({"amount": 10, "currency": "eur", "destination": destination})
    with pytest.raises(stripe.InvalidRequestError) as elsewhere:
        sdk.v1.transfers.reversals.retrieve(other.id, part.id)
    assert elsewhere.value.http_status == 404
    reversed_events = events(standin, "transfer.reversed")
    assert [e["data"]["object"]["amount_reversed"] for e in reversed_events] == [500, 2000]
    assert reversed_events[1]["data"]["previous_attributes"]["amount_reversed"] == 500


# --- idempotency and the double-payout detector -----------------------------------------


def test_a_replayed_transfer_moves_money_once_and_the_detector_sees_a_second_one(sdk, standin):
    destination = verified_account(sdk)
    fund_platform(standin, 5000)
    params = {
        "amount": 1000,
        "currency": "eur",
        "destination": destination,
        "metadata": {"payout_id": "po_77"},
    }

    first = sdk.v1.transfers.create(params, options={"idempotency_key": "payout-po_77"})
    replay = sdk.v1.transfers.create(params, options={"idempotency_key": "payout-po_77"})

    assert replay.id == first.id
    assert replay.last_response.headers["Idempotent-Replayed"] == "true"
    assert len(standin.all("transfer")) == 1
    assert amounts(sdk.v1.balance.retrieve())[0] == {"eur": 4000}
    status, _, text = asgi(standin, "GET", f"{PUBLIC_URL}/_standin/stats")
    snapshot = json.loads(text)
    assert status == 200
    assert snapshot["transfers_by_payout"] == {"po_77": 1}
    assert snapshot["double_paid_payouts"] == []

    sdk.v1.transfers.create(params, options={"idempotency_key": "payout-po_77-retry"})

    snapshot = json.loads(asgi(standin, "GET", f"{PUBLIC_URL}/_standin/stats")[2])
    assert snapshot["transfers_by_payout"] == {"po_77": 2}
    assert snapshot["double_paid_payouts"] == ["po_77"]
    with pytest.raises(stripe.IdempotencyError):  # the same key for another transfer
        sdk.v1.transfers.create(
            {**params, "amount": 999}, options={"idempotency_key": "payout-po_77"}
        )


# --- over HTTP: a stand-in server -------------------------------------------------------


@pytest.fixture(scope="module")
def server():
    running = process.start()
    yield running
    running.stop()


@pytest.fixture
def http_sdk(server):
    return stripe.StripeClient(
        SECRET_KEY, base_addresses={"api": server.base_url}, max_network_retries=0
    )


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def fetch(url, form=None):
    """(status, headers, text) without following redirects."""
    opener = urllib.request.build_opener(_NoRedirects)
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    try:
        with opener.open(url, data=data, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as answer:
        return answer.code, dict(answer.headers), answer.read().decode()


def test_onboarding_over_http_with_the_sdk_and_the_form(http_sdk):
    account = express_account(http_sdk)
    link = onboarding_link(http_sdk, account.id)

    status, _, page = fetch(link.url)
    assert status == 200
    status, headers, _ = fetch(link.url, {**FORM, "session": session_of(page)})

    assert (status, headers["location"]) == (303, RETURN_URL)
    verified = http_sdk.v1.accounts.retrieve(account.id)
    assert (verified.charges_enabled, verified.payouts_enabled) == (True, True)
    assert verified.external_accounts.data[0].last4 == "3000"
    status, headers, _ = fetch(link.url)
    assert (status, headers["location"]) == (302, REFRESH_URL)
    # A transfer over HTTP: refused, the platform's balance being empty.
    with pytest.raises(stripe.InvalidRequestError) as refused:
        http_sdk.v1.transfers.create({"amount": 100, "currency": "eur", "destination": account.id})
    assert refused.value.code == "balance_insufficient"


def test_money_over_http_a_charge_a_transfer_its_replay_and_a_reversal(http_sdk, server):
    destination = express_account(http_sdk)
    complete(http_sdk, destination.id)
    charge_id = charge(http_sdk, 8000, refunded=1000)
    payout_id = new_id("po")
    params = {
        "amount": 7000,
        "currency": "eur",
        "destination": destination.id,
        "source_transaction": charge_id,
        "metadata": {"payout_id": payout_id},
    }

    transfer = http_sdk.v1.transfers.create(params, options={"idempotency_key": payout_id})
    replay = http_sdk.v1.transfers.create(params, options={"idempotency_key": payout_id})

    assert replay.id == transfer.id
    stats = server.stats()
    assert stats["transfers_by_payout"][payout_id] == 1
    assert payout_id not in stats["double_paid_payouts"]
    connected = http_sdk.v1.balance.retrieve(options={"stripe_account": destination.id})
    assert amounts(connected) == ({"eur": 7000}, {"eur": 0})
    with pytest.raises(stripe.InvalidRequestError) as capped:  # 8000 - 1000 refunded - 7000
        http_sdk.v1.transfers.create({**params, "amount": 1})
    assert capped.value.code == "balance_insufficient"

    reversal = http_sdk.v1.transfers.reversals.create(transfer.id, {"amount": 2500})

    assert http_sdk.v1.transfers.retrieve(transfer.id).amount_reversed == 2500
    connected = http_sdk.v1.balance.retrieve(options={"stripe_account": destination.id})
    assert amounts(connected)[0] == {"eur": 4500}
    assert http_sdk.v1.transfers.reversals.retrieve(transfer.id, reversal.id).amount == 2500
    # A second transfer for the same payout under a new key: the detector reports it.
    http_sdk.v1.transfers.create(
        {**params, "amount": 100}, options={"idempotency_key": f"{payout_id}-again"}
    )
    assert payout_id in server.stats()["double_paid_payouts"]


def test_the_api_shortcut_over_http(http_sdk):
    account = express_account(http_sdk)

    complete(http_sdk, account.id, "restricted")

    restricted = http_sdk.v1.accounts.retrieve(account.id)
    assert restricted.requirements.currently_due == ["individual.verification.document"]
    with pytest.raises(stripe.InvalidRequestError) as refused:
        http_sdk.v1.transfers.create({"amount": 100, "currency": "eur", "destination": account.id})
    assert refused.value.code == "insufficient_capabilities_for_transfer"


@pytest.mark.browser
def test_the_onboarding_page_in_chromium(http_sdk, server, browser, screenshot):
    account = express_account(http_sdk, email="amelie@example.org")
    done = f"{server.base_url}/?onboarding=done"
    link = http_sdk.v1.account_links.create(
        {
            "account": account.id,
            "type": "account_onboarding",
            "refresh_url": f"{server.base_url}/?onboarding=again",
            "return_url": done,
        }
    )
    context = browser.new_context(viewport={"width": 1100, "height": 1000})
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(link.url)
        assert page.title() == "Set up payouts · Stripe stand-in"
        assert page.input_value("#iban").replace(" ", "") == connect.TEST_IBAN
        page.fill("#first_name", "Amélie")
        page.fill("#last_name", "Dubois")
        screenshot(page, "standin-onboarding")
        page.check("input[name=tos]")
        page.click("button[type=submit]")
        page.wait_for_url(done)
    finally:
        context.close()

    verified = http_sdk.v1.accounts.retrieve(account.id)
    assert verified.charges_enabled is True
    assert verified.external_accounts.data[0].account_holder_name == "Amélie Dubois"
