"""/healthz answers 200 with every check ok, and 503 naming what failed."""

import pytest
from django.db.utils import OperationalError

from core import health


@pytest.mark.django_db
def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "ok"}
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.django_db
def test_healthz_names_the_broker_when_it_is_down(client, monkeypatch):
    # A port nothing listens on: the real transport fails to connect.
    # (Celery reads CELERY_BROKER_URL from the environment before its own configuration.)
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setattr(health, "BROKER_TIMEOUT_SECONDS", 1)
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "ok"
    assert body["broker"].startswith("error")


@pytest.mark.django_db
def test_healthz_names_the_database_when_it_is_down(client, monkeypatch):
    def broken_database():
        raise OperationalError("could not connect to server")

    monkeypatch.setitem(health.CHECKS, "database", broken_database)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "error: OperationalError"
    assert response.json()["broker"] == "ok"


def test_healthz_rejects_post(client):
    assert client.post("/healthz").status_code == 405
