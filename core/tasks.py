"""Housekeeping tasks: a ping that proves a worker consumes the broker, and beat's heartbeat."""

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

HEARTBEAT_CACHE_KEY = "groundswell:worker-heartbeat"


@shared_task(name="core.tasks.ping")
def ping():
    return "pong"


@shared_task(name="core.tasks.heartbeat")
def heartbeat():
    cache.set(HEARTBEAT_CACHE_KEY, timezone.now().isoformat(), timeout=None)
    return True
