from __future__ import annotations

import uuid
from typing import Any

from django.db import migrations, models


def create_deployment_id(apps: Any, schema_editor: Any) -> None:
    """The first migrate gives the installation its id (see config.deployment)."""
    Deployment = apps.get_model("config", "Deployment")
    Deployment.objects.using(schema_editor.connection.alias).get_or_create(
        pk=1, defaults={"deployment_id": uuid.uuid4().hex}
    )


class Migration(migrations.Migration):
    initial = True

    dependencies: list[tuple[str, str]] = []

    operations = [
        migrations.CreateModel(
            name="Deployment",
            fields=[
                (
                    "id",
                    models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False),
                ),
                ("deployment_id", models.CharField(max_length=32, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
        ),
        migrations.RunPython(create_deployment_id, migrations.RunPython.noop),
    ]
