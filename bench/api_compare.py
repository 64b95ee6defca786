"""Two revisions of the API side by side: the request kinds of `bench/http_api.py`, served
by two gunicorns on the same bench database (the one `bench/run.py --stages http` loads),
one running a checkout of an earlier revision and one this tree, the two taking turns
request by request, so that whatever else loads the machine weighs on both alike.

    platform/with-env .venv/bin/python -m bench.api_compare --base main --requests 20 \\
        --kinds records,entities,links_of_entity --agencies bench-06,bench-17

The earlier revision is exported (`git archive`) to var/bench/trees/<commit>; both serve
with this tree's virtual environment, and the database keeps this tree's migrations (an
index this tree adds serves the earlier revision too). Raw samples and the summary go to
var/bench/compare.json, the table to its section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tarfile
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

from bench import http_api as http
from bench import report
from bench.common import ROOT, WORK_DIR


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()


def exported(revision: str) -> tuple[str, Path]:
    """The commit `revision` names, and a copy of its tree (made once)."""
    commit = git("rev-parse", "--verify", f"{revision}^{{commit}}")
    tree = WORK_DIR / "trees" / commit
    if not (tree / "manage.py").exists():
        tree.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", commit], cwd=ROOT, check=True, capture_output=True).stdout
        archive_path = tree.parent / f"{commit}.tar"
        archive_path.write_bytes(archive)
        with tarfile.open(archive_path) as tar:
            tar.extractall(tree, filter="data")
        archive_path.unlink()
    return commit, tree


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", default="main", help="the earlier revision (default: main)")
    parser.add_argument("--kinds", default="", help="comma-separated request kinds (default: all)")
    parser.add_argument("--agencies", default="bench-06,bench-17", help="whose analysts ask (agency codes)")
    parser.add_argument(
        "--requests", type=int, default=20, help="timed requests per kind, agency and revision"
    )
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--server-workers", type=int, default=2)
    args = parser.parse_args(argv)

    users = json.loads((WORK_DIR / "users.json").read_text())["analysts"]
    analysts = {code: next(u for u in users if u["agency"] == code) for code in args.agencies.split(",")}
    base_commit, base_tree = exported(args.base)
    dirty = " (with uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no") else ""
    trees = {"before": base_tree, "after": ROOT}
    commits = {"before": base_commit, "after": git("rev-parse", "HEAD")[:7] + dirty}
    load_before = report.load_average()
    wanted = set(args.kinds.split(",")) if args.kinds else None
    rnd = random.Random(5)
    samples = []
    with ExitStack() as stack:
        bases = {
            # One request per process for both: a revision from before config/gunicorn.conf.py
            # is served so, and the comparison is of the code, not of how it is served.
            name: stack.enter_context(
                http.server(args.server_workers, f"gunicorn-{name}", root=tree, threads=1)
            )
            for name, tree in trees.items()
        }
        sessions = {code: http.sign_in(bases["after"], user) for code, user in analysts.items()}
        plans = {code: http.plan_for(bases["after"], sessions[code], code, 1.0) for code in analysts}
        order = [
            (code, kind, name)
            for code, plan in plans.items()
            for kind in plan.urls
            if wanted is None or kind in wanted
            for name in trees
        ]
        for round_ in range(args.warmup + args.requests):
            rnd.shuffle(order)
            for code, kind, name in order:
                urls = plans[code].urls[kind]
                ms, status, size = http.timed(sessions[code], bases[name], urls[round_ % len(urls)])
                if round_ >= args.warmup:
                    samples.append(http.Sample(kind, f"{code} {name}", "warm", ms, status, size))
    summary = http.summarize(samples)
    (WORK_DIR / "compare.json").write_text(
        json.dumps({"commits": commits, "args": vars(args), "summary": summary}, indent=2)
    )
    print(f"before: {commits['before']}\nafter:  {commits['after']}")
    print(f"{'kind':18} {'agency':9} {'before p50/p95 ms':>20} {'after p50/p95 ms':>20}  statuses")
    rows = {(r["kind"], r["visibility"]): r for r in summary}
    table = []
    for kind in dict.fromkeys(r["kind"] for r in summary):
        for code in analysts:
            b, a = rows[(kind, f"{code} before")], rows[(kind, f"{code} after")]
            before, after = (f"{r['p50_ms']:9.1f}/{r['p95_ms']:<9.1f}" for r in (b, a))
            print(f"{kind:18} {code:9} {before} {after}  {b['statuses']} {a['statuses']}")
            table.append((kind, code, b, a))
    words = ["-m", "bench.api_compare", *(argv if argv is not None else sys.argv[1:])]
    page = render(commits, table, words, load_before)
    report.write_section(ROOT / "docs" / "benchmarks.md", page, BEGIN, END)


BEGIN = "<!-- bench/api_compare.py: begin. Generated by bench/api_compare.py; do not edit. -->"
END = "<!-- bench/api_compare.py: end -->"


def render(commits: dict, table: list, words: list[str], load_before: str) -> str:
    """The side-by-side run as a section of docs/benchmarks.md: each kind's p50 and p95 on
    both revisions, their ratio, and the statuses each answered with (a revision answering
    with errors may look faster)."""
    lines = [
        "## The API, two revisions side by side",
        "",
        f"- before: {commits['before'][:7]}; after: {commits['after']}; "
        f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- command: `{report.command_line(words)}`; load average before: {load_before}",
        "- two gunicorns on the same bench database, taking turns request by request",
        "",
        "| kind | agency | before p50 ms | before p95 ms | after p50 ms | after p95 ms | p50 ratio "
        "| statuses |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for kind, code, b, a in table:
        lines.append(
            f"| {kind} | {code} | {b['p50_ms']:.1f} | {b['p95_ms']:.1f} | {a['p50_ms']:.1f} | "
            f"{a['p95_ms']:.1f} | {a['p50_ms'] / b['p50_ms']:.2f} | {_statuses(b)} / {_statuses(a)} |"
        )
    return "\n".join(lines)


def _statuses(row: dict) -> str:
    return ", ".join(f"{status}: {count}" for status, count in sorted(row["statuses"].items()))


if __name__ == "__main__":
    main()
