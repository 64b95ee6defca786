"""The one rule, against an independent oracle: for every generated user and every read
endpoint, the response holds exactly what the owning agency and the unexpired grants
allow, no more and no less.

The oracle below is computed from the generated scenario alone, in plain Python; it
never calls the choke point (`visible_to`) it checks.
"""

import csv
import io
import json
from dataclasses import dataclass
from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.auth.models import Permission
from django.db import transaction
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from agencies.models import Agency, User
from intel import querysets as intel_querysets
from intel import selectors as intel_selectors
from intel.models import Entity, Link, Mention, Record, RecordGroupObjectPermission, ResolutionCandidate
from intel.rights import grant_owner_rights

ENTITY_TYPES = ["company", "person", "vessel", "phone"]
ROLES = ["importer", "broker", "carrier"]
LINK_TYPES = ["IMPORTED_BY", "BROKERED_BY", "CONTACT"]
NAMES = ["alpha shipping", "beta freight", "gamma trade", "delta logistics", "epsilon marine"]
# A list, like a walk's nodes, names each entity from its ten latest visible mentions (latest
# record first, then by role), not from all of them: a trader at the centre of a trade has
# thousands.
LISTED_NAMES_FROM = 10


@dataclass(frozen=True)
class Scenario:
    agencies: int
    records: list  # (owner, category)
    entities: list  # (type, name index)
    mentions: list  # (record, entity, role, name index, states_key)
    links: list  # (record, source, target, type)
    grants: list  # (record, agency, expiry: "none" | "past" | "future")
    candidates: list  # (entity, entity), first < second


@st.composite
def scenarios(draw) -> Scenario:
    agencies = draw(st.integers(2, 4))
    records = draw(
        st.lists(
            st.tuples(st.integers(0, agencies - 1), st.sampled_from(["shipment", "seizure"])),
            min_size=1,
            max_size=8,
        )
    )
    entities = draw(
        st.lists(
            st.tuples(st.sampled_from(ENTITY_TYPES), st.integers(0, len(NAMES) - 1)), min_size=1, max_size=6
        )
    )
    record_ix = st.integers(0, len(records) - 1)
    entity_ix = st.integers(0, len(entities) - 1)
    mentions = draw(
        st.lists(
            st.tuples(
                record_ix, entity_ix, st.sampled_from(ROLES), st.integers(0, len(NAMES) - 1), st.booleans()
            ),
            max_size=14,
            unique_by=lambda m: (m[0], m[1], m[2]),
        )
    )
    links = draw(
        st.lists(
            st.tuples(record_ix, entity_ix, entity_ix, st.sampled_from(LINK_TYPES)),
            max_size=8,
            unique_by=lambda link: link,
        ).map(lambda links: [link for link in links if link[1] != link[2]])
    )
    grants = draw(
        st.lists(
            st.tuples(record_ix, st.integers(0, agencies - 1), st.sampled_from(["none", "past", "future"])),
            max_size=6,
            unique_by=lambda g: (g[0], g[1]),
        )
    )
    candidates = draw(
        st.lists(st.tuples(entity_ix, entity_ix), max_size=4).map(
            lambda pairs: sorted({(min(a, b), max(a, b)) for a, b in pairs if a != b})
        )
    )
    return Scenario(agencies, records, entities, mentions, links, grants, candidates)


class Oracle:
    """What each agency may see, from the scenario's own lists."""

    def __init__(self, scenario: Scenario):
        self.scenario = scenario

    def records(self, agency: int) -> set[int]:
        owned = {i for i, (owner, _) in enumerate(self.scenario.records) if owner == agency}
        granted = {r for r, a, expiry in self.scenario.grants if a == agency and expiry != "past"}
        return owned | granted

    def mentions(self, agency: int) -> list[tuple]:
        visible = self.records(agency)
        return [m for m in self.scenario.mentions if m[0] in visible]

    def entities(self, agency: int) -> set[int]:
        return {m[1] for m in self.mentions(agency)}

    def names(self, agency: int, entity: int) -> set[str]:
        return {NAMES[m[3]] for m in self.mentions(agency) if m[1] == entity}

    def listed_names(self, agency: int, entity: int) -> set[str]:
        mentions = [m for m in self.mentions(agency) if m[1] == entity]
        latest = sorted(mentions, key=lambda m: (-m[0], m[2]))[:LISTED_NAMES_FROM]
        return {NAMES[m[3]] for m in latest}

    def key_shown(self, agency: int, entity: int) -> bool:
        return any(m[4] for m in self.mentions(agency) if m[1] == entity)

    def candidates(self, agency: int) -> set[int]:
        """Pairs offered: a name the agency's mentions give one entity is one they give the
        other. The NAMES are far apart (no two near the threshold), a shared one scores 100."""
        return {
            i
            for i, (a, b) in enumerate(self.scenario.candidates)
            if self.names(agency, a) & self.names(agency, b)
        }

    def links(self, agency: int) -> set[int]:
        visible = self.records(agency)
        return {i for i, link in enumerate(self.scenario.links) if link[0] in visible}


