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
