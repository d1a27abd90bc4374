"""Pledges activated, changed and cancelled in the second around the deadline, in threads with
their own PostgreSQL connections, while another thread closes the campaign the moment it may
and settles it at once (as the sweep's worker does). No worker process: the charges are made
here, through the stand-in, once the dust has settled.

What must hold: every write either happened before the close, whole, or was refused with a
DomainError and left nothing behind; the frozen pledged_at_deadline is exactly what is then
charged; no pledge's amount moved after the close.
"""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from campaigns.models import Campaign
from core.errors import DomainError
from core.models import AuditEvent
from core.ratelimit import MemoryBackend, TokenBucket
from pledges import services, settlement
from pledges.models import PaymentAttempt, Pledge
from tests.conftest import wait_for
from tests.factories import CampaignFactory, MemberFactory
from tests.faults.harness import assert_exactly_once, confirm_in_browser, pledge_with_card

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

Status = Pledge.Status
# Seconds from the deadline at which each kind of write is made: well before, in the last
# milliseconds, at the deadline itself, and after it.
OFFSETS = (-0.25, -0.1, -0.02, -0.005, 0.0, 0.005, 0.02, 0.1)


@pytest.fixture
def held_tasks(monkeypatch):
    """Tasks sent after commit are kept, not sent (there is no worker in this test)."""
    from pledges import tasks

    sent = []
    for name in (
        "charge_pledge",
        "settle_campaign",
        "cancel_superseded_setup_intents",
        "detach_replaced_card",
    ):
        monkeypatch.setattr(
            getattr(tasks, name), "delay", lambda *args, name=name: sent.append((name, args))
        )
    return sent


class Race:
    """Threads that each make one write at `deadline + offset`, recording what happened."""

    def __init__(self, deadline):
        self.deadline = deadline
        self.outcomes = {}  # (kind, pledge id) -> "ok" | "refused: …" | "error: …"
        self.threads = []
        self.start = threading.Event()

    def at(self, offset, kind, pledge_id, write):
        def run():
            try:
                self.start.wait(timeout=30)
                moment = self.deadline + timedelta(seconds=offset)
                wait_for(lambda: timezone.now() >= moment, timeout=10, interval=0.001)
                write()
                self.outcomes[kind, pledge_id] = "ok"
            except DomainError as error:
                self.outcomes[kind, pledge_id] = f"refused: {error.message}"
            except Exception as error:  # noqa: BLE001  (anything but a refusal is a bug)
                self.outcomes[kind, pledge_id] = f"error: {error!r}"
            finally:
                connection.close()

        self.threads.append(threading.Thread(target=run, name=f"{kind}-{pledge_id}"))

    def run(self):
        for thread in self.threads:
            thread.start()
        self.start.set()
        for thread in self.threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in self.threads)

    def ok(self, kind):
        return {pk for (k, pk), outcome in self.outcomes.items() if k == kind and outcome == "ok"}

    def refused(self, kind):
        return {
            pk
            for (k, pk), outcome in self.outcomes.items()
            if k == kind and outcome.startswith("refused")
        }


def _close_and_settle_at_once(campaign):
    """The sweep closing the campaign the first moment it may, then its settle task."""
    closed = {}

    def close():
        try:
            closed["campaign"] = settlement.close_campaign(campaign)
        except DomainError:
            return False  # the deadline has not passed yet
        return True

    def run():
        try:
            assert wait_for(close, timeout=30, interval=0.002)
            settlement.settle_campaign(campaign)
        finally:
            connection.close()

    return threading.Thread(target=run, name="closer"), closed


