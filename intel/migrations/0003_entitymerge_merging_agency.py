"""Each merge records the agency that made it: a merge is that agency's conclusion, listed to
it and undone by it only. Merges made before are given their merging user's agency."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def merging_agency(apps, schema_editor):
    EntityMerge = apps.get_model("intel", "EntityMerge")
    User = apps.get_model("agencies", "User")
    EntityMerge.objects.update(
        agency_id=Subquery(User.objects.filter(pk=OuterRef("merged_by_id")).values("agency_id")[:1])
    )


class Migration(migrations.Migration):
    dependencies = [
        ("agencies", "0001_initial"),
        ("intel", "0002_search_trigram_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="entitymerge",
            name="agency",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="agencies.agency",
            ),
        ),
        migrations.RunPython(merging_agency, migrations.RunPython.noop),
    ]
