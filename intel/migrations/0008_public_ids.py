import uuid

from django.db import migrations, models

from config.identity import fill_public_ids

MODELS = ["record", "entity", "link", "resolutioncandidate", "entitymerge", "importbatch"]


class Migration(migrations.Migration):
    dependencies = [("intel", "0007_importbatch_attempts")]

    operations = [
        migrations.AddField("record", "public_id", models.UUIDField(null=True, editable=False)),
        migrations.AddField("entity", "public_id", models.UUIDField(null=True, editable=False)),
        migrations.AddField("link", "public_id", models.UUIDField(null=True, editable=False)),
        migrations.AddField("resolutioncandidate", "public_id", models.UUIDField(null=True, editable=False)),
        migrations.AddField("entitymerge", "public_id", models.UUIDField(null=True, editable=False)),
        migrations.AddField("importbatch", "public_id", models.UUIDField(null=True, editable=False)),
        fill_public_ids("intel", MODELS),
        migrations.AlterField(
            "record", "public_id", models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
        ),
        migrations.AlterField(
            "entity", "public_id", models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
        ),
        migrations.AlterField(
            "link", "public_id", models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
        ),
        migrations.AlterField(
            "resolutioncandidate",
            "public_id",
            models.UUIDField(default=uuid.uuid4, unique=True, editable=False),
        ),
        migrations.AlterField(
            "entitymerge", "public_id", models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
        ),
        migrations.AlterField(
            "importbatch", "public_id", models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
        ),
    ]
