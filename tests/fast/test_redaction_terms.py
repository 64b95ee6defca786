"""The redaction part of the rule on terms held in memory, without a database: what hides
from the reader of a record by the way it came (its owner, a grant, an agreement, an onward
chain), and which agreements a field or onward sharing leaves. The expectations are written
here from the terms each test sets; tests/test_presentation.py checks every page, API answer
and export against redactions on the full stack."""

from types import SimpleNamespace

import pytest

from sharing.access import AgreementAccess, AgreementTerms


def terms(
    *redacted: str, onward: bool = False, purposes: tuple[str, ...] = ("investigation",)
) -> AgreementTerms:
    return AgreementTerms(
        categories=("shipment",),
        ceiling=1,
        providers=frozenset({1}),
        purposes=purposes,
        redacted=redacted,
        onward=onward,
    )


@pytest.fixture
def access() -> AgreementAccess:
    # Agreement 10 redacts phones and a detail; 11 redacts nothing and allows onward sharing;
    # 12 is in the pool only (a link of some onward chain) and redacts persons.
    received = {10: terms("phone", "details.informant"), 11: terms(onward=True, purposes=("intelligence",))}
    return AgreementAccess(received, {**received, 12: terms("person", "address")})


def record(**how_it_came) -> SimpleNamespace:
    return SimpleNamespace(**how_it_came)


def test_the_owner_and_a_grant_see_everything(access):
    assert access.redacted_for(record(via_owner=True, via_agreement=10)) == []
    assert access.redacted_for(record(via_owner=False, via_grant=True, via_agreement=10)) == []


def test_a_record_received_under_an_agreement_hides_what_that_agreement_redacts(access):
    assert access.redacted_for(record(via_owner=False, via_agreement=10)) == ["details.informant", "phone"]
    assert access.redacted_for(record(via_owner=False, via_agreement=11)) == []


def test_an_onward_record_hides_every_redaction_along_its_chain(access):
    onward = record(via_owner=False, via_agreement=11, via_inherited_redactions=["person", "phone"])
    assert access.redacted_for(onward) == ["person", "phone"]
    both = record(via_owner=False, via_agreement=10, via_inherited_redactions=["phone", "address"])
    assert access.redacted_for(both) == ["address", "details.informant", "phone"]


def test_an_agreement_the_reader_does_not_receive_under_redacts_nothing_for_it(access):
    # 12 is only in the pool: it never names what a record read under it hides, since no
    # record is read under it.
    assert access.redacted_by(12) == []
    assert access.redacted_by(None) == []


def test_entity_types_hidden_by_some_agreement_of_the_pool(access):
    # Fields that are not entity types (details.*) are not among them.
    assert access.redacted_types() == {"phone", "person", "address"}


def test_what_a_field_or_onward_sharing_leaves(access):
    assert set(access.without_redaction_of("phone").agreements) == {11}
    assert set(access.without_redaction_of("phone").pool) == {11, 12}
    assert set(access.allowing_onward().agreements) == {11}
    assert set(access.allowing_onward().pool) == {11}


def test_purposes_allowed_are_those_of_the_agreements_received_under(access):
    assert access.allowed_purposes() == ["intelligence", "investigation"]
