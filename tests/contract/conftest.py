"""Fixtures of the provider contract suite (the shared localstripe and stand-in servers)."""

from tests.stripe_fixtures import localstripe, stripe_standin  # noqa: F401  (fixtures)
