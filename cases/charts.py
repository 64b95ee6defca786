"""The shape of a saved link chart, checked before it is stored: the chart page's JSON
(`nodes`: entity public ids; `positions`: a point per node; `filters` and `layout`: the
page's own settings), nothing else. Entities are named in `nodes` and `positions` only, so
that a node the reader may no longer see can be taken out whole when the case is opened;
`filters` and `layout` may therefore name no entity (no UUID anywhere in them)."""

from __future__ import annotations

import json
import math
import re
import unicodedata
import uuid

from django.core.exceptions import ValidationError

from core.inputs import quoted

CHART_KEYS = ("nodes", "positions", "filters", "layout")
# filters and layout are a page's settings: small; bounded so a case stays a case.
SETTINGS_MAX_BYTES = 16 * 1024
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# A UUID's five groups, written with any one separator between them or none (a dash, an
# underscore, a space...), looked for in the text's NFKC form, where full-width digits and
# letters are the ASCII ones.
ANY_UUID = re.compile(
    r"[0-9a-f]{8}[^0-9a-z]?[0-9a-f]{4}[^0-9a-z]?[0-9a-f]{4}[^0-9a-z]?[0-9a-f]{4}[^0-9a-z]?[0-9a-f]{12}",
    re.IGNORECASE,
)


def refuse(problem: str) -> ValidationError:
    return ValidationError({"chart": [problem]})


def canonical_id(value: object) -> str | None:
    """The canonical text of a public id (as URLs take it), or None for anything else."""
    if not isinstance(value, str):
        return None
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        return None
    return str(parsed) if str(parsed) == value else None


def clean_nodes(raw: object, max_nodes: int) -> list[str]:
    if not isinstance(raw, list):
        raise refuse("nodes: a list of entity ids")
    if len(raw) > max_nodes:
        raise refuse(f"nodes: at most {max_nodes} entities in a case (CASE_MAX_NODES)")
    nodes = []
    for index, value in enumerate(raw):
        node = canonical_id(value)
        if node is None:
            raise refuse(f"nodes[{index}]: not an entity id")
        nodes.append(node)
    return list(dict.fromkeys(nodes))


def coordinate(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def clean_positions(raw: object, nodes: list[str]) -> dict[str, dict[str, float]]:
    if not isinstance(raw, dict):
        raise refuse("positions: an object of {x, y} by entity id")
    known = set(nodes)
    positions = {}
    for node, point in raw.items():
        if node not in known:
            raise refuse(f"positions[{quoted(node)}]: not one of the chart's nodes")
        if (
            not isinstance(point, dict)
            or set(point) != {"x", "y"}
            or not all(map(coordinate, point.values()))
        ):
            raise refuse(f"positions[{quoted(node)}]: an object of two finite numbers, x and y")
        positions[node] = {"x": point["x"], "y": point["y"]}
    return positions


def clean_setting(name: str, raw: object, kinds: tuple[type, ...]) -> object:
    if not isinstance(raw, kinds):
        raise refuse(f"{name}: a JSON {' or '.join('object' if k is dict else 'string' for k in kinds)}")
    text = json.dumps(raw, ensure_ascii=False)
    if LONE_SURROGATE.search(text):
        # A JSON escape can name half of a UTF-16 pair, which has no UTF-8 and no jsonb form.
        raise refuse(f"{name}: may not hold a lone UTF-16 surrogate")
    if len(text.encode()) > SETTINGS_MAX_BYTES:
        raise refuse(f"{name}: at most {SETTINGS_MAX_BYTES} bytes")
    if "\\u0000" in text:
        # PostgreSQL's jsonb holds no NUL character.
        raise refuse(f"{name}: may not hold a NUL character")
    if ANY_UUID.search(unicodedata.normalize("NFKC", text)):
        raise refuse(f"{name}: may not name entities or other objects; a chart's entities go in nodes")
    return raw


def clean_chart(raw: object, *, max_nodes: int) -> dict:
    """The chart as it is stored, or a ValidationError naming `chart` and the part refused."""
    if not isinstance(raw, dict):
        raise refuse("a JSON object with " + ", ".join(CHART_KEYS))
    unknown = sorted(str(key)[:40] for key in raw if key not in CHART_KEYS)
    if unknown:
        raise refuse(f"unknown parts {', '.join(unknown)}; a chart holds {', '.join(CHART_KEYS)}")
    nodes = clean_nodes(raw.get("nodes", []), max_nodes)
    return {
        "nodes": nodes,
        "positions": clean_positions(raw.get("positions", {}), nodes),
        "filters": clean_setting("filters", raw.get("filters", {}), (dict,)),
        "layout": clean_setting("layout", raw.get("layout", {}), (dict, str)),
    }


def without(chart: dict, removed: set[str]) -> dict:
    """The chart less the nodes named, and their positions."""
    return {
        **chart,
        "nodes": [node for node in chart.get("nodes", []) if node not in removed],
        "positions": {node: p for node, p in chart.get("positions", {}).items() if node not in removed},
    }
