"""The transition helper: `moved` tells a caller whether it changed the row, and the batch form
moves only allowed rows, in chunks, with audit rows, skipping rows another transaction holds."""

import threading

import pytest
from django.db import connection, transaction

from core.errors import TransitionError
from core.models import AuditEvent
from core.transitions import transition, transition_many
from pledges.models import Pledge
from tests.factories import CampaignFactory, PledgeFactory

Status = Pledge.Status


@pytest.mark.django_db
def test_transition_says_whether_it_moved():
    pledge = PledgeFactory(status=Status.ACTIVE)
    assert transition(pledge, Status.CHARGING).moved is True
    assert pledge.moved is True and pledge.status == Status.CHARGING
    assert transition(pledge, Status.CHARGING).moved is False
    assert (
        AuditEvent.objects.filter(target_id=str(pledge.pk), action="status:charging").count() == 1
    )


@pytest.mark.django_db
def test_updates_may_be_read_under_the_lock():
    pledge = PledgeFactory(status=Status.ACTIVE, amount_minor=1_234)
    moved = transition(
        pledge, Status.CANCELLED, updates=lambda locked: {"message": str(locked.amount_minor)}
    )
    moved.refresh_from_db()
    assert moved.message == "1234"


@pytest.mark.django_db
def test_transition_many_moves_only_allowed_rows_in_chunks():
    campaign = CampaignFactory(live=True)
    active = [PledgeFactory(campaign=campaign, status=Status.ACTIVE) for _ in range(7)]
    pending = PledgeFactory(campaign=campaign, status=Status.PENDING)
    cancelled = PledgeFactory(campaign=campaign, status=Status.CANCELLED)
    result = transition_many(
        Pledge.objects.filter(campaign=campaign), Status.RELEASED, note="test", chunk_size=3
    )

    assert result.count == 8
    assert sorted(result.ids) == sorted(p.pk for p in [*active, pending])
    assert set(result.moved) == {Status.ACTIVE, Status.PENDING}
    cancelled.refresh_from_db()
    assert cancelled.status == Status.CANCELLED
    audit = AuditEvent.objects.filter(action="status:released")
    assert audit.count() == 8
    assert set(audit.values_list("from_status", flat=True)) == {"active", "pending"}
    # Running it again moves nothing.
    assert transition_many(Pledge.objects.filter(campaign=campaign), Status.RELEASED).count == 0


@pytest.mark.django_db
def test_transition_many_respects_a_limit_and_refuses_impossible_from_states():
    campaign = CampaignFactory(live=True)
    for _ in range(5):
        PledgeFactory(campaign=campaign, status=Status.ACTIVE)
    queryset = Pledge.objects.filter(campaign=campaign)
    assert transition_many(queryset, Status.CHARGING, limit=2, chunk_size=10).count == 2
    assert queryset.filter(status=Status.CHARGING).count() == 2
    with pytest.raises(TransitionError):
        transition_many(queryset, Status.COLLECTED, from_statuses=[Status.ACTIVE])


@pytest.mark.django_db
def test_after_commit_work_runs_once_per_chunk(django_capture_on_commit_callbacks):
    campaign = CampaignFactory(live=True)
    for _ in range(5):
        PledgeFactory(campaign=campaign, status=Status.ACTIVE)
    chunks = []
    with django_capture_on_commit_callbacks(execute=True):
        transition_many(
            Pledge.objects.filter(campaign=campaign),
            Status.CHARGING,
            chunk_size=2,
            after_commit_chunk=chunks.append,
        )
    assert [len(chunk) for chunk in chunks] == [2, 2, 1]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_rows_another_transaction_holds_are_skipped_not_waited_for():
    campaign = CampaignFactory(live=True)
    held, free = (PledgeFactory(campaign=campaign, status=Status.ACTIVE) for _ in range(2))
    locked, release = threading.Event(), threading.Event()

    def hold():
        with transaction.atomic():
            Pledge.objects.select_for_update().get(pk=held.pk)
            locked.set()
            release.wait(10)
        connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(10)
        result = transition_many(Pledge.objects.filter(campaign=campaign), Status.CHARGING)
        assert result.ids == [free.pk]
    finally:
        release.set()
        holder.join()
    # The next run (the next sweep) takes it.
    assert transition_many(Pledge.objects.filter(campaign=campaign), Status.CHARGING).ids == [
        held.pk
    ]
