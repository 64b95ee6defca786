"""The demo scenario: agencies and users with printed credentials, planted networks that
are really in the data after the real import pipeline ran, and determinism; on the
embedded default `make demo` seeds."""

import io
from itertools import islice

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Q
from django.test import override_settings

from agencies.admin import is_agency_admin
from agencies.models import Agency, User
from audit.models import AuditEvent
from demo import scenario as demo
from intel.models import Entity, Link, Mention, Record, RecordGroupObjectPermission, ResolutionCandidate
from intel.resolution import resolve_address, resolve_company, resolve_phone

SEED, SCALE = 7, 0.05
# Every run sets or checks twelve passwords; the hasher is not what these tests are about.
pytestmark = pytest.mark.usefixtures("fast_password_hashing")


def seed_demo(seed: int = SEED, scale: float = SCALE) -> str:
    out = io.StringIO()
    call_command("seed_demo", seed=seed, scale=scale, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def output(db) -> str:
    return seed_demo()


def company(name: str, reg_no: str | None = None) -> Entity:
    """The one standing company a spelling resolves to: by its key when a number is
    stated, else the one that records naming it that way mention (a name stated with an
    address is keyed with the address, and folded into the one company of that name)."""
    if reg_no:
        return Entity.objects.get(type="company", key=resolve_company(name, "NL", reg_no).key)
    return Entity.objects.filter(type="company", mentions__properties__name=name).distinct().get()


def companies_named(*names: str) -> set[int]:
    """Company entities any record names with one of these exact spellings."""
    return set(
        Mention.objects.filter(entity__type="company", properties__name__in=names).values_list(
            "entity_id", flat=True
        )
    )


def ring_records(ring: demo.Ring) -> set[int]:
    """Records that name one of the ring's front companies, however the agency spelled it."""
    spellings = {party.name for party in ring.fronts} | set(ring.spellings.values())
    fronts = companies_named(*spellings)
    return set(Mention.objects.filter(entity_id__in=fronts).values_list("record_id", flat=True))


def records_mentioning(entity: Entity, role: str | None = None) -> set[int]:
    mentions = Mention.objects.filter(entity=entity)
    if role:
        mentions = mentions.filter(role=role)
    return set(mentions.values_list("record_id", flat=True))


def owners(entity: Entity) -> set[str]:
    return set(Mention.objects.filter(entity=entity).values_list("record__owner__code", flat=True))


def snapshot() -> dict:
    return {
        "records": sorted(
            Record.objects.values_list("owner__code", "external_ref", "content_hash", "updated_at")
        ),
        "entities": Entity.objects.count(),
        "mentions": Mention.objects.count(),
        "links": Link.objects.count(),
        "candidates": sorted(ResolutionCandidate.objects.values_list("entity_a_id", "entity_b_id", "score")),
        "users": sorted(User.objects.values_list("username", "password", "agency__code", "role")),
        "agencies": Agency.objects.count(),
    }


def test_four_agencies_and_a_user_of_each_role_with_the_printed_password(output):
    assert dict(Agency.objects.values_list("code", "kind")) == {
        "cus-nl": Agency.Kind.CUSTOMS,
        "cg-nl": Agency.Kind.COAST_GUARD,
        "pol-nl": Agency.Kind.POLICE,
        "tax-nl": Agency.Kind.TAX,
    }
    users = User.objects.filter(agency__isnull=False)
    assert users.count() == 12
    for agency in Agency.objects.all():
        assert set(users.filter(agency=agency).values_list("role", flat=True)) == set(User.Role.values)
    for user in users:
        # Agency admins manage their agency's users and agreements in the admin site.
        assert not user.is_superuser and user.is_staff == (user.role == User.Role.AGENCY_ADMIN)
        assert is_agency_admin(user) == (user.role == User.Role.AGENCY_ADMIN)
        printed = next(line for line in output.splitlines() if line.split()[:1] == [user.username])
        password = printed.split()[-1]
        assert user.check_password(password), user.username
    assert User.objects.get(username="cus-nl-admin").role == User.Role.AGENCY_ADMIN


def test_records_arrive_through_the_import_pipeline(output):
    assert Record.objects.count() == demo.Scenario(SEED, SCALE).total()
    for spec in demo.AGENCIES:
        agency = Agency.objects.get(code=spec.code)
        records = Record.objects.filter(owner=agency)
        assert records.exists()
        # The owner's change and delete rights, given by the import to the agency's group.
        assert (
            RecordGroupObjectPermission.objects.filter(
                content_object__owner=agency, group=agency.group
            ).count()
            == 2 * records.count()
        )
        assert set(records.values_list("created_by__username", flat=True)) == {f"{spec.code}-analyst"}
    imports = AuditEvent.objects.filter(action="records.import")
    assert sorted(imports.values_list("details__file", flat=True)) == sorted(
        f"{spec.code}.jsonl" for spec in demo.AGENCIES
    )
    assert "Planted networks" in output and demo.BRIDGE_BROKER.name in output


def test_the_bridging_broker_files_for_both_rings(output):
    broker = company(demo.BRIDGE_BROKER.name, demo.BRIDGE_BROKER.reg_no)
    brokered = records_mentioning(broker, role="broker")
    assert brokered & ring_records(demo.RING_A)
    assert brokered & ring_records(demo.RING_B)
    # It also serves innocent importers, so it is not suspicious on its own.
    assert brokered - ring_records(demo.RING_A) - ring_records(demo.RING_B)


def test_one_vessel_carries_cargo_of_both_rings(output):
    vessel = Entity.objects.get(type="vessel", key=f"imo:{demo.SHARED_VESSEL.imo}")
    carried = set(Link.objects.filter(type="CARRIED_BY", target=vessel).values_list("record_id", flat=True))
    assert carried & ring_records(demo.RING_A)
    assert carried & ring_records(demo.RING_B)


def test_front_companies_share_an_address_and_a_phone(output):
    for ring in demo.RINGS:
        front = ring.fronts[0]
        address = Entity.objects.get(
            type="address", key=resolve_address(front.address, "NL", front.postcode).key
        )
        phone = Entity.objects.get(type="phone", key=resolve_phone(front.phone).key)
        at_address = set(
            Link.objects.filter(type="REGISTERED_AT", target=address).values_list("source_id", flat=True)
        )
        on_phone = set(Link.objects.filter(type="CONTACT", target=phone).values_list("source_id", flat=True))
        assert len(at_address) >= 2, ring.title
        assert at_address == on_phone, ring.title
        named = set(
            Mention.objects.filter(entity_id__in=at_address).values_list("properties__name", flat=True)
        )
        assert named <= {party.name for party in ring.fronts} | set(ring.spellings.values())


def test_name_variants_across_agencies_resolve_or_become_candidates(output):
    nordic = company("Nordic Fresh Fish B.V.")
    assert {"Nordic Fresh Fish B.V.", "Nordic Fresh Fish BV"} <= set(
        Mention.objects.filter(entity=nordic).values_list("properties__name", flat=True)
    )
    assert {"cus-nl", "pol-nl"} <= owners(nordic), "two agencies' spellings resolved to one entity"

    shouting = company("NORDIC FRESH FISH")
    assert owners(shouting) == {"cg-nl"}
    assert shouting != nordic
    pair = sorted((nordic.pk, shouting.pk))
    assert ResolutionCandidate.objects.filter(
        entity_a_id=pair[0], entity_b_id=pair[1], status=ResolutionCandidate.Status.OPEN
    ).exists()

    eastgate = company("Eastgate Trading B.V.")
    assert {"cus-nl", "tax-nl"} <= owners(eastgate)
    typo = company("Eastgate Tradng B.V.")
    assert ResolutionCandidate.objects.filter(
        Q(entity_a=eastgate, entity_b=typo) | Q(entity_a=typo, entity_b=eastgate)
    ).exists()


def test_running_it_again_changes_nothing(output):
    before = snapshot()
    again = seed_demo()
    assert snapshot() == before
    for spec in demo.AGENCIES:
        line = next(line for line in again.splitlines() if line.strip().startswith(spec.code + " "))
        assert "0 created, 0 updated" in line
    assert again.split("Users")[1] == output.split("Users")[1], "same passwords, same summary"


def test_the_row_stream_is_deterministic_per_seed():
    first = list(demo.Scenario(SEED, SCALE).rows())
    assert first == list(demo.Scenario(SEED, SCALE).rows())
    assert first != list(demo.Scenario(SEED + 1, SCALE).rows())
    refs = [row["external_ref"] for _, row in first]
    assert len(refs) == len(set(refs))
    # A larger scale is a longer stream, generated lazily.
    assert len(list(islice(demo.Scenario(SEED, 50).rows(), 10))) == 10
    assert demo.Scenario(SEED, 50).total() > 100_000


def test_refused_in_production(db):
    with override_settings(PRODUCTION=True), pytest.raises(CommandError, match="production"):
        seed_demo()
    assert not Agency.objects.exists()
