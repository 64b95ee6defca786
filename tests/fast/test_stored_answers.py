"""A stored pattern result as a reader is shown it (`graph.stored_answers._shown`): every
value naming an entity becomes that entity as shown, or goes; no internal id leaves."""

import json

from graph.stored_answers import PATTERN_ENTITIES, _entity_ids, _shown

RESULT = {
    "matches": [
        {"container": 10, "importers": [1, 2, 3], "unrelated_pairs": [[1, 2], [1, 3], [2, 3]]},
        {"container": 11, "importers": [4, 5], "unrelated_pairs": [[4, 5]]},
        {"container": 12, "importers": [1, 6], "unrelated_pairs": [[1, 6]]},
    ]
}
VISIBLE = {10: "c-ten", 11: "c-eleven", 1: "i-one", 2: "i-two", 4: "i-four", 5: "i-five", 6: "i-six"}


def shown_as_public(pk: int) -> dict | None:
    return {"id": VISIBLE[pk]} if pk in VISIBLE else None


def test_pairs_of_importers_are_shown_by_public_id_and_only_whole():
    shown = _shown("containers_across_unrelated_importers", RESULT, shown_as_public)
    assert shown == {
        "matches": [
            {
                "container": {"id": "c-ten"},
                "importers": [{"id": "i-one"}, {"id": "i-two"}],
                # 3 is hidden: the pairs with it go whole, not as a half naming its partner.
                "unrelated_pairs": [[{"id": "i-one"}, {"id": "i-two"}]],
            },
            {
                "container": {"id": "c-eleven"},
                "importers": [{"id": "i-four"}, {"id": "i-five"}],
                "unrelated_pairs": [[{"id": "i-four"}, {"id": "i-five"}]],
            },
            # Container 12 is hidden: its match goes, pairs and all.
        ]
    }


def test_no_value_of_a_shown_match_is_an_internal_id():
    def walk(value):
        if isinstance(value, dict):
            for item in value.values():
                yield from walk(item)
        elif isinstance(value, list):
            for item in value:
                yield from walk(item)
        else:
            yield value

    for operation, keys in PATTERN_ENTITIES.items():
        match = {key: [1, 2] for key in (*keys.lists,)} | {key: [[1, 2]] for key in keys.pairs}
        match[keys.subject] = 10
        result = {"matches": [match]}
        shown = _shown(operation, result, shown_as_public)
        assert not [v for v in walk(shown) if isinstance(v, int)], (operation, json.dumps(shown))


def test_every_entity_a_pattern_names_is_confirmed():
    assert _entity_ids("containers_across_unrelated_importers", RESULT) == {10, 11, 12, 1, 2, 3, 4, 5, 6}
