"""One request to a `Standin` through the dispatcher both doors use, for the stand-in's tests."""

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
