"""Three agencies' records about one broker, for the workspace's pages and their browser test.

    cus  WS-1, WS-2 (shipments): importer Harbour Fish BV at 1 Quay Street, broker Quay Brokers BV
         (phone +31 10 555 0199), vessel MV Northern Star; WS-3 (seizure): Harbour Fish BV
    pol  PZ-1 (seizure): importer Secret Front BV, broker Quay Brokers BV
    tax  TX-1 (shipment): importer Tax Only Importer BV, broker Quay Brokers BV

Every record is released to every covering agreement. MOU-1 (cus and pol, each providing and
receiving, discovery allowed, ending within 30 days) covers shipments, not seizures: pol sees
cus's shipments, cus sees none of pol's, and each learns by hit/no-hit only that the other
holds a seizure on an entity it sees. MOU-2 (cus and pol, 200 days) covers only inspections
(none here). tax shares with no one."""

from dataclasses import dataclass
from pathlib import Path

from intel.import_writing import import_file
from intel.models import Entity, Mention, Record
from sharing import releases
from sharing.models import Agreement
from tests.sharing_helpers import NO_SEIZURES, Staff, in_force, staff

HEADER = (
    "external_ref,category,classification,occurred_on,summary,importer_name,importer_country,"
    "importer_address,importer_postcode,broker_name,broker_country,broker_phone,vessel_imo,vessel_name,"
    "goods_description\n"
)
ROWS = {
    "cus": [
        "WS-1,shipment,restricted,2026-03-02,first,Harbour Fish BV,NL,1 Quay Street,3011 AB,"
        "Quay Brokers BV,NL,+31 10 555 0199,9074729,MV Northern Star,",
        "WS-2,shipment,restricted,2026-03-09,second,Harbour Fish BV,NL,1 Quay Street,3011 AB,"
        "Quay Brokers BV,NL,+31 10 555 0199,9074729,MV Northern Star,",
        "WS-3,seizure,restricted,2026-03-20,caught,Harbour Fish BV,NL,1 Quay Street,3011 AB,,,,,,cocaine",
    ],
    "pol": [
        "PZ-1,seizure,restricted,2026-04-01,pol seizure,Secret Front BV,NL,,,Quay Brokers BV,NL,,,,cigarettes"
    ],
    "tax": ["TX-1,shipment,restricted,2026-04-02,tax only,Tax Only Importer BV,NL,,,Quay Brokers BV,NL,,,,"],
}
# What no page may ever show cus: names and references only other agencies' hidden records state.
HIDDEN_FROM_CUS = ("Secret Front", "Tax Only Importer", "PZ-1", "TX-1", "pol seizure", "tax only")


@dataclass
class Scene:
    cus: Staff
    pol: Staff
    tax: Staff
    mou: Agreement
    long_mou: Agreement

    def entity(self, ref: str, role: str) -> Entity:
        return Mention.objects.get(record__external_ref=ref, role=role).entity

    @property
    def broker(self) -> Entity:
        return self.entity("WS-1", "broker")

    @property
    def importer(self) -> Entity:
        return self.entity("WS-1", "importer")

    @property
    def front(self) -> Entity:
        return self.entity("PZ-1", "importer")


def build(tmp_path: Path) -> Scene:
    cus, pol, tax = staff("cus"), staff("pol", kind="police"), staff("tax", kind="tax")
    for member in (cus, pol, tax):
        path = tmp_path / f"{member.agency.code}.csv"
        path.write_text(HEADER + "\n".join(ROWS[member.agency.code]) + "\n")
        import_file(path, member.agency)
        for record in Record.objects.filter(owner=member.agency):
            releases.set_releasability(record, member.analyst, "covering")
    mou = in_force((cus, True, True), (pol, True, True), discovery_allowed=True, categories=NO_SEIZURES)
    long_mou = in_force(
        (cus, True, True), (pol, True, True), reference="MOU-2", days=200, categories=("inspection",)
    )
    return Scene(cus, pol, tax, mou, long_mou)
