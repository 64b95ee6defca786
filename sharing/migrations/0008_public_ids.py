import uuid

from django.db import migrations, models

from config.identity import fill_public_ids

MODELS = ["agreement", "disclosurerequest", "notification"]


class Migration(migrations.Migration):
    dependencies = [("sharing", "0007_signed_terms_immutable")]

    operations = [
        migrations.AddField("agreement", "public_id", models.UUIDField(null=True, editable=False)),
        migrations.AddField("disclosurerequest", "public_id", models.UUIDField(null=True, editable=False)),
        migrations.AddField("notification", "public_id", models.UUIDField(null=True, editable=False)),
        fill_public_ids("sharing", MODELS),
        migrations.AlterField(
            "agreement", "public_id", models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
        ),
        migrations.AlterField(
            "disclosurerequest",
            "public_id",
            models.UUIDField(default=uuid.uuid4, unique=True, editable=False),
        ),
        migrations.AlterField(
            "notification", "public_id", models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
        ),
    ]
