"""What `manage.py verify_ledger` checks: the ledger's own invariants, and a registry through
which the apps above it (pledges, payments, payouts) add theirs without the ledger importing
them.

A check is a callable that takes no arguments and returns (or yields) violations as strings;
an empty result means it holds. Apps add one with `register` (as a decorator or a call), in
their AppConfig.ready() or in a `ledger_checks` module, which is imported for every
installed app before the checks run (as the admin finds `admin` modules). Checks run in the
order they were registered, the ledger's own first.
"""

from django.db import transaction as db_transaction
from django.db.models import Count, F, Q, Sum
from django.utils.module_loading import autodiscover_modules

from ledger.models import Entry, Transaction

# Violations listed per check; the rest are counted (a report of a million rows helps no one).
LISTED_PER_CHECK = 50

_checks = {}
_discovered = False


def register(check=None, *, name=None):
    """Add `check` to verify_ledger under `name` (default: its module and name); returns the
    check, so it works as `@register` and `@register(name="pledges: ...")`."""

    def add(function):
        check_name = name or f"{function.__module__}.{function.__qualname__}"
        if _checks.get(check_name, function) is not function:
            raise ValueError(f"another ledger check is registered as {check_name!r}")
        _checks[check_name] = function
        return function

    return add if check is None else add(check)


def unregister(name):
    _checks.pop(name, None)


def registered():
    """[(name, check)] in the order they run, after importing the apps' `ledger_checks`."""
    global _discovered
    if not _discovered:
        autodiscover_modules("ledger_checks")
        _discovered = True
    return list(_checks.items())


def run_checks():
    """[(check name, violation)] for every registered check; empty when the ledger is sound.

    A check that raises is reported as a violation of its own, so one broken check neither
    hides the others nor lets the run pass.
    """
    found = []
    for name, check in registered():
        try:
            # A savepoint: a check whose SQL fails must not abort the caller's transaction
            # (PostgreSQL refuses every later query in it) and so the checks after it.
            with db_transaction.atomic():
                found.extend((name, str(violation)) for violation in check() or ())
        except Exception as exc:  # reported, never swallowed: the run fails
            found.append((name, f"the check itself failed: {exc!r}"))
    return found


def _listed(rows, describe):
    """Describe up to LISTED_PER_CHECK rows, then count the rest."""
    rows = list(rows[: LISTED_PER_CHECK + 1])
    for row in rows[:LISTED_PER_CHECK]:
        yield describe(row)
    if len(rows) > LISTED_PER_CHECK:
        yield f"... and more (only the first {LISTED_PER_CHECK} are listed)"


@register(name="ledger: every transaction sums to zero per currency")
def transactions_balance():
    unbalanced = (
        Entry.objects.values("transaction_id", "transaction__key", "currency")
        .annotate(total=Sum("amount_minor"))
        .exclude(total=0)
        .order_by("transaction_id", "currency")
    )
    return _listed(
        unbalanced,
        lambda row: (
            f"transaction #{row['transaction_id']} ({row['transaction__key']}) sums to "
            f"{row['total']} {row['currency']}"
        ),
    )


@register(name="ledger: every transaction has at least two entries")
def transactions_have_two_entries():
    lonely = (
        Transaction.objects.annotate(entry_count=Count("entries"))
        .filter(entry_count__lt=2)
        .order_by("id")
        .values("id", "key", "entry_count")
    )
    return _listed(
        lonely,
        lambda row: f"transaction #{row['id']} ({row['key']}) has {row['entry_count']} entries",
    )


@register(name="ledger: entries are non-zero, in their transaction's and account's currency")
def entries_match_currencies():
    wrong = (
        Entry.objects.filter(
            ~Q(currency=F("transaction__currency"))
            | ~Q(currency=F("account__currency"))
            | Q(amount_minor=0)
        )
        .order_by("id")
        .values(
            "id",
            "transaction_id",
            "amount_minor",
            "currency",
            "transaction__currency",
            "account__currency",
        )
    )
    return _listed(
        wrong,
        lambda row: (
            f"entry #{row['id']} of transaction #{row['transaction_id']}: "
            f"{row['amount_minor']} {row['currency']} (transaction in "
            f"{row['transaction__currency']}, account in {row['account__currency']})"
        ),
    )


@register(name="ledger: posting keys are unique")
def keys_unique():
    repeated = (
        Transaction.objects.values("key")
        .annotate(count=Count("id"))
        .filter(count__gt=1)
        .order_by("key")
    )
    return _listed(repeated, lambda row: f"key {row['key']} is used by {row['count']} transactions")


@register(name="ledger: one contribution per pledge, each naming its pledge")
def one_contribution_per_pledge():
    contributions = Transaction.objects.filter(kind=Transaction.Kind.CONTRIBUTION)
    repeated = (
        contributions.exclude(pledge_id=None)
        .values("pledge_id")
        .annotate(count=Count("id"))
        .filter(count__gt=1)
        .order_by("pledge_id")
    )
    yield from _listed(
        repeated, lambda row: f"pledge {row['pledge_id']} has {row['count']} contributions"
    )
    yield from _listed(
        contributions.filter(pledge_id=None).order_by("id").values("id", "key"),
        lambda row: f"contribution #{row['id']} ({row['key']}) names no pledge",
    )
