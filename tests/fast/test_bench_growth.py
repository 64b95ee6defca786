"""The growth stage's page: which functions made the late stretch of one import cost more
than the early one, named relative to the checkout wherever it is."""

from bench import report


def test_the_functions_that_grew_most_come_first_and_library_code_is_left_out():
    early = {
        "intel/merging.py:515(fold_identities)": (20, 9.0),
        "intel/candidates.py:314(find_candidates)": (1, 1.6),
        "intel/resolution.py:389(resolve_company)": (23_000, 5.3),
        "django/db/models/query.py:1952(_fetch_all)": (600, 2.0),
        "psycopg/connection.py:479(wait)": (3_000, 16.0),
    }
    late = {
        "intel/merging.py:515(fold_identities)": (20, 17.5),
        "intel/candidates.py:314(find_candidates)": (1, 9.0),
        "intel/resolution.py:389(resolve_company)": (23_000, 5.1),
        "django/db/models/query.py:1952(_fetch_all)": (800, 9.0),
        "psycopg/connection.py:479(wait)": (3_800, 20.5),
        "intel/merging.py:384(_undo_locked)": (120, 1.6),
    }
    grown = report.grown_functions(early, late, count=4)
    assert [row["function"] for row in grown] == [
        "intel/merging.py:515(fold_identities)",
        "intel/candidates.py:314(find_candidates)",
        "psycopg/connection.py:479(wait)",
        "intel/merging.py:384(_undo_locked)",
    ]
    assert grown[0] == {
        "function": "intel/merging.py:515(fold_identities)",
        "early_calls": 20,
        "early_s": 9.0,
        "late_calls": 20,
        "late_s": 17.5,
        "grew_s": 8.5,
    }
    # Absent from the early profile: counted from nothing.
    assert grown[3]["early_calls"] == 0 and grown[3]["grew_s"] == 1.6


def test_a_profiled_file_is_named_from_the_checkout_wherever_it_lies():
    assert report._short(f"{report.PROJECT_ROOT}intel/merging.py") == "intel/merging.py"
    assert report._short("/x/.venv/lib/python3.11/site-packages/psycopg/cursor.py") == "psycopg/cursor.py"


def test_the_growth_section_is_written_and_kept_by_a_run_that_did_not_measure_it(tmp_path):
    row = {"label": "import_file, whole import", "calls": 0, "cumtime": 0.0}
    profile = {"profile_total_seconds": 40.0, "profile_rows": [row], "top_tottime": []}
    growth = {
        "population": 1_000_000,
        "window_rows": 10_000,
        "command": "python -m bench.import_child grown.csv",
        "checkpoints": [{"rows": 10_000, "rows_per_s": 300.0}, {"rows": 150_000, "rows_per_s": 160.0}],
        "profile_windows": [
            {"first": 140_000, "end": 150_000, "completed": True, "seconds": 66.0, "rows_per_s": 151.5},
            {"first": 100, "end": 10_000, "completed": True, "seconds": 49.6, "rows_per_s": 199.6},
        ],
        "profiles": {"early": profile, "late": profile},
        "grown": report.grown_functions(
            {"intel/merging.py:515(fold_identities)": (20, 9.0)},
            {"intel/merging.py:515(fold_identities)": (20, 17.5)},
        ),
    }
    page = tmp_path / "benchmarks.md"
    report.write_run(page, {"growth": growth, "stage_runs": {"growth": {"code": "abc1234"}}})
    written = page.read_text()
    assert "## 2b. Where the cost per row grows within one import" in written
    assert "**early**, rows 100 to 10,000, and **late**, rows 140,000 to 150,000" in written
    assert "- early: 49.6 s, 200 rows/s" in written and "- late: 66.0 s, 152 rows/s" in written
    assert "Code measured: abc1234" in written
    assert "import_file, whole import" not in written, "a row neither stretch entered is left out"
    assert "| `intel/merging.py:515(fold_identities)` | 20 | 9.00 | 20 | 17.50 | 8.50 |" in written
    assert "10,000: 300, 150,000: 160" in written
    report.write_run(page, {})
    assert page.read_text().count("| `intel/merging.py:515(fold_identities)` | 20 | 9.00 |") == 1
