"""`manage.py seed_demo`: create (or complete) the quick start's demo data (demo.seeding).
Safe to run any number of times; needs the Stripe stand-in running (./bin/dev starts it)."""

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from demo import browser, seeding
from demo.specs import DEMO_PASSWORD
from payments.gateway import PaymentProviderError


class Command(BaseCommand):
    help = (
        "Create the demo members, campaigns and pledges (cards saved at the Stripe stand-in, "
        "ended campaigns settled), refresh live ones' dates, and launch a campaign that ends "
        "in two minutes. Idempotent."
    )

    def handle(self, *args, **options):
        started = time.monotonic()
        try:
            report = seeding.seed()
        except KeyboardInterrupt:
            raise CommandError(
                "Interrupted. The demo is part-made: the next seed_demo (./bin/dev runs it) "
                "finishes it."
            ) from None
        except browser.StandinUnavailable as error:
            raise CommandError(str(error)) from None
        except PaymentProviderError as error:  # the stand-in went away during a gateway call
            raise CommandError(f"The payment provider failed while seeding: {error}") from None
        for member in report.members.values():
            role = "admin" if member.is_staff else "member"
            self.stdout.write(f"  {role:7} {member.email}  /  {DEMO_PASSWORD}")
        self.stdout.write(
            "  the admin asks the demo admin and the treasurer for a two-factor code: "
            "manage.py demo_totp admin / manage.py demo_totp treasurer"
        )
        self.stdout.write(
            f"  campaigns: {report.created} created, {report.refreshed} live ones' dates "
            f"refreshed; {report.pledges} pledges made"
        )
        made = report.community
        if made is not None:
            self.stdout.write(
                f"  community: {made.updates} updates, {made.comments} comments "
                f"({made.hidden} hidden, {made.reports} reported), {made.follows} follows, "
                f"{made.rewards_sent} rewards marked sent"
            )
        ending = report.ending_soon
        if ending is not None:
            deadline = timezone.localtime(ending.deadline)
            state = "new" if report.ending_soon_created else "still live"
            self.stdout.write(
                f"  ends at {deadline:%H:%M:%S} ({state}): "
                f"{settings.SITE_URL.rstrip('/')}{ending.get_absolute_url()}\n"
                "    beat closes it, the charges worker charges its three cards: one is "
                "collected, one declined and one needs 3-D Secure (their emails are printed here)"
            )
        self.stdout.write(
            self.style.SUCCESS(f"Demo data is ready ({time.monotonic() - started:.1f} s).")
        )
