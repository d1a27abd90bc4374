"""Test and demo tooling (the Stripe stand-in). Production code and settings never import it.

It sits above every app, like the demo: it may import `payments` (the in-process door builds a
`StripeGateway`), and no app imports it.
"""
