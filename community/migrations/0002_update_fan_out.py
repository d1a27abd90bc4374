"""Updates: a real creation time (published_at may be back-dated), when an edit made one
public, and the fan-out's claim; public updates emailed already count as emailed to everyone."""

import django.utils.timezone
from django.db import migrations, models


def mark_public_updates_emailed_to_everyone(apps, schema_editor):
    # The fan-out now marks public_emailed_at for a public update too: an update that was
    # public when it was emailed reached everyone then, and must not be fanned out again.
    Update = apps.get_model("community", "Update")
    Update.objects.filter(
        audience="public", emailed_at__isnull=False, public_emailed_at__isnull=True
    ).update(public_emailed_at=models.F("emailed_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("community", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="update",
            name="created_at",
            field=models.DateTimeField(auto_now_add=True, default=django.utils.timezone.now),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="update",
            name="made_public_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="update",
            name="fan_out_claimed_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(
            mark_public_updates_emailed_to_everyone, migrations.RunPython.noop, elidable=True
        ),
    ]
