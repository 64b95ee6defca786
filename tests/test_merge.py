"""Near-duplicate candidates, an analyst's merge, its exact undo, and rejection; all audited."""

import pytest
from django.core.exceptions import ValidationError

from agencies.models import Agency, User
from audit.log import verify_chain
from audit.models import AuditEvent
from intel.candidates import find_candidates, note_names
from intel.merging import merge_entities, reject_candidate, undo_merge
from intel.models import (
    Category,
    Entity,
    EntityMerge,
    Link,
    LinkType,
    Mention,
    Record,
    ResolutionCandidate,
    Role,
)
from intel.resolution import Resolved, resolve_company, resolve_person, resolve_shipment, resolve_vessel

pytestmark = pytest.mark.django_db


@pytest.fixture
def agency():
    return Agency.objects.create(code="cus-nl", name="Customs NL", country="NL", kind="customs")


@pytest.fixture
def analyst(agency):
    return User.objects.create_user(username="ana", password="x", agency=agency, role=User.Role.ANALYST)


class World:
    """Records, entities and their mentions and links, built the way the importer builds them."""

    def __init__(self, agency):
        self.agency = agency
        self.refs = 0

    def record(self) -> Record:
        self.refs += 1
        return Record.objects.create(
            owner=self.agency, external_ref=f"R-{self.refs}", category=Category.SHIPMENT
        )

    def entity(self, resolved: Resolved) -> Entity:
        entity, _ = Entity.objects.get_or_create(
            type=resolved.type, key=resolved.key, defaults={"block": resolved.block}
        )
        return entity

    def mention(self, record: Record, resolved: Resolved, role: str, entity: Entity | None = None) -> Entity:
        entity = entity or self.entity(resolved)
        Mention.objects.create(
            record=record,
            entity=entity,
            role=role,
            properties=resolved.properties,
            resolved_key=resolved.key,
            search_text=resolved.search_text,
        )
        note_names([(entity.pk, resolved)])
        return entity

    def company(self, name: str, country: str = "NL", reg: str | None = None, role: str = Role.IMPORTER):
        record = self.record()
        return self.mention(record, resolve_company(name, country, reg), role), record


@pytest.fixture
def world(agency):
    return World(agency)


def snapshot() -> dict:
    return {
        "mentions": sorted(
            Mention.objects.values_list(
                "id",
                "record_id",
                "entity_id",
                "entity_type",
                "role",
                "properties",
                "resolved_key",
                "search_text",
            ).order_by("id")
        ),
        "links": sorted(
            Link.objects.values_list(
                "id",
                "record_id",
                "source_id",
                "target_id",
                "source_type",
                "target_type",
                "type",
                "properties",
            ).order_by("id")
        ),
        "entities": sorted(Entity.objects.values_list("id", "type", "key", "block", "merged_into_id")),
        "candidates": sorted(
            ResolutionCandidate.objects.values_list(
                "id", "entity_a_id", "entity_b_id", "status", "decided_by_id"
            )
        ),
    }


# --- candidates -----------------------------------------------------------------------


def test_a_typo_in_a_company_name_becomes_one_candidate(world):
    acme, _ = world.company("Acme Trading Ltd")
    typo, _ = world.company("Acme Tradng Ltd")
    assert acme.key != typo.key and acme.block == typo.block

    assert find_candidates([typo.pk]) == 1
    candidate = ResolutionCandidate.objects.get()
    assert (candidate.entity_a_id, candidate.entity_b_id) == (min(acme.pk, typo.pk), max(acme.pk, typo.pk))
    assert candidate.score >= 85
    assert candidate.status == ResolutionCandidate.Status.OPEN
    # Idempotent: a second import batch naming the same entities proposes nothing new.
    assert find_candidates([acme.pk, typo.pk]) == 0
    assert ResolutionCandidate.objects.count() == 1


