"""The admin writes only through the services, or audits what it writes, or is read-only;
signed agreements never change (an amendment is a new version every party signs); record
content shown in the admin is audited as a read. Driven over HTTP through the real admin."""

from __future__ import annotations

from datetime import timedelta
from html.parser import HTMLParser

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice

from agencies.models import User
from agencies.tokens import issue_token
from audit.models import AuditEvent
from graph.models import OutboxEntry
from intel.models import Entity, EntityMerge, ImportBatch, Record, ResolutionCandidate
from sharing import agreements, releases
from sharing.models import Agreement, AgreementParty, DisclosureRequest
from tests import test_agreements
from tests.auth_helpers import signed_in, totp_device
from tests.sharing_helpers import draft, in_force, platform_admin, staff
from tests.test_agreements import visible_refs

pytestmark = pytest.mark.django_db

shipments = test_agreements.shipments  # the fixture: customs' two shipments, released to covering agreements

# From docs/examples/shipments.csv, by hand: SHP-0001 is restricted (1), SHP-0002
# confidential (2); both are shipments.
BOTH = {"SHP-0001", "SHP-0002"}
RESTRICTED_ONLY = {"SHP-0001"}


class FormFields(HTMLParser):
    """What a browser would submit from the admin's change form (`<form id="..._form">`)."""

    def __init__(self) -> None:
        super().__init__()
        self.data: list[tuple[str, str]] = []
        self.in_form = False
        self.select: tuple[str, bool] | None = None
        self.options: list[tuple[str, bool]] = []
        self.textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.in_form = (a.get("id") or "").endswith("_form")
        if not self.in_form:
            return
        if tag == "input" and a.get("name") and a.get("type") not in ("submit", "file", "button"):
            checkable = a.get("type") in ("checkbox", "radio")
            if not checkable or "checked" in a:
                self.data.append((a["name"], a.get("value", "on" if checkable else "")))
        elif tag == "select" and a.get("name"):
            self.select, self.options = (a["name"], "multiple" in a), []
        elif tag == "option" and self.select:
            self.options.append((a.get("value", ""), "selected" in a))
        elif tag == "textarea" and a.get("name"):
            self.textarea = a["name"]
            self.data.append((a["name"], ""))

    def handle_data(self, data):
        if self.textarea:
            name, value = self.data.pop()
            self.data.append((name, value + data))

    def handle_endtag(self, tag):
        if tag == "form":
            self.in_form = False
        elif tag == "select" and self.select:
            name, multiple = self.select
            chosen = [v for v, selected in self.options if selected]
            if not chosen and not multiple and self.options:
                chosen = [self.options[0][0]]
            self.data.extend((name, v) for v in chosen)
            self.select = None
        elif tag == "textarea":
            self.textarea = None


def form_data(html: str) -> dict[str, list[str]]:
    parser = FormFields()
    parser.feed(html)
    data: dict[str, list[str]] = {}
    for name, value in parser.data:
        data.setdefault(name, []).append(value)
    return data


def browser(user: User) -> Client:
    return signed_in(Client(), user)


def audit_count(**filters) -> int:
    return AuditEvent.objects.filter(**filters).count()


@pytest.fixture
def cus():
    cus = staff("cus")
    User.objects.filter(pk=cus.admin.pk).update(is_staff=True)
    cus.admin.refresh_from_db()
    return cus


@pytest.fixture
def pol():
    pol = staff("pol", kind="police")
    User.objects.filter(pk=pol.admin.pk).update(is_staff=True)
    pol.admin.refresh_from_db()
    return pol


@pytest.fixture
def mou(cus, pol, shipments):
    """Active: customs provides shipments up to confidential to the police."""
    return in_force((cus, True, False), (pol, False, True), ceiling=2, categories=("shipment",))


def admin_action(user: User, action: str, agreement: Agreement, **extra) -> None:
    response = browser(user).post(
        reverse("admin:sharing_agreement_changelist"),
        {"action": action, "_selected_action": [agreement.pk], **extra},
    )
    assert response.status_code in (200, 302)


