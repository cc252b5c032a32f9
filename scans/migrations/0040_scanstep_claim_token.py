from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("scans", "0020_finding_vulnerability_fields_ownership_acceptance")]

    operations = [
        migrations.AddField(
            model_name="scanstep",
            name="claim_token",
            field=models.UUIDField(blank=True, editable=False, null=True),
        ),
    ]
