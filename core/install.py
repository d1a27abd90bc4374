"""This installation's id: what keeps the idempotency keys of two databases that share one
Stripe account (staging and a laptop, two towns' platforms) from ever colliding.

`install_id()` is settings.INSTALL_ID when set, else the id in this database's one
`Installation` row: made by core's migration 0003, or on first use where a test emptied the
table. payments builds its idempotency keys on it; core knows nothing of keys.

Not cached: a cache could not notice the row vanishing (tests flush tables) or the database
changing under it without the same one-row primary-key query, and that query (a fraction of a
millisecond) is made only beside a request to the provider that takes a hundred times longer.
"""

from __future__ import annotations

import re
import secrets

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# Lowercase base32: 12 characters hold 60 random bits, so two databases practically never
# draw the same id; no character that needs escaping in a header or a search query.
_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
_LENGTH = 12
_CONFIGURED = re.compile(r"[A-Za-z0-9_-]{1,40}")


def install_id() -> str:
    """settings.INSTALL_ID if set, else this database's own random id (made if missing)."""
    configured = getattr(settings, "INSTALL_ID", "") or ""
    if configured:
        if not _CONFIGURED.fullmatch(configured):
            raise ImproperlyConfigured(
                "INSTALL_ID must be 1 to 40 letters, digits, '-' or '_' "
                f"(it prefixes idempotency keys); got {configured!r}."
            )
        return configured
    from core.models import Installation

    found = (
        Installation.objects.filter(pk=Installation.SINGLETON_ID)
        .values_list("install_id", flat=True)
        .first()
    )
    if found:
        return found
    # Only where the row is gone (a flushed test database): get_or_create, so that concurrent
    # first uses agree on one id (the loser of the insert reads the winner's row).
    installation, _ = Installation.objects.get_or_create(
        pk=Installation.SINGLETON_ID, defaults={"install_id": new_install_id()}
    )
    return installation.install_id


def new_install_id() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(_LENGTH))
