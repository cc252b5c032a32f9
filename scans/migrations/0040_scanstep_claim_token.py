from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("scans", "0080_scanasset_scan_unchecked")]

    operations = [
        migrations.AddField(
            model_name="scanstep",
            name="claim_token",
            field=models.UUIDField(blank=True, editable=False, null=True),
        ),
    ]
