"""The site chrome, styled error pages, and security headers."""

import pytest
from django.test import Client
from django.urls import path

from config import urls as project_urls


def boom(request):
    raise RuntimeError("secret internal detail")


urlpatterns = [*project_urls.urlpatterns, path("boom/", boom)]
handler404 = project_urls.handler404
handler500 = project_urls.handler500


@pytest.mark.django_db
def test_home_has_header_navigation_and_no_cdn(client):
    html = client.get("/").content.decode()
    for text in ("Groundswell", "Discover", "Start a campaign", "Log in", "Sign up"):
        assert text in html
    assert "/static/css/app.css" in html
    assert "cdn" not in html.lower() and "googleapis" not in html


@pytest.mark.django_db
def test_unknown_url_gets_styled_404(client):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "We couldn't find that page" in html and "site-header" in html


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_server_error_is_styled_without_traceback(settings):
    settings.DEBUG = False
    client = Client(raise_request_exception=False)
    response = client.get("/boom/")
    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong" in html
    assert "secret internal detail" not in html and "Traceback" not in html


@pytest.mark.django_db
def test_security_headers(client):
    response = client.get("/")
    csp = response["Content-Security-Policy"]
    assert (
        "script-src 'self'" in csp
        and "object-src 'none'" in csp
        and "frame-ancestors 'none'" in csp
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response["X-Frame-Options"] == "DENY"
