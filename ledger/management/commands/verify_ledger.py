"""`manage.py verify_ledger`: run every ledger check; exit status 1 on any violation (CI)."""

from django.core.management.base import BaseCommand, CommandError

from ledger import verification
from ledger.models import Entry, Transaction


def _count(number, singular, plural):
    return f"{number} {singular if number == 1 else plural}"


class Command(BaseCommand):
    help = (
        "Check the ledger: every transaction balances, one contribution per pledge, and the "
        "checks other apps register. Exits with status 1 on any violation."
    )
    # It reads data, not configuration: `manage.py check` covers that, in CI a step of its own.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--quiet", action="store_true", help="Print nothing unless there is a violation."
        )

    def handle(self, *args, quiet=False, **options):
        checks = verification.registered()
        violations = verification.run_checks()
        for name, violation in violations:
            self.stderr.write(f"{name}: {violation}")
        summary = "ledger: {}, {}; {}; ".format(
            _count(Transaction.objects.count(), "transaction", "transactions"),
            _count(Entry.objects.count(), "entry", "entries"),
            _count(len(checks), "check", "checks"),
        )
        if violations:
            raise CommandError(summary + _count(len(violations), "violation", "violations"))
        if not quiet:
            self.stdout.write(summary + "no violations")