class TestSignedTermsCannotBeEdited:
    """Editing a signed agreement's terms in the admin is refused and nothing changes."""

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("classification_ceiling", "3"),
            ("redacted_fields", "summary, phone"),
            ("purposes", "prosecution"),
            ("categories", "seizure"),
            ("ends_at_0", "2099-01-01"),
            ("discovery_allowed", "on"),
        ],
    )
    @pytest.mark.parametrize("who", ["platform", "agency_admin"])
    def test_an_admin_post_changing_a_term_is_refused(self, cus, pol, mou, field, value, who):
        user = platform_admin() if who == "platform" else cus.admin
        client = browser(user)
        url = reverse("admin:sharing_agreement_change", args=[mou.pk])
        page = client.get(url)
        assert page.status_code == 200
        data = form_data(page.content.decode())
        data[field] = [value]
        before = Agreement.objects.filter(pk=mou.pk).values().get()
        events = audit_count()
        response = client.post(url, data)
        assert response.status_code == 403
        assert Agreement.objects.filter(pk=mou.pk).values().get() == before
        assert audit_count() == events
        assert visible_refs(pol) == BOTH

    def test_no_write_path_below_the_admin_changes_signed_terms(self, cus, pol, mou):
        mou.classification_ceiling = 3
        with pytest.raises(ValidationError, match="classification_ceiling"):
            mou.save()
        with pytest.raises(ValidationError, match="redacted_fields"):
            Agreement.objects.filter(pk=mou.pk).update(redacted_fields=["summary"])
        with pytest.raises(ValidationError, match="parties"):
            AgreementParty.objects.filter(agreement=mou).update(receives=True)
        party = mou.parties.get(agency=pol.agency)
        party.provides = True
        with pytest.raises(ValidationError, match="parties"):
            party.save()
        with pytest.raises(ValidationError, match="parties"):
            AgreementParty.objects.create(agreement=mou, agency=staff("tax").agency)
        with pytest.raises(ValidationError):
            Agreement.objects.get(pk=mou.pk).delete()
        # Nor does SQL: the database refuses it.
        for statement in (
            "UPDATE sharing_agreement SET classification_ceiling = 3 WHERE id = %s",
            "UPDATE sharing_agreement SET redacted_fields = '[\"summary\"]' WHERE id = %s",
            "UPDATE sharing_agreementparty SET provides = true WHERE agreement_id = %s",
            "DELETE FROM sharing_agreementparty WHERE agreement_id = %s",
        ):
            with pytest.raises(DatabaseError, match="cannot change"), transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(statement, [mou.pk])
        stored = Agreement.objects.get(pk=mou.pk)
        assert (stored.classification_ceiling, stored.redacted_fields, stored.parties.count()) == (2, [], 2)
        assert set(stored.parties.values_list("provides", flat=True)) == {True, False}

    def test_a_signature_freezes_a_proposal_but_not_its_status(self, cus, pol, shipments):
        agreement = draft((cus, True, False), (pol, False, True), reference="MOU-P")
        agreements.propose(agreement, cus.admin)
        agreement = Agreement.objects.get(pk=agreement.pk)
        agreement.title = "Renamed before anyone signed"
        agreement.save()
        agreements.sign(agreement, cus.admin)
        agreement = Agreement.objects.get(pk=agreement.pk)
        agreement.title = "Renamed after a signature"
        with pytest.raises(ValidationError, match="title"):
            agreement.save()
        agreements.sign(agreement, pol.admin)
        assert Agreement.objects.get(pk=agreement.pk).status == "active"

    def test_a_draft_is_edited_in_the_admin_through_the_service_and_audited(self, cus, pol, shipments):
        agreement = draft((cus, True, False), (pol, False, True), reference="MOU-D", ceiling=1)
        client = browser(cus.admin)
        url = reverse("admin:sharing_agreement_change", args=[agreement.pk])
        data = form_data(client.get(url).content.decode())
        data["classification_ceiling"] = ["2"]
        data["redacted_fields"] = ["summary"]
        assert client.post(url, data).status_code == 302
        stored = Agreement.objects.get(pk=agreement.pk)
        assert (stored.classification_ceiling, stored.redacted_fields) == (2, ["summary"])
        event = AuditEvent.objects.get(action="agreement.revised", object_id=str(agreement.pk))
        assert event.details["changes"] == {
            "classification_ceiling": {"old": 1, "new": 2},
            "redacted_fields": {"old": [], "new": ["summary"]},
        }
        assert event.actor_id == cus.admin.pk

    def test_an_agreement_drafted_in_the_admin_is_drafted_by_the_service(self, cus, pol):
        client = browser(cus.admin)
        data = form_data(client.get(reverse("admin:sharing_agreement_add")).content.decode())
        data |= {
            "title": ["Drafted in the admin"],
            "starts_at_0": ["2026-01-01"],
            "starts_at_1": ["00:00:00"],
            "ends_at_0": ["2099-01-01"],
            "ends_at_1": ["00:00:00"],
            "categories": ["shipment"],
            "classification_ceiling": ["1"],
            "purposes": ["investigation"],
            "parties-0-agency": [str(cus.agency.pk)],
            "parties-0-provides": ["on"],
            "parties-1-agency": [str(pol.agency.pk)],
            "parties-1-receives": ["on"],
        }
        data.pop("parties-0-receives", None)
        data.pop("parties-1-provides", None)
        assert client.post(reverse("admin:sharing_agreement_add"), data).status_code == 302
        agreement = Agreement.objects.get(title="Drafted in the admin")
        assert agreement.status == "draft" and agreement.created_by == cus.admin
        assert set(agreement.parties.values_list("agency__code", "provides", "receives")) == {
            ("cus", True, False),
            ("pol", False, True),
        }
        assert audit_count(action="agreement.draft", object_id=str(agreement.pk)) == 1
        # The service's checks hold in the admin too: an agency admin drafts only for their agency.
        tax = staff("tax")
        data |= {"title": ["For others"], "parties-0-agency": [str(tax.agency.pk)]}
        response = client.post(reverse("admin:sharing_agreement_add"), data)
        assert response.status_code == 200 and b"their agency is party to" in response.content
        assert not Agreement.objects.filter(title="For others").exists()


