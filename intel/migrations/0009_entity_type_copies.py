"""Mentions and links keep a copy of their entities' types, which the visibility rule tests on
every row it confirms; rows written before are filled from their entities."""

from django.db import migrations, models

TYPES = [
    ("company", "Company"),
    ("person", "Person"),
    ("vessel", "Vessel"),
    ("container", "Container"),
    ("address", "Address"),
    ("phone", "Phone"),
    ("email", "Email"),
    ("shipment", "Shipment"),
]
HELP = "The type of the entity, copied from it"


def type_copy(name: str) -> migrations.AddField:
    model, field = name.split(".")
    return migrations.AddField(
        model_name=model,
        name=field,
        field=models.CharField(choices=TYPES, default="", editable=False, help_text=HELP, max_length=20),
        preserve_default=False,
    )


def copied_from(table: str, column: str, entity_column: str) -> migrations.RunSQL:
    return migrations.RunSQL(
        f"UPDATE {table} SET {column} = (SELECT e.type FROM intel_entity e WHERE e.id = {table}.{entity_column})",
        migrations.RunSQL.noop,
    )


class Migration(migrations.Migration):
    dependencies = [("intel", "0008_company_blocks")]

    operations = [
        type_copy("mention.entity_type"),
        type_copy("link.source_type"),
        type_copy("link.target_type"),
        copied_from("intel_mention", "entity_type", "entity_id"),
        copied_from("intel_link", "source_type", "source_id"),
        copied_from("intel_link", "target_type", "target_id"),
    ]
