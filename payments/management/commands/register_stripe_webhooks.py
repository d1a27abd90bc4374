"""Register our two webhook endpoints with the configured Stripe API (bin/dev and docker-compose).

Through Stripe's own `/v1/webhook_endpoints` API, so it works the same on the Stripe stand-in
and on real Stripe test mode (where the endpoint URLs must be reachable from the internet).
It waits until the API answers, then registers (or brings up to date):

- SITE_URL/payments/stripe/webhook/ for every event type the platform handles (the
  platform's own events), signed with STRIPE_WEBHOOK_SECRET;
- SITE_URL/payments/stripe/connect-webhook/ with `connect=true` (events that happen on
  connected accounts) for the handled types that such accounts have (account.*,
  capability.*, person.*, payout.*), signed with STRIPE_CONNECT_WEBHOOK_SECRET; none is
  registered while no handler wants one of those types.

With --stay it then idles so honcho keeps the other processes up. The stand-in signs each
endpoint with the secret it was started with (`--webhook-secret` for the first,
`--connect-webhook-secret` for the second); on real Stripe, copy each endpoint's signing
secret from the dashboard into its setting. A new endpoint whose secret is not the configured
one is reported, since each of its deliveries would be refused.
"""

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from payments import webhooks
from payments.gateway import PaymentProviderError, connect_webhook_secret, get_gateway

# The event types of objects that live on a connected account (an Express account that only
# receives transfers has no payments of its own; its transfers are the platform's objects).
CONNECT_EVENT_PREFIXES = ("account.", "capability.", "person.", "payout.")


class Command(BaseCommand):
    help = "Register our webhook endpoints through the Stripe API (development set-up)."

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, default=60)
        parser.add_argument("--stay", action="store_true", help="Keep running after registering.")

    def handle(self, *args, timeout, stay, **options):
        try:
            self.register(timeout)
        except CommandError as exc:
            if not stay:
                raise
            # Under honcho a failure here would stop the whole quick start: say so and idle.
            self.stderr.write(f"Webhooks are not registered: {exc}")
        while stay:
            time.sleep(3600)

    def register(self, timeout):
        events = webhooks.registered_types()
        if not events:
            raise CommandError("No webhook handlers are registered: nothing to subscribe to.")
        gateway = get_gateway()
        deadline = time.monotonic() + timeout
        self.ensure(
            gateway,
            "Webhook endpoint",
            reverse("payments:stripe-webhook"),
            events,
            connect=False,
            secret=settings.STRIPE_WEBHOOK_SECRET,
            setting="STRIPE_WEBHOOK_SECRET",
            deadline=deadline,
        )
        connect_events = [name for name in events if name.startswith(CONNECT_EVENT_PREFIXES)]
        if not connect_events:
            self.stdout.write(
                "Connect webhook endpoint not registered: no handler is registered for an "
                f"event type of connected accounts ({', '.join(CONNECT_EVENT_PREFIXES)})"
            )
            return
        self.ensure(
            gateway,
            "Connect webhook endpoint",
            reverse("payments:stripe_connect_webhook"),
            connect_events,
            connect=True,
            secret=connect_webhook_secret(),
            setting="STRIPE_CONNECT_WEBHOOK_SECRET",
            deadline=deadline,
        )

    def ensure(self, gateway, label, path, events, *, connect, secret, setting, deadline):
        url = settings.SITE_URL.rstrip("/") + path
        while True:
            try:
                endpoint_id, outcome, signing_secret = gateway.ensure_webhook_endpoint(
                    url, events, connect=connect
                )
                break
            except PaymentProviderError as exc:
                if not exc.retryable or time.monotonic() > deadline:
                    raise CommandError(
                        f"The Stripe API at {settings.STRIPE_API_BASE} refused or did not "
                        f"answer: {exc.detail}"
                    ) from exc
                time.sleep(0.5)
        self.stdout.write(f"{label} {endpoint_id} {outcome}: {url} ({len(events)} event types)")
        if signing_secret and signing_secret != secret:
            self.stderr.write(
                f"{label} {endpoint_id} signs with a secret other than {setting}: its "
                f"deliveries will be refused until {setting} is set to its signing secret."
            )
