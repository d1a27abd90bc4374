"""A real Celery worker consumes a task through the configured broker (and through Redis)."""

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.core.cache import cache

from config.celery import configure
from core.tasks import HEARTBEAT_CACHE_KEY
from tests.conftest import redis_url, wait_for


def _app(broker_url, monkeypatch=None):
    if monkeypatch is not None:  # Celery prefers CELERY_BROKER_URL from the environment.
        monkeypatch.setenv("CELERY_BROKER_URL", broker_url)
    app = Celery("groundswell-test")
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.broker_url = broker_url
    configure(app, settings)
    return app


def _round_trip(app):
    cache.delete(HEARTBEAT_CACHE_KEY)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        app.send_task("core.tasks.heartbeat")
        assert wait_for(lambda: cache.get(HEARTBEAT_CACHE_KEY) is not None), "worker never ran it"


def test_worker_runs_a_task_through_the_configured_broker():
    _round_trip(_app(settings.CELERY_BROKER_URL))


@pytest.mark.redis
def test_worker_runs_a_task_through_redis(monkeypatch):
    app = _app(redis_url(), monkeypatch)
    assert app.connection_for_write().transport_cls == "redis"
    _round_trip(app)


def test_money_task_defaults():
    app = _app(settings.CELERY_BROKER_URL)
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
    assert app.conf.task_serializer == "json" and app.conf.accept_content == ["json"]
    assert app.conf.task_time_limit and app.conf.task_soft_time_limit < app.conf.task_time_limit
    assert "worker-heartbeat" in app.conf.beat_schedule
