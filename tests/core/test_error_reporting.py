"""Server errors: who is told (ADMINS from the environment) and what the 500 page promises."""

import json
import subprocess
import sys

import pytest
from django.core import mail
from django.test import Client
from django.urls import path

from tests.core.test_settings import ROOT, _clean_env


def boom(request):
    raise RuntimeError("kaboom")


urlpatterns = [path("boom/", boom), path("api/boom/", boom)]
handler500 = "core.views.server_error"


def _admins_from_env(value, tmp_path):
    env = _clean_env({"ADMINS": value} if value is not None else {}, tmp_path)
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, django; from django.conf import settings; django.setup(); "
            "print(json.dumps(settings.ADMINS))",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return [tuple(pair) for pair in json.loads(out.stdout.strip().splitlines()[-1])]


def test_admins_come_from_the_environment(tmp_path):
    assert _admins_from_env(None, tmp_path) == []
    assert _admins_from_env("Ops <ops@example.org>, dev@example.org", tmp_path) == [
        ("Ops", "ops@example.org"),
        ("dev@example.org", "dev@example.org"),
    ]


@pytest.fixture
def erroring_client(settings):
    settings.ROOT_URLCONF = __name__
    settings.DEBUG = False
    return Client(raise_request_exception=False)


@pytest.mark.django_db
@pytest.mark.allow_server_error
def test_a_server_error_mails_the_admins_and_the_page_says_so(erroring_client, settings):
    settings.ADMINS = [("Ops", "ops@example.org")]
    response = erroring_client.get("/boom/")
    assert response.status_code == 500
    assert "reported to our team" in response.content.decode()
    assert [m.to for m in mail.outbox] == [["ops@example.org"]]
    assert "kaboom" in mail.outbox[0].body


@pytest.mark.django_db
@pytest.mark.allow_server_error
def test_without_admins_the_500_page_does_not_claim_anyone_was_notified(erroring_client, settings):
    settings.ADMINS = []
    response = erroring_client.get("/boom/")
    assert response.status_code == 500
    page = response.content.decode()
    assert "notified" not in page and "reported to our team" not in page
    assert "logged" in page
    assert mail.outbox == []


@pytest.mark.django_db
@pytest.mark.allow_server_error
def test_an_api_server_error_is_json_and_reported_once(erroring_client, settings, caplog):
    settings.ADMINS = [("Ops", "ops@example.org")]
    with caplog.at_level("ERROR", logger="django.request"):
        response = erroring_client.get("/api/boom/")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "server_error"
    assert len(mail.outbox) == 1 and "kaboom" in mail.outbox[0].body
    assert len([r for r in caplog.records if r.name == "django.request"]) == 1
