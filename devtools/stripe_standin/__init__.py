"""Groundswell's Stripe stand-in: a test-mode Stripe of our own, for development and tests.

One model, two doors. The object store and Stripe's rules live once (`state.py`, the
endpoint modules in `resources/`, the dispatcher `api.py` with idempotency and fault
switches); the HTTP server (`server.py`, run with `python -m devtools.stripe_standin`) and the
in-process gateway (`inprocess.py`, for fast unit tests) are two doors onto it, so they cannot
drift. Both are held to the provider contract suite (tests/contract) beside localstripe and
real Stripe.

Never imported by production code or settings.
"""
