"""Every /api/ error is one JSON shape: {"error": {"code", "message", "fields"}}, never HTML.

Covers errors raised inside DRF views (parse errors, media types, 401/403, 404, 405, 429,
validation and domain errors) and outside them (unknown URLs, oversized bodies, Django's 400
for a suspicious request, an unhandled exception's 500); the site's own pages stay HTML.
"""

import json
import uuid

import pytest
from django.core.exceptions import RequestDataTooBig
from django.test import Client
from django.urls import reverse
from rest_framework.exceptions import Throttled

from core.api import exception_handler
from core.errors import DomainError, NotPermitted
from pledges.models import Pledge
from tests.factories import CampaignFactory, MemberFactory

pytestmark = pytest.mark.django_db

API = "/api/pledges/"


def assert_error_shape(response, status, code=None):
    """The response is JSON in the API's error shape; returns its "error" object."""
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = json.loads(response.content)
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "fields"}, error
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["fields"], dict)
    for field, messages in error["fields"].items():
        assert isinstance(field, str)
        assert messages and all(isinstance(message, str) for message in messages)
    if code is not None:
        assert error["code"] == code, error
    return error


@pytest.fixture
def member_api(client, member):
    client.force_login(member)
    return client


def post_raw(client, body, *, content_type="application/json", key="key-1", path=API):
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(path, data=body, content_type=content_type, headers=headers)


# --- JSON that breaks the parser ----------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,  # RecursionError in the decoder (was a 500, as an HTML page)
        b"[" * 50_000 + b"]" * 50_000,  # deep but well-formed
        b'{"amount_minor": ' + b"[" * 100_000 + b"}",
        b"\xff\xfe{}",  # not UTF-8
        b'{"campaign": "x", "amount_minor": NaN}',
        b'{"amount_minor": Infinity}',
        b'{"amount_minor": 1' + b"0" * 5_000 + b"}",  # over Python's int-parsing limit
        b"{not json",
        b'{"amount_minor": 1e999}',  # overflows to float("inf")
    ],
    ids=[
        "open-brackets",
        "deep-nesting",
        "deep-value",
        "not-utf8",
        "nan",
        "infinity",
        "5000-digit-int",
        "garbage",
        "float-overflow",
    ],
)
def test_bodies_that_break_the_parser_are_a_json_400(member_api, body):
    error = assert_error_shape(post_raw(member_api, body), 400, "parse_error")
    assert error["fields"] == {}
    assert not Pledge.objects.exists()


