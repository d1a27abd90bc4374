"""PostgreSQL's `unaccent` extension, for Discover's accent-insensitive search (no-op on SQLite).

SQLite gets an equivalent Python function on each connection instead (core.search).
"""

from django.db import migrations


def create_unaccent(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # unaccent is a trusted extension (PostgreSQL 13+): the database owner may create it.
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS unaccent")


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]

    # Dropping the extension on the way back could break other users of it: leave it.
    operations = [migrations.RunPython(create_unaccent, migrations.RunPython.noop, elidable=False)]
