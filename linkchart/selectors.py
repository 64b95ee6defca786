"""What the chart page needs besides the graph API: the vocabularies of its filters."""

from __future__ import annotations

from agencies.models import Agency
from intel.models import EntityType, LinkType, Purpose


def chart_vocabulary() -> dict:
    """Entity types, link types, purposes and the agencies (by code) a record may be owned
    by: the choices of the chart's filters, as the graph API spells them."""
    return {
        "entity_types": [{"value": value, "label": label} for value, label in EntityType.choices],
        "link_types": [{"value": value, "label": label} for value, label in LinkType.choices],
        "purposes": [{"value": value, "label": label} for value, label in Purpose.choices],
        "owners": [
            {"value": code, "label": f"{code} · {name}"}
            for code, name in Agency.objects.order_by("code").values_list("code", "name")
        ],
    }
