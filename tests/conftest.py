"""Shared fixtures, and the rule that tests needing PostgreSQL or Redis never skip silently.

Set REQUIRE_SERVICES=1 (CI does) to turn "service not available" skips into failures.
"""

import os
import time

import pytest
from django.conf import settings

from tests.factories import MemberFactory, pass_two_factor

# Stripe fixtures (the stand-in, localstripe, signed webhooks, eager Celery) and headless
# Chromium for every test directory.
pytest_plugins = ["tests.stripe_fixtures", "tests.browser_fixtures"]


def _require_services():
    return os.environ.get("REQUIRE_SERVICES", "").lower() in {"1", "true", "yes"}


def service_unavailable(reason):
    """Skip (locally) or fail (CI) a test whose service is missing."""
    if _require_services():
        pytest.fail(f"REQUIRE_SERVICES is set but {reason}", pytrace=False)
    pytest.skip(reason)


def wait_for(condition, timeout=20.0, interval=0.05):
    """Poll `condition` until it is true (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return False


def redis_url():
    return os.environ.get("REDIS_URL", "")


def pytest_runtest_setup(item):
    if item.get_closest_marker("postgres") and settings.DATABASES["default"]["ENGINE"] != (
        "django.db.backends.postgresql"
    ):
        service_unavailable("this test needs PostgreSQL: set DATABASE_URL=postgres://...")
    if item.get_closest_marker("redis"):
        url = redis_url()
        if not url:
            service_unavailable("this test needs Redis: set REDIS_URL=redis://...")
        import redis

        try:
            redis.Redis.from_url(url, socket_connect_timeout=2).ping()
        except redis.RedisError as exc:
            service_unavailable(f"Redis at {url} is not reachable ({exc})")


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _isolated_cache():
    # Rate limits live in the cache: each test starts with none spent.
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture(autouse=True)
def _no_server_errors(request):
    """No request in the suite may answer 500: an unhandled exception in any view (test client
    or live server) fails the test, unless it is marked `allow_server_error` on purpose."""
    from django.core.signals import got_request_exception

    errors = []

    def seen(sender, request=None, **kwargs):
        errors.append(getattr(request, "path", "?"))

    got_request_exception.connect(seen, weak=False)
    yield
    got_request_exception.disconnect(seen)
    if errors and not request.node.get_closest_marker("allow_server_error"):
        pytest.fail(f"server error (500) answering {', '.join(errors)}", pytrace=False)


@pytest.fixture
def admin_client(client, admin_user):
    """pytest-django's admin_client (a superuser), past the admin's two-factor check."""
    return pass_two_factor(client, admin_user)


@pytest.fixture
def member(db):
    return MemberFactory()


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client
