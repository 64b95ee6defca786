"""Attacks on the analyst's workspace (its pages, cases, the chart's holdings question), on
real PostgreSQL. The world is tests/workspace_scene.py, written out there; what each attack
expects is read off it by hand, not from the code under test:

    cus sees its own WS-1..3 and none of pol's; MOU-1 (cus <-> pol, discovery allowed)
    permits risk assessment and investigation only, so pol's seizure PZ-1 naming the broker
    is a hit for cus, which cus may ask to see for those purposes and no other.
"""

import itertools
import re
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from agencies.models import User
from audit.models import AuditEvent
from cases.models import Case
from cases.services import create_case, share_case
from graph import jobs
from graph.models import AnalyticsResult
from intel.import_writing import import_file
from intel.models import Link, Mention, Record
from sharing import agreements, releases
from sharing.models import DisclosureRequest
from tests.auth_helpers import signed_in
from tests.sharing_helpers import in_force, platform_admin
from tests.workspace_scene import HEADER, build

pytestmark = pytest.mark.django_db

DISCLOSURE_FORM = {
    "owner": "pol",
    "urgency": "urgent",
    "justification": "same broker as our fish",
    "purpose": "investigation",
}


@pytest.fixture
def scene(tmp_path):
    return build(tmp_path)


def page_client(user, *, csrf: bool = False) -> Client:
    return signed_in(Client(enforce_csrf_checks=csrf), user)


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def json_text(client, method: str, url: str, text: str):
    """A JSON body sent as written: escapes such as a lone surrogate pass as they are."""
    return getattr(client, method)(url, data=text.encode(), content_type="application/json")


# --- hostile input on the page forms -------------------------------------------------------


@pytest.mark.parametrize("field", sorted(DISCLOSURE_FORM))
def test_a_nul_character_in_the_disclosure_form_is_a_400_naming_the_field(scene, field):
    client = page_client(scene.cus.analyst)
    response = client.post(
        f"/entities/{scene.broker.public_id}/disclosure/", {**DISCLOSURE_FORM, field: "in\x00vestigation"}
    )
    assert response.status_code == 400
    assert f"{field}: " in response.content.decode()
    assert not DisclosureRequest.objects.exists()


# --- hostile input in a chart ---------------------------------------------------------------


@pytest.mark.parametrize(
    "chart",
    [
        '{"filters": {"types": "\\ud800"}}',
        '{"filters": {"\\udfff": 1}}',
        '{"layout": "fcose\\ud800"}',
        '{"layout": {"options": [{"name": "\\udc00"}]}}',
    ],
    ids=["a filter's value", "a filter's name", "a layout's name", "deep in a layout"],
)
def test_a_lone_surrogate_in_a_chart_is_a_400_naming_the_chart(scene, chart):
    client = api(scene.cus.analyst)
    created = json_text(client, "post", "/api/cases/", f'{{"name": "ring", "chart": {chart}}}')
    assert created.status_code == 400, created.content
    assert list(created.json()) == ["chart"] and "surrogate" in created.json()["chart"][0]
    assert not Case.objects.exists()

    saved = client.post("/api/cases/", {"name": "ring"}, format="json").json()
    changed = json_text(client, "patch", f"/api/cases/{saved['id']}/", f'{{"chart": {chart}}}')
    assert changed.status_code == 400 and list(changed.json()) == ["chart"]
    assert Case.objects.get().chart["filters"] == {}


def test_a_surrogate_pair_in_a_chart_is_a_character_like_any_other(scene):
    client = api(scene.cus.analyst)
    created = json_text(
        client, "post", "/api/cases/", '{"name": "ring", "chart": {"layout": "\\ud83d\\udea2"}}'
    )
    assert created.status_code == 201, created.content
    assert Case.objects.get().chart["layout"] == "\N{SHIP}"


