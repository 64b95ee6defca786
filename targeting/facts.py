"""Reading what scoring an agency's declarations rests on, all through the choke point for
the risk-assessment purpose: the agency's own declarations and the entities they name, the
partners' records of the same consignments (with what an agreement redacts left out), and
the agency's graph. In bulk, a constant number of queries whatever the number of shipments."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

import networkx as nx

from graph.visible_graph import visible_graph
from intel.access import access_policy
from intel.models import Category, Mention, Purpose, Record, Role
from intel.presentation import DETAILS_PREFIX
from targeting.indicators import PartnerStatement, Shipment

PURPOSE = Purpose.RISK_ASSESSMENT
CHUNK = 5_000
ROLE_FIELDS = {
    Role.IMPORTER: "importers",
    Role.EXPORTER: "exporters",
    Role.CONSIGNEE: "consignees",
    Role.BROKER: "brokers",
    Role.CARRIER: "carriers",
    Role.VESSEL: "vessels",
}


def _value(details: dict) -> float | None:
    try:
        return float(Decimal(details["declared_value"]))
    except (KeyError, InvalidOperation, TypeError, ValueError):
        return None


def declarations(*, agency_id: int, records: Iterable[int] | None = None) -> list[Shipment]:
    """The agency's own shipment declarations (or those of `records` among them), in id
    order, each with the entities it names by role in the order its row named them (not the
    entities' ids: an entity another agency named first is older, and an explanation that
    named the oldest party told so)."""
    rows = Record.objects.owned_by(agency_id).filter(category=Category.SHIPMENT)
    if records is not None:
        rows = rows.filter(pk__in=sorted(set(records)))
    roles: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    consignments: dict[int, int] = {}
    mentions = (
        Mention.objects.filter(record__in=rows.values("pk"), role__in=[*ROLE_FIELDS, Role.SHIPMENT])
        .order_by("record_id", "pk")
        .values_list("record_id", "role", "entity_id")
    )
    for record_id, role, entity_id in mentions.iterator(chunk_size=CHUNK):
        if role == Role.SHIPMENT:
            consignments[record_id] = entity_id
        else:
            roles[record_id][ROLE_FIELDS[role]].append(entity_id)
    shipments = []
    for record_id, occurred_on, details in (
        rows.order_by("pk").values_list("pk", "occurred_on", "details").iterator(chunk_size=CHUNK)
    ):
        details = details or {}
        named = roles.get(record_id, {})
        shipments.append(
            Shipment(
                record_id=record_id,
                occurred_on=occurred_on,
                port_of_loading=details.get("port_of_loading", ""),
                port_of_discharge=details.get("port_of_discharge", ""),
                hs_codes=tuple(details.get("hs_codes", ())),
                value=_value(details),
                currency=details.get("currency", ""),
                consignment=consignments.get(record_id),
                **{field: tuple(named.get(field, ())) for field in ROLE_FIELDS.values()},
            )
        )
    return shipments


def partner_statements(*, agency_id: int) -> dict[int, list[PartnerStatement]]:
    """For each consignment of the agency's declarations, what the records of other agencies
    that it may see for risk assessment state of it: the HS codes and value their details
    show the agency (a redacted detail is not read) and the importers they name (a redacted
    entity type is not either: the choke point leaves its mentions out)."""
    policy = access_policy()
    access = policy.access(agency_id=agency_id, purpose=PURPOSE)
    visible_mentions = Mention.objects.visible_to_agency(agency_id=agency_id, purpose=PURPOSE, access=access)
    declared = Mention.objects.filter(
        record__owner_id=agency_id, record__category=Category.SHIPMENT, role=Role.SHIPMENT
    ).values("entity_id")
    about_consignments = visible_mentions.filter(role=Role.SHIPMENT, entity_id__in=declared).exclude(
        record__owner_id=agency_id
    )
    about: dict[int, int] = dict(about_consignments.values_list("record_id", "entity_id"))
    if not about:
        return {}
    records_about = about_consignments.values("record_id")
    importers: dict[int, list[int]] = defaultdict(list)
    for record_id, entity_id in (
        visible_mentions.filter(record_id__in=records_about, role=Role.IMPORTER)
        .order_by("record_id", "pk")
        .values_list("record_id", "entity_id")
    ):
        importers[record_id].append(entity_id)
    records = policy.annotate_holding(
        Record.objects.visible_to_agency(agency_id=agency_id, purpose=PURPOSE, access=access).filter(
            pk__in=records_about
        ),
        agency_id=agency_id,
        access=access,
    )
    statements: dict[int, list[PartnerStatement]] = defaultdict(list)
    for record in records.order_by("pk").iterator(chunk_size=CHUNK):
        hidden = {name.removeprefix(DETAILS_PREFIX) for name in access.redacted_for(record)}
        details = {k: v for k, v in (record.details or {}).items() if k not in hidden}
        statements[about[record.pk]].append(
            PartnerStatement(
                record_id=record.pk,
                hs_codes=tuple(details.get("hs_codes", ())),
                value=_value(details) if "currency" in details else None,
                currency=details.get("currency", ""),
                importers=tuple(importers.get(record.pk, ())),
            )
        )
    return dict(statements)


def agency_graph(*, agency_id: int) -> nx.MultiDiGraph:
    return visible_graph(agency_id=agency_id, purpose=PURPOSE)
