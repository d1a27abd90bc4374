"""Create (or refresh) the demo data of the quick start. Safe to run any number of times."""

from django.core.management.base import BaseCommand
from django.db import transaction

from members.demo import DEMO_PASSWORD, ensure_demo_members


class Command(BaseCommand):
    help = "Create the demo members (and, as the platform grows, demo campaigns). Idempotent."

    @transaction.atomic
    def handle(self, *args, **options):
        members = ensure_demo_members()
        for member in members.values():
            role = "admin" if member.is_staff else "member"
            self.stdout.write(f"  {role:7} {member.email}  /  {DEMO_PASSWORD}")
        self.stdout.write(self.style.SUCCESS("Demo data is ready."))
