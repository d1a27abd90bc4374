"""Fixtures of the pledge tests: localstripe, signed webhooks, a supporter and a live campaign."""

import pytest

from tests import localstripe_server
from tests.factories import CampaignFactory, MemberFactory, RewardTierFactory
from tests.stripe_fixtures import LOCALSTRIPE_SECRET_KEY


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
def confirm_in_browser(localstripe_settings):
    """What Stripe.js does when the supporter submits the card form."""

    def confirm(setup_intent_id, payment_method="pm_card_visa"):
        status, body = localstripe_server.api(
            localstripe_settings,
            "POST",
            f"/v1/setup_intents/{setup_intent_id}/confirm",
            {"payment_method": payment_method},
            secret_key=LOCALSTRIPE_SECRET_KEY,
        )
        assert status == 200, body
        return body

    return confirm


@pytest.fixture
def fake_gateway(monkeypatch):
    """Our in-memory provider as the configured one: get_gateway() returns it everywhere."""
    from payments.fake_gateway import FakeGateway
    from tests.stripe_fixtures import TEST_WEBHOOK_SECRET

    gateway = FakeGateway(webhook_secret=TEST_WEBHOOK_SECRET)  # post_stripe_webhook's secret
    monkeypatch.setattr("payments.gateway._gateway_for", lambda *settings: gateway)
    return gateway
