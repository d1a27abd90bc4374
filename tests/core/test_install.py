"""core.install: the install id comes from the settings, else from this database's own row,
made again where a test emptied the table, one id however many processes ask at once."""

import importlib
import re
import threading

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from core import install
from core.install import install_id
from core.models import Installation

MADE_HERE = re.compile(r"[a-z2-7]{12}")


@pytest.fixture
def no_configured_id(settings):
    settings.INSTALL_ID = ""


@pytest.mark.django_db
def test_the_configured_install_id_wins_and_needs_no_query(settings, django_assert_num_queries):
    settings.INSTALL_ID = "brussels-prod"
    with django_assert_num_queries(0):
        assert install_id() == "brussels-prod"


@pytest.mark.parametrize("configured", ["has space", "ünicode", "a:b", "x" * 41])
def test_a_configured_install_id_that_cannot_prefix_a_key_is_refused(settings, configured):
    settings.INSTALL_ID = configured
    with pytest.raises(ImproperlyConfigured, match="INSTALL_ID"):
        install_id()


@pytest.mark.django_db
def test_without_a_setting_the_id_is_the_databases_row(no_configured_id, django_assert_num_queries):
    Installation.objects.update_or_create(pk=1, defaults={"install_id": "abcdefgh2345"})
    with django_assert_num_queries(1):
        assert install_id() == "abcdefgh2345"


@pytest.mark.django_db
def test_a_vanished_row_is_made_again_with_a_new_id_that_then_stays(no_configured_id):
    Installation.objects.all().delete()
    first = install_id()
    assert MADE_HERE.fullmatch(first)
    assert Installation.objects.get().install_id == first
    assert install_id() == first  # read back, not made again

    Installation.objects.all().delete()  # a fresh database (a flushed test database)
    second = install_id()
    assert second != first, "a fresh database gets its own id, not the last one's"
    assert Installation.objects.get().install_id == second


@pytest.mark.django_db
def test_the_migration_makes_the_row(no_configured_id):
    Installation.objects.all().delete()
    migration = importlib.import_module("core.migrations.0003_installation")

    class SchemaEditor:
        pass

    editor = SchemaEditor()
    editor.connection = connection
    migration.create_installation(apps, editor)
    made = Installation.objects.get()
    assert made.pk == Installation.SINGLETON_ID and MADE_HERE.fullmatch(made.install_id)
    migration.create_installation(apps, editor)  # run twice (a re-applied migration): kept
    assert Installation.objects.get() == made
    assert install_id() == made.install_id


@pytest.mark.django_db
def test_there_is_only_ever_one_row():
    from django.db import IntegrityError, transaction

    Installation.objects.all().delete()
    Installation.objects.create(install_id="abcdefgh2345")
    with pytest.raises(IntegrityError), transaction.atomic():
        Installation.objects.create(id=2, install_id="bcdefgh23456")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_first_uses_agree_on_one_id(no_configured_id, monkeypatch):
    Installation.objects.all().delete()
    both_about_to_insert = threading.Barrier(2, timeout=10)
    made = iter(["aaaaaaaaaaaa", "bbbbbbbbbbbb"])
    lock = threading.Lock()

    def new_id_after_both_looked():
        with lock:
            candidate = next(made)
        both_about_to_insert.wait()  # neither has inserted: both found no row
        return candidate

    monkeypatch.setattr(install, "new_install_id", new_id_after_both_looked)
    answers, errors = [], []

    def first_use():
        try:
            answers.append(install_id())
        except Exception as exc:  # noqa: BLE001  (reported by the assertion below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=first_use) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert errors == []
    assert len(answers) == 2 and answers[0] == answers[1]
    assert Installation.objects.get().install_id == answers[0]
