"""For the stand-in's tests: one request to a `Standin` through the dispatcher both doors use,
and a clock the tests move by hand."""

from __future__ import annotations

from devtools.stripe_standin import api, forms

SECRET_KEY = "sk_test_standin_tests"


def call(standin, method, path, params=None, *, account=None, status=200):
    """The answer's body; asserts its HTTP status (200 unless told)."""
    headers = {"Authorization": f"Bearer {SECRET_KEY}"}
    if account:
        headers["Stripe-Account"] = account
    encoded = forms.encode(params or {})
    if method in ("GET", "DELETE"):
        reply = api.handle(standin, method, path, query=encoded, headers=headers)
    else:
        reply = api.handle(standin, method, path, body=encoded, headers=headers)
    assert reply.status == status, reply.body
    return reply.body


class Clock:
    """A Standin's clock that stands still until a test moves `now`."""

    def __init__(self, now=1_800_000_000.0):
        self.now = now

    def __call__(self):
        return self.now
