"""Writes graph rows with neomodel, the common object mapper, for bench/graph_sync.py; runs
in its own virtual environment (see bench/requirements.txt).

    python bench/graph_neomodel.py ROWS.json one|batch   ->   {"seconds": ...} on the last line

one:   each node with `save()` and each relationship with `connect()`, one transaction each,
       as an application using the mapper's objects writes;
batch: the nodes by neomodel's batch operation (`create_or_update` of BATCH at a time, one
       transaction each), the relationships connected BATCH to a transaction (neomodel has
       no batch operation for relationships).
"""

from __future__ import annotations

import json
import os
import sys
import time

from neomodel import (
    ArrayProperty,
    IntegerProperty,
    RelationshipTo,
    StringProperty,
    StructuredNode,
    StructuredRel,
    config,
    db,
)

LINK_TYPES = (
    "IMPORTED_BY EXPORTED_BY BROKERED_BY CARRIED_BY SHIPPED_IN CONSIGNED_TO REGISTERED_AT OWNS CONTACT "
    "SEIZED_IN POSSIBLY_SAME_AS"
).split()


class Asserted(StructuredRel):
    records = ArrayProperty(IntegerProperty())
    visible_to = ArrayProperty(IntegerProperty())


# One class, with a relationship manager per link type, built at class creation so
# neomodel's metaclass registers them.
Entity = type(
    "Entity",
    (StructuredNode,),
    {
        "__module__": __name__,
        "entity_id": IntegerProperty(unique_index=True),
        "key": StringProperty(),
        "type": StringProperty(),
        "visible_to": ArrayProperty(IntegerProperty()),
        **{
            link_type.lower(): RelationshipTo("Entity", link_type, model=Asserted) for link_type in LINK_TYPES
        },
    },
)


BATCH = 1_000


def one_at_a_time(rows: dict) -> None:
    saved = {}
    for row in rows["nodes"]:
        saved[row["id"]] = Entity(
            entity_id=row["id"], key=row["key"], type=row["type"], visible_to=row["visible_to"]
        ).save()
    for row in rows["relationships"]:
        manager = getattr(saved[row["s"]], row["type"].lower())
        manager.connect(saved[row["t"]], {"records": row["records"], "visible_to": row["visible_to"]})


def in_batches(rows: dict) -> None:
    saved = {}
    nodes = rows["nodes"]
    for start in range(0, len(nodes), BATCH):
        chunk = [
            {"entity_id": row["id"], "key": row["key"], "type": row["type"], "visible_to": row["visible_to"]}
            for row in nodes[start : start + BATCH]
        ]
        for node in Entity.create_or_update(*chunk):
            saved[node.entity_id] = node
    relationships = rows["relationships"]
    for start in range(0, len(relationships), BATCH):
        with db.transaction:
            for row in relationships[start : start + BATCH]:
                manager = getattr(saved[row["s"]], row["type"].lower())
                manager.connect(saved[row["t"]], {"records": row["records"], "visible_to": row["visible_to"]})


def main(path: str, mode: str) -> None:
    host = os.environ["NEO4J_URI"].split("://", 1)[1]
    config.DATABASE_URL = (
        f"bolt://{os.environ.get('NEO4J_USER', 'neo4j')}:{os.environ['NEO4J_PASSWORD']}@{host}"
    )
    rows = json.loads(open(path).read())
    db.install_labels(Entity)
    started = time.perf_counter()
    {"one": one_at_a_time, "batch": in_batches}[mode](rows)
    print(json.dumps({"seconds": time.perf_counter() - started}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
