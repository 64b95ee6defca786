"""The load test's steady state (bench/report.py `steady_state`): only the requests started
after the last sign-in ended count, sign-ins never do, and failures are counted."""

import json

from bench.report import steady_state


def write(tmp_path, rows):
    log = tmp_path / "load_requests.jsonl"
    log.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    return log


def test_requests_before_the_last_sign_in_ended_are_left_out(tmp_path):
    log = write(
        tmp_path,
        [
            [100.0, 2000.0, "POST", "sign in (token)", False],
            [100.5, 3500.0, "POST", "sign in (token)", False],  # ends at 104.0
            [101.0, 900.0, "GET", "records", False],  # queued behind the sign-ins: left out
            [104.0, 10.0, "GET", "records", False],
            [105.0, 30.0, "GET", "records", False],
            [106.0, 20.0, "GET", "search", True],
            [109.0, 1000.0, "GET", "records", False],  # ends at 110.0
        ],
    )
    steady = steady_state(log)
    assert steady["from_second"] == 4.0
    assert steady["seconds"] == 6.0
    assert (steady["requests"], steady["failures"]) == (4, 1)
    # 10, 20, 30, 1000: the median halfway between 20 and 30.
    assert steady["p50_ms"] == 25.0
    assert steady["by_name"]["GET records"]["requests"] == 3
    assert steady["by_name"]["GET records"]["p50_ms"] == 30.0
    assert "POST sign in (token)" not in steady["by_name"]


def test_without_sign_ins_every_request_counts(tmp_path):
    log = write(tmp_path, [[10.0, 5.0, "GET", "records", False], [11.0, 15.0, "GET", "records", False]])
    steady = steady_state(log)
    assert (steady["from_second"], steady["requests"], steady["p50_ms"]) == (0.0, 2, 10.0)


def test_no_log_no_figures(tmp_path):
    assert steady_state(tmp_path / "missing.jsonl") is None
    assert steady_state(write(tmp_path, [])) is None
