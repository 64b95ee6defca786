"""Companies' candidate blocks recomputed with `intel.resolution.company_block`: entities
written before it keep the block of the first word of their sorted name (a legal form the
tables miss, "pvt" or "sl", included), where the new spellings of the same names no longer
look."""

from django.db import migrations

from intel.resolution import company_block


def recompute_company_blocks(apps, schema_editor):
    Entity = apps.get_model("intel", "Entity")
    changed = []
    for entity in (
        Entity.objects.filter(type="company")
        .exclude(block="")
        .only("pk", "key", "block", "name_fingerprints")
        .iterator(chunk_size=2000)
    ):
        country = entity.key.split(":", 1)[0]
        named = entity.key.split(":name:", 1)[1].split("@", 1)[0] if ":name:" in entity.key else ""
        fingerprint = named or next(iter(entity.name_fingerprints), "")
        if fingerprint and (block := company_block(country, fingerprint)) != entity.block:
            entity.block = block
            changed.append(entity)
        if len(changed) >= 2000:
            Entity.objects.bulk_update(changed, ["block"])
            changed = []
    Entity.objects.bulk_update(changed, ["block"])


class Migration(migrations.Migration):
    dependencies = [
        ("intel", "0007_mention_entity_recent"),
    ]

    operations = [migrations.RunPython(recompute_company_blocks, migrations.RunPython.noop)]