def build(scenario: Scenario):
    now = timezone.now()
    agencies = [
        Agency.objects.create(code=f"ag{i}", name=f"Agency {i}", country="NL", kind="customs")
        for i in range(scenario.agencies)
    ]
    users = [
        User.objects.create(username=f"user{i}", agency=agency, role=User.Role.ANALYST)
        for i, agency in enumerate(agencies)
    ]
    records = [
        Record.objects.create(owner=agencies[owner], external_ref=f"R{i}", category=category)
        for i, (owner, category) in enumerate(scenario.records)
    ]
    grant_owner_rights(records)
    entities = [
        Entity.objects.create(type=entity_type, key=f"{entity_type}:{i}:{NAMES[name]}")
        for i, (entity_type, name) in enumerate(scenario.entities)
    ]
    for record, entity, role, name, states_key in scenario.mentions:
        Mention.objects.create(
            record=records[record],
            entity=entities[entity],
            role=role,
            properties={"name": NAMES[name]},
            resolved_key=entities[entity].key if states_key else f"other:{record}:{entity}",
            search_text=NAMES[name],
        )
    links = [
        Link.objects.create(record=records[r], source=entities[s], target=entities[t], type=link_type)
        for r, s, t, link_type in scenario.links
    ]
    view = Permission.objects.get(codename="view_record", content_type__app_label="intel")
    expiries = {"none": None, "past": now - timedelta(minutes=1), "future": now + timedelta(days=1)}
    for record, agency, expiry in scenario.grants:
        RecordGroupObjectPermission.objects.create(
            content_object=records[record],
            group=agencies[agency].group,
            permission=view,
            expires_at=expiries[expiry],
        )
    candidates = [
        ResolutionCandidate.objects.create(entity_a=entities[a], entity_b=entities[b], score=90.0)
        for a, b in scenario.candidates
    ]
    return users, records, entities, links, candidates


def fetch_all(client: APIClient, url: str, **params: str) -> tuple[list[dict], int]:
    response = client.get(url, {"page_size": 1000, **params})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["next"] is None
    return body["results"], body["count"]


