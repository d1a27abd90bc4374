"""The supporter's browser, for the demo: the half of saving a card that Stripe.js does on the
pledge page (confirm the SetupIntent with the publishable key and its client secret, then pass
3-D Secure), done over plain HTTP against the Stripe stand-in at STRIPE_API_BASE.

Only the stand-in has `/_standin/health`, `/v1/setup_intents/…/_authenticate` (what its
3-D Secure page calls) and `/v1/accounts/…/_complete_onboarding` (what its Connect onboarding
page runs), so the demo is seeded against the stand-in, never against Stripe.
Plain urllib: only payments/ imports stripe, and no app imports devtools.
"""

import json
import urllib.error
import urllib.parse
import urllib.request

from django.conf import settings

TIMEOUT_SECONDS = 30


class StandinUnavailable(RuntimeError):
    """The Stripe stand-in does not answer at STRIPE_API_BASE."""


class CardNotSaved(RuntimeError):
    """The stand-in did not save the card (a bug in the demo's specs, or a fault switch on)."""


def _url(path):
    # S310 below: only http(s) URLs built on the STRIPE_API_BASE setting are ever opened.
    base = settings.STRIPE_API_BASE.rstrip("/")
    if urllib.parse.urlsplit(base).scheme not in ("http", "https"):
        raise StandinUnavailable(f"STRIPE_API_BASE must be an http(s) URL, not {base!r}.")
    return f"{base}{path}"


def require_standin():
    """Raise StandinUnavailable unless the stand-in answers at STRIPE_API_BASE."""
    url = _url("/_standin/health")
    try:
        with urllib.request.urlopen(url, timeout=5):  # noqa: S310
            return
    except (OSError, ValueError) as error:
        raise StandinUnavailable(
            f"The demo saves its supporters' cards at the Stripe stand-in, which did not answer "
            f"at {url} ({error}). ./bin/dev and docker compose start it; by hand: "
            f".venv/bin/python -m devtools.stripe_standin --port 8420"
        ) from None


def save_card(setup_intent_id, client_secret, payment_method):
    """Confirm the SetupIntent with a test card (`pm_card_visa`, …) as the card form does,
    passing 3-D Secure if the card asks for it; returns the SetupIntent (succeeded)."""
    path = f"/v1/setup_intents/{urllib.parse.quote(setup_intent_id)}"
    intent = _post(
        f"{path}/confirm", {"payment_method": payment_method, "client_secret": client_secret}
    )
    if intent.get("status") == "requires_action":
        intent = _post(f"{path}/_authenticate", {"client_secret": client_secret, "success": "true"})
    if intent.get("status") != "succeeded":
        raise CardNotSaved(f"{setup_intent_id} with {payment_method}: {intent.get('status')}")
    return intent


def complete_onboarding(account_id):
    """The organizer submits the stand-in's hosted Connect onboarding page (Stripe's test
    details, verification passing): the stand-in's own shortcut for that form, which its
    page runs too. Returns the account."""
    path = f"/v1/accounts/{urllib.parse.quote(account_id)}/_complete_onboarding"
    return _post(path, {"outcome": "verified"}, key=settings.STRIPE_SECRET_KEY)


def _post(path, params, *, key=None):
    request = urllib.request.Request(  # noqa: S310
        _url(path),
        data=urllib.parse.urlencode(params).encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {key or settings.STRIPE_PUBLISHABLE_KEY}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        body = error.read()[:500].decode(errors="replace")
        raise CardNotSaved(f"POST {path}: HTTP {error.code}: {body}") from None
    except OSError as error:  # refused, reset, timed out: it stopped (or was stopped)
        raise StandinUnavailable(
            f"The Stripe stand-in stopped answering at {settings.STRIPE_API_BASE} ({error})."
        ) from None
