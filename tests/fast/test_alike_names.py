"""The scoring of a block's names (`intel.candidates._alike`), without a database: pairs
found by hand on a small block, and bounds on a hostile one (thousands of variants of one
name, all alike), whose matrices and pairs grew with the square of its size."""

import itertools
import string

import pytest

from intel import candidates
from intel.candidates import CANDIDATE_THRESHOLD, _alike


def test_a_small_block_pairs_what_is_alike_and_never_a_name_with_its_own_entity():
    asked = [(1, "acme trading"), (1, "acme trading bv")]
    pool = [(1, "acme trading"), (1, "acme trading bv"), (2, "acme tradng"), (3, "zeta shipping")]
    found = {(a, b) for a, b, _ in _alike(asked, pool, CANDIDATE_THRESHOLD)}
    assert found == {(1, 2)}


def hostile_block(size: int) -> list[tuple[int, str]]:
    """Names all alike: one name and a varying word of three letters."""
    words = ["".join(letters) for letters in itertools.product(string.ascii_lowercase, repeat=3)]
    return [(pk, f"zephyr global shipping lines {word}") for pk, word in enumerate(words[:size], start=1)]


def test_each_name_keeps_at_most_its_best_and_the_pairs_grow_with_the_names_not_their_square():
    block = hostile_block(400)
    found = list(_alike(block, block, CANDIDATE_THRESHOLD))
    per_name: dict[int, int] = {}
    for asked, other, score in found:
        assert asked != other and score >= CANDIDATE_THRESHOLD
        per_name[asked] = per_name.get(asked, 0) + 1
    # Every name is alike to every other here (399 each): each keeps the cap.
    assert set(per_name.values()) == {candidates.ALIKE_PER_NAME}
    assert len(found) == 400 * candidates.ALIKE_PER_NAME


@pytest.mark.parametrize("cells", [1, 399, 4_000])
def test_scoring_a_few_names_at_a_time_finds_what_scoring_all_at_once_does(monkeypatch, cells):
    block = [*hostile_block(120), (500, "acme trading"), (501, "acme tradng")]
    whole = sorted(_alike(block, block, CANDIDATE_THRESHOLD))
    monkeypatch.setattr(candidates, "MATRIX_CELLS", cells)
    assert sorted(_alike(block, block, CANDIDATE_THRESHOLD)) == whole
    assert (500, 501) in {(a, b) for a, b, _ in whole}


def test_the_places_go_to_the_best_entities_each_once_ties_by_entity_id(monkeypatch):
    """Entity 2 is spelt three ways, all alike: it takes one place, by its best spelling (the
    same name, 100). Entities 3 and 4 tie (one letter changed of twelve: 2 x 11 / 24); the
    lower id takes the second place."""
    monkeypatch.setattr(candidates, "ALIKE_PER_NAME", 2)
    asked = [(1, "acme trading")]
    spellings_of_2 = [(2, "acme trading"), (2, "acme tradin"), (2, "acme tradi")]
    pool = [*spellings_of_2, (4, "acme trazing"), (3, "acme tradinh")]
    found = [(a, b, round(score, 2)) for a, b, score in _alike(asked, pool, CANDIDATE_THRESHOLD)]
    assert found == [(1, 2, 100.0), (1, 3, round(2 * 11 / 24 * 100, 2))]
