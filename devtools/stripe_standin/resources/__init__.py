"""Stripe's resources, one module each; importing this package registers every endpoint."""

from . import (  # noqa: F401
    balance,
    connect,
    customers,
    events,
    payment_intents,
    payment_methods,
    setup_intents,
)
