from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("intel", "0006_entity_name_fingerprints"),
    ]

    operations = [
        migrations.AddField(
            model_name="importbatch",
            name="attempts",
            field=models.PositiveSmallIntegerField(default=0),
        ),
    ]
