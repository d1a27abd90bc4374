"""How fast one member may post in the community (comments, reports): their own recent rows
counted per window, in one query, behind a lock on the member so two posts at once queue."""

from django.contrib.auth import get_user_model
from django.db.models import Count, Q

from core.errors import DomainError


def queue_behind(member):
    """Lock the member's row (inside a transaction): their posts are counted one at a time,
    so two at once cannot both slip under a limit."""
    list(get_user_model().objects.select_for_update().filter(pk=member.pk).values_list("pk"))


def check_pace(own_rows, *, now, limits, field=None, code):
    """DomainError(message) for the first (window, most, message) of `limits` whose window
    (a timedelta back from `now`) already holds `most` of `own_rows` (by created_at)."""
    windows = {f"in_{index}": limit[0] for index, limit in enumerate(limits)}
    counts = own_rows.filter(created_at__gt=now - max(windows.values())).aggregate(
        **{name: Count("pk", filter=Q(created_at__gt=now - w)) for name, w in windows.items()}
    )
    for name, (_window, most, message) in zip(windows, limits, strict=True):
        if counts[name] >= most:
            raise DomainError(message, field=field, code=code)
