"""The Installation singleton (core.install), made with this database's own random id."""

import secrets

from django.db import migrations, models
from django.utils import timezone

# As core.install.new_install_id() (kept here so that the migration never changes with it).
_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"


def create_installation(apps, schema_editor):
    Installation = apps.get_model("core", "Installation")
    Installation.objects.using(schema_editor.connection.alias).get_or_create(
        id=1,
        defaults={
            "install_id": "".join(secrets.choice(_ALPHABET) for _ in range(12)),
            "created_at": timezone.now(),
        },
    )


class Migration(migrations.Migration):
    dependencies = [("core", "0002_unaccent_extension")]

    operations = [
        migrations.CreateModel(
            name="Installation",
            fields=[
                (
                    "id",
                    models.PositiveSmallIntegerField(
                        default=1, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("install_id", models.CharField(editable=False, max_length=40, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("id", 1)), name="installation_is_a_singleton"
                    )
                ],
            },
        ),
        # Undone by dropping the table (the CreateModel above, reversed).
        migrations.RunPython(create_installation, migrations.RunPython.noop, elidable=False),
    ]
