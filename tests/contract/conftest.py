"""Fixtures of the provider contract suite (the shared localstripe server)."""

from tests.stripe_fixtures import localstripe  # noqa: F401  (fixture, re-exported)
