"""One import, alone in a fresh process, so its peak RSS is the import's and nothing else's.

    python -m bench.import_child FILE --agency CODE [--stop-after ROWS] [--stop-after-seconds S]
                                      [--profile OUT.prof] [--profile-window FIRST ROWS OUT.prof ...]

Prints one JSON object on stdout: rows read, seconds, the RSS before the import and at
every checkpoint, and a throughput per checkpoint so a slow-down as the tables grow
shows. `--stop-after` / `--stop-after-seconds` abort the import at that point (it is
all-or-nothing, so the transaction rolls back and nothing is kept): that is how the
memory of the first N rows of a very large file is measured when importing all of it
would take too long. `--profile-window` profiles only the rows from FIRST to FIRST + ROWS
(to the nearest hundred, where the import reports progress), so that an early and a late
stretch of one import, in one transaction, can be compared. A finished import is committed,
as `manage.py import_records` commits it; the caller empties the tables before the next measurement.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import resource
import sys
import time
import tracemalloc
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import high_water_mib, setup_django


class Stop(Exception):
    """Raised from the progress callback to end the import early; it rolls back."""


def current_rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def backend_private_mib(pid: int) -> float | None:
    """Private memory of the PostgreSQL backend serving this import (its shared buffers
    excluded), where the server's /proc is readable; None elsewhere."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            fields = dict(line.split(":", 1) for line in rollup if ":" in line)
    except OSError:
        return None
    kib = sum(int(fields[name].split()[0]) for name in ("Private_Clean", "Private_Dirty") if name in fields)
    return round(kib / 1024, 1)


