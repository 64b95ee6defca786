"""The layers run one way (docs/architecture.md, "Layers"): each package of the project
imports, and each app's migrations depend on, only the packages below it. Read from the
source (every import statement, those inside functions too), not by importing it."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Each package and the project packages it may use; `config` (settings, URLs, the project's
# wiring) is the top and may use them all. The table is this test's own, written from the
# design, not read from the code.
MAY_USE = {
    "core": set(),
    "audit": {"core"},
    "agencies": {"core", "audit"},
    "intel": {"core", "audit", "agencies"},
    "sharing": {"core", "audit", "agencies", "intel"},
    "graph": {"core", "audit", "agencies", "intel"},
    "linkchart": {"core", "audit", "agencies", "intel", "sharing", "graph"},
    "cases": {"core", "audit", "agencies", "intel", "sharing", "graph"},
    "targeting": {"core", "audit", "agencies", "intel", "graph"},
    "workspace": {"core", "audit", "agencies", "intel", "sharing", "graph", "cases", "targeting"},
    "demo": {"core", "audit", "agencies", "intel", "sharing", "graph", "cases", "targeting", "workspace"},
}
PROJECT = {*MAY_USE, "config"}
APPS = set(MAY_USE) - {"core"}


def imported_packages(source: str) -> set[str]:
    """The project packages a module's import statements name."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names & PROJECT


def violations(package: str) -> list[str]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        used = imported_packages(path.read_text()) - {package}
        for other in sorted(used - MAY_USE[package]):
            found.append(f"{path.relative_to(ROOT)} imports {other}")
    return found


@pytest.mark.parametrize("package", sorted(MAY_USE))
def test_each_package_imports_only_the_layers_below_it(package):
    assert violations(package) == []


MIGRATION_DEPENDENCY = re.compile(r"\(\s*['\"](\w+)['\"]\s*,\s*['\"]\w+['\"]\s*\)")


@pytest.mark.parametrize("app", sorted(APPS))
def test_each_apps_migrations_depend_only_on_the_layers_below_it(app):
    for path in sorted((ROOT / app / "migrations").glob("0*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and any(
                getattr(t, "id", "") == "dependencies" for t in node.targets
            ):
                named = set(MIGRATION_DEPENDENCY.findall(ast.unparse(node.value)))
                assert named & PROJECT <= MAY_USE[app] | {app}, (path.name, named)
                # The user model is `agencies.User`: only its layer and those above may name it.
                if "AUTH_USER_MODEL" in ast.unparse(node.value):
                    assert "agencies" in MAY_USE[app], path.name


def test_the_checker_sees_what_it_must():
    """Imports inside functions, `import x.y`, and a table that refuses a cycle."""
    source = "import intel.models\n\ndef f():\n    from sharing.access import X\n    import os\n"
    assert imported_packages(source) == {"intel", "sharing"}
    assert imported_packages("from . import models\nfrom django.db import models\n") == set()
    for package, used in MAY_USE.items():
        for other in used:
            assert package not in MAY_USE[other], (package, other)