class TestAmendments:
    """A change is a new version: it takes effect at its last signature, when the old stops."""

    def amend_in_admin(self, user: User, agreement: Agreement, **changes: str) -> Agreement:
        client = browser(user)
        url = reverse("admin:sharing_agreement_amend", args=[agreement.pk])
        data = form_data(client.get(url).content.decode())
        data |= {name: [value] for name, value in changes.items()}
        response = client.post(url, data)
        assert response.status_code == 302, response.content.decode()[:2000]
        return Agreement.objects.get(amends=agreement)

    def test_an_amendment_made_in_the_admin_takes_over_when_every_party_has_signed(self, cus, pol, mou):
        record_ids = {r.pk for r in Record.objects.filter(owner=cus.agency)}
        amendment = self.amend_in_admin(cus.admin, mou, classification_ceiling="1", redacted_fields="summary")
        assert (amendment.version, amendment.status, amendment.reference) == (2, "draft", "MOU-1/v2")
        event = AuditEvent.objects.get(action="agreement.amend", object_id=str(amendment.pk))
        assert event.actor_id == cus.admin.pk
        assert event.details["changes"] == {
            "classification_ceiling": {"old": 2, "new": 1},
            "redacted_fields": {"old": [], "new": ["summary"]},
        }
        admin_action(cus.admin, "propose", amendment)
        admin_action(cus.admin, "sign", amendment)
        # Until the last signature the signed version holds, unchanged.
        assert visible_refs(pol) == BOTH
        detail = pol.client(purpose="investigation").get(
            f"/api/records/{Record.objects.get(external_ref='SHP-0001').public_id}/"
        )
        assert "summary" in detail.json()
        OutboxEntry.objects.all().delete()
        admin_action(pol.admin, "sign", amendment)
        old, new = Agreement.objects.get(pk=mou.pk), Agreement.objects.get(pk=amendment.pk)
        assert (old.status, new.status) == ("superseded", "active")
        assert old.superseded_at == new.fully_signed_at
        assert visible_refs(pol) == RESTRICTED_ONLY
        detail = pol.client(purpose="investigation").get(
            f"/api/records/{Record.objects.get(external_ref='SHP-0001').public_id}/"
        )
        assert detail.status_code == 200 and "summary" not in detail.json()
        assert record_ids <= set(OutboxEntry.objects.values_list("object_id", flat=True))
        assert audit_count(action="agreement.superseded", object_id=str(mou.pk)) == 1
        assert audit_count(action="agreement.active", object_id=str(amendment.pk)) == 1

    def test_the_api_amends_and_shows_every_version(self, cus, pol, mou):
        response = cus.client("admin").post(
            f"/api/agreements/{mou.public_id}/amend/", {"purposes": ["investigation"]}, format="json"
        )
        assert response.status_code == 201, response.json()
        amendment_id = str(Agreement.objects.get(amends=mou).public_id)
        assert response.json()["id"] == amendment_id
        versions = pol.client("admin").get(f"/api/agreements/{mou.public_id}/").json()["versions"]
        assert [(v["id"], v["version"], v["status"]) for v in versions] == [
            (str(mou.public_id), 1, "active"),
            (amendment_id, 2, "draft"),
        ]
        for step in ("propose", "sign"):
            assert cus.client("admin").post(f"/api/agreements/{amendment_id}/{step}/").status_code == 200
        assert pol.client("admin").post(f"/api/agreements/{amendment_id}/sign/").status_code == 200
        versions = pol.client("admin").get(f"/api/agreements/{mou.public_id}/").json()["versions"]
        assert [(v["version"], v["status"], v["purposes"]) for v in versions] == [
            (1, "superseded", ["risk_assessment", "investigation"]),
            (2, "active", ["investigation"]),
        ]
        assert visible_refs(pol, purpose="risk_assessment") == set()
        assert visible_refs(pol, purpose="investigation") == BOTH
        page = browser(platform_admin()).get(reverse("admin:sharing_agreement_change", args=[mou.pk]))
        assert b"MOU-1/v2" in page.content and b"Superseded" in page.content

    def test_releases_named_to_the_old_version_carry_over(self, cus, pol, mou):
        shp1 = Record.objects.get(external_ref="SHP-0001")
        releases.set_releasability(shp1, cus.analyst, "named", [mou])
        assert visible_refs(pol) == BOTH
        amendment = agreements.amend(mou, cus.admin, discovery_allowed=True)
        agreements.propose(amendment, cus.admin)
        agreements.sign(amendment, cus.admin)
        agreements.sign(amendment, pol.admin)
        assert visible_refs(pol) == BOTH
        # The releases move to the version in force (onward chains through them with them).
        assert set(shp1.releases.values_list("agreement__reference", flat=True)) == {"MOU-1/v2"}
        with pytest.raises(ValidationError, match="superseded"):
            releases.set_releasability(shp1, cus.analyst, "named", [mou])

    @pytest.mark.parametrize(
        ("changes", "message"),
        [
            ({}, "nothing to change"),
            ({"classification_ceiling": 2}, "nothing to change"),
            ({"parties": []}, "cannot be amended"),
            ({"status": "active"}, "cannot be amended"),
            ({"starts_at": timezone.now() + timedelta(days=1)}, "has started"),
            ({"purposes": ["gossip"]}, "choose from"),
            ({"ends_at": timezone.now() - timedelta(days=30)}, "must be after starts_at"),
        ],
    )
    def test_an_amendment_is_checked_like_a_draft(self, cus, pol, mou, changes, message):
        with pytest.raises(ValidationError, match=message):
            agreements.amend(mou, cus.admin, **changes)
        assert not Agreement.objects.filter(amends=mou).exists()

    def test_who_may_amend_and_when(self, cus, pol, mou):
        with pytest.raises(Exception, match="agency admin of a party"):
            agreements.amend(mou, staff("tax").admin, discovery_allowed=True)
        with pytest.raises(Exception, match="agency admin of a party"):
            agreements.amend(mou, cus.analyst, discovery_allowed=True)
        amending = cus.client("analyst").post(f"/api/agreements/{mou.public_id}/amend/", {}, format="json")
        assert amending.status_code == 403
        pending = agreements.amend(mou, pol.admin, discovery_allowed=True)
        with pytest.raises(ValidationError, match="is draft"):
            agreements.amend(mou, cus.admin, onward_sharing_allowed=True)
        agreements.propose(pending, cus.admin)
        agreements.sign(pending, cus.admin)
        agreements.terminate(mou, platform_admin(), "ended by the parties")
        with pytest.raises(ValidationError, match="it is terminated"):
            agreements.sign(pending, pol.admin)
        assert Agreement.objects.get(pk=pending.pk).fully_signed_at is None
        assert visible_refs(pol) == set()

    def test_a_suspended_version_stays_suspended_in_its_amendment(self, cus, pol, mou):
        amendment = agreements.amend(mou, cus.admin, discovery_allowed=True)
        agreements.propose(amendment, cus.admin)
        agreements.suspend(mou, platform_admin(), "inquiry")
        agreements.sign(amendment, cus.admin)
        agreements.sign(amendment, pol.admin)
        assert Agreement.objects.get(pk=amendment.pk).status == "suspended"
        assert visible_refs(pol) == set()
        agreements.resume(amendment, platform_admin(), "inquiry closed")
        assert visible_refs(pol) == BOTH
        assert list(Agreement.objects.in_force().values_list("reference", flat=True)) == ["MOU-1/v2"]