def test_no_candidate_across_countries(world):
    nl, _ = world.company("Acme Trading Ltd", "NL")
    de, _ = world.company("Acme Tradng Ltd", "DE")
    assert find_candidates([nl.pk, de.pk]) == 0


def test_no_candidate_between_two_different_registration_numbers(world):
    a, _ = world.company("Acme Trading Ltd", "GB", "GB980780684")
    b, _ = world.company("Acme Tradng Ltd", "GB", "GB123456782")
    assert find_candidates([a.pk, b.pk]) == 0
    # A name-keyed spelling of the same company may still be either of them.
    by_name, _ = world.company("ACME Trading Limited", "GB")
    assert find_candidates([by_name.pk]) == 2
    assert set(ResolutionCandidate.objects.values_list("entity_a_id", "entity_b_id")) == {
        tuple(sorted((by_name.pk, a.pk))),
        tuple(sorted((by_name.pk, b.pk))),
    }


def test_no_candidate_for_dissimilar_names_types_without_blocks_or_two_birth_dates(world):
    acme, _ = world.company("Acme Trading Ltd")
    other, _ = world.company("Acme Logistics Holding BV")
    record = world.record()
    john = world.mention(record, resolve_person("John Smith", "NL", "1980-01-01"), Role.SUBJECT)
    jon = world.mention(record, resolve_person("John Smyth", "NL", "1975-06-30"), Role.SUBJECT)
    vessel = world.mention(record, resolve_vessel("9074729", "Acme Trading"), Role.VESSEL)
    assert find_candidates([acme.pk, other.pk, john.pk, jon.pk, vessel.pk]) == 0
    # Without a second date of birth the same pair is a candidate.
    smyth = world.mention(world.record(), resolve_person("John Smyth", "NL"), Role.SUBJECT)
    assert find_candidates([smyth.pk]) == 2


def test_merged_and_rejected_pairs_are_not_proposed_again(world, analyst):
    acme, _ = world.company("Acme Trading Ltd")
    typo, _ = world.company("Acme Tradng Ltd")
    find_candidates([typo.pk])
    reject_candidate(ResolutionCandidate.objects.get(), analyst)
    assert find_candidates([acme.pk, typo.pk]) == 0
    assert ResolutionCandidate.objects.get().status == ResolutionCandidate.Status.REJECTED

    third, _ = world.company("ACME Tradin Ltd")
    merge_entities(acme, third, analyst)
    assert find_candidates([third.pk]) == 0


def test_finding_candidates_reads_only_the_blocks_of_the_batch(world, django_assert_max_num_queries):
    for n in range(30):
        world.company(f"Globex Shipping {n} GmbH")
    acme, _ = world.company("Acme Trading Ltd")
    typo, _ = world.company("Acme Tradng Ltd")
    with django_assert_max_num_queries(6):
        assert find_candidates([acme.pk, typo.pk]) == 1


# --- merge and undo -----------------------------------------------------------------


@pytest.fixture
def pair(world):
    """Acme (survivor) and its typo (to merge), with mentions and links in separate records,
    one record that lists both as importers, and links between them."""
    acme_resolved = resolve_company("Acme Trading Ltd", "NL")
    typo_resolved = resolve_company("Acme Tradng Ltd", "NL")
    acme, _ = world.company("Acme Trading Ltd")
    typo, typo_record = world.company("Acme Tradng Ltd")

    shipment = world.mention(typo_record, resolve_shipment("cus-nl", typo_record.external_ref), Role.SHIPMENT)
    Link.objects.create(record=typo_record, source=shipment, target=typo, type=LinkType.IMPORTED_BY)
    vessel = world.mention(typo_record, resolve_vessel("9074729"), Role.VESSEL)
    Link.objects.create(record=typo_record, source=typo, target=vessel, type=LinkType.OWNS)

    both = world.record()
    world.mention(both, acme_resolved, Role.IMPORTER, acme)
    world.mention(both, typo_resolved, Role.IMPORTER, typo)
    world.mention(both, typo_resolved, Role.CONSIGNEE, typo)
    both_shipment = world.mention(both, resolve_shipment("cus-nl", both.external_ref), Role.SHIPMENT)
    # The record links its shipment to each spelling, and the two spellings to each other.
    Link.objects.create(record=both, source=both_shipment, target=acme, type=LinkType.IMPORTED_BY)
    Link.objects.create(record=both, source=both_shipment, target=typo, type=LinkType.IMPORTED_BY)
    Link.objects.create(record=both, source=acme, target=typo, type=LinkType.POSSIBLY_SAME_AS)
    find_candidates([typo.pk])
    return {
        "acme": acme,
        "typo": typo,
        "typo_record": typo_record,
        "both": both,
        "shipment": shipment,
        "vessel": vessel,
        "candidate": ResolutionCandidate.objects.get(),
    }


