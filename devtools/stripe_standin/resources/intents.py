"""What PaymentIntents and SetupIntents share: finding one for a caller (Stripe.js holds the
publishable key and the client secret) and the 3-D Secure action that sends the member to the
stand-in's 3-D Secure page.
"""

from __future__ import annotations

from ..errors import missing
from ..state import KIND_NAMES


def get_intent(call, kind: str, intent_id: str, values: dict) -> dict:
    """The PaymentIntent or SetupIntent (`kind`) with this id. With a publishable key the
    caller must also send its client secret; Stripe answers a wrong one as a missing intent."""
    intent = call.standin.get(kind, intent_id)
    if call.publishable and values.get("client_secret") != intent["client_secret"]:
        raise missing(KIND_NAMES[kind], intent_id)
    return intent


def three_d_secure_action(call, intent: dict) -> dict:
    """Stripe's `use_stripe_sdk` next action, pointing at the stand-in's 3-D Secure page."""
    return {
        "type": "use_stripe_sdk",
        "use_stripe_sdk": {
            "type": "three_d_secure_redirect",
            "stripe_js": f"{call.standin.public_url}/_standin/3ds/{intent['id']}",
            "source": intent["id"],
        },
    }