# --- every admin: a write is refused or audited; record content shown is audited -------------


@pytest.fixture
def one_of_each(cus, pol, mou):
    """At least one row of every model an admin is registered for (a new admin's model is
    added here, or the test below fails naming it)."""
    entities = list(Entity.objects.order_by("pk")[:2])
    ResolutionCandidate.objects.create(entity_a=entities[0], entity_b=entities[1], score=90)
    EntityMerge.objects.create(survivor=entities[0], merged=entities[1], merged_by=cus.analyst)
    DisclosureRequest.objects.create(
        requester=pol.analyst,
        requesting_agency=pol.agency,
        owner=cus.agency,
        purpose="investigation",
        justification="j",
        due_at=timezone.now(),
    )
    Group.objects.create(name="spare group")
    issue_token(user=pol.analyst, mfa_verified=False, where={})
    # The devices the signed-in admins will use come first: the tests change and delete the
    # newest row of each model, which must not be the one their own session stands on.
    totp_device(platform_admin())
    totp_device(cus.admin)
    totp_device(pol.liaison)
    StaticDevice.objects.create(user=pol.liaison, name="recovery")
    AccessAttempt.objects.create(username="x", ip_address="127.0.0.1", failures_since_start=1)
    AccessLog.objects.create(username="x", ip_address="127.0.0.1")
    AccessFailureLog.objects.create(username="x", ip_address="127.0.0.1")
    from graph.models import RecordProjection

    if not RecordProjection.objects.exists():
        RecordProjection.objects.create(record_id=Record.objects.first().pk, synced_at=timezone.now())
    ImportBatch.objects.create(
        agency=cus.agency, uploaded_by=cus.analyst, original_name="x.csv", file="x.csv"
    )
    assert OutboxEntry.objects.exists()