def test_pledge_writes_racing_the_deadline(standin, settings, held_tasks):
    settings.REDIS_URL = ""  # the charge rate ceiling in a file: there is no Redis here
    campaign = CampaignFactory(live=True, goal_minor=1_000)
    to_change = [pledge_with_card(campaign, standin.base_url, amount=2_000) for _ in OFFSETS]
    to_cancel = [pledge_with_card(campaign, standin.base_url, amount=3_000) for _ in OFFSETS]
    untouched = [pledge_with_card(campaign, standin.base_url, amount=1_500) for _ in range(4)]
    to_activate = []
    for _ in OFFSETS:  # card saved in the browser; the confirmation races the deadline
        pledge = services.start_pledge(campaign, supporter=MemberFactory(), amount_minor=2_500)
        confirm_in_browser(standin.base_url, pledge.setup_intent_id, "pm_card_visa")
        to_activate.append(pledge)
    deadline = timezone.now() + timedelta(seconds=1)
    Campaign.objects.filter(pk=campaign.pk).update(deadline=deadline)
    campaign.refresh_from_db()

    race = Race(deadline)
    for offset, pledge in zip(OFFSETS, to_change, strict=True):
        race.at(
            offset,
            "change",
            pledge.pk,
            lambda p=pledge: services.change_pledge(
                p, by=p.supporter, amount_minor=2_222, reward=None
            ),
        )
    for offset, pledge in zip(OFFSETS, to_cancel, strict=True):
        race.at(
            offset, "cancel", pledge.pk, lambda p=pledge: services.cancel_pledge(p, by=p.supporter)
        )
    for offset, pledge in zip(OFFSETS, to_activate, strict=True):
        race.at(
            offset, "activate", pledge.pk, lambda p=pledge: services.confirm_card(p, by=p.supporter)
        )
    closer, closed = _close_and_settle_at_once(campaign)
    closer.start()
    race.run()
    closer.join(timeout=60)
    assert "campaign" in closed, "the campaign was never closed"

    errors = {key: outcome for key, outcome in race.outcomes.items() if outcome.startswith("error")}
    assert not errors, errors  # a refusal is a DomainError, never anything else
    print(sorted(set(race.outcomes.values())))
    assert len(race.outcomes) == 3 * len(OFFSETS)
    for kind in ("change", "cancel", "activate"):  # the race really was run on both sides
        assert race.ok(kind) and race.refused(kind), (kind, race.outcomes)

    # The sweep catches up with any pledge a refused write held while the batch ran.
    while Pledge.objects.filter(campaign=campaign, status__in=Pledge.OPEN_STATUSES).exists():
        settlement.settle_closed_campaigns()
    pledges = {p.pk: p for p in Pledge.objects.filter(campaign=campaign)}
    for pk in race.ok("change"):
        assert (pledges[pk].status, pledges[pk].amount_minor) == (Status.CHARGING, 2_222)
    for pk in race.refused("change"):  # nothing half-applied: the old amount, no audit row
        assert (pledges[pk].status, pledges[pk].amount_minor) == (Status.CHARGING, 2_000)
        assert not AuditEvent.objects.filter(target_id=str(pk), action="changed").exists()
    for pk in race.ok("cancel"):
        assert pledges[pk].status == Status.CANCELLED
    for pk in race.refused("cancel"):
        assert pledges[pk].status == Status.CHARGING
    for pk in race.ok("activate"):
        assert pledges[pk].status == Status.CHARGING
    for pk in race.refused("activate"):  # never active: not counted, never charged
        assert pledges[pk].status in (Status.CANCELLED, Status.RELEASED)
        assert pledges[pk].activated_at is None
    assert all(pledges[p.pk].status == Status.CHARGING for p in untouched)

    # The figures frozen at the close are exactly the pledges then charged.
    campaign.refresh_from_db()
    charging = [p for p in pledges.values() if p.status == Status.CHARGING]
    assert campaign.status == Campaign.Status.SETTLING
    assert campaign.pledged_at_deadline_minor == sum(p.amount_minor for p in charging)
    assert campaign.supporters_at_deadline == len(charging)
    bucket = TokenBucket("race-charges", rate=1_000, backend=MemoryBackend())
    for pledge in charging:
        settlement.charge_pledge(pledge.pk, bucket=bucket)
    attempts = PaymentAttempt.objects.filter(pledge__campaign=campaign)
    assert (
        sum(attempts.values_list("amount_minor", flat=True)) == campaign.pledged_at_deadline_minor
    )
    assert_exactly_once(campaign, closed_before=(Status.CANCELLED, Status.RELEASED))
    collected = Pledge.objects.filter(campaign=campaign, status=Status.COLLECTED)
    assert sum(collected.values_list("amount_minor", flat=True)) == (
        campaign.pledged_at_deadline_minor
    )
    print(
        "deadline race:",
        {
            kind: (len(race.ok(kind)), len(race.refused(kind)))
            for kind in ("change", "cancel", "activate")
        },
        f"closed {(campaign.ended_at - deadline).total_seconds() * 1000:.0f} ms after the deadline",
    )
