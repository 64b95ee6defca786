"""The shape of the graph: a label per entity type, a relationship type per link type,
and the properties each may hold. Nothing a record states (names, phones, values) is
ever a property: what a user is shown of a node comes from PostgreSQL through the
visibility choke point.

Every node also carries the label `Entity`, whose unique `entity_id` is how the sync
finds relationship endpoints; each type label has a unique `key`, so a MERGE on it is
an index lookup and never makes a duplicate.
"""

from __future__ import annotations

from neo4j import Driver

from intel.models import EntityType, LinkType

ENTITY_LABEL = "Entity"
LABELS: dict[str, str] = {value: value.capitalize() for value in EntityType.values}
RELATIONSHIP_TYPES: tuple[str, ...] = tuple(LinkType.values)

NODE_PROPERTIES = frozenset({"entity_id", "key", "type", "visible_to", "sync_version"})
RELATIONSHIP_PROPERTIES = frozenset({"records", "visible_to", "sync_version"})


def schema_statements() -> list[str]:
    statements = [
        f"CREATE CONSTRAINT entity_id_unique IF NOT EXISTS "
        f"FOR (n:{ENTITY_LABEL}) REQUIRE n.entity_id IS UNIQUE"
    ]
    statements += [
        f"CREATE CONSTRAINT {label.lower()}_key_unique IF NOT EXISTS FOR (n:{label}) REQUIRE n.key IS UNIQUE"
        for label in LABELS.values()
    ]
    return statements


def ensure_schema(driver: Driver) -> list[str]:
    """Creates the constraints (each backed by an index) that are missing and waits until
    they are online; idempotent. Returns the statements run."""
    statements = schema_statements()
    for statement in statements:
        driver.execute_query(statement)
    driver.execute_query("CALL db.awaitIndexes(300)")
    return statements