def add_data(model, who: User, cus, pol) -> dict[str, list[str]] | None:
    """A valid add form for the admins that allow adding, by model label."""
    suffix = f"{model._meta.model_name}-{who.pk}"
    return {
        "agencies.agency": {"code": [f"new-{who.pk}"], "name": ["New"], "country": ["BE"], "kind": ["tax"]},
        "agencies.user": {
            "username": [f"new-{suffix}"],
            "usable_password": ["true"],
            "password1": ["a long pass phrase 42"],
            "password2": ["a long pass phrase 42"],
            "agency": [str(cus.agency.pk)],
            "role": ["analyst"],
        },
        "auth.group": {"name": [f"group {suffix}"]},
    }.get(model._meta.label_lower)


def with_every_model_permission(user: User) -> User:
    """Staff holding every model permission Django knows: what the admin lets them do must
    then come from its own rules (services, audit, read-only), not from missing permissions."""
    user.user_permissions.set(Permission.objects.all())
    return User.objects.get(pk=user.pk)


def as_request(user: User):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def refused(response) -> bool:
    """Forbidden, or (an object the user may not reach) sent back to the admin's index."""
    return response.status_code == 403 or (
        response.status_code == 302 and response.url == reverse("admin:index")
    )


def registered():
    return sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


class TestEveryAdminWrite:
    """For every registered ModelAdmin, an add, change or delete POST is refused or audited."""

    @pytest.mark.parametrize("who", ["platform", "agency_admin"])
    def test_change_and_delete_posts_are_refused_or_audited(self, cus, pol, one_of_each, who):
        user = platform_admin() if who == "platform" else with_every_model_permission(cus.admin)
        client = browser(user)
        for model, model_admin in registered():
            # The newest row the admin lists for this user (or the newest of all if it lists
            # none): the first ones (an agency's group) are protected from deletion.
            listed = model_admin.get_queryset(as_request(user)).order_by("-pk")
            obj = listed.first() or model._default_manager.order_by("-pk").first()
            assert obj is not None, f"one_of_each makes no {model._meta.label}"
            info = (model._meta.app_label, model._meta.model_name)
            url = reverse("admin:{}_{}_change".format(*info), args=[obj.pk])
            page = client.get(url)
            data = form_data(page.content.decode()) if page.status_code == 200 else {}
            events = audit_count(action__startswith="admin.")
            response = client.post(url, {**data, "_save": ["Save"]})
            if not refused(response):
                assert response.status_code == 302, (model, response.status_code)
                assert audit_count(action__startswith="admin.") == events + 1, model
            delete_url = reverse("admin:{}_{}_delete".format(*info), args=[obj.pk])
            events = audit_count(action="admin.delete")
            response = client.post(delete_url, {"post": "yes"})
            if not refused(response):
                assert response.status_code == 302 and not model._default_manager.filter(pk=obj.pk).exists()
                assert audit_count(action="admin.delete") == events + 1, model

    @pytest.mark.parametrize("who", ["platform", "agency_admin"])
    def test_add_posts_are_refused_or_audited(self, cus, pol, one_of_each, who):
        user = platform_admin() if who == "platform" else with_every_model_permission(cus.admin)
        client = browser(user)
        for model, _ in registered():
            if model is Agreement:
                continue  # drafted through the service: TestSignedTermsCannotBeEdited
            url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_add")
            before, events = model._default_manager.count(), audit_count(action="admin.add")
            data = add_data(model, user, cus, pol) or {}
            response = client.post(url, data)
            if response.status_code == 403:
                assert model._default_manager.count() == before
                continue
            assert response.status_code == 302, (model, response.status_code, data)
            assert model._default_manager.count() == before + 1
            assert audit_count(action="admin.add") == events + 1, model

    def test_user_changes_by_an_agency_admin_are_audited_with_old_and_new_values(self, cus, pol):
        client = browser(cus.admin)
        listing = client.get(reverse("admin:agencies_user_changelist")).content.decode()
        assert "cus-analyst" in listing and "pol-analyst" not in listing
        url = reverse("admin:agencies_user_change", args=[cus.analyst.pk])
        data = form_data(client.get(url).content.decode())
        data["role"] = ["liaison"]
        data.pop("is_active", None)
        assert client.post(url, data).status_code == 302
        analyst = User.objects.get(pk=cus.analyst.pk)
        assert (analyst.role, analyst.is_active, analyst.agency_id) == ("liaison", False, cus.agency.pk)
        event = AuditEvent.objects.get(action="admin.change", object_id=str(analyst.pk))
        assert event.details["changes"] == {
            "role": {"old": "analyst", "new": "liaison"},
            "is_active": {"old": True, "new": False},
        }
        # Another agency's users are out of reach, and no field makes a superuser.
        other = reverse("admin:agencies_user_change", args=[pol.analyst.pk])
        assert client.post(other, {**data, "is_superuser": ["on"]}).status_code in (302, 404)
        assert not User.objects.get(pk=pol.analyst.pk).is_superuser
        data["is_superuser"], data["is_staff"], data["agency"] = ["on"], ["on"], [str(pol.agency.pk)]
        client.post(url, data)
        analyst = User.objects.get(pk=cus.analyst.pk)
        assert (analyst.is_superuser, analyst.is_staff, analyst.agency_id) == (False, False, cus.agency.pk)
        response = client.post(
            reverse("admin:auth_user_password_change", args=[analyst.pk]),
            {
                "password1": "another pass phrase 7",
                "password2": "another pass phrase 7",
                "usable_password": "true",
            },
        )
        assert response.status_code == 302
        event = AuditEvent.objects.get(action="admin.password_change")
        assert event.object_id == str(analyst.pk) and "pass phrase" not in str(event.details)

    def test_disclosure_decisions_in_the_admin_go_through_the_service(self, cus, pol, one_of_each):
        request = DisclosureRequest.objects.get()
        request.records.set(Record.objects.filter(owner=cus.agency))
        changelist = reverse("admin:sharing_disclosurerequest_changelist")
        decide = {"action": "approve", "_selected_action": [request.pk]}
        # Staff without a role in the request (here: another agency's admin) decide nothing.
        assert browser(pol.admin).post(changelist, decide).status_code == 403
        assert DisclosureRequest.objects.get().status == "pending"
        browser(platform_admin()).post(changelist, decide)
        assert DisclosureRequest.objects.get().status == "approved"
        event = AuditEvent.objects.get(action="disclosure.approved")
        assert event.actor_id == platform_admin().pk and event.object_id == str(request.pk)
        assert visible_refs(pol) == BOTH  # the grant the service gives
        refuse = {"action": "refuse", "_selected_action": [request.pk], "reason": "late"}
        browser(platform_admin()).post(changelist, refuse)
        assert DisclosureRequest.objects.get().status == "approved"  # the service refuses a decided one


