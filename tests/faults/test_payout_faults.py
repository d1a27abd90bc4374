"""Exactly one transfer per approved payout, with real processes on PostgreSQL: approve
double-clicked and two admins approving at once with the task delivered twice, a worker
SIGKILLed while the provider's answer to its transfer is on the way, a transfer answered 500
after it was made. The stand-in's counters (`transfers_by_payout`) are the witness.
"""

import threading
from datetime import timedelta

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from payouts import services
from payouts.models import Payout, PayoutAccount
from payouts.selectors import payout_breakdown
from pledges import settlement
from tests import localstripe_server
from tests.conftest import wait_for
from tests.factories import BudgetItemFactory, CampaignFactory, MemberFactory
from tests.faults.harness import deadline_passes, pledge_with_card
from tests.payouts.test_services import approve_payout
from tests.stripe_fixtures import STANDIN_SECRET_KEY

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

# The payout sweep every few seconds, and a quiet attempt retried after two.
PAYOUT_SETTINGS = {"PAYOUT_SWEEP_SECONDS": 2, "PAYOUT_TRANSFER_RESEND_SECONDS": 2}
PAID_WITHIN_SECONDS = 30


def _funded_with_a_payout(standin, celery_eager, settings):
    """A campaign settled in this process (eager tasks over HTTP to the stand-in), its
    organizer onboarded, and a payout of everything available whose review window has ended."""
    settings.REDIS_URL = ""
    settings.CHARGE_RATE_PER_SECOND = 1000
    campaign = CampaignFactory(live=True, goal_minor=2_000)
    BudgetItemFactory(campaign=campaign, label="Paint", amount_minor=2_000)
    for amount in (1_500, 2_000, 2_500):
        pledge_with_card(campaign, standin.base_url, amount=amount)
    deadline_passes(campaign)
    settlement.sweep()
    settlement.sweep()
    campaign.refresh_from_db()
    assert campaign.status == campaign.Status.FUNDED

    organizer = campaign.organizer
    services.start_onboarding(organizer, return_url="http://t/r", refresh_url="http://t/f")
    account = PayoutAccount.objects.get(member=organizer)
    status, body = localstripe_server.api(
        standin.base_url,
        "POST",
        f"/v1/accounts/{account.stripe_account_id}/_complete_onboarding",
        {"outcome": "verified"},
        secret_key=STANDIN_SECRET_KEY,
    )
    assert status == 200, body
    services.refresh_connected_account(organizer)
    available = payout_breakdown(campaign).available
    payout = services.request_payout(
        campaign,
        by=organizer,
        amount_minor=available,
        currency=campaign.currency,
        allocations=[services.Allocation(campaign.budget_items.get().pk, available)],
        note="Paint for the mural",
    )
    Payout.objects.filter(pk=payout.pk).update(
        review_window_ends_at=timezone.now() - timedelta(seconds=1)
    )
    payout.refresh_from_db()
    return payout


def _admin(name):
    member = MemberFactory(email=f"{name}@example.org", is_staff=True)
    member.user_permissions.add(Permission.objects.get(codename="approve_payout"))
    TOTP.activate(member, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    return type(member).objects.get(pk=member.pk)


def _send_to(cluster, monkeypatch, *, times=1):
    """Approvals in this process send their transfer task to the cluster's broker (`times`
    copies of each message: a broker delivering twice)."""
    sender = cluster.sender(monkeypatch)

    def delay(payout_id):
        for _ in range(times):
            sender.send_task("payouts.transfer_payout", args=[payout_id])

    monkeypatch.setattr("payouts.tasks.transfer_payout.delay", delay)


def _assert_paid_once(payout, standin):
    paid = wait_for(
        lambda: Payout.objects.get(pk=payout.pk).status == Payout.Status.PAID,
        PAID_WITHIN_SECONDS,
    )
    payout.refresh_from_db()
    assert paid, f"payout is {payout.status}: {payout.failure_message}"
    counts = standin.stats()["transfers_by_payout"]
    assert counts.get(str(payout.public_id)) == 1, counts
    assert standin.stats()["double_paid_payouts"] == []
    assert payout.transfer_id.startswith("tr_")
    breakdown = payout_breakdown(payout.campaign)
    assert breakdown.paid_out == payout.amount_minor and breakdown.in_transfer == 0
    call_command("verify_ledger")  # raises CommandError on any violation


def test_double_clicks_two_admins_and_a_duplicated_task_make_one_transfer(
    cluster, standin, celery_eager, settings, monkeypatch
):
    assert connection.vendor == "postgresql"
    payout = _funded_with_a_payout(standin, celery_eager, settings)
    cluster.settings.update(PAYOUT_SETTINGS)
    charges = cluster.start_worker("charges")
    celery_eager.conf.update(task_always_eager=False)
    _send_to(cluster, monkeypatch, times=2)
    first, second = _admin("first"), _admin("second")

    barrier = threading.Barrier(3)
    outcomes = []

    def approve(admin):
        barrier.wait()
        try:
            outcomes.append(approve_payout(payout, by=admin).moved)
        except Exception as error:  # noqa: BLE001  (a refusal would be a bug: reported below)
            outcomes.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(admin,)) for admin in (first, first, second)]
    cluster.wait_ready(charges)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(outcomes, key=str) == [False, False, True], outcomes
    _assert_paid_once(payout, standin)


def test_a_worker_killed_while_its_transfer_answer_is_on_the_way(
    cluster, standin, celery_eager, settings, monkeypatch
):
    payout = _funded_with_a_payout(standin, celery_eager, settings)
    cluster.settings.update(PAYOUT_SETTINGS)
    charges, _worker, _beat = cluster.start_standard()
    cluster.wait_ready()
    celery_eager.conf.update(task_always_eager=False)
    _send_to(cluster, monkeypatch)
    # The stand-in makes the transfer, then holds its answer back long enough to kill the
    # worker waiting for it.
    standin.set_faults(latency_ms=4_000)

    approve_payout(payout, by=_admin("treasurer"))
    made = wait_for(lambda: standin.stats()["transfers_by_payout"], 20)
    assert made, cluster.logs()
    charges.kill()
    assert Payout.objects.get(pk=payout.pk).status == Payout.Status.PROCESSING

    standin.set_faults(latency_ms=0)
    cluster.wait_ready(cluster.start_worker("charges"))
    _assert_paid_once(payout, standin)


def test_a_transfer_answered_500_after_it_was_made(
    cluster, standin, celery_eager, settings, monkeypatch
):
    payout = _funded_with_a_payout(standin, celery_eager, settings)
    cluster.settings.update(PAYOUT_SETTINGS)
    cluster.wait_ready(*cluster.start_standard())
    celery_eager.conf.update(task_always_eager=False)
    _send_to(cluster, monkeypatch)
    # The transfer is made, and its answer is a 500 stored under the idempotency key: a retry
    # with that key replays the 500; only the lookup by transfer group finds it.
    standin.set_faults(error_after_next=1)

    approve_payout(payout, by=_admin("treasurer"))

    _assert_paid_once(payout, standin)