@pytest.mark.parametrize(
    "spelling",
    [
        lambda u: u.replace("-", "_"),
        lambda u: u.replace("-", " "),
        lambda u: u.replace("-", "."),
        lambda u: u.upper().replace("-", ""),
        lambda u: "".join(chr(ord(c) + 0xFEE0) for c in u),
        lambda u: f"urn:uuid:{{{u}}}",
    ],
    ids=["underscores", "spaces", "dots", "upper case, no dashes", "full width", "urn"],
)
def test_a_chart_setting_names_no_entity_however_its_id_is_spelled(scene, spelling):
    spelled = spelling(str(scene.broker.public_id))
    for setting in (
        {"filters": {"selected": [spelled]}},
        {"layout": {"focus": spelled}},
        {"layout": spelled},
    ):
        response = api(scene.cus.analyst).post(
            "/api/cases/", {"name": "ring", "chart": setting}, format="json"
        )
        assert response.status_code == 400 and list(response.json()) == ["chart"], (setting, response.content)
        assert "may not name entities" in response.json()["chart"][0]
    assert not Case.objects.exists()


# --- purpose forgery --------------------------------------------------------------------------


def test_a_disclosure_is_requested_only_for_a_purpose_the_discovery_agreement_permits(scene):
    # An agreement that permits prosecution but allows no discovery lends no purpose to one that does.
    in_force(
        (scene.cus, True, True),
        (scene.pol, True, True),
        reference="MOU-3",
        purposes=("prosecution",),
        categories=("inspection",),
    )
    client = page_client(scene.cus.analyst)
    url = f"/entities/{scene.broker.public_id}/disclosure/"
    for forged in ("prosecution", "intelligence"):
        page = client.post(url, {**DISCLOSURE_FORM, "purpose": forged})
        assert page.status_code == 400 and "purpose: " in page.content.decode(), forged
        answer = api(scene.cus.analyst).post(
            "/api/requests/",
            {
                **DISCLOSURE_FORM,
                "purpose": forged,
                "entity": str(scene.broker.public_id),
            },
            format="json",
        )
        assert answer.status_code == 400 and list(answer.json()) == ["purpose"], answer.content
    assert not DisclosureRequest.objects.exists()

    for permitted in ("investigation", "risk_assessment"):
        assert client.post(url, {**DISCLOSURE_FORM, "purpose": permitted}).status_code == 302
    assert sorted(DisclosureRequest.objects.values_list("purpose", flat=True)) == [
        "investigation",
        "risk_assessment",
    ]


# --- a stored analysis after the agreement it read under stops ------------------------------


def section(html: str, name: str) -> str:
    start = html.index(f'id="{name}"')
    return html[start : html.index("</section>", start)]


def pol_record(scene, tmp_path, row: str) -> None:
    path = tmp_path / f"{row[:4]}.csv"
    path.write_text(HEADER + row + "\n")
    import_file(path, scene.pol.agency)
    releases.set_releasability(
        Record.objects.get(external_ref=row.split(",")[0]), scene.pol.analyst, "covering"
    )


def risk_computed_for_cus(scene) -> Client:
    client = page_client(scene.cus.analyst)
    session = client.session
    session["purpose"] = "investigation"
    session.save()
    url = f"/entities/{scene.broker.public_id}/analyse/"
    assert client.post(url, {"operation": "network_risk"}).status_code == 302
    jobs.run_analysis(AnalyticsResult.objects.get(operation="network_risk").pk)
    return client


def risk_told(client, entity_ids) -> tuple[set, set]:
    """Over these entities' dossiers: those called seized, and the steps of the risk paths."""
    seeds, steps = set(), set()
    for public_id in entity_ids:
        risk = section(client.get(f"/entities/{public_id}/").content.decode(), "risk")
        if "Named in a seizure record" in risk:
            seeds.add(public_id)
        for shown in re.findall(r"<li>(.*?)</li>", risk.split('class="paths"')[-1], re.S):
            ids = [uuid.UUID(i) for i in re.findall(r'href="/entities/([0-9a-f-]{36})/', shown)]
            steps |= {frozenset(pair) for pair in itertools.pairwise(ids)}
    return seeds, steps


def cus_own(scene) -> tuple[set, set, set]:
    """What cus's own records state: the entities, those a seizure names, the linked pairs."""
    own = {"record__owner": scene.cus.agency}
    seen = set(Mention.objects.filter(**own).values_list("entity__public_id", flat=True))
    seized = set(
        Mention.objects.filter(**own, record__category="seizure").values_list("entity__public_id", flat=True)
    )
    linked = {
        frozenset(pair)
        for pair in Link.objects.filter(**own).values_list("source__public_id", "target__public_id")
    }
    return seen, seized, linked


