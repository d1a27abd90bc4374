"""POST /payments/stripe/connect-webhook/: connected accounts' events, signed with the Connect
endpoint's own secret, stored and processed like the platform's (one store, one registry),
each with the account it happened on; and `register_stripe_webhooks`, which registers both
endpoints.
"""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.urls import reverse

from devtools.stripe_standin import webhooks as standin_webhooks
from devtools.stripe_standin.inprocess import FakeGateway
from payments.gateway import DEFAULT_CONNECT_WEBHOOK_SECRET
from payments.gateway import WebhookEvent as VerifiedEvent
from payments.models import WebhookEvent
from tests.conftest import wait_for
from tests.stripe_fixtures import sign_stripe_payload, stripe_event

pytestmark = pytest.mark.django_db

CONNECT_SECRET = "whsec_groundswell_connect_tests"
ACCOUNT = {"id": "acct_1Organizer", "object": "account", "payouts_enabled": True}


def connect_event(event_type="account.updated", data_object=None, *, account="acct_1Organizer"):
    event = stripe_event(event_type, data_object or ACCOUNT)
    if account is not None:
        event["account"] = account
    return event


@pytest.fixture
def connect_webhook_secret(settings, stripe_webhook_secret):
    settings.STRIPE_CONNECT_WEBHOOK_SECRET = CONNECT_SECRET
    return CONNECT_SECRET


@pytest.fixture
def post_connect_webhook(client, connect_webhook_secret):
    """post(event, secret=…) -> the Connect endpoint's response."""

    def post(event, *, secret=None, signature=None, url=None):
        body = event if isinstance(event, bytes) else json.dumps(event, indent=2).encode()
        if signature is None:
            signature = sign_stripe_payload(body, secret or connect_webhook_secret)
        return client.post(
            url or reverse("payments:stripe_connect_webhook"),
            data=body,
            content_type="application/json",
            headers={"Stripe-Signature": signature} if signature else {},
        )

    return post


def test_the_url():
    assert reverse("payments:stripe_connect_webhook") == "/payments/stripe/connect-webhook/"


def test_a_connect_event_is_stored_and_processed_with_its_account(
    post_connect_webhook, handle_events, celery_eager, django_capture_on_commit_callbacks
):
    calls = handle_events("account.updated")
    event = connect_event()

    with django_capture_on_commit_callbacks(execute=True):
        response = post_connect_webhook(event)

    assert (response.status_code, response.json()) == (200, {"received": True})
    stored = WebhookEvent.objects.get()
    assert (stored.event_id, stored.type, stored.payload) == (event["id"], "account.updated", event)
    assert stored.status == WebhookEvent.Status.PROCESSED
    assert len(calls) == 1 and isinstance(calls[0], VerifiedEvent)
    assert (calls[0].account, calls[0].data_object) == ("acct_1Organizer", ACCOUNT)


def test_a_platform_event_has_no_account(
    post_stripe_webhook, handle_events, celery_eager, django_capture_on_commit_callbacks
):
    calls = handle_events("transfer.created")
    with django_capture_on_commit_callbacks(execute=True):
        response = post_stripe_webhook(stripe_event("transfer.created", {"id": "tr_1"}))
    assert response.status_code == 200
    assert [call.account for call in calls] == [""]


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param("whsec_someone_else", id="wrong-secret"),
        pytest.param(None, id="platform-secret"),
    ],
)
def test_the_connect_endpoint_refuses_any_other_secret(
    post_connect_webhook, stripe_webhook_secret, handle_events, secret
):
    calls = handle_events("account.updated")
    response = post_connect_webhook(connect_event(), secret=secret or stripe_webhook_secret)
    assert response.status_code == 400
    assert "signature" in response.json()["error"]
    assert not WebhookEvent.objects.exists() and calls == []


def test_the_platform_endpoint_refuses_the_connect_secret(post_connect_webhook):
    response = post_connect_webhook(connect_event(), url=reverse("payments:stripe-webhook"))
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


def test_an_unsigned_connect_delivery_is_refused(post_connect_webhook):
    assert post_connect_webhook(connect_event(), signature="").status_code == 400
    assert not WebhookEvent.objects.exists()


def test_without_the_setting_the_development_secret_is_used(settings, post_connect_webhook):
    del settings.STRIPE_CONNECT_WEBHOOK_SECRET
    event = connect_event()
    assert post_connect_webhook(event, secret=CONNECT_SECRET).status_code == 400
    assert post_connect_webhook(event, secret=DEFAULT_CONNECT_WEBHOOK_SECRET).status_code == 200
    assert WebhookEvent.objects.get().event_id == event["id"]