def test_a_body_over_the_upload_limit_is_a_json_413(member_api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    body = json.dumps({"campaign": "x", "message": "m" * 2_000}).encode()
    error = assert_error_shape(post_raw(member_api, body), 413, "request_too_large")
    assert error["fields"] == {}


def test_unsupported_media_types_are_a_json_415(member_api):
    for content_type, body in [
        ("text/plain", b"amount_minor=1000"),
        ("application/x-www-form-urlencoded", b"campaign=x&amount_minor=1000"),
        ("application/xml", b"<pledge/>"),
    ]:
        response = post_raw(member_api, body, content_type=content_type)
        assert_error_shape(response, 415, "unsupported_media_type")


# --- HTTP-level errors --------------------------------------------------------------------
def test_unknown_api_url_is_a_json_404(member_api):
    assert_error_shape(member_api.get("/api/no-such-thing/"), 404, "not_found")
    assert_error_shape(member_api.get("/api"), 404, "not_found")
    assert_error_shape(member_api.post("/api/pledges/not-a-uuid/confirm/"), 404, "not_found")


def test_missing_and_other_members_objects_are_the_same_json_404(member_api, member):
    from tests.factories import PledgeFactory

    theirs = PledgeFactory(supporter=MemberFactory())
    for public_id in (uuid.uuid4(), theirs.public_id):
        assert_error_shape(
            member_api.get(reverse("pledges:api_detail", args=[public_id])), 404, "not_found"
        )
        response = member_api.post(
            reverse("pledges:api_confirm", args=[public_id]), {}, content_type="application/json"
        )
        assert_error_shape(response, 404, "not_found")


def test_wrong_method_is_a_json_405_with_allow(member_api):
    response = member_api.put(API, {}, content_type="application/json")
    assert_error_shape(response, 405, "method_not_allowed")
    assert "POST" in response["Allow"]


def test_logged_out_is_a_json_403(client):
    assert_error_shape(client.get(API), 403, "not_authenticated")
    assert_error_shape(post_raw(client, b"{}"), 403, "not_authenticated")


def test_csrf_failure_is_a_json_403(member):
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    assert_error_shape(post_raw(client, b"{}"), 403, "permission_denied")


def test_throttling_is_a_json_429_with_retry_after():
    response = exception_handler(Throttled(wait=30), {})
    assert response.status_code == 429
    assert response["Retry-After"] == "30"
    assert response.data["error"]["code"] == "throttled"
    assert response.data["error"]["fields"] == {}


def test_any_html_error_under_api_becomes_json_and_keeps_its_headers(rf):
    from django.http import HttpResponse

    from core.middleware import ApiErrorMiddleware

    def answer(request):
        response = HttpResponse("<h1>Slow down</h1>", status=429)
        response["Retry-After"] = "60"
        response["X-Content-Type-Options"] = "nosniff"
        return response

    response = ApiErrorMiddleware(answer)(rf.get("/api/pledges/"))
    error = assert_error_shape(response, 429, "too_many_requests")
    assert error["fields"] == {}
    assert (response["Retry-After"], response["X-Content-Type-Options"]) == ("60", "nosniff")
    page = ApiErrorMiddleware(answer)(rf.get("/campaigns/"))
    assert page["Content-Type"].startswith("text/html")  # the site's pages are left alone


def test_a_suspicious_request_outside_drf_is_a_json_400(member_api):
    # DisallowedHost is raised by middleware before any view: Django's own 400, made JSON.
    response = member_api.get(API, headers={"Host": "evil.example"})
    assert_error_shape(response, 400, "bad_request")


def test_request_data_too_big_raised_in_a_view_is_a_413():
    response = exception_handler(RequestDataTooBig("too big"), {})
    assert response.status_code == 413
    assert response.data["error"]["code"] == "request_too_large"


@pytest.mark.allow_server_error
def test_an_unhandled_exception_is_a_json_500(member, monkeypatch):
    from pledges import selectors

    def explode(member):
        raise RuntimeError("boom: internal detail")

    monkeypatch.setattr(selectors, "pledges_of", explode)
    client = Client(raise_request_exception=False)
    client.force_login(member)
    error = assert_error_shape(client.get(API), 500, "server_error")
    assert "boom" not in error["message"]


def test_site_pages_keep_their_html_errors(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


# --- validation and domain errors ---------------------------------------------------------
def test_validation_errors_list_every_field(member_api):
    body = json.dumps({"amount_minor": "ten", "currency": "EURO"}).encode()
    error = assert_error_shape(post_raw(member_api, body), 400, "invalid")
    assert set(error["fields"]) == {"campaign", "amount_minor", "currency"}


def test_a_missing_idempotency_key_is_the_error_shape(member_api):
    error = assert_error_shape(post_raw(member_api, b"{}", key=""), 400)
    assert "Idempotency-Key" in error["message"]
    error = assert_error_shape(post_raw(member_api, b"{}", key="k" * 65), 400)


def test_domain_errors_carry_their_code_and_field():
    error = DomainError("This campaign collects EUR.", field="currency", code="wrong_currency")
    response = exception_handler(error, {})
    assert response.status_code == 400
    assert response.data == {
        "error": {
            "code": "wrong_currency",
            "message": "This campaign collects EUR.",
            "fields": {"currency": ["This campaign collects EUR."]},
        }
    }
    response = exception_handler(DomainError("Not taking pledges."), {})
    assert response.data["error"] == {
        "code": "invalid",
        "message": "Not taking pledges.",
        "fields": {},
    }


def test_not_permitted_is_a_404_that_reveals_nothing():
    response = exception_handler(NotPermitted("You are not the organizer of “Secret”."), {})
    assert response.status_code == 404
    assert response.data["error"]["code"] == "not_found"
    assert "Secret" not in response.data["error"]["message"]


def test_a_service_error_comes_back_under_the_api_field_name(member_api):
    campaign = CampaignFactory(live=True)
    body = {"campaign": campaign.slug, "amount_minor": 50, "currency": campaign.currency}
    response = post_raw(member_api, json.dumps(body).encode())
    error = assert_error_shape(response, 400)
    assert list(error["fields"]) == ["amount_minor"], error  # the service says "amount"
