"""/status/ is /healthz for people: an HTML page in the site's look; /healthz stays JSON."""

import pytest
from django.db.utils import OperationalError

from core import health

pytestmark = pytest.mark.django_db


def test_the_footer_links_to_the_status_page_not_the_json(client):
    html = client.get("/").content.decode()
    assert '<a href="/status/">Status</a>' in html
    assert 'href="/healthz"' not in html


def test_status_page_when_everything_works(client):
    response = client.get("/status/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert response["Cache-Control"].startswith("max-age=0")
    html = response.content.decode()
    assert "<h1>Everything is working</h1>" in html
    assert "Website and database" in html and "Background jobs" in html
    assert html.count("Working</span>") == len(health.CHECKS)
    assert 'class="site-footer"' in html  # the site's own page, not a bare document


def test_status_page_names_what_is_down_without_error_details(client, monkeypatch):
    def broken_database():
        raise OperationalError("could not connect to server at 10.0.0.5")

    monkeypatch.setitem(health.CHECKS, "database", broken_database)
    response = client.get("/status/")
    assert response.status_code == 503
    html = response.content.decode()
    assert "<h1>Something is not working</h1>" in html
    assert html.count("Not responding") == 1
    assert "OperationalError" not in html and "10.0.0.5" not in html


def test_healthz_stays_json_for_machines(client):
    response = client.get("/healthz")
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == set(health.CHECKS)
