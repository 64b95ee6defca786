"""docs/benchmarks.md from the results the stages collect (var/bench/results.json)."""

from __future__ import annotations

import json
import os
import pstats
import re
import shlex
import sys
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from bench.common import percentile

# (file suffix, function) -> what to call it in the profile table.
PROFILE_ROWS = [
    (("intel/import_writing.py", "import_file"), "import_file, whole import"),
    (("intel/import_reading.py", "iter_rows"), "reading CSV (iter_rows)"),
    (("intel/import_validation.py", "parse_row"), "parse_row: validation + resolution, per row"),
    (("intel/resolution.py", "resolve_company"), "  resolve_company (fingerprints, stdnum)"),
    (("intel/resolution.py", "resolve_address"), "  resolve_address"),
    (("intel/resolution.py", "resolve_phone"), "  resolve_phone (phonenumbers)"),
    (("intel/resolution.py", "resolve_email"), "  resolve_email (Django validate_email)"),
    (("intel/resolution.py", "resolve_vessel"), "  resolve_vessel"),
    (("intel/resolution.py", "resolve_container"), "  resolve_container"),
    (("intel/resolution.py", "normalize_country"), "  normalize_country (pycountry lookup)"),
    (("intel/import_writing.py", "write_chunk"), "write_chunk, per chunk"),
    (("intel/import_writing.py", "resolve_entities"), "  resolve_entities (SELECT + INSERT entities)"),
    (("django/db/models/query.py", "bulk_create"), "  QuerySet.bulk_create (all tables)"),
    (("django/db/models/sql/compiler.py", "as_sql"), "    Django SQL compilation (as_sql, all)"),
    (("django/db/models/base.py", "__init__"), "    Model.__init__ (ORM objects built)"),
    (("psycopg/_queries.py", "convert"), "    psycopg client-side parameter quoting"),
    (("intel/candidates.py", "find_candidates"), "find_candidates, per CANDIDATE_SEARCH_ENTITIES written"),
    (("intel/candidates.py", "_fingerprints_by_entity"), "  _fingerprints_by_entity (mentions of peers)"),
    (("psycopg/connection.py", "commit"), "COMMIT (deferred FK constraint checks)"),
    (("psycopg/connection.py", "wait"), "waiting on PostgreSQL (all statements + commit)"),
]


def profile_summary(stats: pstats.Stats) -> dict:
    totals: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for (filename, _, function), (_, calls, tottime, cumtime, _) in stats.stats.items():
        for (suffix, name), _label in PROFILE_ROWS:
            if function == name and filename.endswith(suffix):
                entry = totals[(suffix, name)]
                entry[0] += calls
                entry[1] += tottime
                entry[2] += cumtime
    rows = []
    for key, label in PROFILE_ROWS:
        calls, _, cumtime = totals.get(key, [0, 0.0, 0.0])
        rows.append({"label": label, "calls": int(calls), "cumtime": round(cumtime, 2)})
    top = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)[:20]
    return {
        "profile_total_seconds": round(stats.total_tt, 2),
        "profile_rows": rows,
        "top_tottime": [
            {
                "function": f"{_short(filename)}:{line}({function})",
                "calls": calls,
                "tottime": round(tottime, 2),
                "cumtime": round(cumtime, 2),
            }
            for (filename, line, function), (_, calls, tottime, cumtime, _) in top
        ],
    }


# Where the project is checked out: a profile names its files by their whole paths.
PROJECT_ROOT = f"{Path(__file__).resolve().parent.parent}/"