def test_a_stored_risk_calls_seized_only_what_a_seizure_the_reader_sees_names(scene):
    """pol's seizure PZ-1 names the broker: while MOU-S lets cus read pol's seizures, the
    broker is a seed of cus's risk. MOU-S suspended, cus sees its own records only, and no
    seizure of its own names the broker."""
    seizures = in_force(
        (scene.pol, True, False), (scene.cus, False, True), reference="MOU-S", categories=("seizure",)
    )
    client = risk_computed_for_cus(scene)
    seen, seized, _ = cus_own(scene)
    assert scene.broker.public_id in risk_told(client, seen)[0]

    agreements.suspend(seizures, platform_admin(), "the partner asked")
    assert risk_told(client, seen)[0] <= seized


def test_a_stored_risk_walks_only_links_the_reader_sees(scene, tmp_path):
    """pol's shipment PS-1 registers the broker at the fish importer's address (seized in
    cus's WS-3): while MOU-1 lets cus read pol's shipments, a path from that address reaches
    the broker over PS-1's link. MOU-1 suspended, every step of a path shown must be a link
    of cus's own records."""
    pol_record(
        scene,
        tmp_path,
        "PS-1,shipment,restricted,2026-04-03,pol shipment,Quay Brokers BV,NL,1 Quay Street,3011 AB,,,,,,",
    )
    client = risk_computed_for_cus(scene)
    seen, _, linked = cus_own(scene)
    assert risk_told(client, seen)[1] - linked, "the test can tell: a path walks PS-1's link"

    agreements.suspend(scene.mou, platform_admin(), "the partner asked")
    assert risk_told(client, seen)[1] <= linked


# --- hit/no-hit counts ---------------------------------------------------------------------


def test_a_hit_counts_a_record_named_only_to_another_agreement_never(scene, tmp_path):
    """pol's seizure PZ-9 names the broker and is released by name to MOU-2 alone, which
    allows no discovery; pol's shipment PS-9 (naming no one cus charts) is released by name
    to MOU-1. So of pol's records on the broker, MOU-1's discovery counts PZ-1 (released to
    every covering agreement) and nothing else: a release by name of one record is no
    release of another."""
    pol_record(
        scene,
        tmp_path,
        "PZ-9,seizure,restricted,2026-04-04,kept for MOU-2,,,,,Quay Brokers BV,NL,,,,tobacco",
    )
    pol_record(scene, tmp_path, "PS-9,shipment,restricted,2026-04-05,named to MOU-1,Elsewhere BV,NL,,,,,,,,")
    releases.set_releasability(
        Record.objects.get(external_ref="PZ-9"), scene.pol.analyst, "named", [scene.long_mou]
    )
    releases.set_releasability(
        Record.objects.get(external_ref="PS-9"), scene.pol.analyst, "named", [scene.mou]
    )

    expected = [
        {"agency": "pol", "agency_name": "POL", "count": 1, "purposes": ["investigation", "risk_assessment"]}
    ]
    held = api(scene.cus.analyst).post(
        "/api/discovery/holdings/", {"entities": [str(scene.broker.public_id)]}, format="json"
    )
    assert held.json()["holdings"] == [{"entity": str(scene.broker.public_id), "partners": expected}]
    assert api(scene.cus.analyst).get(f"/api/entities/{scene.broker.public_id}/discovery/").json() == expected
    page = page_client(scene.cus.analyst).get(f"/entities/{scene.broker.public_id}/").content.decode()
    assert "holds <strong>1</strong> record on this entity" in page

    assert (
        page_client(scene.cus.analyst)
        .post(f"/entities/{scene.broker.public_id}/disclosure/", DISCLOSURE_FORM)
        .status_code
        == 302
    )
    assert list(DisclosureRequest.objects.get().records.values_list("external_ref", flat=True)) == ["PZ-1"]