def test_merge_moves_mentions_and_links_and_undo_restores_the_prior_state(pair, analyst):
    acme, typo, both = pair["acme"], pair["typo"], pair["both"]
    before = snapshot()

    merge = merge_entities(acme, typo, analyst, candidate=pair["candidate"])

    typo.refresh_from_db()
    assert typo.merged_into_id == acme.pk
    assert not Mention.objects.filter(entity=typo).exists()
    assert not Link.objects.filter(source=typo).exists() and not Link.objects.filter(target=typo).exists()
    # The typo record's mention and both its links now speak of the survivor.
    assert Mention.objects.filter(record=pair["typo_record"], entity=acme, role=Role.IMPORTER).exists()
    assert Link.objects.filter(source=pair["shipment"], target=acme, type=LinkType.IMPORTED_BY).exists()
    assert Link.objects.filter(source=acme, target=pair["vessel"], type=LinkType.OWNS).exists()
    # The record that named both as importer names the survivor once, as it stated it;
    # its consignee mention of the typo moved.
    assert list(
        Mention.objects.filter(record=both, role=Role.IMPORTER).values_list("entity_id", flat=True)
    ) == [acme.pk]
    assert Mention.objects.get(record=both, role=Role.IMPORTER).resolved_key == acme.key
    assert Mention.objects.filter(record=both, role=Role.CONSIGNEE, entity=acme).exists()
    assert Link.objects.filter(record=both, type=LinkType.IMPORTED_BY).count() == 1
    assert not Link.objects.filter(record=both, type=LinkType.POSSIBLY_SAME_AS).exists()

    collapsed = next(item for item in merge.moved_mentions if "removed" in item)
    assert collapsed["kept"] == Mention.objects.get(record=both, role=Role.IMPORTER).pk
    candidate = ResolutionCandidate.objects.get(pk=pair["candidate"].pk)
    assert candidate.status == ResolutionCandidate.Status.MERGED
    assert candidate.decided_by == analyst and candidate.decided_at is not None

    event = AuditEvent.objects.get(action="entity.merge")
    assert event.object_id == str(merge.pk) and event.actor_id == analyst.pk
    assert event.details["survivor"] == acme.pk and event.details["merged"] == typo.pk
    assert event.details["mentions_moved"] == 2 and event.details["mentions_removed"] == 1
    assert event.details["links_moved"] == 2 and event.details["links_removed"] == 2

    undo_merge(merge, analyst)

    assert snapshot() == before
    merge.refresh_from_db()
    assert merge.undone_by == analyst and merge.undone_at is not None
    undone = AuditEvent.objects.get(action="entity.merge_undone")
    assert undone.object_id == str(merge.pk) and undone.actor_id == analyst.pk
    assert list(verify_chain()) == []


