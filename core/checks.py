"""Groundswell's own system checks (`manage.py check --deploy`): settings that would make a
production deployment unsafe in ways Django's checks do not know about."""

from django.conf import settings
from django.core.checks import Tags, Warning
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


def register():
    from django.core import checks

    checks.register(check_shared_cache, Tags.caches, deploy=True)
