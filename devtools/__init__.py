"""Test and demo tooling (the Stripe stand-in). Production code and settings never import it.

It sits above every app, like the demo: it may import them (the in-process door builds a
`StripeGateway`; fees use `core.money.round_minor`), and no app imports it.
"""
