"""Nothing updates or deletes a ledger row: the models and querysets refuse, and on PostgreSQL
the triggers refuse raw SQL too; the test database is still flushed between tests."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import DatabaseError, IntegrityError, connection
from django.db import transaction as db_transaction
from django.utils import timezone

from ledger import accounts, services
from ledger.errors import LedgerError
from ledger.models import Account, Entry, Transaction
from tests.ledger.conftest import contribute

pytestmark = pytest.mark.django_db

MODELS = [Account, Transaction, Entry]


def _a_row(model):
    contribute(42, 2_500)
    return model.objects.order_by("id").first()


@pytest.mark.parametrize("model", MODELS)
def test_saving_a_recorded_row_again_is_refused(eur, model):
    row = _a_row(model)
    before = model.objects.filter(pk=row.pk).values().get()
    field = {"Account": "reference", "Transaction": "memo", "Entry": "currency"}[model.__name__]
    setattr(row, field, "XYZ")

    with pytest.raises(LedgerError, match="never updated"):
        row.save()
    with pytest.raises(LedgerError, match="never updated"):
        row.save(update_fields=[field])

    assert model.objects.filter(pk=row.pk).values().get() == before


@pytest.mark.parametrize("model", MODELS)
def test_a_new_object_with_a_recorded_pk_does_not_overwrite_it(eur, model):
    row = _a_row(model)
    before = model.objects.filter(pk=row.pk).values().get()
    copy = model(**before)

    with pytest.raises(DatabaseError), db_transaction.atomic():
        copy.save()  # an insert, which the primary key refuses

    assert model.objects.filter(pk=row.pk).values().get() == before


@pytest.mark.parametrize("model", MODELS)
def test_deleting_a_row_is_refused(eur, model):
    row = _a_row(model)
    with pytest.raises(LedgerError, match="never deleted"):
        row.delete()
    assert model.objects.filter(pk=row.pk).exists()


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda rows, row: rows.update(currency="USD"), id="update"),
        pytest.param(lambda rows, row: rows.delete(), id="delete"),
        pytest.param(lambda rows, row: rows.bulk_update([row], ["currency"]), id="bulk_update"),
        pytest.param(
            lambda rows, row: rows.update_or_create(pk=row.pk, defaults={"currency": "USD"}),
            id="update_or_create",
        ),
        pytest.param(
            lambda rows, row: rows.bulk_create(
                [row], update_conflicts=True, unique_fields=["id"], update_fields=["currency"]
            ),
            id="upsert",
        ),
    ],
)
def test_querysets_refuse_bulk_changes(eur, model, change):
    row = _a_row(model)
    count = model.objects.count()
    with pytest.raises(LedgerError):
        change(model.objects.all(), row)
    assert model.objects.count() == count
    assert model.objects.filter(currency="EUR").count() == count


def test_related_managers_refuse_too(eur):
    txn, _ = contribute(42, 2_500)
    with pytest.raises(LedgerError):
        txn.entries.all().delete()
    with pytest.raises(LedgerError):
        eur.campaign.entries.update(amount_minor=1)
    with pytest.raises(LedgerError):
        Entry._base_manager.filter(transaction=txn).update(amount_minor=1)
    assert sorted(txn.entries.values_list("amount_minor", flat=True)) == [-2_500, 2_500]


def test_an_account_with_entries_cannot_be_deleted_through_django_either(eur):
    contribute(42, 2_500)
    with pytest.raises(LedgerError):
        Account.objects.filter(pk=eur.campaign.pk).delete()
    assert Entry.objects.count() == 2


# --- PostgreSQL: the triggers ----------------------------------------------------------------

RAW_CHANGES = [
    ("ledger_transaction", "UPDATE ledger_transaction SET memo = 'edited'"),
    ("ledger_transaction", "DELETE FROM ledger_transaction"),
    ("ledger_entry", "UPDATE ledger_entry SET amount_minor = amount_minor * 2"),
    ("ledger_entry", "DELETE FROM ledger_entry"),
    ("ledger_account", "UPDATE ledger_account SET reference = '13' WHERE kind = 'campaign'"),
    ("ledger_account", "DELETE FROM ledger_account WHERE kind = 'platform_fees'"),
]


@pytest.mark.postgres
@pytest.mark.parametrize(("table", "sql"), RAW_CHANGES, ids=[sql for _, sql in RAW_CHANGES])
def test_raw_sql_cannot_change_or_delete_ledger_rows_on_postgresql(eur, table, sql):
    contribute(42, 2_500)
    before = _table_rows(table)

    refused = f"pgtrigger: Cannot update or delete rows from {table}"
    with pytest.raises(DatabaseError, match=refused), db_transaction.atomic():
        connection.cursor().execute(sql)

    assert _table_rows(table) == before


def _table_rows(table):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} ORDER BY id")  # noqa: S608 - our own table names
        return cursor.fetchall()


@pytest.mark.postgres
def test_the_migrations_installed_the_triggers(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgrelid::regclass::text, tgname, tgdeferrable FROM pg_trigger "
            "WHERE tgname LIKE 'pgtrigger_%%' AND tgrelid::regclass::text LIKE 'ledger_%%'"
        )
        found = {(table, name.rsplit("_", 1)[0], deferred) for table, name, deferred in cursor}
    assert found == {
        ("ledger_account", "pgtrigger_account_append_only", False),
        ("ledger_transaction", "pgtrigger_transaction_append_only", False),
        ("ledger_entry", "pgtrigger_entry_append_only", False),
        ("ledger_entry", "pgtrigger_entries_balance", True),
        ("ledger_transaction", "pgtrigger_transaction_has_entries", True),
    }


def _insert(table, **values):
    columns = ", ".join(values)
    marks = ", ".join(["%s"] * len(values))
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", list(values.values()))  # noqa: S608


def _raw_transaction(key):
    now = timezone.now()
    _insert(
        "ledger_transaction", kind="refund", currency="EUR", key=key, occurred_at=now,
        recorded_at=now, memo="", is_estimate=False, provider_object_id="",
    )  # fmt: skip
    return Transaction.objects.get(key=key).pk


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("write", "refused"),
    [
        pytest.param(
            lambda eur, txn: _insert(
                "ledger_entry",
                transaction_id=txn.pk,
                account_id=eur.campaign.pk,
                amount_minor=1,
                currency="EUR",
            ),
            "do not sum to zero",
            id="unbalanced",
        ),
        pytest.param(
            lambda eur, txn: [
                _insert(
                    "ledger_entry",
                    transaction_id=txn.pk,
                    account_id=account.pk,
                    amount_minor=amount,
                    currency="USD",
                )
                for account, amount in ((eur.campaign, 5), (eur.cards, -5))
            ],
            "currency",
            id="balanced in another currency",
        ),
        pytest.param(
            lambda eur, txn: _raw_transaction("refund:no-entries"),
            "has no entries",
            id="no entries",
        ),
    ],
)
def test_postgresql_refuses_an_unbalanced_transaction_at_commit(eur, write, refused):
    txn, _ = contribute(42, 2_500)

    with pytest.raises(IntegrityError, match=refused), db_transaction.atomic():
        write(eur, txn)
        # What COMMIT does with the deferred triggers (the test's own transaction never
        # commits): check them now.
        connection.cursor().execute("SET CONSTRAINTS ALL IMMEDIATE")

    assert Entry.objects.count() == 2 and Transaction.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgresql_refuses_a_raw_unbalanced_entry_when_it_commits():
    txn, _ = contribute(42, 2_500)
    # Autocommit: the statement is its own transaction, checked when it commits.
    with pytest.raises(IntegrityError, match="do not sum to zero"):
        _insert(
            "ledger_entry",
            transaction_id=txn.pk,
            account_id=txn.entries.first().account_id,
            amount_minor=1,
            currency="EUR",
        )
    assert Entry.objects.count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_transactional_test_with_ledger_rows_is_flushed_afterwards():
    """pytest-django empties the tables with TRUNCATE, which the row triggers leave alone: this
    test's rows are gone for the next one (test_the_flushed_ledger_is_empty)."""
    contribute(42, 2_500)
    assert Transaction.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_flushed_ledger_is_empty():
    assert not Account.objects.exists()
    assert not Transaction.objects.exists()
    assert not Entry.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_replays_of_one_posting_record_it_once():
    accounts.external_card("EUR")
    accounts.campaign_account(12, "EUR")
    outcomes = _at_once(16, lambda n: contribute(42, 2_500)[1])
    assert sorted(outcomes) == [False] * 15 + [True]
    assert Transaction.objects.count() == 1 and Entry.objects.count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_contributions_for_one_pledge_under_different_keys_record_one():
    cards, campaign = accounts.external_card("EUR"), accounts.campaign_account(12, "EUR")

    def charge(n):
        try:
            services.transfer(
                Transaction.Kind.CONTRIBUTION,
                from_account=cards,
                to_account=campaign,
                amount_minor=2_500,
                key=f"contribution:pledge:42:attempt:{n}",
                pledge_id=42,
            )
            return "recorded"
        except LedgerError as error:
            return error.message

    outcomes = _at_once(16, charge)
    assert outcomes.count("recorded") == 1
    assert all("already has a contribution" in o for o in outcomes if o != "recorded")
    assert Transaction.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_openings_of_an_account_open_one():
    opened = _at_once(16, lambda n: accounts.campaign_account(12, "EUR").pk)
    assert len(set(opened)) == 1 and Account.objects.count() == 1


def _at_once(count, work):
    """Run work(0..count-1) in `count` threads started together; their results in order."""
    start = threading.Barrier(count)

    def run(n):
        try:
            start.wait(timeout=10)
            return work(n)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))