class ProfileWindow:
    """A profiler running over the rows from `first` to `end` of one import."""

    def __init__(self, first: int, end: int, out: Path):
        self.first, self.end, self.out = first, end, out
        self.profiler = cProfile.Profile()
        self.started: tuple[int, float] | None = None
        self.ended: tuple[int, float] | None = None

    def passed(self, rows: int, now: float) -> None:
        if self.started is None and rows >= self.first:
            self.started = (rows, now)
            self.profiler.enable()
        elif self.started is not None and self.ended is None and rows >= self.end:
            self.profiler.disable()
            self.ended = (rows, now)

    def close(self) -> None:
        """Stops a window the import ended inside, and writes what it profiled."""
        if self.started is not None and self.ended is None:
            self.profiler.disable()
        if self.started is not None:
            self.profiler.dump_stats(self.out)

    def summary(self) -> dict:
        if self.started is None or self.ended is None:
            return {"first": self.first, "end": self.end, "profile": str(self.out), "completed": False}
        (first, began), (end, finished) = self.started, self.ended
        return {
            "first": first,
            "end": end,
            "profile": str(self.out),
            "completed": True,
            "seconds": round(finished - began, 2),
            "rows_per_s": round((end - first) / (finished - began), 1),
        }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("file", type=Path)
    parser.add_argument("--agency", required=True)
    parser.add_argument("--stop-after", type=int, default=0, help="rows; 0 reads the whole file")
    parser.add_argument("--stop-after-seconds", type=float, default=0.0)
    parser.add_argument("--profile", type=Path)
    parser.add_argument(
        "--profile-window",
        nargs=3,
        action="append",
        default=[],
        metavar=("FIRST", "ROWS", "OUT"),
        help="profile rows FIRST to FIRST + ROWS into OUT (repeatable)",
    )
    parser.add_argument("--checkpoint", type=int, default=10_000, help="rows between progress samples")
    # Experiment: what a setting outside intel/ changes, without touching its code.
    parser.add_argument(
        "--server-side-binding",
        action="store_true",
        help="psycopg binds parameters on the server instead of quoting them into the SQL in Python",
    )
    parser.add_argument(
        "--trace-memory",
        action="store_true",
        help="tracemalloc: report which source lines hold the memory that grew between checkpoints",
    )
    args = parser.parse_args(argv)
    if args.profile and args.profile_window:
        # One profiler hooks the interpreter at a time: a window's would end the whole import's.
        parser.error("--profile and --profile-window profile one at a time")
    if args.trace_memory:
        tracemalloc.start()
    snapshots: list[tracemalloc.Snapshot] = []

    setup_django()
    from django.db import connection, transaction

    if args.server_side_binding:
        connection.settings_dict.setdefault("OPTIONS", {})["server_side_binding"] = True
        connection.close()

    from agencies.models import Agency
    from intel.import_writing import import_file

    agency = Agency.objects.get(code=args.agency)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend_pid = cursor.fetchone()[0]
    backend_peak = {"mib": backend_private_mib(backend_pid)}
    baseline = high_water_mib("self")
    checkpoints: list[dict] = []
    started = time.perf_counter()
    last = {"rows": 0, "at": started}
    seen = {"rows": 0}
    windows = [
        ProfileWindow(int(first), int(first) + int(count), Path(out))
        for first, count, out in args.profile_window
    ]

    def progress(rows: int) -> None:
        now = time.perf_counter()
        seen["rows"] = rows
        for window in windows:
            window.passed(rows, now)
        if args.checkpoint and rows - last["rows"] >= args.checkpoint:
            backend = backend_private_mib(backend_pid)
            checkpoints.append(
                {
                    "rows": rows,
                    "seconds": round(now - started, 2),
                    "rows_per_s": round((rows - last["rows"]) / (now - last["at"]), 1),
                    "rss_mib": round(current_rss_mib(), 1),
                    "pg_backend_private_mib": backend,
                }
            )
            if backend is not None:
                backend_peak["mib"] = max(backend_peak["mib"] or 0, backend)
            if args.trace_memory:
                snapshots.append(tracemalloc.take_snapshot())
            last.update(rows=rows, at=now)
        if (args.stop_after and rows >= args.stop_after) or (
            args.stop_after_seconds and now - started >= args.stop_after_seconds
        ):
            raise Stop

    profiler = cProfile.Profile() if args.profile else None
    stopped = False
    result = None
    if profiler:
        profiler.enable()
    commit_seconds = 0.0
    try:
        # An outer transaction turns import_file's own into a savepoint, so the commit,
        # where PostgreSQL runs the deferred foreign-key checks, can be timed on its own.
        with transaction.atomic():
            try:
                result = import_file(args.file, agency, progress=progress)
            finally:
                before_commit = backend_private_mib(backend_pid)
                if before_commit is not None:
                    backend_peak["mib"] = max(backend_peak["mib"] or 0, before_commit)
                commit_started = time.perf_counter()
        commit_seconds = time.perf_counter() - commit_started
    except Stop:
        stopped = True
    finally:
        if profiler:
            profiler.disable()
    elapsed = time.perf_counter() - started
    if profiler:
        profiler.dump_stats(args.profile)
    for window in windows:
        window.close()
    rows = result.rows if result else seen["rows"]
    growth = []
    if len(snapshots) >= 2:
        for stat in snapshots[-1].compare_to(snapshots[0], "lineno")[:12]:
            frame = stat.traceback[0]
            growth.append(
                {
                    "where": f"{frame.filename.split('site-packages/')[-1]}:{frame.lineno}",
                    "grew_kib": round(stat.size_diff / 1024, 1),
                    "blocks_grew": stat.count_diff,
                }
            )
    json.dump(
        {
            "memory_growth_first_to_last_checkpoint": growth,
            "file": str(args.file),
            "rows": rows,
            "completed": not stopped,
            "created": result.created if result else 0,
            "seconds": round(elapsed, 2),
            "rows_per_s": round(rows / elapsed, 1) if elapsed else 0,
            "commit_seconds": round(commit_seconds, 2),
            "rss_before_import_mib": round(baseline, 1),
            "peak_rss_mib": round(high_water_mib("self"), 1),
            "pg_backend_private_peak_mib": backend_peak["mib"],
            "checkpoints": checkpoints,
            "profile_windows": [window.summary() for window in windows],
        },
        sys.stdout,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
