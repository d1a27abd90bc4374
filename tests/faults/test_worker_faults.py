"""Exactly-once settlement under faults, with real processes: charge workers SIGKILLed just
before and just after the provider call, the same charge task delivered twice at once, lost
responses, a 429 storm and 5xx bursts, Redis flushed mid-settlement.

Each test starts the processes of a deployment (tests.faults.harness.Cluster: a prefork
`charges` worker, the default-queue worker, beat sending the settlement sweep every
SWEEP_SECONDS), builds pledges whose cards were saved on the stand-in, lets the deadline pass,
injects its fault, stops it, and ends with `assert_exactly_once`: every pledge final within two
sweep periods, one succeeded PaymentIntent per collected pledge and none for any other, one
contribution each, `verify_ledger` clean.
"""

import re
from collections import Counter

import pytest

from pledges import settlement
from pledges.models import PaymentAttempt, Pledge
from tests.conftest import wait_for
from tests.factories import CampaignFactory
from tests.faults import harness
from tests.faults.harness import (
    assert_exactly_once,
    deadline_passes,
    expected_statuses,
    mixed_cards,
    pledges_with_cards,
    wait_until_settled,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

Attempt = PaymentAttempt.Status



def _campaign_with_pledges(cluster, standin, count, **cards):
    """Start the cluster, and meanwhile build `count` pledges (see mixed_cards)."""
    started = cluster.start_standard()
    campaign = CampaignFactory(live=True, goal_minor=1_000)
    cards = mixed_cards(count, **cards)
    pledges_with_cards(campaign, standin.base_url, cards)
    cluster.wait_ready(*started)
    return campaign, cards, started


def _one_attempt_each(campaign):
    """Nothing was ever given up and tried again with a new key."""
    numbers = set(harness.in_campaign(campaign).values_list("number", flat=True))
    assert numbers == {1}, f"attempt numbers {numbers}: a charge was retried with a new key"


# --- 1. the worker SIGKILLed around the provider call, then restarted -------------------------
def test_a_worker_killed_just_before_the_provider_call(cluster, standin):
    campaign, cards, (charges, _worker, _beat) = _campaign_with_pledges(cluster, standin, 20)
    # The hook: the rate ceiling is drained, so each charge process claims an attempt
    # (committed, `created`) and then waits for a token, before any request is made.
    harness.drain_rate_ceiling(cluster.broker_url, seconds=45)
    deadline_passes(campaign)
    claimed = wait_for(
        lambda: harness.in_campaign(campaign, status=Attempt.CREATED).count() >= 2, 20
    )
    assert claimed, cluster.logs()

    charges.kill()

    stranded = list(harness.in_campaign(campaign).select_related("pledge"))
    assert {a.status for a in stranded} == {Attempt.CREATED}, [a.status for a in stranded]
    assert standin.stats()["requests"].get("POST /v1/payment_intents", 0) == 0  # none was sent
    harness.refill_rate_ceiling(cluster.broker_url)
    restarted = cluster.start_worker("charges")
    cluster.wait_ready(restarted)

    took = wait_until_settled(campaign, cluster, what="settled after the restart")

    assert_exactly_once(campaign, expect=expected_statuses(cards))
    _one_attempt_each(campaign)  # the stranded attempts were sent with their own keys
    for attempt in stranded:
        attempt.refresh_from_db()
        assert attempt.status in (Attempt.SUCCEEDED, Attempt.FAILED, Attempt.REQUIRES_ACTION)
    print(f"killed before the call: {len(stranded)} stranded, settled {took:.1f}s after restart")


def test_a_worker_killed_just_after_the_provider_call(cluster, standin):
    campaign, cards, (charges, _worker, _beat) = _campaign_with_pledges(cluster, standin, 20)
    # The hook: the stand-in does the work at once and holds the answer back, so a kill
    # while the requests are in flight comes after the provider charged.
    standin.set_faults(latency_ms=4_000)
    deadline_passes(campaign)
    charged = wait_for(lambda: harness.answered(standin) >= 2, timeout=20)
    assert charged, cluster.logs()

    charges.kill()
    standin.set_faults(latency_ms=0)

    stranded = list(harness.in_campaign(campaign, status=Attempt.SENT, payment_intent_id=None))
    assert len(stranded) >= 2, list(
        harness.in_campaign(campaign).values_list("status", "payment_intent_id")
    )
    at_provider = {
        (charge.metadata["pledge"], charge.metadata["attempt"])
        for charge in harness.provider_charges(campaign)
    }
    for attempt in stranded:  # the provider has each one's PaymentIntent; we never heard
        assert (str(attempt.pledge.public_id), str(attempt.number)) in at_provider
    restarted = cluster.start_worker("charges")
    cluster.wait_ready(restarted)

    took = wait_until_settled(campaign, cluster, what="settled after the restart")

    assert_exactly_once(campaign, expect=expected_statuses(cards))
    _one_attempt_each(campaign)  # found again with the same key, never charged anew
    for attempt in stranded:
        attempt.refresh_from_db()
        assert attempt.payment_intent_id, "the stranded attempt's PaymentIntent was not recorded"
    print(f"killed after the call: {len(stranded)} stranded, settled {took:.1f}s after restart")


# --- 2. the same charge task delivered twice, concurrently ------------------------------------
def test_the_same_charge_task_delivered_twice_at_once(cluster, standin, monkeypatch):
    from pledges import tasks

    started = (
        cluster.start_worker("charges-a"),
        cluster.start_worker("charges-b"),
        cluster.start_worker("worker", queues="celery", concurrency=1),
    )
    campaign = CampaignFactory(live=True, goal_minor=1_000)
    cards = mixed_cards(30)
    pledges_with_cards(campaign, standin.base_url, cards)
    cluster.wait_ready(*started)
    # Settle here, without beat, and keep the charge messages to send them ourselves.
    dispatched = []
    monkeypatch.setattr(tasks.charge_pledge, "delay", lambda *args: dispatched.append(args))
    monkeypatch.setattr(tasks.settle_campaign, "delay", lambda *args: None)
    deadline_passes(campaign)
    settlement.close_campaign(campaign)
    settlement.settle_campaign(campaign)
    assert len(dispatched) == len(cards)
    # A request in flight long enough for the second copy to find the first one's attempt.
    standin.set_faults(latency_ms=300)
    sender = cluster.sender(monkeypatch)

    for args in dispatched:  # four charge processes take the two copies side by side
        sender.send_task("pledges.charge_pledge", args=list(args))
        sender.send_task("pledges.charge_pledge", args=list(args))
    wait_until_settled(campaign, cluster, within=30, what="charged")
    for args in dispatched:  # and a late copy of each, after its charge was made
        sender.send_task("pledges.charge_pledge", args=list(args))

    def finished():  # what the two charge workers' logs say about the 3 copies of each
        text = "".join(service.log() for service in started[:2])
        done = re.findall(
            r"Task pledges\.charge_pledge\[[^]]+\] succeeded in [^:]+: '([^']+)'", text
        )
        return Counter(done)

    assert wait_for(lambda: finished().total() == 3 * len(cards), timeout=20), finished()
    results = finished()
    assert_exactly_once(campaign, expect=expected_statuses(cards))
    # One attempt per pledge: each pair's second copy, and every late one, found the first's.
    _one_attempt_each(campaign)
    assert results["nothing to do"] > len(cards), results  # not only the late copies
    print(f"delivered twice at once, then once late: {dict(results)}")
    _one_attempt_each(campaign)


# --- 3. responses dropped after success ---------------------------------------------------------
def test_responses_lost_after_the_charge_succeeded(cluster, standin):
    campaign, cards, _started = _campaign_with_pledges(cluster, standin, 40)
    # 5 % of successful charges lose their answer, and a burst of the first few. The SDK
    # resends with the same key and gets the stored answer (the stand-in, like Stripe, never
    # charges a key twice); a resend lost as well is the killed-after-the-call case above.
    standin.set_faults(drop_rate=0.05, drop_next=4)
    deadline_passes(campaign)
    all_sent = wait_for(
        lambda: not Pledge.objects.filter(campaign=campaign, attempts=None).exists(), 30
    )
    assert all_sent, cluster.logs()
    standin.set_faults(drop_rate=0, drop_next=0)

    took = wait_until_settled(campaign, cluster)

    assert_exactly_once(campaign, expect=expected_statuses(cards))
    _one_attempt_each(campaign)
    stats = standin.stats()
    assert stats["dropped_responses"] >= 4
    assert stats["idempotent_replays"] >= stats["dropped_responses"]
    print(
        f"lost answers: {stats['dropped_responses']} dropped, {stats['idempotent_replays']} "
        f"replayed, settled {took:.1f}s after the faults stopped"
    )


# --- 4. a 429 storm and 5xx bursts ---------------------------------------------------------------
def test_a_429_storm_and_5xx_bursts(cluster, standin):
    campaign, cards, _started = _campaign_with_pledges(cluster, standin, 40)
    # A burst of 503s from in front of the API, under a rate limit far below our ceiling.
    standin.set_faults(rate_limit=4, error_next=10, error_status=503)
    deadline_passes(campaign)
    assert wait_for(lambda: harness.in_campaign(campaign).count() >= 10, 30), cluster.logs()
    # Then 500s from the API itself, some after the charge was made; both kept under the
    # idempotency key, so a retry with that key only replays them.
    standin.set_faults(error_status=500, error_next=2, error_rate=0.15, error_after_rate=0.1)
    all_sent = wait_for(
        lambda: not Pledge.objects.filter(campaign=campaign, attempts=None).exists(), 60
    )
    assert all_sent, cluster.logs()
    standin.set_faults(rate_limit=0, error_next=0, error_rate=0, error_after_rate=0)

    took = wait_until_settled(campaign, cluster)

    assert_exactly_once(campaign, expect=expected_statuses(cards))
    stats = standin.stats()
    assert stats["rate_limited"] > 0 and stats["injected_errors"] > 0
    print(
        f"storm: {stats['rate_limited']} 429s, {stats['injected_errors']} 5xx, "
        f"{harness.went_unknown(campaign)} attempts went unknown, settled {took:.1f}s after"
    )


def test_a_server_error_kept_under_the_key_does_not_hold_the_pledge(cluster, standin):
    """Stripe keeps a 500 under the idempotency key, and a resend with that key only replays
    it: once the search lag has passed with nothing found, the attempt is given up (nothing
    was charged) and the pledge charged with a new key, not resent for the key's 24 hours."""
    campaign, cards, _started = _campaign_with_pledges(
        cluster, standin, 4, declines=0, authentication=0
    )
    standin.set_faults(error_next=1, error_status=500)  # one request, before any work
    deadline_passes(campaign)
    assert wait_for(lambda: standin.stats()["injected_errors"] == 1, 20), cluster.logs()

    took = wait_until_settled(campaign, cluster, what="settled after one stored 500")

    assert_exactly_once(campaign, expect=expected_statuses(cards))
    given_up = harness.in_campaign(campaign, status=Attempt.FAILED).get()
    assert given_up.decline_code == settlement.NOT_CHARGED
    assert harness.in_campaign(
        campaign, pledge=given_up.pledge, number=2, status=Attempt.SUCCEEDED
    ).exists()
    print(f"stored 500: settled {took:.1f}s after it")


# --- 6. Redis flushed mid-settlement --------------------------------------------------------------
def test_redis_flushed_mid_settlement(cluster, standin):
    campaign, cards, _started = _campaign_with_pledges(cluster, standin, 40)
    standin.set_faults(latency_ms=150)  # slow enough to flush with charges queued and running
    deadline_passes(campaign)
    collected = lambda: Pledge.objects.filter(  # noqa: E731
        campaign=campaign, status=Pledge.Status.COLLECTED
    ).count()
    assert wait_for(lambda: collected() >= 8, timeout=30), cluster.logs()

    harness.flush_redis(cluster.broker_url)  # queued charges, the unacked ones, the ceiling
    before = collected()
    standin.set_faults(latency_ms=0)
    assert before < len(cards) - 8, "settlement was nearly done before the flush"

    took = wait_until_settled(campaign, cluster, what="settled after the flush")

    assert_exactly_once(campaign, expect=expected_statuses(cards))
    print(f"flushed at {before} of {len(cards)} collected; settled {took:.1f}s after the flush")
