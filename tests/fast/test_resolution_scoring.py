"""Pairwise precision and recall of a resolution (bench/resolution.py), on clusterings small
enough to count every pair by hand."""

import pytest

from bench.resolution import PairwiseScore, missed_goals, pairwise_score

# Six mentions: true entities a, a, a, b, b, c resolved to X, X, Y, Y, Y, Z.
#   true pairs:   (1,2) (1,3) (2,3) (4,5)                    = 4
#   joined pairs: (1,2) in X; (3,4) (3,5) (4,5) in Y         = 4
#   true and joined: (1,2) (4,5)                             = 2
MENTIONS = [("a", "X"), ("a", "X"), ("a", "Y"), ("b", "Y"), ("b", "Y"), ("c", "Z")]


def test_automatic_precision_and_recall_count_pairs_of_mentions():
    score = pairwise_score(MENTIONS)
    assert (score.mentions, score.true_entities, score.resolved_entities) == (6, 3, 3)
    assert (score.true_pairs, score.joined_pairs, score.true_joined_pairs) == (4, 4, 2)
    assert score.precision == pytest.approx(0.5)
    assert score.recall == pytest.approx(0.5)
    # No candidates: nothing offered, and the two true pairs not joined stay unfound.
    assert (score.offered_pairs, score.true_offered_pairs) == (0, 0)
    assert score.remaining_offered == 0.0
    assert score.recall_with_candidates == pytest.approx(0.5)


def test_a_candidate_offers_every_pair_across_its_two_entities():
    # X ~ Y offers 2 x 3 = 6 pairs, of which (1,3) and (2,3) are true: both true pairs the
    # import left apart. Y ~ Z offers 3 more, none true.
    score = pairwise_score(MENTIONS, [("X", "Y"), ("Y", "Z")])
    assert (score.offered_pairs, score.true_offered_pairs) == (9, 2)
    assert score.remaining_offered == pytest.approx(1.0)
    assert score.recall_with_candidates == pytest.approx(1.0)
    assert score.precision_with_candidates == pytest.approx(4 / 13)
    # Automatic figures do not move.
    assert (score.precision, score.recall) == (pytest.approx(0.5), pytest.approx(0.5))


def test_a_pair_proposed_twice_or_backwards_counts_once_and_strangers_not_at_all():
    once = pairwise_score(MENTIONS, [("X", "Y")])
    assert pairwise_score(MENTIONS, [("X", "Y"), ("Y", "X"), ("X", "X"), ("X", "Q")]) == once


def test_a_perfect_resolution_and_an_empty_one():
    perfect = pairwise_score([("a", 1), ("a", 1), ("b", 2), ("b", 2), ("b", 2)])
    assert (perfect.true_pairs, perfect.precision, perfect.recall) == (4, 1.0, 1.0)
    # Everything fused: 10 pairs joined, the 4 true ones among them.
    fused = pairwise_score([("a", 1), ("a", 1), ("b", 1), ("b", 1), ("b", 1)])
    assert (fused.precision, fused.recall) == (pytest.approx(0.4), 1.0)
    # No pair at all: nothing to be right or wrong about.
    lonely = pairwise_score([("a", 1), ("b", 2)])
    assert (lonely.precision, lonely.recall, lonely.remaining_offered) == (None, None, None)


def test_missed_goals_names_each_measure_below_the_issues_goal():
    def score(precision_pairs: tuple[int, int], recall_pairs: tuple[int, int]) -> PairwiseScore:
        # true_joined / joined and true_joined / true pairs, with no candidates.
        (true_joined, joined), (_, true) = precision_pairs, recall_pairs
        return PairwiseScore(10, 1, 1, true, joined, true_joined, 0, 0)

    scores = {
        "company": score((99, 100), (99, 100)),  # precision 0.99, recall 0.99, nothing offered
        "address": score((100, 100), (100, 101)),  # recall 0.990...
        "phone": score((98, 100), (98, 98)),  # precision 0.98
        "vessel": score((1, 1), (1, 1)),
    }
    assert missed_goals(scores) == [
        "company remaining_offered 0.0000 < 0.995",
        "phone precision 0.9800 < 0.99",
    ]
    assert missed_goals({}) == [
        "company precision n/a < 0.99",
        "company recall n/a < 0.97",
        "company remaining_offered n/a < 0.995",
        "address precision n/a < 0.99",
        "address recall n/a < 0.99",
        "phone precision n/a < 0.99",
        "phone recall n/a < 0.99",
        "vessel precision n/a < 0.99",
        "vessel recall n/a < 0.99",
    ]