def test_undo_twice_is_refused(pair, analyst):
    merge = merge_entities(pair["acme"], pair["typo"], analyst)
    undo_merge(merge, analyst)
    after_first_undo = snapshot()
    with pytest.raises(ValidationError, match="already undone"):
        undo_merge(EntityMerge.objects.get(pk=merge.pk), analyst)
    assert snapshot() == after_first_undo
    assert AuditEvent.objects.filter(action="entity.merge_undone").count() == 1


def test_merge_without_a_candidate_decides_the_pairs_open_candidate(pair, analyst):
    merge = merge_entities(pair["acme"], pair["typo"], analyst)
    assert merge.candidate_id == pair["candidate"].pk
    assert ResolutionCandidate.objects.get().status == ResolutionCandidate.Status.MERGED
    undo_merge(merge, analyst)
    assert ResolutionCandidate.objects.get().status == ResolutionCandidate.Status.OPEN


def test_merges_that_make_no_sense_are_refused(pair, world, analyst):
    acme, typo = pair["acme"], pair["typo"]
    before = snapshot()
    with pytest.raises(ValidationError, match="into itself"):
        merge_entities(acme, acme, analyst)
    with pytest.raises(ValidationError, match="one type"):
        merge_entities(acme, pair["vessel"], analyst)
    assert snapshot() == before

    other, _ = world.company("Acme Trade Ltd")
    merge_entities(acme, typo, analyst)
    with pytest.raises(ValidationError, match="already merged"):
        merge_entities(other, typo, analyst)
    with pytest.raises(ValidationError, match="itself merged"):
        merge_entities(typo, other, analyst)
    with pytest.raises(ValidationError, match="not about these two"):
        merge_entities(acme, other, analyst, candidate=pair["candidate"])
    assert AuditEvent.objects.filter(action="entity.merge").count() == 1


def test_chained_merges_undo_in_reverse_order(pair, world, analyst):
    acme, typo = pair["acme"], pair["typo"]
    third, _ = world.company("ACME Trading Company Ltd")
    before = snapshot()
    first = merge_entities(typo, acme, analyst)
    second = merge_entities(third, typo, analyst)
    with pytest.raises(ValidationError, match="undo that merge first"):
        undo_merge(first, analyst)
    undo_merge(second, analyst)
    undo_merge(first, analyst)
    assert snapshot() == before


def test_undo_returns_what_was_imported_under_the_merged_key_while_the_merge_stood(pair, world, analyst):
    acme, typo = pair["acme"], pair["typo"]
    merge = merge_entities(acme, typo, analyst)
    # The importer writes a new record naming the typo's key on the survivor, as merged_into says.
    record = world.record()
    world.mention(record, resolve_company("Acme Tradng Ltd", "NL"), Role.IMPORTER, acme)
    shipment = world.mention(record, resolve_shipment("cus-nl", record.external_ref), Role.SHIPMENT)
    Link.objects.create(record=record, source=shipment, target=acme, type=LinkType.IMPORTED_BY)

    undo_merge(merge, analyst)

    assert Mention.objects.get(record=record, role=Role.IMPORTER).entity_id == typo.pk
    assert Link.objects.get(record=record).target_id == typo.pk


# --- rejection --------------------------------------------------------------------------


def test_reject_candidate_is_recorded_and_audited(pair, analyst):
    candidate = pair["candidate"]
    reject_candidate(candidate, analyst)
    candidate.refresh_from_db()
    assert candidate.status == ResolutionCandidate.Status.REJECTED
    assert candidate.decided_by == analyst and candidate.decided_at is not None
    event = AuditEvent.objects.get(action="entity.candidate_rejected")
    assert event.object_id == str(candidate.pk)
    assert event.details == {
        "entity_a": candidate.entity_a_id,
        "entity_b": candidate.entity_b_id,
        "score": candidate.score,
    }
    with pytest.raises(ValidationError, match="already rejected"):
        reject_candidate(candidate, analyst)
    with pytest.raises(ValidationError, match="already rejected"):
        merge_entities(pair["acme"], pair["typo"], analyst, candidate=candidate)
