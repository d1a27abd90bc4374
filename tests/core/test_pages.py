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
@pytest.mark.allow_server_error
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


@pytest.mark.django_db
def test_forms_may_lead_to_stripes_hosted_onboarding(client, settings):
    # "Set up payouts with Stripe" posts to us and is redirected to Stripe's (or the
    # stand-in's) onboarding page; browsers check form-action on that redirect too.
    settings.STRIPE_API_BASE = "http://localhost:12111"
    csp = client.get("/")["Content-Security-Policy"]
    form_action = next(part for part in csp.split("; ") if part.startswith("form-action"))
    assert form_action.split() == [
        "form-action",
        "'self'",
        "http://localhost:12111",
        "https://connect.stripe.com",
    ]


@pytest.mark.parametrize(
    "typed, minor",
    [
        ("25", 2500),
        ("12.50", 1250),
        ("12,50", 1250),
        ("1,250.00", 125000),
        ("€ 1.250,00", 125000),
        ("1,250,000", 125000000),
        ("12,5", 1250),
    ],
)
def test_amounts_people_type_are_read_one_way(typed, minor):
    from core.money import parse_amount

    assert parse_amount(typed, "EUR") == minor


@pytest.mark.parametrize("typed", ["1,250", "1.250", "1,25,0", "12.345,678.9"])
def test_ambiguous_or_malformed_amounts_are_refused(typed):
    from core.errors import DomainError
    from core.money import parse_amount

    with pytest.raises(DomainError):
        parse_amount(typed, "EUR")
