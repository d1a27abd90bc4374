"""Register our webhook endpoint with the configured Stripe API (bin/dev and docker-compose).

Through Stripe's own `/v1/webhook_endpoints` API, so it works the same on the Stripe stand-in
and on real Stripe test mode (where the endpoint URL must be reachable from the internet).
It waits until the API answers, registers SITE_URL/payments/stripe/webhook/ for every event
type the platform handles (or updates the endpoint already there), then, with --stay, idles
so honcho keeps the other processes up. The stand-in signs with the secret it was started
with (`--webhook-secret`, the same STRIPE_WEBHOOK_SECRET); on real Stripe, copy the signing
secret of the endpoint from the dashboard into STRIPE_WEBHOOK_SECRET.
"""

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from payments import webhooks
from payments.gateway import PaymentProviderError, get_gateway


class Command(BaseCommand):
    help = "Register our webhook endpoint through the Stripe API (development set-up)."

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
        url = settings.SITE_URL.rstrip("/") + reverse("payments:stripe-webhook")
        events = webhooks.registered_types()
        if not events:
            raise CommandError("No webhook handlers are registered: nothing to subscribe to.")
        gateway = get_gateway()
        deadline = time.monotonic() + timeout
        while True:
            try:
                endpoint_id, outcome = gateway.ensure_webhook_endpoint(url, events)
                break
            except PaymentProviderError as exc:
                if not exc.retryable or time.monotonic() > deadline:
                    raise CommandError(
                        f"The Stripe API at {settings.STRIPE_API_BASE} refused or did not "
                        f"answer: {exc.detail}"
                    ) from exc
                time.sleep(0.5)
        self.stdout.write(
            f"Webhook endpoint {endpoint_id} {outcome}: {url} ({len(events)} event types)"
        )
