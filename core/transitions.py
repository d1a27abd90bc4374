"""The one state-transition helper every lifecycle (campaign, pledge, payout) goes through.

It locks the row, re-reads the status, returns quietly when the row is already in the target
state (so retries are harmless), refuses moves the model's TRANSITIONS table does not allow,
saves, writes an AuditEvent in the same transaction, and runs side effects after commit.
"""

from django.db import transaction

from core.errors import TransitionError
from core.models import record


def transition(instance, to, *, by=None, note="", updates=None, guard=None, after_commit=()):
    """Move `instance` to status `to`; returns the locked, updated instance.

    updates: extra field values saved with the status (e.g. launched_at, deadline).
    guard: callable(locked_instance) that raises a DomainError to refuse the move.
    after_commit: callables(instance) run once the transaction commits (emails, tasks); an
        exception in one is logged and does not affect the others.
    """
    model = type(instance)
    updates = dict(updates or {})
    with transaction.atomic():
        locked = model.objects.select_for_update().get(pk=instance.pk)
        current = locked.status
        if current == to:
            return locked
        if to not in model.TRANSITIONS.get(current, ()):
            raise TransitionError(
                f"A {model._meta.verbose_name} that is {locked.get_status_display().lower()} "
                f"cannot become {model.Status(to).label.lower()}."
            )
        if guard is not None:
            guard(locked)
        locked.status = to
        for field, value in updates.items():
            setattr(locked, field, value)
        locked.save(update_fields=["status", *updates, *_auto_now_fields(model)])
        record(locked, action=f"status:{to}", by=by, from_status=current, to_status=to, note=note)
        for callback in after_commit:
            # robust: a failing email must not turn a committed change into an error page, nor
            # stop the callbacks after it; the failure is logged.
            transaction.on_commit(lambda callback=callback: callback(locked), robust=True)
    # Keep the caller's object in step with the database.
    instance.__dict__.update({f: getattr(locked, f) for f in ["status", *updates]})
    return locked


def _auto_now_fields(model):
    return [f.name for f in model._meta.concrete_fields if getattr(f, "auto_now", False)]
