"""The command a benchmark's figures name is the one that measures them again, the bench
database included when it is not the default one."""

from bench.report import command_line


def test_the_default_database_is_not_named(monkeypatch):
    monkeypatch.delenv("BENCH_DATABASE", raising=False)
    assert command_line(["bench/run.py", "--stages", "import"]) == (
        "platform/with-env .venv/bin/python bench/run.py --stages import"
    )


def test_another_database_is_named_before_the_command(monkeypatch):
    monkeypatch.setenv("BENCH_DATABASE", "interlink_bench_import")
    assert command_line(["-m", "bench.graph_analytics", "--stages", "walks"]) == (
        "BENCH_DATABASE=interlink_bench_import platform/with-env .venv/bin/python"
        " -m bench.graph_analytics --stages walks"
    )


def test_a_name_with_shell_characters_is_quoted(monkeypatch):
    monkeypatch.setenv("BENCH_DATABASE", "interlink_bench x")
    assert command_line(["bench/run.py"]).startswith("BENCH_DATABASE='interlink_bench x' platform/with-env")
