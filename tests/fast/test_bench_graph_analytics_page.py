"""bench/graph_analytics.py rewrites its section of docs/benchmarks.md after each stage: a
stage its results lack (measured in another worktree) keeps the text it had."""

from bench import graph_analytics

RESYNC = {
    "records": 10,
    "nodes": 4,
    "relationships": 3,
    "seconds": 1.5,
    "elements_per_second": 5,
    "peak_rss_mib": 100.0,
    "peak_pss_all_processes_mib": 200.0,
}
RUN = {"code": "abc1234", "date": "2026-12-04 22:00 UTC", "command": "the command", "load": "0.1 0.2 0.3"}


def test_a_stage_missing_from_the_results_keeps_its_text(tmp_path, monkeypatch):
    page = tmp_path / "benchmarks.md"
    earlier = "- code measured: 0000000\n\nThe whole graph, as measured before."
    page.write_text(
        "# Benchmarks\n\n"
        f"{graph_analytics.BEGIN}\n## Graph analytics\n\nintro\n\n### global\n\n{earlier}\n"
        f"{graph_analytics.END}\n"
    )
    monkeypatch.setattr(graph_analytics, "PAGE", page)
    rendered = graph_analytics.render({"resync": RESYNC, "runs": {"resync": RUN}})
    assert "### resync" in rendered and "| 10 | 4 | 3 |" in rendered
    assert f"### global\n\n{earlier}" in rendered
    assert "### walks" not in rendered


def walk_row(**extra) -> dict:
    return {"n": 40, "p50_ms": 10.0, "p95_ms": 20.0, "max_ms": 30.0, "refused": 0, "mean_size": 1.0, **extra}


def test_path_searches_stopped_at_their_budget_are_counted_on_the_page(tmp_path, monkeypatch):
    monkeypatch.setattr(graph_analytics, "PAGE", tmp_path / "benchmarks.md")
    measured = {
        "viewer": "bench-06",
        "visible_records": 1000,
        "neighbourhood": {
            "neo4j_cold": walk_row(),
            "neo4j_warm": walk_row(),
            "networkx": walk_row(n=1),
            "same_answers_as_networkx": 1,
        },
        "paths": {
            "neo4j_cold": walk_row(stopped_at_budget=7),
            "neo4j_warm": walk_row(stopped_at_budget=6),
            "networkx": walk_row(n=1, stopped_at_budget=0),
            "same_answers_as_networkx": 1,
        },
    }
    rendered = graph_analytics.render({"walks": {"high": measured}, "runs": {"walks": RUN}})
    assert (
        "- bench-06 (high), paths on Neo4j warm: 6 of 40 searches stopped at their budget "
        "without a path (`search_complete` false)." in rendered
    )