def test_one_secret_for_both_endpoints_is_refused_on_the_connect_endpoint(
    settings, post_connect_webhook, stripe_webhook_secret
):
    settings.STRIPE_CONNECT_WEBHOOK_SECRET = stripe_webhook_secret
    response = post_connect_webhook(connect_event(), secret=stripe_webhook_secret)
    assert response.status_code == 400
    assert "Connect" in response.json()["error"]
    assert not WebhookEvent.objects.exists()


def test_an_account_that_is_not_a_string_is_not_an_event(post_connect_webhook):
    response = post_connect_webhook(connect_event(account=["acct_1"]))
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


def test_an_event_delivered_to_both_endpoints_is_stored_once(
    post_connect_webhook, post_stripe_webhook
):
    event = connect_event()
    assert post_connect_webhook(event).status_code == 200
    assert post_stripe_webhook(event).status_code == 200
    assert WebhookEvent.objects.get().event_id == event["id"]


# --- registering both endpoints --------------------------------------------------------------


@pytest.fixture
def fake_gateway(monkeypatch, connect_webhook_secret, stripe_webhook_secret):
    """Our in-memory provider as the configured one, its endpoints signing with our secrets."""
    gateway = FakeGateway(
        webhook_secret=stripe_webhook_secret, connect_webhook_secret=connect_webhook_secret
    )
    gateway.standin.settings["webhook_secret"] = stripe_webhook_secret
    gateway.standin.settings["connect_webhook_secret"] = connect_webhook_secret
    monkeypatch.setattr("payments.gateway._gateway_for", lambda *settings: gateway)
    return gateway


def register(**options):
    out, err = io.StringIO(), io.StringIO()
    call_command("register_stripe_webhooks", stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def endpoints(gateway):
    """url -> (enabled events, connect flag) of the stand-in's webhook endpoints."""
    return {
        endpoint["url"]: (
            endpoint["enabled_events"],
            gateway.standin.private[endpoint_id]["connect"],
        )
        for endpoint_id, endpoint in gateway.standin.objects["webhook_endpoint"].items()
    }


def test_register_stripe_webhooks_registers_both_endpoints(settings, fake_gateway, handle_events):
    settings.SITE_URL = "http://groundswell.test/"
    for event_type in ("account.updated", "transfer.reversed", "setup_intent.succeeded"):
        handle_events(event_type)

    out, err = register()

    platform = "http://groundswell.test/payments/stripe/webhook/"
    connect = "http://groundswell.test/payments/stripe/connect-webhook/"
    assert endpoints(fake_gateway) == {
        platform: (["account.updated", "setup_intent.succeeded", "transfer.reversed"], False),
        connect: (["account.updated"], True),
    }
    assert "Webhook endpoint we_" in out and f"created: {platform} (3 event types)" in out
    assert f"created: {connect} (1 event types)" in out
    assert err == ""  # both sign with the secrets we verify with

    again, _ = register()
    assert again.count("unchanged") == 2
    assert len(endpoints(fake_gateway)) == 2


def test_without_a_connect_handler_no_connect_endpoint_is_registered(fake_gateway, handle_events):
    handle_events("setup_intent.succeeded")
    out, _ = register()
    assert "Connect webhook endpoint not registered" in out
    assert [connect for _, connect in endpoints(fake_gateway).values()] == [False]


def test_an_endpoint_signing_with_another_secret_is_reported(fake_gateway, handle_events):
    handle_events("account.updated")
    fake_gateway.standin.settings["connect_webhook_secret"] = ""  # a random one, as on Stripe
    _, err = register()
    assert "signs with a secret other than STRIPE_CONNECT_WEBHOOK_SECRET" in err
    assert "STRIPE_WEBHOOK_SECRET:" not in err


@pytest.mark.django_db(transaction=True)
def test_the_stand_in_delivers_account_updated_to_the_connect_endpoint(
    settings, live_server, fake_gateway, handle_events, celery_eager
):
    """End to end: registered by the command, onboarding finished at the stand-in, its Connect
    event signed, delivered over HTTP, verified, stored and handled with its account."""
    settings.SITE_URL = live_server.url
    calls = handle_events("account.updated")
    register()
    standin_webhooks.install(fake_gateway.standin)
    try:
        account = fake_gateway.create_connected_account(
            email="organizer@example.org", country="BE", member_id=7
        )
        fake_gateway.complete_onboarding(account.id)

        def processed():
            return WebhookEvent.objects.filter(
                type="account.updated", status=WebhookEvent.Status.PROCESSED
            ).first()

        assert wait_for(processed, timeout=15), fake_gateway.standin.stats_snapshot()
    finally:
        fake_gateway.standin.stop()
    stored = processed()
    assert stored.payload["account"] == account.id
    assert stored.payload["data"]["object"]["payouts_enabled"] is True
    assert [(call.account, call.data_object["id"]) for call in calls] == [(account.id, account.id)]
