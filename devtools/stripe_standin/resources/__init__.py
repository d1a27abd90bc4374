"""Stripe's resources, one module each; importing this package registers every endpoint."""

from . import (  # noqa: F401
    customers,
    payment_methods,
    setup_intents,
)
