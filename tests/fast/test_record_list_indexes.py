"""The indexes a record list walks hold every column the visibility rule reads, so that the
rule is tested on the index's copy and a deep page reads no record row it passes over. The
columns are written here by hand, from what the rule's SQL tests (sharing/rule_sql.py)."""

import pytest

from intel.models import Record
from sharing.rule_sql import RECORD_COLUMNS

READ_BY_THE_RULE = {"id", "owner_id", "category", "classification", "releasability", "caveats"}


def test_the_rule_reads_the_columns_written_here():
    assert set(RECORD_COLUMNS) == READ_BY_THE_RULE


@pytest.mark.parametrize("name", ["record_recent", "record_category_recent", "record_class_recent"])
def test_each_list_index_holds_every_column_the_rule_reads(name):
    (index,) = [index for index in Record._meta.indexes if index.name == name]
    fields = [field.lstrip("-") for field in index.fields] + list(index.include)
    columns = {Record._meta.get_field(field).column for field in fields} | {"id"}
    assert columns >= READ_BY_THE_RULE, READ_BY_THE_RULE - columns
    # Ordered as the list is: most recent first, then by key.
    assert index.fields[-2:] == ["-occurred_on", "-id"]
