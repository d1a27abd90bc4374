"""The one state-transition helper every lifecycle (campaign, pledge, payout) goes through.

`transition` moves one row: it locks it, re-reads the status, returns quietly when the row is
already in the target state (so retries are harmless), refuses moves the model's TRANSITIONS
table does not allow, saves, writes an AuditEvent in the same transaction, and runs side
effects after commit. The returned instance's `moved` says whether this call moved it, so a
sweep that runs twice schedules nothing twice, and its `audit_event` is the row it wrote (None
when it did not move).

`transition_many` is its batch form for thousands of rows (releasing or charging a whole
campaign): chunks of rows locked with SKIP LOCKED, only rows in an allowed from-state, one
UPDATE and one bulk insert of audit rows per chunk, after-commit work once per chunk.
"""

from dataclasses import dataclass, field

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone

from core.errors import TransitionError
from core.models import AuditEvent, record


def transition(instance, to, *, by=None, note="", updates=None, guard=None, after_commit=()):
    """Move `instance` to status `to`; returns the locked, updated instance.

    updates: extra field values saved with the status (e.g. launched_at, deadline), or a
        callable(locked_instance) returning them, for values read under the lock.
    guard: callable(locked_instance) that raises a DomainError to refuse the move.
    after_commit: callables(instance) run once the transaction commits (emails, tasks); an
        exception in one is logged and does not affect the others. Only run when it moved.
    The result's `moved` is True if this call changed the status, False if it was already `to`.
    """
    model = type(instance)
    with transaction.atomic():
        locked = model.objects.select_for_update().get(pk=instance.pk)
        current = locked.status
        if current == to:
            locked.moved = instance.moved = False
            locked.audit_event = instance.audit_event = None
            return locked
        if to not in model.TRANSITIONS.get(current, ()):
            raise TransitionError(
                f"A {model._meta.verbose_name} that is {locked.get_status_display().lower()} "
                f"cannot become {model.Status(to).label.lower()}."
            )
        if guard is not None:
            guard(locked)
        values = dict((updates(locked) if callable(updates) else updates) or {})
        locked.status = to
        for name, value in values.items():
            setattr(locked, name, value)
        locked.save(update_fields=["status", *values, *_auto_now_fields(model)])
        event = record(
            locked, action=f"status:{to}", by=by, from_status=current, to_status=to, note=note
        )
        for callback in after_commit:
            # robust: a failing email must not turn a committed change into an error page, nor
            # stop the callbacks after it; the failure is logged. Work that must not be lost
            # is never only a callback: a sweep finds rows whose follow-up did not happen.
            transaction.on_commit(lambda callback=callback: callback(locked), robust=True)
    locked.moved = instance.moved = True
    locked.audit_event = instance.audit_event = event
    # Keep the caller's object in step with the database.
    instance.__dict__.update({f: getattr(locked, f) for f in ["status", *values]})
    return locked


@dataclass
class BatchResult:
    """What `transition_many` moved: the ids per from-status (in the order they moved)."""

    to: str
    moved: dict[str, list] = field(default_factory=dict)

    @property
    def ids(self):
        return [pk for ids in self.moved.values() for pk in ids]

    @property
    def count(self):
        return sum(len(ids) for ids in self.moved.values())


def transition_many(
    queryset,
    to,
    *,
    from_statuses=None,
    by=None,
    note="",
    updates=None,
    chunk_size=500,
    after_commit_chunk=None,
    limit=None,
):
    """Move the rows of `queryset` that may become `to`, in chunks; returns a BatchResult.

    Only rows whose status is in `from_statuses` (default: every status the TRANSITIONS table
    lets become `to`) move. Each chunk is its own transaction: rows are locked with
    SKIP LOCKED (a row another transaction holds, e.g. a pledge being changed, is left for the
    next run rather than waited for), updated in one statement per from-status, and audited
    with one bulk insert. `after_commit_chunk(ids)` runs once per committed chunk. `limit`
    caps how many rows move in this call (a sweep's share of a large campaign). Safe to run
    twice or concurrently: a row moves once, and a second run finds nothing to move.
    """
    model = queryset.model
    allowed = {status for status, targets in model.TRANSITIONS.items() if to in targets}
    if from_statuses is not None:
        refused = set(from_statuses) - allowed
        if refused:
            raise TransitionError(f"{model.__name__}: {sorted(refused)} cannot become {to}.")
        allowed = set(from_statuses)
    result = BatchResult(to=to)
    content_type = ContentType.objects.get_for_model(model)
    auto_now = _auto_now_fields(model)
    values = dict(updates or {})
    while limit is None or result.count < limit:
        size = chunk_size if limit is None else min(chunk_size, limit - result.count)
        with transaction.atomic():
            rows = list(
                queryset.filter(status__in=allowed)
                .select_for_update(skip_locked=True, of=("self",))
                .order_by("pk")
                .values_list("pk", "status")[:size]
            )
            if not rows:
                break
            by_status = {}
            for pk, status in rows:
                by_status.setdefault(status, []).append(pk)
            stamp = {name: timezone.now() for name in auto_now}
            for status, ids in by_status.items():
                model.objects.filter(pk__in=ids, status=status).update(status=to, **values, **stamp)
            AuditEvent.objects.bulk_create(
                AuditEvent(
                    actor=by if getattr(by, "pk", None) else None,
                    action=f"status:{to}",
                    target_type=content_type,
                    target_id=str(pk),
                    from_status=status,
                    to_status=to,
                    note=note,
                )
                for status, ids in by_status.items()
                for pk in ids
            )
            moved_ids = [pk for pk, _status in rows]
            if after_commit_chunk is not None:
                transaction.on_commit(
                    lambda moved_ids=moved_ids: after_commit_chunk(moved_ids), robust=True
                )
        for status, ids in by_status.items():
            result.moved.setdefault(status, []).extend(ids)
        if len(rows) < size:
            break
    return result


def _auto_now_fields(model):
    return [f.name for f in model._meta.concrete_fields if getattr(f, "auto_now", False)]
