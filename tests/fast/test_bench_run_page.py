"""bench/run.py rewrites its part of docs/benchmarks.md after each stage: a stage this run
did not measure keeps its section and its row of stage times (its results may be in no
results file here), and a stage it measured replaces them."""

from bench import report

HTTP_ROW = "| http | 372.2 | 6.2 | 2026-12-04 20:44 UTC | 3004ec8 | `the http command` |"
IMPORT_ROW = "| import | 418.5 | 7.0 | 2026-12-04 22:49 UTC | b34d048 | `the import command` |"
PAGE = f"""# Benchmarks

{report.BEGIN}
# Benchmarks

## Run

| stage | seconds | minutes | finished | code measured | by |
| --- | ---: | ---: | --- | --- | --- |
{IMPORT_ROW}
{HTTP_ROW}

## 1. Import throughput and memory

Imported at b34d048.

## 4. The API over HTTP

Served at 3004ec8.

## 5. Load: analysts and liaison officers at once

Loaded at 3004ec8.
{report.END}

## Graph sync

Another benchmark's.
"""


def test_a_run_that_measured_nothing_keeps_every_section_and_row(tmp_path):
    page = tmp_path / "benchmarks.md"
    page.write_text(PAGE)
    report.write_run(page, {})
    written = page.read_text()
    for kept in (IMPORT_ROW, HTTP_ROW, "Imported at b34d048.", "Served at 3004ec8.", "Loaded at 3004ec8."):
        assert written.count(kept) == 1, kept
    assert written.index("## 1. ") < written.index("## 4. ") < written.index("## 5. ")
    assert written.endswith("## Graph sync\n\nAnother benchmark's.\n")
    # Rows from before the page named machines say so rather than borrow the last run's.
    assert f"{IMPORT_ROW} not recorded |" in written and f"{HTTP_ROW} not recorded |" in written


def test_a_measured_stage_replaces_its_section_and_row(tmp_path, monkeypatch):
    page = tmp_path / "benchmarks.md"
    page.write_text(PAGE)
    monkeypatch.setattr(
        report, "_http_section", lambda add, *_: add("## 4. The API over HTTP\n\nServed anew.")
    )
    results = {
        "http": {},
        "stage_seconds": {"http": 10.0},
        "stage_runs": {
            "http": {
                "finished": "2026-12-05 00:00 UTC",
                "code": "abcdef1",
                "command": "again",
                "machine": "AMD EPYC, kernel 6.18",
            }
        },
    }
    report.write_run(page, results)
    written = page.read_text()
    assert "Served anew." in written and "Served at 3004ec8." not in written
    assert (
        HTTP_ROW not in written
        and "| http | 10.0 | 0.2 | 2026-12-05 00:00 UTC | abcdef1 | `again` | AMD EPYC, kernel 6.18 |"
        in written
    )
    assert IMPORT_ROW in written and "Imported at b34d048." in written and "Loaded at 3004ec8." in written
