"""`manage.py verify_ledger`: exit status 0 on a sound ledger, 1 with each violation listed,
whether the ledger's own checks find it or a check another app registered."""

import io

import pytest
from django.core.management import CommandError, call_command, execute_from_command_line
from django.db import connection
from django.utils import timezone

from ledger import verification
from ledger.models import Transaction
from tests.ledger.conftest import contribute

pytestmark = pytest.mark.django_db

BUILT_IN_CHECKS = 5


def verify(*args):
    """(stdout, stderr, CommandError or None) of verify_ledger."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("verify_ledger", *args, stdout=out, stderr=err)
    except CommandError as error:
        return out.getvalue(), err.getvalue(), error
    return out.getvalue(), err.getvalue(), None


@pytest.fixture(autouse=True)
def _only_the_ledgers_own_checks(monkeypatch):
    """The apps above register checks of their own (pledges, payments): these tests run the
    ledger's, plus the ones a test registers."""
    verification.registered()  # the apps' ledger_checks are imported now, not mid-test
    own = {
        name: check for name, check in verification._checks.items() if name.startswith("ledger: ")
    }
    monkeypatch.setattr(verification, "_checks", own)


@pytest.fixture
def without_balance_triggers(db):
    """A database that lets unbalanced rows in, as SQLite does: on PostgreSQL the deferred
    balance triggers are disabled for this test (the ALTER TABLE rolls back with it), or
    they would refuse the test's rows when the test case checks constraints at teardown."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT tgrelid::regclass::text, tgname FROM pg_trigger "
                "WHERE tgname LIKE 'pgtrigger_entries_balance_%%' "
                "OR tgname LIKE 'pgtrigger_transaction_has_entries_%%'"
            )
            for table, trigger in cursor.fetchall():
                cursor.execute(f'ALTER TABLE {table} DISABLE TRIGGER "{trigger}"')


@pytest.fixture
def registered_check():
    """Register checks for one test only."""
    names = []

    def register(check, name):
        verification.register(check, name=name)
        names.append(name)

    yield register
    for name in names:
        verification.unregister(name)


def _insert_entry(transaction_id, account_id, amount_minor, currency):
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledger_entry (transaction_id, account_id, amount_minor, currency) "
            "VALUES (%s, %s, %s, %s)",
            [transaction_id, account_id, amount_minor, currency],
        )


def test_a_sound_ledger_passes(eur):
    contribute(1, 1_000)
    contribute(2, 500)

    out, err, error = verify()

    assert error is None and err == ""
    assert out.strip() == (
        f"ledger: 2 transactions, 4 entries; {BUILT_IN_CHECKS} checks; no violations"
    )


def test_quiet_prints_nothing_when_sound(eur):
    contribute(1, 1_000)
    assert verify("--quiet") == ("", "", None)


def test_an_unbalanced_transaction_is_a_violation(eur, without_balance_triggers):
    txn, _ = contribute(1, 1_000)
    _insert_entry(txn.pk, eur.campaign.pk, 1, "EUR")  # past the services, as a bug could

    out, err, error = verify()

    assert error is not None and error.returncode == 1
    assert f"transaction #{txn.pk} (contribution:pledge:1) sums to 1 EUR" in err
    assert str(error) == f"ledger: 1 transaction, 3 entries; {BUILT_IN_CHECKS} checks; 1 violation"


def test_entries_in_the_wrong_currency_are_violations(eur, without_balance_triggers):
    txn, _ = contribute(1, 1_000)
    _insert_entry(txn.pk, eur.campaign.pk, 5, "USD")
    _insert_entry(txn.pk, eur.cards.pk, -5, "USD")  # balanced in USD, but a EUR transaction

    _, err, error = verify()

    assert error is not None
    assert err.count("(transaction in EUR, account in EUR)") == 2
    assert "sums to" not in err


def test_a_transaction_without_entries_is_a_violation(db, without_balance_triggers):
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledger_transaction (kind, currency, key, occurred_at, recorded_at, "
            "memo, is_estimate, provider_object_id) VALUES (%s, %s, %s, %s, %s, '', %s, '')",
            ["refund", "EUR", "refund:lonely", timezone.now(), timezone.now(), False],
        )
    lonely = Transaction.objects.get(key="refund:lonely")

    _, err, error = verify()

    assert error is not None
    assert f"transaction #{lonely.pk} (refund:lonely) has 0 entries" in err


def test_a_registered_check_runs_after_the_ledgers_own(eur, registered_check):
    contribute(1, 1_000)
    registered_check(lambda: [], "pledges: collected pledges have a contribution")
    registered_check(
        lambda: ["pledge 7 is collected but has no contribution", "pledge 8 too"],
        "pledges: one contribution per collected pledge",
    )

    names = [name for name, _ in verification.registered()]
    _, err, error = verify()

    assert names[:BUILT_IN_CHECKS] == [name for name in names if name.startswith("ledger: ")]
    assert names[BUILT_IN_CHECKS:] == [
        "pledges: collected pledges have a contribution",
        "pledges: one contribution per collected pledge",
    ]
    assert err.splitlines() == [
        "pledges: one contribution per collected pledge: pledge 7 is collected but has no "
        "contribution",
        "pledges: one contribution per collected pledge: pledge 8 too",
    ]
    assert f"{BUILT_IN_CHECKS + 2} checks; 2 violations" in str(error)


def test_a_check_that_fails_to_run_is_a_violation_and_the_others_still_run(eur, registered_check):
    def broken():
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table")  # aborts a PostgreSQL transaction
        return []

    registered_check(broken, "payments: broken")
    registered_check(lambda: ["charges 3, collected pledges 2"], "payments: charges")

    _, err, error = verify()

    assert error is not None
    assert "payments: broken: the check itself failed:" in err
    assert "payments: charges: charges 3, collected pledges 2" in err


def test_register_works_as_a_decorator_and_refuses_a_second_check_under_one_name():
    @verification.register(name="tests: decorated")
    def decorated():
        return []

    try:
        assert ("tests: decorated", decorated) in verification.registered()
        verification.register(decorated, name="tests: decorated")  # the same again is fine
        with pytest.raises(ValueError, match="another ledger check"):
            verification.register(lambda: [], name="tests: decorated")
    finally:
        verification.unregister("tests: decorated")


def test_long_lists_of_violations_are_cut(eur, monkeypatch, without_balance_triggers):
    monkeypatch.setattr(verification, "LISTED_PER_CHECK", 2)
    for pledge_id in (1, 2, 3):
        txn, _ = contribute(pledge_id, 1_000)
        _insert_entry(txn.pk, eur.campaign.pk, 1, "EUR")

    violations = verification.run_checks()

    assert [v for _, v in violations][-1].startswith("... and more (only the first 2")
    assert len(violations) == 3


@pytest.mark.django_db(transaction=True)
def test_the_exit_status_is_0_when_sound_and_1_on_a_violation(capsys, registered_check):
    """As CI runs it: manage.py's own handling of the command turns a violation into status 1.
    (A transactional test: the command closes the database connections when it ends. The
    violation comes from a check: PostgreSQL refuses an unbalanced transaction at commit.)"""
    contribute(1, 1_000)
    execute_from_command_line(["manage.py", "verify_ledger"])  # no SystemExit: status 0
    assert "no violations" in capsys.readouterr().out

    registered_check(lambda: ["pledge 1 is collected twice"], "pledges: test")
    with pytest.raises(SystemExit) as exited:
        execute_from_command_line(["manage.py", "verify_ledger", "--quiet"])

    assert exited.value.code == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "pledges: test: pledge 1 is collected twice",
        f"CommandError: ledger: 1 transaction, 2 entries; {BUILT_IN_CHECKS + 1} checks; "
        "1 violation",
    ]
