"""Liveness checks for /healthz: can we reach the database and the Celery broker?"""

import logging

from django.db import connection

from config.celery import app as celery_app

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 3


def check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_broker():
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)
        conn.default_channel  # noqa: B018 (opening a channel proves the transport works)


CHECKS = {"database": check_database, "broker": check_broker}


def run_checks():
    """Return ({name: "ok" | "error: ..."}, all_ok)."""
    results = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as exc:  # noqa: BLE001 (any failure means "not healthy")
            logger.warning("health check %s failed: %s", name, exc, exc_info=True)
            results[name] = f"error: {type(exc).__name__}"
        else:
            results[name] = "ok"
    return results, all(value == "ok" for value in results.values())
