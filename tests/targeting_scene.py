"""Three agencies' records around two customs declarations, scored, for the targeting queue's
tests and its browser test.

    cus  CQ-1 (shipment, consignment MRN, loaded at ECGYE, HS 030617): importer Front Trading BV
         registered at 1 Quay Street Rotterdam, broker Quay Brokers BV
         CQ-2 (shipment, loaded at NLRTM, HS 030617): importer Clean Imports BV
    pol  PZ-1 (seizure): Shadow Holding BV registered at 1 Quay Street Rotterdam
         PZ-2 (shipment of CQ-1's consignment): HS 240220, importer Front Trading BV
    tax  TX-1 (seizure): Quay Brokers BV, shared with no one

MOU-T (cus and pol, each providing and receiving) covers shipments, seizures and inspections
for risk assessment; every record is released to every covering agreement. cus's profile
watches the port ECGYE. So, scored for cus, CQ-1's route is watched (evidence: CQ-1), pol's
PZ-2 disagrees with its goods (evidence: PZ-2), and its importer shares an address with a
party pol's seizure names (path Front Trading BV, the address, Shadow Holding BV). tax's
seizure is never cus's to see."""

import json
from dataclasses import dataclass
from pathlib import Path

from django.utils import timezone

from intel.import_writing import import_file
from intel.models import Entity, Mention, Record
from sharing import releases
from sharing.models import Agreement
from targeting import profiles, scoring
from targeting.models import ScoringRun
from tests.sharing_helpers import Staff, in_force, staff

MRN = "26NL4F2A9C81D7E0A1"
ADDRESS = {"address": "1 Quay Street", "postcode": "3011 AB"}
ROWS = {
    "cus": [
        {
            "external_ref": "CQ-1",
            "category": "shipment",
            "occurred_on": "2026-05-02",
            "summary": "frozen shrimp",
            "consignment_ref": MRN,
            "port_of_loading": "ECGYE",
            "port_of_discharge": "NLRTM",
            "hs_codes": "030617",
            "declared_value": "10000",
            "currency": "EUR",
            "importer": {"name": "Front Trading BV", "country": "NL", **ADDRESS},
            "broker": {"name": "Quay Brokers BV", "country": "NL"},
        },
        {
            "external_ref": "CQ-2",
            "category": "shipment",
            "occurred_on": "2026-05-03",
            "summary": "frozen fish",
            "port_of_loading": "NLRTM",
            "hs_codes": "030617",
            "importer": {"name": "Clean Imports BV", "country": "NL"},
        },
    ],
    "pol": [
        {
            "external_ref": "PZ-1",
            "category": "seizure",
            "occurred_on": "2026-04-01",
            "summary": "pol seizure",
            "goods_description": "cocaine",
            "importer": {"name": "Shadow Holding BV", "country": "NL", **ADDRESS},
        },
        {
            "external_ref": "PZ-2",
            "category": "shipment",
            "occurred_on": "2026-05-02",
            "summary": "pol's view of the consignment",
            "consignment_ref": MRN,
            "hs_codes": "240220",
            "importer": {"name": "Front Trading BV", "country": "NL", **ADDRESS},
        },
    ],
    "tax": [
        {
            "external_ref": "TX-1",
            "category": "seizure",
            "occurred_on": "2026-04-02",
            "summary": "tax only seizure",
            "goods_description": "cigarettes",
            "broker": {"name": "Quay Brokers BV", "country": "NL"},
        }
    ],
}


@dataclass
class Scene:
    cus: Staff
    pol: Staff
    tax: Staff
    mou: Agreement

    @staticmethod
    def record(ref: str) -> Record:
        return Record.objects.get(external_ref=ref)

    @staticmethod
    def entity(ref: str, role: str) -> Entity:
        return Mention.objects.get(record__external_ref=ref, role=role).entity


def build(tmp_path: Path) -> Scene:
    cus, pol, tax = staff("cus"), staff("pol", kind="police"), staff("tax", kind="tax")
    for member in (cus, pol, tax):
        path = tmp_path / f"{member.agency.code}.jsonl"
        path.write_text("".join(json.dumps(row) + "\n" for row in ROWS[member.agency.code]))
        import_file(path, member.agency)
        for record in Record.objects.filter(owner=member.agency):
            releases.set_releasability(record, member.analyst, "covering")
    mou = in_force(
        (cus, True, True),
        (pol, True, True),
        reference="MOU-T",
        categories=("shipment", "seizure", "inspection"),
        purposes=("risk_assessment",),
    )
    profiles.change_profile(cus.admin, reason="Guayaquil is on watch", watchlists={"ports": ["ECGYE"]})
    for member in (cus, pol):
        # A run as the queue page would ask for it, run here rather than by a worker.
        ScoringRun.objects.create(agency=member.agency, requested_at=timezone.now())
        assert scoring.run_scoring(member.agency.pk) == ScoringRun.Status.DONE
    return Scene(cus, pol, tax, mou)
