"""Settings come from the environment; production values pass `check --deploy` cleanly."""

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "k3#production-like-secret-that-is-long-and-random-enough-for-django-1234",
    "ALLOWED_HOSTS": "groundswell.example.org",
    "CSRF_TRUSTED_ORIGINS": "https://groundswell.example.org",
    "DATABASE_URL": "postgres://groundswell:pw@db.internal:5432/groundswell",
    "CELERY_BROKER_URL": "redis://redis.internal:6379/0",
    "EMAIL_URL": "smtp+tls://mailer:pw@smtp.example.org:587",
    "SECURE_HSTS_PRELOAD": "true",
}

PROBE = """
import json, django
from django.conf import settings
django.setup()
db = settings.DATABASES['default']
print(json.dumps({
  'debug': settings.DEBUG, 'engine': db['ENGINE'], 'name': str(db['NAME']), 'host': db.get('HOST'),
  'broker': settings.CELERY_BROKER_URL, 'email_backend': settings.EMAIL_BACKEND,
  'email_host': settings.EMAIL_HOST, 'email_tls': settings.EMAIL_USE_TLS,
  'hosts': settings.ALLOWED_HOSTS, 'csrf': settings.CSRF_TRUSTED_ORIGINS,
  'ssl_redirect': settings.SECURE_SSL_REDIRECT, 'hsts': settings.SECURE_HSTS_SECONDS,
  'secure_cookies': settings.SESSION_COOKIE_SECURE and settings.CSRF_COOKIE_SECURE,
  'stripe_base': settings.STRIPE_API_BASE, 'storage': settings.STORAGES['staticfiles']['BACKEND'],
  'transport_options': sorted(__import__('config.celery').celery.app.conf.broker_transport_options),
}))
"""


def _clean_env(extra, tmp_path):
    keep = {"PATH", "HOME", "LANG", "PYTHONPATH"}
    env = {key: value for key, value in os.environ.items() if key in keep}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "GROUNDSWELL_VAR_DIR": str(tmp_path)})
    env.update(extra)
    return env


def _probe(extra, tmp_path):
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=_clean_env(extra, tmp_path),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_embedded_defaults(tmp_path):
    values = _probe({}, tmp_path)
    assert values["debug"] is False
    assert values["engine"] == "django.db.backends.sqlite3"
    assert values["name"] == str(tmp_path / "groundswell.sqlite3")
    assert values["broker"] == "filesystem://"
    assert values["transport_options"] == [
        "control_folder",
        "data_folder_in",
        "data_folder_out",
        "processed_folder",
        "store_processed",
    ]
    assert values["stripe_base"] == "http://localhost:8420"
    assert values["email_backend"] == "django.core.mail.backends.console.EmailBackend"
    # Secure by default: without DEBUG=true, cookies are secure and HTTPS is enforced.
    assert values["ssl_redirect"] is True and values["secure_cookies"] is True


def test_debug_relaxes_https_for_local_development(tmp_path):
    values = _probe({"DEBUG": "true"}, tmp_path)
    assert values["debug"] is True
    assert values["ssl_redirect"] is False and values["hsts"] == 0


def test_production_values_are_parsed(tmp_path):
    values = _probe(PRODUCTION_ENV, tmp_path)
    assert values["engine"] == "django.db.backends.postgresql"
    assert (values["name"], values["host"]) == ("groundswell", "db.internal")
    assert values["broker"] == "redis://redis.internal:6379/0"
    assert values["transport_options"] == []
    assert values["email_backend"] == "django.core.mail.backends.smtp.EmailBackend"
    assert values["email_host"] == "smtp.example.org" and values["email_tls"] is True
    assert values["hosts"] == ["groundswell.example.org"]
    assert values["csrf"] == ["https://groundswell.example.org"]
    assert values["hsts"] >= 31536000
    assert values["storage"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"


def test_check_deploy_is_clean_with_production_values(tmp_path):
    env = _clean_env(
        {**PRODUCTION_ENV, "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3"}, tmp_path
    )
    out = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no issues" in out.stdout


def test_check_deploy_flags_the_development_secret_key(tmp_path):
    env = _clean_env(
        {**PRODUCTION_ENV, "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3"}, tmp_path
    )
    env.pop("SECRET_KEY")
    out = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode != 0
    assert "security.W009" in out.stdout + out.stderr


def test_docker_compose_defines_the_platform_services():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker", "beat", "stripe"} <= set(services)
    for name in ("postgres", "redis", "web", "stripe"):
        assert "healthcheck" in services[name], name
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["CELERY_BROKER_URL"].startswith("redis://")
        assert "postgres" in services[name]["depends_on"]


def test_readme_quick_start_is_two_commands():
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = [line for line in quick.split("```")[1].splitlines() if line.strip()]
    assert commands == ["./bin/dev", "./bin/test"]
    for command in commands:
        assert os.access(ROOT / command.removeprefix("./"), os.X_OK)
