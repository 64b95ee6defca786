"""The shape a saved chart must have (cases/charts.py), as pure functions: what is kept,
what is refused (naming the chart and the part), and what taking nodes out leaves."""

import pytest
from django.core.exceptions import ValidationError

from cases.charts import clean_chart, without

A = "0b3f2a56-3b8e-4f2c-9d51-0f0a8e6f1c11"
B = "7d1c9e20-5a44-4b6e-8f0e-2b6f3c9a0d22"


def refused(raw, max_nodes: int = 10) -> str:
    with pytest.raises(ValidationError) as error:
        clean_chart(raw, max_nodes=max_nodes)
    assert list(error.value.message_dict) == ["chart"]
    return error.value.message_dict["chart"][0]


def test_a_chart_is_kept_with_its_parts_and_each_node_once():
    raw = {
        "nodes": [A, B, A],
        "positions": {A: {"x": 1, "y": 2.5}},
        "filters": {"types": ["vessel"]},
        "layout": "fcose",
    }
    assert clean_chart(raw, max_nodes=10) == {
        "nodes": [A, B],
        "positions": {A: {"x": 1, "y": 2.5}},
        "filters": {"types": ["vessel"]},
        "layout": "fcose",
    }
    assert clean_chart({}, max_nodes=10) == {"nodes": [], "positions": {}, "filters": {}, "layout": {}}


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ({"nodes": [A], "edges": []}, "unknown parts edges"),
        ({"nodes": [A.upper()]}, "nodes[0]: not an entity id"),
        ({"nodes": [A, 7]}, "nodes[1]: not an entity id"),
        ({"nodes": A}, "nodes: a list"),
        ({"nodes": [A], "positions": {B: {"x": 0, "y": 0}}}, "not one of the chart's nodes"),
        ({"nodes": [A], "positions": {A: {"x": 0}}}, "two finite numbers"),
        ({"nodes": [A], "positions": {A: {"x": True, "y": 0}}}, "two finite numbers"),
        ({"nodes": [A], "positions": {A: {"x": float("nan"), "y": 0}}}, "two finite numbers"),
        ({"nodes": [A], "filters": {"around": B}}, "filters: may not name entities"),
        ({"nodes": [A], "filters": {B.replace("-", ""): 1}}, "filters: may not name entities"),
        ({"nodes": [A], "layout": {"root": A}}, "layout: may not name entities"),
        ({"nodes": [A], "filters": "vessel"}, "filters: a JSON object"),
        ({"nodes": [A], "filters": {"long": "x" * 20_000}}, "filters: at most"),
        ({"nodes": [A], "layout": "grid\x00"}, "layout: may not hold a NUL character"),
        ([A], "a JSON object"),
    ],
)
def test_a_chart_of_another_shape_is_refused_naming_the_part(raw, words):
    assert words in refused(raw)


def test_more_nodes_than_the_limit_are_refused():
    assert "at most 1 entities" in refused({"nodes": [A, B]}, max_nodes=1)


def test_without_takes_nodes_out_with_their_positions_and_keeps_the_rest():
    chart = clean_chart(
        {"nodes": [A, B], "positions": {A: {"x": 1, "y": 1}, B: {"x": 2, "y": 2}}, "layout": "grid"},
        max_nodes=10,
    )
    assert without(chart, {B}) == {
        "nodes": [A],
        "positions": {A: {"x": 1, "y": 1}},
        "filters": {},
        "layout": "grid",
    }
