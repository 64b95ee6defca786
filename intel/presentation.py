"""What a viewer may be shown of a record or an entity: the one presentation the API
serializers, the pages, the export and any later view build on, so that a redaction
applied in one place cannot be missed in another.

A record read under an agreement loses the fields that agreement redacts (`summary`,
`details.<key>`); its mentions and links are only those the viewer may see (entities of a
redacted type are left out by the choke point); an entity is shown only through the
mentions of records the viewer may see."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from intel import selectors
from intel.candidates import candidate_evidence, facts_of, offered_score
from intel.models import Entity, Link, Mention, Record, ResolutionCandidate
from intel.resolution import name_fingerprint

DETAILS_PREFIX = "details."


@dataclass
class RecordPresentation:
    """Mentions and links are read when first asked for (a detail, the export, the page),
    never for a list, which shows neither: the rule's conditions for them cost more to
    build than the list itself."""

    record: Record
    hidden: frozenset[str]
    details: dict[str, Any]
    shared_under: dict | None
    reader: selectors.Reader = field(repr=False)

    @property
    def summary(self) -> str | None:
        """None when redacted: the field is left out, not blanked."""
        return None if "summary" in self.hidden else self.record.summary

    @property
    def detail_rows(self) -> list[tuple[str, str]]:
        """The details a page shows, each as a label and a text: `hs_codes` as "HS codes" and
        its codes joined, where the page showed the key and a Python list."""
        return [(detail_label(key), detail_text(value)) for key, value in self.details.items()]

    @property
    def mention_rows(self) -> list[tuple[Mention, str]]:
        """Each mention with what the page calls its entity (`mention_label`)."""
        return [(mention, mention_label(mention)) for mention in self.mentions]

    @cached_property
    def mentions(self) -> list[Mention]:
        prefetched = getattr(self.record, "visible_mentions", None)
        if prefetched is not None:
            return list(prefetched)
        return list(
            selectors.visible_mentions(self.reader).filter(record=self.record).select_related("entity")
        )

    @cached_property
    def links(self) -> list[Link]:
        prefetched = getattr(self.record, "visible_links", None)
        if prefetched is not None:
            return list(prefetched)
        return list(selectors.visible_links(self.reader).filter(record=self.record))


def present_record(*, reader: selectors.Reader, record: Record) -> RecordPresentation:
    """`record` as read by `reader` (from `selectors.visible_records` or
    `selectors.record_with_contents`, whose annotations say how it is visible)."""
    redacted = reader.access.redacted_for(record)
    hidden_details = {
        name.removeprefix(DETAILS_PREFIX) for name in redacted if name.startswith(DETAILS_PREFIX)
    }
    return RecordPresentation(
        record=record,
        hidden=frozenset(name for name in redacted if not name.startswith(DETAILS_PREFIX)),
        details={k: v for k, v in (record.details or {}).items() if k not in hidden_details},
        shared_under=reader.access.shared_under(record),
        reader=reader,
    )


# Labels of the detail keys whose words alone do not say it (the rest: "port_of_loading" is
# "Port of loading").
DETAIL_LABELS = {"hs_codes": "HS codes"}


def detail_label(key: str) -> str:
    return DETAIL_LABELS.get(key) or key.replace("_", " ").capitalize()


def detail_text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return "" if value is None else str(value)


def mention_label(mention: Mention) -> str:
    """What one record calls an entity: the name it states, else the identifier it states
    (`stated_identifier`), else the entity's type; never the search text, which is the
    record's words lower-cased for the index."""
    return mention.properties.get("name") or stated_identifier(mention) or mention.entity.get_type_display()


def entity_key(entity: Entity) -> str | None:
    """The canonical key, only when one of the viewer's mentions resolves to it by itself."""
    if any(mention.resolved_key == entity.key for mention in entity.visible_mentions):
        return entity.key
    return None


def entity_names(entity: Entity) -> list[str]:
    """The names the viewer's visible mentions give the entity."""
    return sorted({m.properties.get("name") for m in entity.visible_mentions if m.properties.get("name")})


# The properties a mention states an unnamed entity's identifier in, by preference.
IDENTIFIER_PROPERTIES = ("number", "email", "consignment_ref", "external_ref")


def entity_label(entity: Entity) -> str:
    """What the viewer's visible mentions call the entity, for a page or a chart: its names,
    else what they state as its identifier (an address's text and postcode, a number, an
    e-mail, a reference), else its key where they resolve to it, else its type."""
    names = entity_names(entity)
    if names:
        return " / ".join(names)
    stated = dict.fromkeys(filter(None, map(stated_identifier, entity.visible_mentions)))
    if stated:
        return " / ".join(sorted(stated))
    return entity_key(entity) or entity.get_type_display()


def stated_identifier(mention: Mention) -> str | None:
    properties = mention.properties
    if properties.get("text"):
        return " ".join(filter(None, (properties["text"], properties.get("postcode"))))
    return next((str(properties[key]) for key in IDENTIFIER_PROPERTIES if properties.get(key)), None)


def offered_candidates(
    candidates: Iterable[ResolutionCandidate], *, contacts: Mapping[int, set[tuple[str, str]]] | None = None
) -> list[ResolutionCandidate]:
    """The candidates (from `selectors.visible_candidates`) that the names the reader's visible
    mentions give both entities carry to the threshold, best first, each with that score as
    `offered_score` and the evidence those mentions and `contacts` (from
    `selectors.visible_contacts`) give as `offered_evidence`. The stored score and evidence
    came from every agency's records: a pair only hidden records make alike is not offered,
    and nothing shown tells what hidden records say of them.

    The two sides are shown in the order of their public ids (`shown_a`, `shown_b`), and ties
    of score broken by the candidate's: stored, the first side is the older entity, and an
    entity another agency had named first came first, which told the reader that an agency
    it may not see holds it (`intel.selectors.ENTITY_ORDER`)."""
    contacts = contacts or {}
    offered = []
    for candidate in candidates:
        a, b = sorted((candidate.entity_a, candidate.entity_b), key=lambda entity: str(entity.public_id))
        score = offered_score(names_a=entity_names(a), names_b=entity_names(b))
        if score is not None:
            candidate.shown_a, candidate.shown_b = a, b
            candidate.offered_score = score
            candidate.offered_evidence = candidate_evidence(
                names_a=_fingerprints(a),
                names_b=_fingerprints(b),
                facts_a=_facts(a, contacts),
                facts_b=_facts(b, contacts),
            )
            offered.append(candidate)
    return sorted(offered, key=lambda candidate: (-candidate.offered_score, str(candidate.public_id)))


def _fingerprints(entity: Entity) -> set[str]:
    return {fingerprint for fingerprint in map(name_fingerprint, entity_names(entity)) if fingerprint}


def _facts(entity: Entity, contacts: Mapping[int, set[tuple[str, str]]]) -> dict[str, set[str]]:
    return facts_of(
        properties=[mention.properties for mention in entity.visible_mentions],
        contacts=contacts.get(entity.pk, ()),
    )