# --- the chart's holdings question ------------------------------------------------------------


@pytest.mark.parametrize(
    "entities", [[1], [True], [{"id": 1}], [None]], ids=["int", "bool", "object", "null"]
)
def test_holdings_take_entity_ids_as_text_only(scene, entities):
    # A number is no public id: DRF's UUIDField would read 1 as 00000000-...-0001.
    response = api(scene.cus.analyst).post("/api/discovery/holdings/", {"entities": entities}, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()) == ["entities"]


# --- cases: another agency, forms without their token, many rows ------------------------------


@pytest.mark.parametrize(
    "action",
    [None, {"action": "delete"}, {"action": "share", "shared_with": ["pol-liaison"]}, {"name": "mine now"}],
    ids=["open", "delete", "share", "rename"],
)
def test_a_case_page_of_another_agency_is_the_404_of_a_missing_one(scene, action):
    case = create_case(scene.cus.analyst, name="Broker ring", notes="watch the broker")
    for outsider in (scene.pol.analyst, scene.pol.liaison, scene.pol.admin, scene.cus.liaison):
        client = page_client(outsider)
        answers = []
        for case_id in (case.public_id, uuid.uuid4()):
            url = f"/cases/{case_id}/"
            response = client.get(url) if action is None else client.post(url, action)
            answers.append((response.status_code, response.content))
        assert answers[0] == answers[1] and answers[0][0] == 404, outsider
    kept = Case.objects.get()
    assert (kept.name, kept.notes, list(kept.shared_with.all())) == ("Broker ring", "watch the broker", [])


def test_the_forms_and_the_api_refuse_a_post_without_the_csrf_token(scene):
    case = create_case(scene.cus.analyst, name="Broker ring")
    client = page_client(scene.cus.analyst, csrf=True)
    entity = f"/entities/{scene.broker.public_id}/"
    posts = [
        (f"{entity}disclosure/", DISCLOSURE_FORM),
        (f"{entity}analyse/", {"operation": "communities"}),
        ("/cases/", {"name": "forged"}),
        (f"/cases/{case.public_id}/", {"action": "delete"}),
    ]
    for url, body in posts:
        assert client.post(url, body).status_code == 403, url
    for url, body in (("/api/cases/", {"name": "forged"}), ("/api/discovery/holdings/", {"entities": []})):
        assert client.post(url, body, content_type="application/json").status_code == 403, url
    assert list(Case.objects.values_list("name", flat=True)) == ["Broker ring"]
    assert not DisclosureRequest.objects.exists() and not AnalyticsResult.objects.exists()


def test_the_case_pages_and_list_cost_the_same_queries_for_few_cases_as_for_many(scene):
    colleagues = [
        User.objects.create(username=f"cus-colleague-{n}", agency=scene.cus.agency, role="analyst")
        for n in range(4)
    ]
    client, api_client = page_client(scene.cus.analyst), api(scene.cus.analyst)

    def cases(count: int) -> None:
        for n in range(count):
            case = create_case(scene.cus.analyst, name=f"case {Case.objects.count()}-{n}")
            share_case(scene.cus.analyst, case, usernames=[u.username for u in colleagues[: 1 + n % 4]])

    def counts() -> list[int]:
        first = Case.objects.order_by("pk").first().public_id
        found = []
        for get, path in (
            (client.get, "/"),
            (client.get, "/cases/"),
            (client.get, f"/cases/{first}/"),
            (api_client.get, "/api/cases/"),
        ):
            with CaptureQueriesContext(connection) as captured:
                assert get(path).status_code == 200, path
            found.append(len(captured))
        return found

    cases(1)
    few = counts()
    cases(8)
    assert counts() == few


# --- a user of no agency --------------------------------------------------------------------


