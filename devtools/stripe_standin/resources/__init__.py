"""Stripe's resources, one module each; importing this package registers every endpoint."""

from . import (  # noqa: F401
    balance,
    charges,
    connect,
    customers,
    disputes,
    events,
    payment_intents,
    payment_methods,
    refunds,
    setup_intents,
)
