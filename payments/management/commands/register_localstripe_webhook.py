"""Development only: point localstripe's webhooks at our endpoint (bin/dev runs this).

localstripe forgets registrations on restart, so the quick start registers again each time:
wait until localstripe answers, register SITE_URL/payments/stripe/webhook/ with the
configured signing secret, then (with --stay) idle so honcho keeps the other processes up.
"""

import time
import urllib.error
import urllib.parse
import urllib.request

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse


class Command(BaseCommand):
    help = "Register our webhook endpoint with a local localstripe server (development only)."

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, default=60)
        parser.add_argument("--stay", action="store_true", help="Keep running after registering.")

    def handle(self, *args, timeout, stay, **options):
        base = settings.STRIPE_API_BASE.rstrip("/")
        if "stripe.com" in base or not base.startswith("http://"):
            raise CommandError(f"{base} is not a localstripe server; refusing to configure it.")
        endpoint = settings.SITE_URL.rstrip("/") + reverse("payments:stripe-webhook")
        body = urllib.parse.urlencode(
            {"url": endpoint, "secret": settings.STRIPE_WEBHOOK_SECRET}
        ).encode()
        deadline = time.monotonic() + timeout
        while True:
            try:
                url = f"{base}/_config/webhooks/groundswell"  # localstripe, checked above
                request = urllib.request.Request(url, data=body, method="POST")  # noqa: S310
                with urllib.request.urlopen(request, timeout=5):  # noqa: S310
                    break
            except (urllib.error.URLError, ConnectionError) as exc:
                if time.monotonic() > deadline:
                    raise CommandError(f"localstripe at {base} did not answer: {exc}") from exc
                time.sleep(0.5)
        self.stdout.write(f"localstripe sends webhooks to {endpoint}")
        while stay:
            time.sleep(3600)