@pytest.mark.parametrize("role", ["analyst", "liaison", "agency_admin"])
def test_a_user_of_no_agency_is_shown_nothing_of_any_agency(scene, role):
    client = page_client(User.objects.create(username=f"lone-{role}", role=role))
    for path in ("/", "/cases/", "/search/?q=quay", "/search/?q=bv"):
        html = client.get(path).content.decode()
        for told in ("Quay", "Harbour", "WS-", "PZ-", "TX-", "MOU-", "/entities/"):
            assert told not in html, (path, told)
    missing = client.get(f"/entities/{uuid.uuid4()}/")
    for suffix, method in (("", "get"), ("analyse/", "post"), ("disclosure/", "post")):
        response = getattr(client, method)(f"/entities/{scene.broker.public_id}/{suffix}", DISCLOSURE_FORM)
        assert (response.status_code, response.content) == (404, missing.content), suffix
    assert (
        api(User.objects.get(username=f"lone-{role}"))
        .post("/api/discovery/holdings/", {"entities": [str(scene.broker.public_id)]}, format="json")
        .status_code
        == 403
    )
    assert not DisclosureRequest.objects.exists() and not Case.objects.exists()


# --- audit ------------------------------------------------------------------------------------


def test_every_page_that_shows_another_agencys_record_audits_the_read(scene):
    """pol reads cus's shipments WS-1 and WS-2 (under MOU-1, for investigation): the broker's
    dossier states them, and searching for the broker names it from them."""
    client = page_client(scene.pol.analyst)
    cus_shipments = {
        str(pk)
        for pk in Record.objects.filter(external_ref__in=["WS-1", "WS-2"]).values_list("pk", flat=True)
    }
    for path, via in (
        (f"/entities/{scene.broker.public_id}/?purpose=investigation", "entity page"),
        ("/search/?q=quay&purpose=investigation", "search page"),
    ):
        last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
        assert client.get(path).status_code == 200
        reads = AuditEvent.objects.filter(id__gt=last, action="record.read", actor_id=scene.pol.analyst.pk)
        assert {event.object_id for event in reads} >= cus_shipments, via
        assert all(event.details["purpose"] == "investigation" for event in reads)
        # pol's own PZ-1 is no read of another agency's record.
        assert str(Record.objects.get(external_ref="PZ-1").pk) not in {event.object_id for event in reads}


# --- stored analyses gone stale ------------------------------------------------------------


def test_a_stored_analysis_gone_stale_shows_nothing_it_computed_over_records_hidden_since(scene):
    """tax owns TX-1 (Tax Only Importer, broker Quay Brokers) and no seizure. While MOU-S lets
    it read pol's seizures, PZ-1 makes the broker a seed of tax's network risk, and the
    importer is ranked by its link to it. MOU-S suspended and the sync past it, tax may see no seizure:
    no entity of its graph has a risk, and no score, rank or path of the stored result (now
    stale) may be shown; the page offers to compute it again instead."""
    seizures = in_force(
        (scene.pol, True, False), (scene.tax, False, True), reference="MOU-S", categories=("seizure",)
    )
    client = page_client(scene.tax.analyst)
    session = client.session
    session["purpose"] = "investigation"
    session.save()
    importer = scene.entity("TX-1", "importer")
    for operation in ("network_risk", "communities"):
        url = f"/entities/{importer.public_id}/analyse/"
        assert client.post(url, {"operation": operation}).status_code == 302
        jobs.run_analysis(AnalyticsResult.objects.get(agency=scene.tax.agency, operation=operation).pk)
    risk = section(client.get(f"/entities/{importer.public_id}/").content.decode(), "risk")
    assert "Ranked" in risk, "the test can tell: PZ-1 ranks the importer while tax may read it"

    agreements.suspend(seizures, platform_admin(), "the partner asked")
    # What the sync's batch notes of the suspension (Neo4j itself is not asked here).
    jobs.note_visibility_changes(
        [scene.tax.agency.pk], jobs.visibility_basis(scene.tax.agency.pk, "investigation") + 1
    )
    rows = AnalyticsResult.objects.filter(agency=scene.tax.agency)
    assert rows.count() == 2 and not any(jobs.is_current(row) for row in rows)
    page = client.get(f"/entities/{importer.public_id}/").content.decode()
    for name in ("risk", "community"):
        shown = section(page, name)
        assert "Ranked" not in shown and "score" not in shown and 'class="paths"' not in shown, shown
        assert not re.search(r"Community \d", shown), shown
        assert "computed before the latest changes" in shown and "Compute" in shown, shown