def page_by_page(
    client: APIClient, url: str, page_size: int, expected: list[str], *, counted_to: int, **params: str
) -> None:
    """Follows the list page by page: together the pages hold exactly `expected`, and the
    first page's count is exact up to `counted_to` (or the first page's end, past it)."""
    shown, page = [], 1
    while True:
        body = client.get(url, {"page": page, "page_size": page_size, **params}).json()
        if page == 1:
            counted = max(counted_to, page_size)
            assert (body["count"], body["count_exact"]) == (
                min(len(expected), counted),
                len(expected) <= counted,
            )
        shown += [row["id"] for row in body["results"]]
        if body["next"] is None:
            break
        page += 1
    assert sorted(shown) == sorted(expected)


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios())
def test_every_read_endpoint_shows_exactly_what_the_oracle_allows(scenario):
    with transaction.atomic():
        users, records, entities, links, candidates = build(scenario)
        oracle = Oracle(scenario)
        # The ids the API must answer with: each object's own public id, never its key.
        record_id = {i: str(r.public_id) for i, r in enumerate(records)}
        entity_id = {i: str(e.public_id) for i, e in enumerate(entities)}
        link_id = {i: str(link.public_id) for i, link in enumerate(links)}
        client = APIClient()
        for agency, user in enumerate(users):
            client.force_authenticate(user)
            expected_records = {record_id[i] for i in oracle.records(agency)}

            rows, count = fetch_all(client, "/api/records/")
            assert {row["id"] for row in rows} == expected_records
            assert count == len(expected_records)
            exported = client.get("/api/records/export/")
            rows = list(csv.DictReader(io.StringIO(b"".join(exported.streaming_content).decode())))
            assert {row["id"] for row in rows} == expected_records
            # Each exported record's mentions and links, read for a chunk of records at once.
            index_of = {public_id: i for i, public_id in record_id.items()}
            for row in rows:
                i = index_of[row["id"]]
                stated = {(entity_id[m[1]], m[2]) for m in scenario.mentions if m[0] == i}
                assert {(m["entity"], m["role"]) for m in json.loads(row["mentions"])} == stated
                assert {link["id"] for link in json.loads(row["links"])} == {
                    link_id[j] for j in oracle.links(agency) if scenario.links[j][0] == i
                }
            for i, record in enumerate(records):
                response = client.get(f"/api/records/{record.public_id}/")
                assert response.status_code == (200 if record_id[i] in expected_records else 404)
                # Writing: invisible records do not exist for the caller; visible ones of other
                # agencies exist but are not theirs to change.
                owned = scenario.records[i][0] == agency
                expected_write = 200 if owned else (403 if record_id[i] in expected_records else 404)
                assert (
                    client.patch(f"/api/records/{record.public_id}/", {}, format="json").status_code
                    == expected_write
                )
                if response.status_code == 200:
                    stated = {(m[1], m[2]) for m in scenario.mentions if m[0] == i}
                    shown = {(e, m["role"]) for m in response.json()["mentions"] for e in [m["entity"]]}
                    assert shown == {(entity_id[e], role) for e, role in stated}

            expected_entities = {entity_id[i] for i in oracle.entities(agency)}
            rows, count = fetch_all(client, "/api/entities/")
            assert {row["id"] for row in rows} == expected_entities
            assert count == len(expected_entities)
            by_id = {row["id"]: row for row in rows}
            for i, entity in enumerate(entities):
                response = client.get(f"/api/entities/{entity.public_id}/")
                assert response.status_code == (200 if entity_id[i] in expected_entities else 404)
                if entity_id[i] not in expected_entities:
                    continue
                assert set(by_id[entity_id[i]]["names"]) == oracle.listed_names(agency, i)
                assert (by_id[entity_id[i]]["key"] is not None) == oracle.key_shown(agency, i)
                detail = response.json()
                assert {m["record"] for m in detail["mentions"]} == {
                    record_id[m[0]] for m in oracle.mentions(agency) if m[1] == i
                }

            rows, count = fetch_all(client, "/api/links/")
            assert {row["id"] for row in rows} == {link_id[i] for i in oracle.links(agency)}
            assert count == len(oracle.links(agency))

            expected_candidates = {str(candidates[i].public_id) for i in oracle.candidates(agency)}
            rows, count = fetch_all(client, "/api/candidates/")
            assert {row["id"] for row in rows} == expected_candidates
            for candidate in candidates:
                response = client.get(f"/api/candidates/{candidate.public_id}/")
                assert response.status_code == (
                    200 if str(candidate.public_id) in expected_candidates else 404
                )

            for name_index, name in enumerate(NAMES):
                rows, _ = fetch_all(client, "/api/search/", q=name.split()[0])
                expected = {entity_id[m[1]] for m in oracle.mentions(agency) if m[3] == name_index}
                assert {row["id"] for row in rows} == expected
        transaction.set_rollback(True)


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scenario=scenarios(),
    page_size=st.integers(1, 3),
    busy_entities=st.integers(0, 2),
    narrowing_entities=st.integers(1, 3),
    links_listed=st.integers(0, 2),
    link_end=st.sampled_from([("source", (1,)), ("target", (2,)), ("entity", (1, 2))]),
)
def test_small_pages_and_each_entitys_latest_mention_are_what_the_oracle_allows(
    scenario, page_size, busy_entities, narrowing_entities, links_listed, link_end
):
    """The paths that read less than everything, where hidden rows lie between visible ones:
    records page by page (their keys first, then their rows by key) with the count stopping
    at PAGINATION_COUNT_LIMIT (or a first page's end past it), searches page by page with the
    count stopping at ENTITY_COUNT_LIMIT, and each entity named by its
    most recent visible mention alone (ENTITY_MENTIONS_SHOWN = 1, and LABEL_MENTIONS = 1 for
    a list: the walk down the entity's mentions that stops at the limit), in a list of every
    entity and in its detail, with its mentions counted; and the links of each entity (from
    it, to it or either, drawn), page by page, named by id or (past LINKS_ENDING_LISTED) by
    condition."""
    with (
        transaction.atomic(),
        override_settings(PAGINATION_COUNT_LIMIT=2, ENTITY_COUNT_LIMIT=3, ENTITY_MENTIONS_SHOWN=1),
        mock.patch.object(intel_selectors, "LABEL_MENTIONS", 1),
        # No text is rare here: each is taken for a common word (found by walking every
        # entity) or a few busy entities' name (theirs listed, or walked past the listing's
        # limit), where the first test's texts are all rare (only their entities asked).
        mock.patch.object(intel_selectors, "SEARCH_NARROWING_MENTIONS", 1),
        mock.patch.object(intel_selectors, "SEARCH_BUSY_ENTITIES", busy_entities),
        mock.patch.object(intel_selectors, "SEARCH_NARROWING_ENTITIES", narrowing_entities),
        mock.patch.object(intel_querysets, "LINKS_ENDING_LISTED", links_listed),
    ):
        users, records, entities, links, _ = build(scenario)
        oracle = Oracle(scenario)
        client = APIClient()
        for agency, user in enumerate(users):
            client.force_authenticate(user)
            expected = [str(records[i].public_id) for i in oracle.records(agency)]
            page_by_page(client, "/api/records/", page_size, expected, counted_to=2)

            rows, _ = fetch_all(client, "/api/entities/")
            listed = {row["id"]: row for row in rows}
            assert set(listed) == {str(entities[i].public_id) for i in oracle.entities(agency)}
            for i in oracle.entities(agency):
                # Records were made in the scenario's order: a later one has the larger key.
                theirs = sorted(
                    (m for m in oracle.mentions(agency) if m[1] == i), key=lambda m: (-m[0], m[2])
                )
                latest = theirs[0]
                assert listed[str(entities[i].public_id)]["names"] == [NAMES[latest[3]]]
                assert listed[str(entities[i].public_id)]["mention_count"] == 1
                detail = client.get(f"/api/entities/{entities[i].public_id}/").json()
                assert [(m["record"], m["role"]) for m in detail["mentions"]] == [
                    (str(records[latest[0]].public_id), latest[2])
                ]
                assert (detail["mention_count"], detail["mention_count_exact"]) == (
                    min(len(theirs), 2),
                    len(theirs) <= 2,
                )
            name, ends = link_end
            for i, entity in enumerate(entities):
                expected = [
                    str(links[j].public_id)
                    for j in oracle.links(agency)
                    if any(scenario.links[j][end] == i for end in ends)
                ]
                page_by_page(
                    client, "/api/links/", page_size, expected, counted_to=2, **{name: str(entity.public_id)}
                )
            for name_index, name in enumerate(NAMES):
                named = {m[1] for m in oracle.mentions(agency) if m[3] == name_index}
                expected = [str(entities[i].public_id) for i in named]
                # A search counts to its own limit, not the lists' one.
                page_by_page(client, "/api/search/", page_size, expected, counted_to=3, q=name.split()[0])
        transaction.set_rollback(True)


