"""Runs every benchmark and writes docs/benchmarks.md.

    platform/with-env .venv/bin/python bench/run.py [--scale 0.1] [--stages import,memory,loaded,...]

Stages (sizes at --scale 1); the imports read the five agencies' realistic mix
(`demo/resolution_scenario.py`, every spelling variant included) in one generated CSV file:

- import:  100,000 rows through `intel.import_writing.import_file` into empty tables, in a
           fresh process: records per second, commit time, peak RSS.
- profile: cProfile of a complete import of the first 10,000 of those rows, and of
           10,000 more by the same traders on top of the 100,000.
- memory:  the peak RSS importing a 1,000,000-row file; when the 100k throughput says
           it would take longer than --import-cap-minutes, the first N rows only.
- loaded:  1,000,000 rows imported, then 1,000,000 more by the same traders on top of
           them: records per second over the second file and per interval, peak RSS.
- http:    the API over HTTP against gunicorn, over 1,000,000 records of 20 agencies and
           50 agreements: p50/p95/p99 per request kind, for the agencies that see the
           most and the least, cold (fresh server) and warm.
- load:    locust, 50 analysts and 5 liaison officers for --load-seconds (300) against
           the same server and data: throughput, p50/p95/p99, errors.
- serving: the same load against gunicorn served several ways (--serving: processes x
           threads each), --serving-seconds (120) each, taking turns for --serving-rounds (2).

Results accumulate in var/bench/results.json and the page is rewritten after every
stage, so a stage that fails leaves the figures of the ones before it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import report
from bench.common import (
    BENCH_DB,
    ROOT,
    WORK_DIR,
    bench_env,
    ensure_agencies,
    ensure_database,
    reset_data,
    setup_django,
)

STAGES = ("import", "profile", "growth", "experiments", "memory", "loaded", "http", "load", "serving")
EXPERIMENTS = {
    "as the project runs it": [],
    "psycopg server-side binding": ["--server-side-binding"],
}
IMPORT_AGENCY = "bench-00"
# The seed of the generated files: every stage and every run imports the same rows.
SCENARIO_SEED = 20260301


def run_child(args: list[str]) -> dict:
    """Runs bench.import_child in a fresh interpreter and returns what it reports."""
    command = [sys.executable, "-m", "bench.import_child", *args]
    completed = subprocess.run(
        command, cwd=ROOT, env=bench_env(), stdout=subprocess.PIPE, text=True, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{shlex.join(command)} exited with {completed.returncode}")
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    result["command"] = shlex.join(["python", "-m", "bench.import_child", *args])
    return result


def import_args(path: Path, checkpoint: int | None = None) -> list[str]:
    """The arguments of `bench.import_child` importing `path` as the bench agency, with a
    progress sample every `checkpoint` rows (0: none; None: the child's own default)."""
    args = [str(path.relative_to(ROOT)), "--agency", IMPORT_AGENCY]
    return args if checkpoint is None else [*args, "--checkpoint", str(checkpoint)]


def generated_file(rows: int, *, first: int = 0, population: int | None = None) -> tuple[Path, float]:
    """`rows` rows of the five agencies' realistic mix (`demo/resolution_scenario.py`) in
    one CSV file, from row `first` on, about a population sized for `population` rows
    (default `rows`): with a later `first`, more rows by the same traders."""
    from demo.resolution_scenario import ResolutionScenario

    of = f"-of-{population}" if population not in (None, rows) else ""
    path = WORK_DIR / f"mix-{first}-{rows}{of}.csv"
    started = time.perf_counter()
    ResolutionScenario(SCENARIO_SEED, rows, population=population, first=first).write_one_file(path)
    return path, time.perf_counter() - started


def prefix_file(source: Path, rows: int) -> Path:
    """The header and the first `rows` rows of a generated file (no field holds a newline)."""
    target = WORK_DIR / f"{source.stem}-first-{rows}.csv"
    with source.open("rb") as src, target.open("wb") as out:
        for index, line in enumerate(src):
            if index > rows:
                break
            out.write(line)
    return target


def stage_import(results: dict, rows: int) -> None:
    reset_data()
    ensure_agencies(1)
    path, generate_seconds = generated_file(rows)
    outcome = run_child(import_args(path, max(100, rows // 10)))
    results["import"] = {
        "rows": rows,
        "file_mib": round(path.stat().st_size / 2**20, 1),
        "generate_seconds": round(generate_seconds, 1),
        **outcome,
        **entity_counts(),
    }


def entity_counts() -> dict:
    from django.db.models import Count

    from intel.models import Entity, Link, Mention, Record, ResolutionCandidate

    by_type = dict(Entity.objects.values_list("type").annotate(n=Count("id")).order_by("type"))
    return {
        "records_written": Record.objects.count(),
        "entities_by_type": by_type,
        "mentions": Mention.objects.count(),
        "links": Link.objects.count(),
        "candidates": ResolutionCandidate.objects.count(),
    }


def stage_profile(results: dict, import_rows: int, rows: int) -> None:
    """Two profiles of `rows` rows: into empty tables, and on top of the import stage's
    `import_rows` (more declarations by the same traders), to show what grows with the data."""
    import pstats

    from intel.models import Record

    source = WORK_DIR / f"mix-0-{import_rows}.csv"
    if not source.exists():
        source, _ = generated_file(import_rows)
    profiles = {}
    if Record.objects.count() != import_rows:
        reset_data()
        ensure_agencies(1)
        run_child(import_args(source))
    late, _ = generated_file(rows, first=import_rows, population=import_rows)
    for name, path in (("late", late), ("early", None)):
        if path is None:
            reset_data()
            ensure_agencies(1)
            path = prefix_file(source, rows)
        profile_path = WORK_DIR / f"import-{name}.prof"
        outcome = run_child([*import_args(path), "--profile", str(profile_path)])
        profiles[name] = {**outcome, **report.profile_summary(pstats.Stats(str(profile_path)))}
    results["profile"] = {"rows": rows, "on_top_of": import_rows, **profiles}


def stage_growth(results: dict, population: int, window: int, late: int) -> None:
    """One import, in one transaction, of the first rows of a file drawn from a population
    sized for `population` rows, profiled over its first `window` rows and over `window`
    rows from row `late` on: which work per row grows as one large import goes on (the
    profile stage compares two imports, each in a transaction of its own)."""
    import pstats

    reset_data()
    ensure_agencies(1)
    path, generate_seconds = generated_file(late + window, population=population)
    windows = {name: WORK_DIR / f"import-growth-{name}.prof" for name in ("early", "late")}
    args = import_args(path, max(1000, late // 15))
    args += ["--profile-window", "0", str(window), str(windows["early"])]
    args += ["--profile-window", str(late), str(window), str(windows["late"])]
    try:
        outcome = run_child([*args, "--stop-after", str(late + window)])
    finally:
        path.unlink(missing_ok=True)  # tens of MiB; regenerated in seconds
    stats = {name: pstats.Stats(str(out)) for name, out in windows.items()}
    results["growth"] = {
        "population": population,
        "window_rows": window,
        "late_from": late,
        "generate_seconds": round(generate_seconds, 1),
        **outcome,
        "profiles": {name: report.profile_summary(stat) for name, stat in stats.items()},
        "grown": report.grown_functions(
            report.function_times(stats["early"]), report.function_times(stats["late"])
        ),
    }


def stage_experiments(results: dict, import_rows: int, rows: int, rounds: int = 2) -> None:
    """The same import of `rows` rows into empty tables with one setting changed at a time,
    the settings taking turns (round-robin) so the machine's load falls on each alike."""
    import statistics

    source = WORK_DIR / f"mix-0-{import_rows}.csv"
    if not source.exists():
        source, _ = generated_file(import_rows)
    path = prefix_file(source, rows)
    runs: dict[str, list[dict]] = {name: [] for name in EXPERIMENTS}
    for _ in range(rounds):
        for name, flags in EXPERIMENTS.items():
            reset_data()
            ensure_agencies(1)
            runs[name].append(run_child([*import_args(path, 0), *flags]))
    results["experiments"] = {
        "rows": rows,
        "rounds": rounds,
        "results": {
            name: {
                "flags": " ".join(EXPERIMENTS[name]) or "(none)",
                "seconds": statistics.median(r["seconds"] for r in outcome),
                "rows_per_s": statistics.median(r["rows_per_s"] for r in outcome),
                "commit_seconds": statistics.median(r["commit_seconds"] for r in outcome),
                "peak_rss_mib": max(r["peak_rss_mib"] for r in outcome),
                "pg_backend_private_peak_mib": max(r["pg_backend_private_peak_mib"] or 0 for r in outcome),
                "all_seconds": [r["seconds"] for r in outcome],
            }
            for name, outcome in runs.items()
        },
    }


def stage_memory(results: dict, rows: int, cap_minutes: float) -> None:
    reset_data()
    ensure_agencies(1)
    path, generate_seconds = generated_file(rows)
    rate = results.get("import", {}).get("rows_per_s")
    estimate = rows / rate if rate else None
    args = import_args(path, max(1000, rows // 50))
    capped = estimate is None or estimate > cap_minutes * 60
    if capped:
        args += ["--stop-after-seconds", str(int(cap_minutes * 60))]
    try:
        outcome = run_child(args)
    finally:
        path.unlink(missing_ok=True)  # hundreds of MiB; regenerated in seconds
    results["memory"] = {
        "rows_in_file": rows,
        "generate_seconds": round(generate_seconds, 1),
        "estimated_full_import_minutes": round(estimate / 60, 1) if estimate else None,
        "cap_minutes": cap_minutes if capped else None,
        **outcome,
    }


def stage_loaded(results: dict, rows: int, cap_minutes: float) -> None:
    """`rows` more rows by the same traders into a database already holding `rows` records:
    whether the cost per row grows with what is stored. The first file is imported whole
    (it makes the database the measured import starts from); the measured one stops after
    `cap_minutes` and reports how far it came."""
    reset_data()
    ensure_agencies(1)
    base, base_generate_seconds = generated_file(rows)
    try:
        preload = run_child(import_args(base, max(1000, rows // 20)))
    finally:
        base.unlink(missing_ok=True)
    more, generate_seconds = generated_file(rows, first=rows, population=rows)
    args = import_args(more, max(1000, rows // 50))
    args += ["--stop-after-seconds", str(int(cap_minutes * 60))]
    try:
        outcome = run_child(args)
    finally:
        more.unlink(missing_ok=True)
    results["loaded"] = {
        "rows_in_file": rows,
        "records_before": preload["rows"],
        "preload_seconds": preload["seconds"],
        "preload_rows_per_s": preload["rows_per_s"],
        "generate_seconds": round(base_generate_seconds + generate_seconds, 1),
        "cap_minutes": cap_minutes,
        **outcome,
    }


def stage_http(results: dict, records: int, args: argparse.Namespace) -> None:
    from bench import http_api as http

    dataset = load_dataset(records)
    visibility = visible_counts()
    by_count = sorted(visibility.items(), key=lambda item: item[1])
    users = {"high": analyst_of(by_count[-1][0]), "low": analyst_of(by_count[0][0])}
    measured = http.measure(
        users,
        scale=args.scale,
        requests_per_kind=args.requests,
        warmup=args.warmup,
        cold_starts=args.cold_starts,
        workers=args.server_workers,
    )
    results["http"] = {"dataset": dataset, "visible_by_agency": visibility, **measured}


def load_dataset(records: int) -> dict:
    """The bench dataset at `records` records: loaded, or kept when the last stage loaded it."""
    from agencies.models import User
    from bench import api
    from intel.models import Record

    loaded = WORK_DIR / "dataset.json"
    dataset = None
    if loaded.exists():
        known = json.loads(loaded.read_text())
        if (
            known.get("records") == records
            and Record.objects.count() == records
            and User.objects.filter(username__startswith="bench-analyst-").count() == api.ANALYSTS
        ):
            dataset = known
    if dataset is None:
        dataset = api.populate(records).__dict__
        loaded.write_text(json.dumps(dataset, indent=2, default=str))
    # Read again on every run: a bench of another checkout on this database (a revision
    # measured side by side) sets the second-factor devices up again, with new secrets.
    (WORK_DIR / "users.json").write_text(json.dumps(api.credentials(), indent=2))
    return dataset


def visible_counts() -> dict[str, int]:
    """How many records each agency's analysts may read for the bench purpose, counted by the
    choke point: to pick the agencies that see the most and the least (no id is taken here)."""
    from agencies.models import User
    from bench.api import PURPOSE
    from intel.models import Record

    counts = {}
    for analyst in User.objects.filter(username__startswith="bench-analyst-").select_related("agency"):
        code = analyst.agency.code
        if code not in counts:
            counts[code] = Record.objects.visible_to(analyst, PURPOSE).count()
    return counts


def analyst_of(agency: str) -> dict:
    users = json.loads((WORK_DIR / "users.json").read_text())
    return next(user for user in users["analysts"] if user["agency"] == agency)


def export_query(results: dict) -> str:
    """The export the load test asks for: the http stage's, when it ran."""
    export = results.get("http", {}).get("plans", {}).get("high", {}).get("urls", {}).get("export")
    return export[0].split("?", 1)[1] if export else "category=seizure&occurred_after=2026-01-01"


def run_load(
    args: argparse.Namespace, *, export: str, workers: int, threads: int | None, seconds: int, name: str
) -> dict:
    """One locust run (`bench/locustfile.py`) of the analysts and liaison officers against a
    fresh gunicorn of `workers` processes and `threads` each (`http_api.server_command`),
    its files under var/bench/NAME_*, and what it measured."""
    from bench import api
    from bench import http_api as http

    api.fresh_devices()
    prefix = WORK_DIR / name
    for old in [*WORK_DIR.glob(f"{name}_*.csv"), *WORK_DIR.glob(f"{name}_*.jsonl")]:
        old.unlink()
    users = args.analysts + args.liaisons
    with http.server(workers, log_name=f"gunicorn-{name}", threads=threads) as base:
        command = [
            str(Path(sys.executable).parent / "locust"),
            "-f",
            "bench/locustfile.py",
            "--headless",
            "--host",
            base,
            "--users",
            str(users),
            "--spawn-rate",
            str(max(1, users // 5)),
            "--run-time",
            f"{seconds}s",
            "--csv",
            str(prefix),
            "--only-summary",
            "--stop-timeout",
            "10",
            "--export-query",
            export,
        ]
        env = {
            **os.environ,
            "BENCH_USERS": str(WORK_DIR / "users.json"),
            "BENCH_ANALYSTS": str(args.analysts),
            "BENCH_LIAISONS": str(args.liaisons),
            "BENCH_REQUEST_LOG": str(prefix) + "_requests.jsonl",
        }
        started = time.perf_counter()
        completed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
    (WORK_DIR / f"{name}-locust.log").write_text(completed.stdout + completed.stderr)
    if not Path(f"{prefix}_stats.csv").exists():
        raise RuntimeError(
            f"locust wrote no statistics (exit {completed.returncode}): see var/bench/{name}-locust.log"
        )
    return {
        "command": shlex.join(["locust", *command[1:]]).replace(base, "http://127.0.0.1:PORT"),
        "analysts": args.analysts,
        "liaisons": args.liaisons,
        "run_seconds": seconds,
        "wall_seconds": round(wall, 1),
        "server_workers": workers,
        "server_threads": threads,
        "server": http.served_by(workers, threads),
        "locust_exit": completed.returncode,
        **report.locust_results(prefix),
    }


def stage_load(results: dict, records: int, args: argparse.Namespace) -> None:
    dataset = load_dataset(records)
    export = export_query(results)
    run = run_load(
        args,
        export=export,
        workers=args.server_workers,
        threads=args.server_threads,
        seconds=args.load_seconds,
        name="load",
    )
    results["load"] = {"dataset": dataset, **run}


def stage_serving(results: dict, records: int, args: argparse.Namespace) -> None:
    """The load test against gunicorn served several ways (`--serving`: processes x threads
    each, 1 thread being gunicorn's sync worker), taking turns run by run, so the machine's
    load falls on each alike."""
    dataset = load_dataset(records)
    variants = [tuple(int(n) for n in variant.split("x")) for variant in args.serving.split(",")]
    runs: dict[str, list[dict]] = {f"{w}x{t}": [] for w, t in variants}
    for round_ in range(args.serving_rounds):
        for workers, threads in variants:
            name = f"{workers}x{threads}"
            print(f"serving: round {round_ + 1} of {args.serving_rounds}, {name}", flush=True)
            runs[name].append(
                run_load(
                    args,
                    export=export_query(results),
                    workers=workers,
                    threads=threads,
                    seconds=args.serving_seconds,
                    name=f"serving-{name}",
                )
            )
    results["serving"] = {"dataset": dataset, "rounds": args.serving_rounds, "runs": runs}


def code_version() -> str:
    """The commit measured, and how many files of the apps differ from it: the project is
    being built while it is measured."""

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
            ).stdout.strip()
        except OSError:
            return ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = [
        line for line in git("status", "--porcelain", "--", "intel", "sharing", "config").splitlines() if line
    ]
    return f"{commit}" + (
        f" + {len(changed)} uncommitted file(s) in intel/ sharing/ config/" if changed else ""
    )


def machine_name(machine: dict) -> str:
    """The machine a stage ran on, as its row in the page names it: figures of stages kept
    from earlier runs may come from another machine than the last run's."""
    return f"{machine.get('cpu')}, kernel {machine.get('kernel')}"


def machine_facts() -> dict:
    from importlib.metadata import version

    from django.db import connection

    def command(*argv: str) -> str:
        try:
            return subprocess.run(argv, capture_output=True, text=True, check=False).stdout.strip()
        except OSError:
            return ""

    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        postgres = cursor.fetchone()[0]
        settings = {}
        for name in ("shared_buffers", "work_mem", "max_parallel_workers_per_gather", "jit"):
            cursor.execute(f"SHOW {name}")
            settings[name] = cursor.fetchone()[0]
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": command("nproc"),
        "free": command("free", "-m"),
        "cpu": next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor(),
        ),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "packages": {
            name: version(name)
            for name in (
                "Django",
                "djangorestframework",
                "django-guardian",
                "psycopg",
                "python-stdnum",
                "phonenumbers",
                "rapidfuzz",
                "gunicorn",
                "locust",
            )
        },
        "postgres": postgres,
        "postgres_settings": settings,
        "database": BENCH_DB,
        "load_average_start": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every size (0.1: quick run)")
    parser.add_argument("--stages", default=",".join(STAGES), help=f"comma-separated, of {', '.join(STAGES)}")
    parser.add_argument("--requests", type=int, default=100, help="timed warm requests per kind and agency")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests per kind and agency first")
    parser.add_argument("--cold-starts", type=int, default=5, help="server starts measured cold")
    parser.add_argument(
        "--server-workers",
        type=int,
        help="gunicorn worker processes (default: as config/gunicorn.conf.py serves the project)",
    )
    parser.add_argument(
        "--server-threads",
        type=int,
        help="threads per gunicorn worker (default: as config/gunicorn.conf.py serves the project)",
    )
    parser.add_argument("--load-seconds", type=int, default=300, help="length of the load test")
    parser.add_argument(
        "--serving",
        default="5x1,5x4,11x1,11x2",
        help="the serving stage's servers, processes x threads each (1 thread: gunicorn's sync worker)",
    )
    parser.add_argument("--serving-rounds", type=int, default=2, help="rounds of the serving stage")
    parser.add_argument(
        "--serving-seconds", type=int, default=120, help="length of each load test of the serving stage"
    )
    parser.add_argument("--analysts", type=int, default=50, help="concurrent analysts in the load test")
    parser.add_argument(
        "--liaisons", type=int, default=5, help="concurrent liaison officers in the load test"
    )
    parser.add_argument("--import-cap-minutes", type=float, default=20.0)
    parser.add_argument(
        "--loaded-cap-minutes",
        type=float,
        default=24 * 60.0,
        help="stop the loaded stage's measured import after this long (its preload always completes)",
    )
    parser.add_argument(
        "--loaded-rows",
        type=int,
        help="rows of each of the loaded stage's two files (default 1,000,000 times --scale); "
        "a smaller size keeps the other stages' figures, which another --scale would drop",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--fresh", action="store_true", help="forget results of earlier runs")
    parser.add_argument(
        "--render-only", action="store_true", help="rewrite the page from var/bench/results.json, run nothing"
    )
    args = parser.parse_args(argv)
    stages = [stage.strip() for stage in args.stages.split(",") if stage.strip()]
    unknown = set(stages) - set(STAGES)
    if unknown:
        parser.error(f"unknown stage(s): {', '.join(sorted(unknown))}")

    WORK_DIR.mkdir(parents=True, exist_ok=True)
    results_path = WORK_DIR / "results.json"
    results: dict = {}
    if results_path.exists() and not args.fresh:
        results = json.loads(results_path.read_text())
        if results.get("scale") != args.scale:
            results = {}  # figures of another scale would be mixed into this page
    if args.render_only:
        report.write_run(args.out, results)
        print(f"[bench] wrote {args.out}", file=sys.stderr)
        return
    # A run of some stages only keeps the database, which the profile stage may reuse.
    ensure_database(recreate=set(stages) == set(STAGES) or "import" in stages)
    setup_django()
    results["machine"] = machine_facts()
    results["command"] = report.command_line(["bench/run.py", *(argv if argv is not None else sys.argv[1:])])
    results["scale"] = args.scale
    timings = results.setdefault("stage_seconds", {})

    def size(base: int) -> int:
        return max(100, int(base * args.scale))

    plan = {
        "import": lambda: stage_import(results, size(100_000)),
        "profile": lambda: stage_profile(results, size(100_000), size(10_000)),
        "growth": lambda: stage_growth(results, size(1_000_000), size(10_000), size(140_000)),
        "experiments": lambda: stage_experiments(results, size(100_000), size(20_000), rounds=3),
        "memory": lambda: stage_memory(results, size(1_000_000), args.import_cap_minutes),
        "loaded": lambda: stage_loaded(results, args.loaded_rows or size(1_000_000), args.loaded_cap_minutes),
        "http": lambda: stage_http(results, size(1_000_000), args),
        "load": lambda: stage_load(results, size(1_000_000), args),
        "serving": lambda: stage_serving(results, size(1_000_000), args),
    }
    for stage in STAGES:
        if stage not in stages:
            continue
        print(f"[bench] {stage} ...", file=sys.stderr, flush=True)
        code = code_version()
        started = time.perf_counter()
        plan[stage]()
        timings[stage] = round(time.perf_counter() - started, 1)
        results.setdefault("stage_runs", {})[stage] = {
            "command": results["command"],
            "finished": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "code": code,
            "machine": machine_name(results["machine"]),
        }
        print(f"[bench] {stage} took {timings[stage]} s", file=sys.stderr, flush=True)
        results["machine"]["load_average_end"] = os.getloadavg()
        results_path.write_text(json.dumps(results, indent=2, default=str))
        report.write_run(args.out, results)
    print(f"[bench] wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
