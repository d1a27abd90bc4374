"""Fixtures of the pledge tests: the Stripe stand-in, signed webhooks, a supporter, a campaign."""

import pytest

from tests import localstripe_server
from tests.factories import CampaignFactory, MemberFactory, RewardTierFactory
from tests.stripe_fixtures import STANDIN_PUBLISHABLE_KEY


@pytest.fixture
def supporter(db):
    return MemberFactory(display_name="Sam Supporter")


@pytest.fixture
def campaign(db):
    return CampaignFactory(live=True, goal_minor=500_000)


@pytest.fixture
def reward(campaign):
    return RewardTierFactory(campaign=campaign, minimum_minor=1_000, title="Seed packet")


@pytest.fixture
def confirm_in_browser(standin_settings):
    """What Stripe.js does when the supporter submits the card form (publishable key and the
    SetupIntent's client secret, as the page has them)."""

    def confirm(setup_intent_id, payment_method="pm_card_visa"):
        base = standin_settings.base_url
        key = {"secret_key": STANDIN_PUBLISHABLE_KEY}
        status, intent = localstripe_server.api(
            base, "GET", f"/v1/setup_intents/{setup_intent_id}", None, secret_key="sk_test_x"
        )
        assert status == 200, intent
        status, body = localstripe_server.api(
            base,
            "POST",
            f"/v1/setup_intents/{setup_intent_id}/confirm",
            {"payment_method": payment_method, "client_secret": intent["client_secret"]},
            **key,
        )
        assert status == 200, body
        return body

    return confirm


@pytest.fixture
def fake_gateway(monkeypatch):
    """Our in-memory provider as the configured one: get_gateway() returns it everywhere."""
    from devtools.stripe_standin.inprocess import FakeGateway
    from tests.stripe_fixtures import TEST_WEBHOOK_SECRET

    gateway = FakeGateway(webhook_secret=TEST_WEBHOOK_SECRET)  # post_stripe_webhook's secret
    monkeypatch.setattr("payments.gateway._gateway_for", lambda *settings: gateway)
    return gateway
