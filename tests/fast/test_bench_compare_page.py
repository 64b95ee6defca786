"""The side-by-side comparison's section names both revisions, the command, and each kind's
figures with their ratio and the statuses answered."""

from bench.api_compare import render


def test_the_section_names_both_revisions_and_each_kinds_ratio(monkeypatch):
    monkeypatch.delenv("BENCH_DATABASE", raising=False)
    before = {"p50_ms": 40.0, "p95_ms": 50.0, "statuses": {"200": 60}}
    after = {"p50_ms": 30.0, "p95_ms": 45.5, "statuses": {"200": 58, "500": 2}}
    page = render(
        {"before": "1452fcdefa23", "after": "453c911 (with uncommitted changes)"},
        [("links", "bench-06", before, after)],
        ["-m", "bench.api_compare", "--base", "1452fcd"],
        "1.03 1.61 1.69",
    )
    assert "before: 1452fcd; after: 453c911 (with uncommitted changes);" in page
    assert "`platform/with-env .venv/bin/python -m bench.api_compare --base 1452fcd`" in page
    assert "load average before: 1.03 1.61 1.69" in page
    row = "| links | bench-06 | 40.0 | 50.0 | 30.0 | 45.5 | 0.75 | 200: 60 / 200: 58, 500: 2 |"
    assert row in page.splitlines()
