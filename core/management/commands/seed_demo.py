"""Create (or refresh) the demo data of the quick start. Safe to run any number of times."""

import time

from django.core.management.base import BaseCommand
from django.db import transaction
from django.test.utils import override_settings

from campaigns.demo import ensure_demo_campaigns
from members.demo import DEMO_PASSWORD, ensure_demo_members


class Command(BaseCommand):
    help = "Create the demo members and campaigns (refreshing live ones' dates). Idempotent."

    def handle(self, *args, **options):
        started = time.monotonic()
        # Seeding walks campaigns through review like real ones, and the services email the
        # organizer after commit; nobody should get those, so the whole run (including the
        # commit) uses the dummy backend.
        with (
            override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"),
            transaction.atomic(),
        ):
            members = ensure_demo_members()
            created, refreshed = ensure_demo_campaigns(members)
        for member in members.values():
            role = "admin" if member.is_staff else "member"
            self.stdout.write(f"  {role:7} {member.email}  /  {DEMO_PASSWORD}")
        self.stdout.write(f"  campaigns: {created} created, {refreshed} live ones' dates refreshed")
        self.stdout.write(
            self.style.SUCCESS(f"Demo data is ready ({time.monotonic() - started:.1f} s).")
        )
