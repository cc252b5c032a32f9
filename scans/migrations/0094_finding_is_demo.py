from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("scans", "0093_findingstate_user_keys_unchecked"),
    ]

    operations = [
        # A database default: adding the column to a large findings table rewrites nothing, and
        # the COPY path of finding storage (which names its columns) leaves it to the database.
        migrations.AddField(
            model_name="finding",
            name="is_demo",
            field=models.BooleanField(db_default=False, default=False),
        ),
    ]
