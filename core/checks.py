"""Groundswell's own system checks (`manage.py check --deploy`): settings that would make a
production deployment unsafe in ways Django's checks do not know about."""

from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.checks import Error, Tags, Warning
from django.utils.module_loading import import_string

# Caches that live inside one process: every web process and the worker would keep their
# own rate limits and card-testing blocks (or, for the dummy cache, none at all).
PER_PROCESS_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


def _is_per_process(backend_path):
    try:
        backend = import_string(backend_path)
    except ImportError:
        return False  # Django's own cache checks report an unknown backend
    return any(issubclass(backend, import_string(path)) for path in PER_PROCESS_CACHES)


def check_shared_cache(app_configs=None, **kwargs):
    """groundswell.W001: the default cache must be shared by every process."""
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    if not _is_per_process(backend):
        return []
    return [
        Warning(
            f"The default cache ({backend}) is per process: login and pledge rate limits and "
            "card-testing blocks would not be shared between web processes and the worker.",
            hint="Set CACHE_URL to a shared cache, e.g. rediscache://host:6379/1 (or leave it "
            "unset for the file cache in var/ on a single machine).",
            id="groundswell.W001",
        )
    ]


# Percentages the fee schedule (ledger/fees.py) reads: a typo ("5%") would only show when the
# first pledge is collected, after its card was charged.
PERCENT_SETTINGS = ("PLATFORM_FEE_PERCENT", "PROCESSOR_FEE_ESTIMATE_PERCENT")


def check_fee_percentages(app_configs=None, **kwargs):
    """groundswell.E002: every fee percentage is a plain number from 0 to 100."""
    errors = []
    for name in PERCENT_SETTINGS:
        value = getattr(settings, name, None)
        try:
            percent = Decimal(str(value))
        except (InvalidOperation, ValueError):
            percent = None
        if percent is None or not percent.is_finite() or not 0 <= percent <= 100:
            errors.append(
                Error(
                    f"{name} is {value!r}: it must be a number from 0 to 100 (e.g. 5 or 2.5).",
                    hint=f"Set {name} in the environment to a plain number, without '%'.",
                    id="groundswell.E002",
                )
            )
    return errors


def register():
    from django.core import checks

    checks.register(check_shared_cache, Tags.caches, deploy=True)
    checks.register(check_fee_percentages)