class TestAdminReadsAreAudited:
    """Record content shown in the admin is a read of another agency's record: audited."""

    def reads(self) -> set[str]:
        return set(
            AuditEvent.objects.filter(action="record.read", details__via="admin").values_list(
                "object_id", flat=True
            )
        )

    @pytest.mark.parametrize("model", ["record", "mention", "link"])
    def test_change_lists_and_pages_of_record_content_audit_each_record(self, cus, pol, one_of_each, model):
        client = browser(platform_admin())
        records = {str(pk) for pk in Record.objects.values_list("pk", flat=True)}
        listing = client.get(reverse(f"admin:intel_{model}_changelist"))
        assert listing.status_code == 200
        shown = {
            str(pk)
            for pk in Record.objects.filter(
                **({} if model == "record" else {f"{model}s__isnull": False})
            ).values_list("pk", flat=True)
        }
        assert self.reads() == shown and shown <= records
        row = (
            Record.objects.last()
            if model == "record"
            else getattr(Record.objects.last(), f"{model}s").first()
        )
        before = audit_count(action="record.read")
        assert client.get(reverse(f"admin:intel_{model}_change", args=[row.pk])).status_code == 200
        assert audit_count(action="record.read") == before + 1
        event = AuditEvent.objects.filter(action="record.read").last()
        assert event.actor_id == platform_admin().pk and event.details["owner"] == cus.agency.pk

    @pytest.mark.parametrize("model", ["record", "mention", "link", "entity"])
    def test_agency_staff_do_not_see_record_content_in_the_admin(self, cus, pol, one_of_each, model):
        client = browser(with_every_model_permission(pol.admin))
        assert client.get(reverse(f"admin:intel_{model}_changelist")).status_code == 403
        row = (
            Record.objects.first()
            if model == "record"
            else getattr(
                Entity if model == "entity" else Record.objects.first(),
                "objects" if model == "entity" else f"{model}s",
            ).first()
        )
        assert client.get(reverse(f"admin:intel_{model}_change", args=[row.pk])).status_code == 403
        assert self.reads() == set()

    def test_a_platform_admin_reading_an_agencys_import_batch_is_audited(self, cus, pol):
        from django.core.files.base import ContentFile

        batch = ImportBatch.objects.create(
            agency=cus.agency,
            file=ContentFile(b"external_ref\n", name="cus.csv"),
            original_name="cus.csv",
            status="failed",
            errors=[{"row": 2, "field": "summary", "message": "a quoted value from the file"}],
        )
        own = ImportBatch.objects.create(
            agency=cus.agency, file=ContentFile(b"x", name="own.csv"), original_name="own.csv"
        )
        try:
            page = browser(platform_admin()).get(reverse("admin:intel_importbatch_change", args=[batch.pk]))
            assert page.status_code == 200 and "a quoted value from the file" in page.content.decode()
            events = AuditEvent.objects.filter(action="import.read", object_id=str(batch.pk))
            assert [(e.actor_id, e.agency_id) for e in events] == [(platform_admin().pk, cus.agency.pk)]
            # The agency's own admin reading its own batch reads nothing of another agency's.
            mine = browser(with_every_model_permission(cus.admin))
            assert mine.get(reverse("admin:intel_importbatch_change", args=[own.pk])).status_code == 200
            assert not AuditEvent.objects.filter(action="import.read", object_id=str(own.pk)).exists()
        finally:
            batch.file.delete(save=False)
            own.file.delete(save=False)