@pytest.mark.django_db
def test_a_user_without_an_agency_sees_nothing_and_anonymous_is_refused(client):
    owner = Agency.objects.create(code="own", name="Owner", country="NL", kind="customs")
    Record.objects.create(owner=owner, external_ref="R1", category="shipment")
    loner = User.objects.create(username="loner")
    api = APIClient()
    assert api.get("/api/records/").status_code in (401, 403)
    api.force_authenticate(loner)
    assert api.get("/api/records/").json()["count"] == 0


@pytest.mark.django_db
def test_reads_of_another_agencys_record_are_audited_and_own_reads_are_not():
    from audit.models import AuditEvent

    owner = Agency.objects.create(code="own", name="Owner", country="NL", kind="customs")
    partner = Agency.objects.create(code="par", name="Partner", country="BE", kind="police")
    record = Record.objects.create(owner=owner, external_ref="R1", category="shipment")
    view = Permission.objects.get(codename="view_record", content_type__app_label="intel")
    RecordGroupObjectPermission.objects.create(content_object=record, group=partner.group, permission=view)
    api = APIClient()
    api.force_authenticate(User.objects.create(username="o", agency=owner, role="analyst"))
    assert api.get(f"/api/records/{record.public_id}/").status_code == 200
    assert not AuditEvent.objects.filter(action="record.read").exists()
    reader = User.objects.create(username="p", agency=partner, role="analyst")
    api.force_authenticate(reader)
    assert api.get(f"/api/records/{record.public_id}/").status_code == 200
    event = AuditEvent.objects.get(action="record.read")
    assert (event.actor_id, event.agency_id, event.object_id) == (reader.pk, partner.pk, str(record.pk))


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios())
def test_viewer_agencies_is_the_same_rule_turned_around(scenario):
    """The graph stores who may see each element from `viewer_agencies`; it must agree with
    the oracle for every record."""
    with transaction.atomic():
        users, records, *_ = build(scenario)
        oracle = Oracle(scenario)
        viewers = Record.objects.filter(pk__in=[r.pk for r in records]).viewer_agencies()
        for i, record in enumerate(records):
            expected = {users[a].agency_id for a in range(scenario.agencies) if i in oracle.records(a)}
            assert viewers[record.pk] == expected
        transaction.set_rollback(True)
