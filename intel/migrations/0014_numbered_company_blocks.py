"""Companies' candidate blocks recomputed once more with `intel.resolution.company_block`,
which no longer makes a number the block's word: entities written before it keep a block
such as "NL:2", shared by every company of the country named "... 2", where the new
spellings of their names no longer look."""

from importlib import import_module

from django.db import migrations

recompute_company_blocks = import_module("intel.migrations.0008_company_blocks").recompute_company_blocks


class Migration(migrations.Migration):
    dependencies = [
        ("intel", "0013_list_indexes_hold_the_rule_columns"),
    ]

    operations = [migrations.RunPython(recompute_company_blocks, migrations.RunPython.noop)]