def _short(filename: str) -> str:
    for marker in ("site-packages/", PROJECT_ROOT, "/lib/python3.11/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


SCAN = (
    r"((?:Parallel )?(?:Seq Scan|Index Only Scan|Index Scan|Bitmap Heap Scan)(?: Backward)?)"
    r"(?: using (\S+))? on {table}\b"
)


def plan_facts(text: str) -> dict[str, str]:
    """How a plan reads the records and the grants, from EXPLAIN's text."""
    plan = text.split("\n\n", 1)[-1]

    def scans(table: str, index_prefix: str) -> str:
        found = dict.fromkeys(
            f"{kind} ({index})" if index else kind
            for kind, index in re.findall(SCAN.format(table=table), plan)
        )
        # A bitmap heap scan names its index on the Bitmap Index Scan line below it.
        bitmap = re.findall(rf"Bitmap Index Scan on ({index_prefix}\S*)", plan)
        if bitmap and "Bitmap Heap Scan" in found:
            found.pop("Bitmap Heap Scan")
            found.update(dict.fromkeys(f"Bitmap Heap Scan ({index})" for index in bitmap))
        return "; ".join(found) or "not read"

    grants = scans(
        "(?:intel_recordgroupobjectpermission|guardian_groupobjectpermission)",
        "(?:intel_recordgroupobjectp|guardian_gr)",
    )
    jit = re.search(r"Timing:.*Total ([\d.]+) ms", plan)
    execution = re.search(r"Execution Time: ([\d.]+) ms", plan)
    hashed = set(re.findall(r"hashed SubPlan (\d+)", plan))
    every = set(re.findall(r"SubPlan (\d+)", plan))
    kinds = [f"{len(hashed)} hashed (run once)"] if hashed else []
    kinds += [f"{len(every - hashed)} per row"] if every - hashed else []
    subplan = ", ".join(kinds) or "join"
    return {
        "record_scan": scans("intel_record", "(?:intel_recor_|intel_record_|record_unique)"),
        "grant_scan": grants,
        "release_scan": scans("sharing_recordrelease", "(?:release_once|sharing_rec)"),
        "subplan": subplan,
        "jit_ms": jit.group(1) if jit else "none",
        "execution_ms": execution.group(1) if execution else "n/a",
    }


def _n(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}"


BEGIN = "<!-- bench/run.py: begin. Generated by `make bench`; edit bench/report.py, not this. -->"
END = "<!-- bench/run.py: end -->"
OWN_PAGE_START = "# Benchmarks\n\nWritten by `make bench`"


def _replaced(page: str, block: str, begin: str, end: str) -> str | None:
    """The page with the part between `begin` and `end` replaced by `block`; None when the
    page has no such part."""
    if begin not in page or end not in page:
        return None
    before, rest = page.split(begin, 1)
    after = rest.split(end, 1)[1].lstrip("\n")
    return before + block + ("\n" + after if after else "")


def write_section(path: Path, body: str, begin: str, end: str) -> None:
    """Writes a benchmark's own section, between its markers: in place of the last one, or
    at the end of the page; the rest of the page is kept."""
    block = f"{begin}\n{body.rstrip()}\n{end}\n"
    old = path.read_text() if path.exists() else ""
    page = _replaced(old, block, begin, end)
    path.write_text(page if page is not None else old.rstrip("\n") + ("\n\n" if old.strip() else "") + block)


def write_page(path: Path, body: str) -> None:
    """Replaces this run's part of the page and keeps the rest: other benchmarks (the
    graph sync's, the resolution quality's) write their own sections into the same page."""
    block = f"{BEGIN}\n{body.rstrip()}\n{END}\n"
    old = path.read_text() if path.exists() else ""
    replaced = _replaced(old, block, BEGIN, END)
    if replaced is not None:
        page = replaced
    elif not old.strip() or old.startswith(OWN_PAGE_START):
        # A page from before the markers: keep the sections someone else added to it.
        others = [
            chunk for chunk in re.split(r"(?m)^(?=## )", old)[1:] if not re.match(r"## (Run|\d+\. )", chunk)
        ]
        page = block + ("\n" + "".join(others) if others else "")
    else:
        page = block + "\n" + old
    path.write_text(page)


# The stage whose results each numbered section of this run's part of the page shows.
SECTION_STAGES = {
    "## 1. ": "import",
    "## 1b. ": "loaded",
    "## 2. ": "profile",
    "## 2b. ": "growth",
    "## 3. ": "experiments",
    "## 4. ": "http",
    "## 5. ": "load",
    "## 5b. ": "serving",
}


def earlier_figures(page: str) -> tuple[dict[str, str], dict[str, str]]:
    """The sections and the stage-time rows, by stage, of this run's part of the page as it
    stands: a run that does not measure a stage keeps them, since their results may be in no
    results file here (measured on another machine or in another worktree)."""
    if BEGIN not in page or END not in page:
        return {}, {}
    part = page.split(BEGIN, 1)[1].split(END, 1)[0]
    sections = {}
    for chunk in re.split(r"(?m)^(?=## )", part):
        for heading, stage in SECTION_STAGES.items():
            if chunk.startswith(heading):
                sections[stage] = chunk.strip()
    rows = {}
    for line in part.splitlines():
        cells = line.split("|")
        if (
            len(cells) > 2
            and line.startswith("| ")
            and cells[1].strip() in set(SECTION_STAGES.values()) | {"memory"}
        ):
            rows[cells[1].strip()] = line
    return sections, rows


def write_run(path: Path, results: dict) -> None:
    """Writes this run's part of the page from `results`, keeping what the page showed of
    the stages `results` lacks."""
    write_page(path, render(results, earlier=path.read_text() if path.exists() else ""))


def render(results: dict, earlier: str = "") -> str:
    kept_sections, kept_rows = earlier_figures(earlier)
    out: list[str] = []
    add = out.append
    machine = results.get("machine", {})
    add("# Benchmarks")
    add("")
    add(
        "Written by `make bench` (`bench/run.py`, see `bench/README.md`); do not edit by hand. "
        "The machine is shared: other engineers run test suites on it at the same time, so "
        "absolute numbers are noisy. Comparisons are made side by side in one run (the request "
        "kinds of the HTTP stage take turns), and latencies are quoted as medians and p95."
    )
    add("")
    add("## Last run")
    add("")
    add(
        "The machine and the command of the last run of `bench/run.py`; a stage measured by an "
        "earlier run keeps its figures below, and the table of stage times names each stage's "
        "code and command."
    )
    add("")
    add(f"- date: {machine.get('date', 'n/a')}")
    add(f"- command: `{results.get('command', 'n/a')}` (scale {results.get('scale')})")
    add(f"- machine: {machine.get('nproc')} cores ({machine.get('cpu')}), kernel {machine.get('kernel')}")
    add(
        f"- load average at start / end: {_load(machine.get('load_average_start'))}"
        f" / {_load(machine.get('load_average_end'))}"
    )
    add(
        f"- Python {machine.get('python')}; "
        + ", ".join(f"{name} {version}" for name, version in machine.get("packages", {}).items())
    )
    add(f"- {machine.get('postgres', '')}")
    add(
        "- PostgreSQL settings: "
        + ", ".join(f"{k} = {v}" for k, v in machine.get("postgres_settings", {}).items())
    )
    database = machine.get("database", "interlink_bench")
    add(f"- database: `{database}` (its own; never the dev or test database); Django DEBUG off")
    add("")
    add("```")
    add(f"$ free -m\n{machine.get('free', '')}")
    add("```")
    add("")
    timings = results.get("stage_seconds", {})
    earlier_rows = [row for stage, row in kept_rows.items() if stage not in timings]
    if timings or earlier_rows:
        add("Wall-clock time of each stage (generation, loading and measuring included):")
        add("")
        runs = results.get("stage_runs", {})
        add("| stage | seconds | minutes | finished | code measured | by | machine |")
        add("| --- | ---: | ---: | --- | --- | --- | --- |")
        # Rows written before the page named machines have one cell fewer.
        out.extend(row if row.count("|") > 7 else f"{row} not recorded |" for row in earlier_rows)
        for stage, seconds in timings.items():
            run = runs.get(stage, {})
            add(
                f"| {stage} | {_n(seconds, 1)} | {_n(seconds / 60, 1)} | {run.get('finished', 'n/a')} | "
                f"{run.get('code', 'n/a')} | `{run.get('command', 'n/a')}` | {run.get('machine', 'n/a')} |"
            )
        add("")
    runs = results.get("stage_runs", {})
    renderers = {
        "import": lambda: _import_section(add, results),
        "loaded": lambda: _loaded_section(add, results["loaded"]),
        "profile": lambda: _profile_section(add, results["profile"]),
        "growth": lambda: _growth_section(add, results["growth"], runs.get("growth", {})),
        "experiments": lambda: _experiments_section(add, results["experiments"]),
        "http": lambda: _http_section(add, results["http"], runs.get("http", {})),
        "load": lambda: _load_section(add, results["load"], runs.get("load", {})),
        "serving": lambda: _serving_section(add, results["serving"], runs.get("serving", {})),
    }
    for stage in SECTION_STAGES.values():
        if stage in results:
            renderers[stage]()
        elif stage in kept_sections:
            add(kept_sections[stage])
            add("")
    return "\n".join(out) + "\n"


def _load(value) -> str:
    return " ".join(f"{x:.2f}" for x in value) if value else "n/a"


def _import_section(add, results: dict) -> None:
    imp = results["import"]
    add("## 1. Import throughput and memory")
    add("")
    add(
        f"A generated file of {_n(imp['rows'])} rows of five agencies' declarations, inspections and "
        "seizures, with the spelling variants of real files "
        f"({imp['file_mib']} MiB, `demo/resolution_scenario.py`, generated in {imp['generate_seconds']} s) "
        "imported by `intel.import_writing.import_file` (validation, entity resolution, writing in chunks "
        "of `CHUNK_SIZE` rows, a candidate search per `CANDIDATE_SEARCH_ENTITIES` entities written, one "
        "all-or-nothing transaction) into "
        "empty tables of a new database, in "
        "a fresh process per import. Peak memory is that process's VmHWM (the kernel's high-water "
        "mark of its resident memory, from /proc; not ru_maxrss, which Linux carries over from the "
        "parent across fork and exec), Django and all imports included."
    )
    add("")
    add("| file | rows imported | seconds | records/s | of which COMMIT | peak RSS | RSS before import |")
    add("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    add(
        f"| {_n(imp['rows'])} rows | {_n(imp['rows'])} | {_n(imp['seconds'], 1)} | "
        f"**{_n(imp['rows_per_s'], 0)}** | {_n(imp['commit_seconds'], 1)} s | "
        f"**{_n(imp['peak_rss_mib'], 1)} MiB** | {_n(imp['rss_before_import_mib'], 1)} MiB |"
    )
    mem = results.get("memory")
    if mem:
        stopped = "" if mem["completed"] else " (stopped)"
        commit = f"{_n(mem['commit_seconds'], 1)} s" if mem["completed"] else "not reached"
        add(
            f"| {_n(mem['rows_in_file'])} rows | {_n(mem['rows'])}{stopped} | {_n(mem['seconds'], 1)} | "
            f"{_n(mem['rows_per_s'], 0)} | {commit} | **{_n(mem['peak_rss_mib'], 1)} MiB** | "
            f"{_n(mem['rss_before_import_mib'], 1)} MiB |"
        )
    add("")
    add(
        f"The {_n(imp['rows'])}-row import wrote {_n(imp.get('records_written'))} records, "
        f"{_n(imp.get('mentions'))} mentions, {_n(imp.get('links'))} links and "
        f"{_n(imp.get('candidates'))} near-duplicate candidates; entities by type: "
        + ", ".join(f"{k} {_n(v)}" for k, v in (imp.get("entities_by_type") or {}).items())
        + "."
    )
    add("")
    add(f"Command: `{imp['command']}`.")
    add("")
    add(
        f"Goal (issue 13, at `--scale 1`): ≥ {IMPORT_GOAL_ROWS_PER_S:,} rows/s at 100,000 rows: "
        + ("met" if imp["rows_per_s"] >= IMPORT_GOAL_ROWS_PER_S else "**missed**")
        + f" ({_n(imp['rows_per_s'], 0)} rows/s at {_n(imp['rows'])} rows)."
    )
    if mem:
        growth = mem["peak_rss_mib"] / imp["peak_rss_mib"] - 1
        add(
            f"Peak memory from {_n(imp['rows'])} to {_n(mem['rows'])} rows: {growth:+.0%} "
            f"(goal: within {MEMORY_GOAL_GROWTH:.0%} from 100,000 to 1,000,000): "
            + ("met" if abs(growth) <= MEMORY_GOAL_GROWTH else "**missed**")
            + "."
        )
    add("")
    _checkpoints(add, f"{_n(imp['rows'])}-row file", imp)
    if mem:
        if not mem["completed"]:
            add(
                f"**The {_n(mem['rows_in_file'])}-row file was not imported to the end.** At the "
                f"throughput of the {_n(imp['rows'])}-row import the whole file would take about "
                f"{mem['estimated_full_import_minutes']} minutes, more than the "
                f"{mem['cap_minutes']}-minute cap, so the import was stopped after "
                f"{_n(mem['rows'])} of {_n(mem['rows_in_file'])} rows "
                f"({_n(mem['seconds'], 0)} s; being all-or-nothing it then rolled back). "
                "The peak RSS above is over those rows."
            )
            add("")
        add(f"Command: `{mem['command']}`.")
        add("")
        _checkpoints(add, f"{_n(mem['rows_in_file'])}-row file", mem)


IMPORT_GOAL_ROWS_PER_S = 2000
LOADED_GOAL_ROWS_PER_S = 1600
MEMORY_GOAL_GROWTH = 0.2


def _loaded_section(add, loaded: dict) -> None:
    add("## 1b. Import on top of a loaded database")
    add("")
    add(
        f"{_n(loaded['records_before'])} rows of the same mix imported first "
        f"({_n(loaded['preload_seconds'], 0)} s, {_n(loaded['preload_rows_per_s'], 0)} rows/s), then "
        f"{_n(loaded['rows_in_file'])} more rows by the same traders (numbered after the first file's rows) "
        "imported on top of them, in a fresh process: whether the cost per row grows with what is "
        "already stored (blocks, candidate search, indexes)."
    )
    add("")
    stopped = "" if loaded["completed"] else f" (stopped at the {loaded['cap_minutes']}-minute cap)"
    add(
        f"- {_n(loaded['rows'])} rows{stopped} in {_n(loaded['seconds'], 1)} s: "
        f"**{_n(loaded['rows_per_s'], 0)} rows/s**; peak RSS **{_n(loaded['peak_rss_mib'], 1)} MiB**"
    )
    goal = (
        f"- goal (issue 13): ≥ {LOADED_GOAL_ROWS_PER_S:,} rows/s over 1,000,000 rows into a database "
        "already holding 1,000,000 records: "
    )
    held = _n(loaded["rows_in_file"])
    if loaded["rows_in_file"] < 1_000_000:
        add(goal + f"**not measured at that size** (this run's files held {held} rows each)")
    else:
        met = loaded["completed"] and loaded["rows_per_s"] >= LOADED_GOAL_ROWS_PER_S
        add(goal + ("met" if met else "**missed**"))
    add(f"- command: `{loaded['command']}`")
    add("")
    _checkpoints(add, f"{_n(loaded['rows_in_file'])} rows on top of {_n(loaded['records_before'])}", loaded)


def _checkpoints(add, title: str, result: dict) -> None:
    points = result.get("checkpoints") or []
    if not points:
        return
    first, last = points[0], points[-1]
    add(
        f"{title}: throughput went from {_n(first['rows_per_s'])} rows/s over the first "
        f"{_n(first['rows'])} rows to {_n(last['rows_per_s'])} rows/s over the last interval (to row "
        f"{_n(last['rows'])}); the importer's RSS from {_n(first['rss_mib'], 1)} to "
        f"{_n(last['rss_mib'], 1)} MiB; its PostgreSQL backend's private memory from "
        f"{_n(first.get('pg_backend_private_mib'), 1)} to {_n(last.get('pg_backend_private_mib'), 1)} MiB."
    )
    add("")
    add(
        f"<details><summary>{title}: progress samples (throughput per interval, RSS of the importing "
        "process, private memory of its PostgreSQL backend)</summary>"
    )
    add("")
    add("| rows | seconds | rows/s in interval | importer RSS MiB | PG backend private MiB |")
    add("| ---: | ---: | ---: | ---: | ---: |")
    for point in points:
        add(
            f"| {_n(point['rows'])} | {_n(point['seconds'], 1)} | {_n(point['rows_per_s'], 0)} | "
            f"{_n(point['rss_mib'], 1)} | {_n(point.get('pg_backend_private_mib'), 1)} |"
        )
    add("")
    add(f"PG backend private memory, peak sampled: {_n(result.get('pg_backend_private_peak_mib'), 1)} MiB.")
    add("")
    add("</details>")
    add("")


def _early_late_table(add, early: dict, late: dict) -> None:
    """The PROFILE_ROWS of two profiles side by side, each row's share of its whole import
    (or, for a profile of a stretch of one, of the work within that stretch)."""
    add("| what | early calls | early s | early share | late calls | late s | late share |")
    add("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")

    def total(profile: dict) -> float:
        rows = profile["profile_rows"]
        whole = next((r["cumtime"] for r in rows if r["label"].startswith("import_file")), 0)
        return whole or profile.get("profile_total_seconds") or 1

    early_total, late_total = total(early), total(late)
    for first, second in zip(early["profile_rows"], late["profile_rows"], strict=True):
        if not first["calls"] and not second["calls"]:
            # Not entered within either profile (the whole import, seen from a stretch of it).
            continue
        label = first["label"].replace("  ", "&nbsp;&nbsp;")
        add(
            f"| {label} | {_n(first['calls'])} | {_n(first['cumtime'], 1)} | "
            f"{first['cumtime'] / early_total:.0%} | {_n(second['calls'])} | {_n(second['cumtime'], 1)} | "
            f"{second['cumtime'] / late_total:.0%} |"
        )
    add("")


def function_times(stats: pstats.Stats) -> dict[str, tuple[int, float]]:
    """Calls and cumulative seconds of each function of a profile, by a short name."""
    return {
        f"{_short(filename)}:{line}({function})": (calls, cumtime)
        for (filename, line, function), (_, calls, _tottime, cumtime, _) in stats.stats.items()
    }


# The project's own code, and the wait on PostgreSQL, in the table of what grew: the
# library functions under them grow with them and say less.
GROWN_SHOWN = ("intel/", "core/", "audit/", "psycopg/connection.py")


def grown_functions(
    early: dict[str, tuple[int, float]], late: dict[str, tuple[int, float]], count: int = 20
) -> list[dict]:
    """The `count` functions whose cumulative time grew most from the early profile to the
    late one, with their calls in each: what makes the same number of rows cost more."""
    names = [name for name in set(early) | set(late) if name.startswith(GROWN_SHOWN)]
    rows = []
    for name in names:
        (early_calls, early_s), (late_calls, late_s) = early.get(name, (0, 0.0)), late.get(name, (0, 0.0))
        rows.append(
            {
                "function": name,
                "early_calls": early_calls,
                "early_s": round(early_s, 2),
                "late_calls": late_calls,
                "late_s": round(late_s, 2),
                "grew_s": round(late_s - early_s, 2),
            }
        )
    rows.sort(key=lambda row: (-row["grew_s"], row["function"]))
    return rows[:count]


def _growth_section(add, growth: dict, run: dict) -> None:
    # The import reports progress every hundred rows: the early stretch starts at the first report.
    windows = sorted(growth.get("profile_windows", []), key=lambda window: window["first"])
    early, late = (windows[0], windows[-1]) if len(windows) == 2 else ({}, {})
    add("## 2b. Where the cost per row grows within one import (cProfile over two stretches)")
    add("")
    add(
        f"One import, in one transaction, of the first {_n(late.get('end'))} rows of a file drawn from "
        f"the population of a {_n(growth['population'])}-row file (`demo/resolution_scenario.py`), "
        f"into empty tables, profiled over two stretches of about {_n(growth['window_rows'])} rows: "
        f"**early**, rows {_n(early.get('first'))} to {_n(early.get('end'))}, and **late**, rows "
        f"{_n(late.get('first'))} to {_n(late.get('end'))}. Stage 2 compares two imports, each committed "
        "on its own; here the late rows come after everything the import wrote before them in its "
        "own transaction. Code measured: "
        f"{run.get('code', 'n/a')}; command `{growth['command']}`. Cumulative seconds under the "
        "profiler, which slows Python code down, not the time spent waiting on PostgreSQL."
    )
    add("")
    for name, window in (("early", early), ("late", late)):
        add(
            f"- {name}: {_n(window.get('seconds'), 1)} s, "
            f"{_n(window.get('rows_per_s'), 0)} rows/s under the profiler"
        )
    rates = ", ".join(
        f"{_n(point['rows'])}: {_n(point['rows_per_s'], 0)}" for point in growth.get("checkpoints", [])
    )
    add(f"- rows/s per interval (to the row named): {rates}")
    add("")
    profiles = growth["profiles"]
    _early_late_table(add, profiles["early"], profiles["late"])
    add(
        "What grew most from the early stretch to the late one (the project's functions and the "
        "wait on PostgreSQL):"
    )
    add("")
    add("| function | early calls | early s | late calls | late s | grew s |")
    add("| --- | ---: | ---: | ---: | ---: | ---: |")
    for row in growth["grown"]:
        add(
            f"| `{row['function']}` | {_n(row['early_calls'])} | {_n(row['early_s'], 2)} | "
            f"{_n(row['late_calls'])} | {_n(row['late_s'], 2)} | {_n(row['grew_s'], 2)} |"
        )
    add("")


def _profile_section(add, prof: dict) -> None:
    early, late = prof.get("early"), prof.get("late")
    add("## 2. Where the import spends its time (cProfile)")
    add("")
    add(
        f"Two complete imports of {_n(prof['rows'])} rows under cProfile, each in a fresh process: "
        f"**early**, the first rows of the file into empty tables, and **late**, {_n(prof['rows'])} more "
        f"declarations by the same traders on top of the {_n(prof['on_top_of'])} records of stage 1. "
        "Cumulative seconds (a nested row is part of the row above it); the profiler itself slows "
        "Python code down, not the time spent waiting on PostgreSQL."
    )
    add("")
    add(
        f"- early: {_n(early['seconds'], 1)} s, {_n(early['rows_per_s'], 0)} rows/s, "
        f"COMMIT {_n(early['commit_seconds'], 1)} s"
    )
    add(
        f"- late: {_n(late['seconds'], 1)} s, {_n(late['rows_per_s'], 0)} rows/s, "
        f"COMMIT {_n(late['commit_seconds'], 1)} s"
    )
    add("")
    _early_late_table(add, early, late)
    for name, profile in (("early", early), ("late", late)):
        add(f"<details><summary>{name}: top 20 functions by own time</summary>")
        add("")
        add("| function | calls | own s | cumulative s |")
        add("| --- | ---: | ---: | ---: |")
        for row in profile["top_tottime"]:
            add(
                f"| `{row['function']}` | {_n(row['calls'])} | {_n(row['tottime'], 2)} | "
                f"{_n(row['cumtime'], 2)} |"
            )
        add("")
        add("</details>")
        add("")
    add(
        f"Commands: `{early['command']}` and `{late['command']}`; the profiles are left in "
        "`var/bench/import-early.prof` and `var/bench/import-late.prof`."
    )
    add("")


def _experiments_section(add, exp: dict) -> None:
    add("## 3. A setting outside `intel/` that changes the import")
    add("")
    add(
        f"The first {_n(exp['rows'])} rows of the same file, into empty tables, in a fresh process each, "
        f"{exp['rounds']} rounds with the variants taking turns; medians of the rounds. Neither changes "
        "what is imported: server-side binding (`OPTIONS: server_side_binding`) lets psycopg send "
        "parameters apart from the SQL instead of quoting them into it in Python."
    )
    add("")
    add(
        "The variants take turns, so the machine's load falls on each alike; runs of one variant "
        "still differ (last column), and a difference smaller than that spread is noise."
    )
    add("")
    add(
        "| setting | bench flag | seconds (median) | records/s | COMMIT s "
        "| PG backend private peak MiB | all runs s |"
    )
    add("| --- | --- | ---: | ---: | ---: | ---: | --- |")
    for name, row in exp["results"].items():
        add(
            f"| {name} | `{row['flags']}` | {_n(row['seconds'], 1)} | {_n(row['rows_per_s'], 0)} | "
            f"{_n(row['commit_seconds'], 1)} | {_n(row['pg_backend_private_peak_mib'], 1)} | "
            f"{', '.join(f'{x:.1f}' for x in row['all_seconds'])} |"
        )
    add("")


GOALS_MS = {"list": 50, "detail": 50}
LOAD_GOAL_P95_MS = 300


def locust_results(prefix: Path) -> dict:
    """The figures of locust's CSV files (`--csv PREFIX`): per request name and in all."""
    import csv

    def number(value: str) -> float | None:
        try:
            return float(value)
        except ValueError:
            return None

    rows = []
    with open(f"{prefix}_stats.csv", newline="") as stats:
        for row in csv.DictReader(stats):
            rows.append(
                {
                    "type": row["Type"],
                    "name": row["Name"],
                    "requests": int(row["Request Count"]),
                    "failures": int(row["Failure Count"]),
                    "rps": number(row["Requests/s"]),
                    "p50_ms": number(row["50%"]),
                    "p95_ms": number(row["95%"]),
                    "p99_ms": number(row["99%"]),
                    "max_ms": number(row["Max Response Time"]),
                }
            )
    failures = []
    failures_path = Path(f"{prefix}_failures.csv")
    if failures_path.exists():
        with failures_path.open(newline="") as found:
            failures = [
                {
                    "method": r["Method"],
                    "name": r["Name"],
                    "error": r["Error"],
                    "count": int(r["Occurrences"]),
                }
                for r in csv.DictReader(found)
            ]
    total = next((r for r in rows if r["name"] == "Aggregated"), None)
    return {
        "requests": [r for r in rows if r["name"] != "Aggregated"],
        "total": total,
        "failures": failures,
        "steady": steady_state(Path(f"{prefix}_requests.jsonl")),
    }


def steady_state(request_log: Path) -> dict | None:
    """The figures of the requests started once every user had signed in (from the log the
    locustfile writes: start, milliseconds, type, name, failed): at the start, every user's
    sign-in hashes a password with Argon2 (slow by design) at once, and the requests queued
    behind them are the run's slowest. None without the log."""
    if not request_log.exists():
        return None
    rows = [json.loads(line) for line in request_log.read_text().splitlines() if line.strip()]
    if not rows:
        return None
    first = min(start for start, *_ in rows)
    last = max(start + ms / 1000 for start, ms, *_ in rows)
    signed_in = max(
        (start + ms / 1000 for start, ms, _, name, _ in rows if name.startswith("sign in")), default=first
    )
    steady = [row for row in rows if row[0] >= signed_in]
    by_name: dict[str, list[float]] = defaultdict(list)
    for _, ms, kind, name, _ in steady:
        by_name[f"{kind} {name}"].append(ms)
    times = [ms for _, ms, *_ in steady]
    seconds = max(last - signed_in, 1e-9)

    def figures(values: list[float]) -> dict:
        return {f"p{n}_ms": round(percentile(values, n), 1) for n in (50, 95, 99)}

    return {
        "from_second": round(signed_in - first, 1),
        "seconds": round(seconds, 1),
        "requests": len(steady),
        "failures": sum(1 for *_, failed in steady if failed),
        "rps": round(len(steady) / seconds, 1),
        **(figures(times) if times else {}),
        "by_name": {name: {"requests": len(values), **figures(values)} for name, values in by_name.items()},
    }


def _dataset_lines(add, data: dict) -> None:
    rows = data.get("rows", {})
    add(
        f"Data (`bench/api.py`, loaded with COPY in {_n(data.get('load_seconds'), 0)} s): "
        f"{_n(data['records'])} records owned evenly by {data['agencies']} agencies; "
        f"{_n(rows.get('entities'))} entities, {_n(rows.get('mentions'))} mentions, {_n(rows.get('links'))} "
        f"links; agreements by state: "
        + ", ".join(f"{state} {n}" for state, n in data.get("agreements", {}).items())
        + f" (parties drawn so that the first agencies are party to many and the last to few); "
        f"{_n(rows.get('releases'))} releases by name, {_n(rows.get('onward_releases'))} of them onward; "
        f"{_n(rows.get('permissions'))} permission rows (owners' and 1% explicit grants); "
        f"{_n(rows.get('disclosure_requests'))} pending disclosure requests."
    )
    add("")


def _http_section(add, http: dict, run: dict) -> None:
    add("## 4. The API over HTTP")
    add("")
    add(
        f"Served by `{http['server']}` on the bench database, DEBUG off, no proxy. Measured by "
        "`bench/http_api.py` with `requests`, one request at a time, as a client signed in with an API "
        "token (`Authorization: Token ...`, from `POST /api/auth/token/`) stating its purpose in the "
        "`X-Interlink-Purpose` header; every id in a URL was taken from an earlier answer of the API. "
        f"Code measured: {run.get('code', 'n/a')}; command `{run.get('command', 'n/a')}`."
    )
    add("")
    _dataset_lines(add, http["dataset"])
    visible = http.get("visible_by_agency", {})
    add(
        "Records each agency may read for `risk_assessment` (counted by the choke point): "
        + ", ".join(f"{code} {_n(n)}" for code, n in sorted(visible.items()))
        + "."
    )
    add("")
    for cls, user in http["users"].items():
        plan = http["plans"][cls]
        add(
            f"- **{cls}** visibility: `{user['username']}` of {user['agency']} "
            f"({_n(visible.get(user['agency']))} records); first page `count` {_n(plan.get('records_count'))}"
            f"{'' if plan.get('records_count_exact') else ' (capped)'}; deep page {plan.get('deep_page')}; "
            f"{plan.get('detail_records_shared')} of the detail records are other agencies'; the export "
            f"holds the {_n(plan.get('export_records'))} seizures of the last "
            f"{plan.get('export_window_days')} days"
        )
    add("")
    add(
        f"Warm: {http['requests_per_kind']} timed requests per kind and agency after {http['warmup']} "
        "untimed, the kinds in a shuffled order each round, on one server. Cold: the first request of "
        f"each kind to a freshly started server, in a shuffled order, over {http['cold_starts']} starts "
        "(Python's and Django's caches and the database connections are new; PostgreSQL's buffers and "
        "the OS page cache are not emptied, which needs a restart of PostgreSQL). Times are to the last "
        "byte of the answer."
    )
    add("")
    add("| phase | kind | visibility | n | p50 ms | p95 ms | p99 ms | max ms | statuses | goal |")
    add("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |")
    for row in http["summary"]:
        goal = GOALS_MS.get(row["group"])
        verdict = ""
        if goal and row["phase"] == "warm":
            verdict = f"p95 < {goal}: {'met' if row['p95_ms'] < goal else '**missed**'}"
        statuses = ", ".join(f"{code}: {n}" for code, n in sorted(row["statuses"].items()))
        add(
            f"| {row['phase']} | {row['kind']} | {row['visibility']} | {row['n']} | {row['p50_ms']:.1f} | "
            f"**{row['p95_ms']:.1f}** | {row['p99_ms']:.1f} | {row['max_ms']:.1f} | {statuses} | {verdict} |"
        )
    add("")
    add("<details><summary>The URLs of each kind</summary>")
    add("")
    for cls, plan in http["plans"].items():
        for kind, urls in plan["urls"].items():
            add(
                f"- {cls}, {kind}: "
                + ", ".join(f"`{u}`" for u in urls[:4])
                + (" ..." if len(urls) > 4 else "")
            )
    add("")
    add("</details>")
    add("")


def _load_section(add, load: dict, run: dict) -> None:
    total = load.get("total") or {}
    add("## 5. Load: analysts and liaison officers at once")
    add("")
    add(
        f"`bench/locustfile.py`: {load['analysts']} analysts and {load['liaisons']} liaison officers for "
        f"{load['run_seconds']} s against `{load.get('server', 'gunicorn')}`, locust on the same machine. "
        "Analysts (1 to 3 s between tasks) list records (first pages, filters, page 50), read "
        "records and entities, list an entity's links, search and export; liaison officers work their "
        "queue (API and page), approve or refuse pending disclosure requests, release their agency's "
        "records and open the page of what their agency shares. Sign-ins (tokens; the liaisons' pages with "
        "the TOTP code) are counted; requests still running when the time is up are not. "
        f"Code measured: {run.get('code', 'n/a')}; command "
        f"`{run.get('command', 'n/a')}`; locust: `{load['command']}`."
    )
    add("")
    errors = total.get("failures", 0)
    p95 = total.get("p95_ms")
    add(
        f"**{_n(total.get('requests'))} requests, {_n(total.get('rps'), 1)} per second, p50 "
        f"{_n(total.get('p50_ms'))} ms, p95 {_n(p95)} ms, p99 {_n(total.get('p99_ms'))} ms, "
        f"{_n(errors)} errors.** Goal (p95 < {LOAD_GOAL_P95_MS} ms, no errors): "
        + ("met" if p95 is not None and p95 < LOAD_GOAL_P95_MS and not errors else "**missed**")
        + "."
    )
    steady = load.get("steady") or {}
    by_name = steady.get("by_name", {})
    if steady:
        add("")
        p95 = steady.get("p95_ms")
        met = p95 is not None and p95 < LOAD_GOAL_P95_MS and not steady["failures"]
        add(
            f"Once every user had signed in ({_n(steady['from_second'], 1)} s into the run; the sign-ins "
            f"hash passwords with Argon2, slow by design, all at once), for the remaining "
            f"{_n(steady['seconds'], 1)} s: **{_n(steady['requests'])} requests, {_n(steady['rps'], 1)} "
            f"per second, p50 {_n(steady.get('p50_ms'))} ms, p95 {_n(p95)} ms, p99 "
            f"{_n(steady.get('p99_ms'))} ms, {_n(steady['failures'])} errors.** Goal: "
            + ("met" if met else "**missed**")
            + " (figures from `bench/locustfile.py`'s log of each request)."
        )
    add("")
    add(
        "| request | requests | errors | per s | p50 ms | p95 ms | p99 ms | max ms "
        "| steady p50 ms | steady p95 ms |"
    )
    add("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in sorted(load["requests"], key=lambda r: -r["requests"]):
        later = by_name.get(f"{row['type']} {row['name']}", {})
        add(
            f"| {row['type']} {row['name']} | {_n(row['requests'])} | {_n(row['failures'])} | "
            f"{_n(row['rps'], 1)} | {_n(row['p50_ms'])} | {_n(row['p95_ms'])} | {_n(row['p99_ms'])} | "
            f"{_n(row['max_ms'])} | {_n(later.get('p50_ms'))} | {_n(later.get('p95_ms'))} |"
        )
    add("")
    if load["failures"]:
        add("Errors:")
        add("")
        for failure in load["failures"]:
            add(f"- {failure['count']} x {failure['method']} {failure['name']}: `{failure['error'][:200]}`")
        add("")


# The requests the serving section lists one by one: the most frequent, and the slowest.
SERVING_REQUESTS = ("GET records", "GET record detail", "GET entities", "GET search", "GET export")


def _serving_section(add, serving: dict, run: dict) -> None:
    add("## 5b. Serving: processes and threads")
    add("")
    runs = serving["runs"]
    first = next(iter(runs.values()))[0]
    add(
        f"The load of section 5 ({first['analysts']} analysts and {first['liaisons']} liaison officers, "
        f"`bench/locustfile.py`) for {first['run_seconds']} s against gunicorn served in each way "
        f"below, taking turns run by run for {serving['rounds']} rounds, on the same data and machine "
        "(processes x threads each; one thread is gunicorn's sync worker, one request per process at "
        "a time; the project serves as `config/gunicorn.conf.py` says). Figures once every user had "
        f"signed in (section 5). Code measured: {run.get('code', 'n/a')}; command "
        f"`{run.get('command', 'n/a')}`."
    )
    add("")
    add("| processes x threads | run | requests/s | p50 ms | p95 ms | p99 ms | errors |")
    add("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, measured in runs.items():
        for number, load in enumerate(measured, 1):
            steady = load.get("steady") or {}
            add(
                f"| {name} | {number} | {_n(steady.get('rps'), 1)} | {_n(steady.get('p50_ms'))} | "
                f"**{_n(steady.get('p95_ms'))}** | {_n(steady.get('p99_ms'))} | "
                f"{_n(steady.get('failures'))} |"
            )
    add("")
    add(
        "Servers: " + "; ".join(f"{name}: `{measured[0]['server']}`" for name, measured in runs.items()) + "."
    )
    add("")
    add("Per request, p95 ms of each run (once every user had signed in):")
    add("")
    add("| request | " + " | ".join(runs) + " |")
    add("| --- | " + " | ".join("---:" for _ in runs) + " |")
    for request in SERVING_REQUESTS:
        cells = [
            ", ".join(
                _n(((load.get("steady") or {}).get("by_name", {}).get(request) or {}).get("p95_ms"))
                for load in measured
            )
            for measured in runs.values()
        ]
        add(f"| {request} | " + " | ".join(cells) + " |")
    add("")


# --- stages of a benchmark ----------------------------------------------------------------


def chosen_stages(parser, asked: str, stages: tuple[str, ...]) -> list[str]:
    """The stages named in `--stages`, in the order given; an unknown one is the parser's error."""
    chosen = [stage.strip() for stage in asked.split(",") if stage.strip()]
    if set(chosen) - set(stages):
        parser.error(f"unknown stage(s): {', '.join(sorted(set(chosen) - set(stages)))}")
    return chosen


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def command_line(words: list[str]) -> str:
    """The command a reader would type to measure again: with the bench database named when
    it is not the default one, since its data is another run's."""
    command = shlex.join(["platform/with-env", ".venv/bin/python", *words])
    if "BENCH_DATABASE" in os.environ:
        command = f"BENCH_DATABASE={shlex.quote(os.environ['BENCH_DATABASE'])} {command}"
    return command


def stage_run(module: str, argv: list[str]) -> dict:
    """What a stage's figures name: the code measured, when, the command and the load."""
    from bench.run import code_version

    return {
        "code": code_version(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command_line(["-m", module, *argv]),
        "load": load_average(),
    }


def keep_stage(
    results_path: Path, page: Path, stage: str, result: dict, run: dict, render, begin: str, end: str
) -> None:
    """Adds a stage's figures to the benchmark's results and rewrites its section. Read again
    first: another run of other stages may have written its figures meanwhile."""
    kept = json.loads(results_path.read_text()) if results_path.exists() else {}
    kept[stage] = result
    kept.setdefault("runs", {})[stage] = run
    results_path.write_text(json.dumps(kept, indent=2))
    write_section(page, render(kept), begin, end)
    print(f"[bench] {stage} done; wrote {page}", file=sys.stderr, flush=True)
