"""Under real concurrency on PostgreSQL: a limited reward never oversells."""

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from core.errors import DomainError
from members.models import Member
from pledges import services
from pledges.models import Pledge
from tests.factories import CampaignFactory, RewardTierFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_200_concurrent_pledges_for_100_units_activate_exactly_100():
    campaign = CampaignFactory(live=True)
    reward = RewardTierFactory(campaign=campaign, quantity_limit=100, minimum_minor=1_000)
    supporters = Member.objects.bulk_create(
        Member(email=f"racer{i}@example.org", display_name=f"Racer {i}") for i in range(200)
    )
    pledges = Pledge.objects.bulk_create(
        Pledge(
            campaign=campaign,
            supporter=member,
            reward=reward,
            amount_minor=1_000,
            currency="EUR",
            setup_intent_id=f"seti_{i}",
        )
        for i, member in enumerate(supporters)
    )
    start = threading.Barrier(16)

    def activate(pledge):
        try:
            with contextlib.suppress(threading.BrokenBarrierError):
                start.wait(timeout=10)
            services.activate_pledge(pledge, payment_method_id=f"pm_{pledge.pk}")
            return "active"
        except DomainError as error:
            return error.message
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(activate, pledges))

    assert outcomes.count("active") == 100
    assert all("sold out" in outcome for outcome in outcomes if outcome != "active")
    assert Pledge.objects.filter(reward=reward, status=Pledge.Status.ACTIVE).count() == 100
    assert Pledge.objects.filter(reward=reward, status=Pledge.Status.CANCELLED).count() == 100
