"""Fixtures of the payout tests: the in-process Stripe stand-in with eager Celery, a funded
campaign whose pledges were collected by the real settlement code, its organizer with a
verified Connect account, a co-organizer and a stranger."""

import pytest
from django.utils import timezone

from campaigns.models import Campaign, Collaborator
from payouts import services
from payouts.models import PayoutAccount
from pledges import settlement
from tests.factories import BudgetItemFactory, CampaignFactory, MemberFactory
from tests.pledges.conftest import fake_gateway  # noqa: F401  (fixture)
from tests.pledges.test_settlement import deadline_passes, pledge_with_card

# Three pledges of €25 collected on a €50 goal.
PLEDGES = (2_500, 2_500, 2_500)


@pytest.fixture
def gateway(fake_gateway, celery_eager, settings):  # noqa: F811
    settings.REDIS_URL = ""  # the charge rate ceiling in a local file
    settings.CHARGE_RATE_PER_SECOND = 1000
    return fake_gateway


def funded(gateway, campaign, amounts=PLEDGES):
    """`campaign` after its deadline, every pledge charged and collected: funded."""
    for amount in amounts:
        pledge_with_card(gateway, campaign, amount=amount)
    deadline_passes(campaign)
    settlement.sweep()  # closes and charges
    settlement.sweep()  # every pledge collected: funded
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.FUNDED
    return campaign


@pytest.fixture
def funded_campaign(db, gateway):
    """€75 collected, two budget items (Seeds €30, Tools €20)."""
    campaign = CampaignFactory(live=True, goal_minor=5_000, title="Community garden")
    BudgetItemFactory(campaign=campaign, label="Seeds", amount_minor=3_000)
    BudgetItemFactory(campaign=campaign, label="Tools", amount_minor=2_000)
    return funded(gateway, campaign)


def connect_verified(gateway, member, outcome="verified"):
    """The member's Connect account opened and onboarded through the stand-in."""
    services.start_onboarding(
        member, return_url="http://t/return", refresh_url="http://t/refresh", gateway=gateway
    )
    account = PayoutAccount.objects.get(member=member)
    gateway.complete_onboarding(account.stripe_account_id, outcome=outcome)
    return services.refresh_connected_account(member, gateway=gateway)


@pytest.fixture
def organizer(funded_campaign, gateway):
    """The funded campaign's organizer, with a verified Connect account."""
    member = funded_campaign.organizer
    assert connect_verified(gateway, member).is_verified
    return member


@pytest.fixture
def co_organizer(funded_campaign):
    member = MemberFactory(display_name="Cora Co-organizer")
    Collaborator.objects.create(
        campaign=funded_campaign,
        email=member.email,
        member=member,
        invited_by=funded_campaign.organizer,
        accepted_at=timezone.now(),
    )
    return member


@pytest.fixture
def stranger(db):
    return MemberFactory(display_name="Stan Stranger")
