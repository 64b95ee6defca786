"""The browser libraries come from npm through package.json and its lock file, pinned
exactly; the lock file names no registry (no `resolved` address: .npmrc's
omit-lockfile-registry-resolved), so `npm ci` installs from whichever registry the machine is
configured with and the repository names no package host."""

import json
import re
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_is_pinned_exactly_and_locked_at_that_version():
    wanted = json.loads((ROOT / "package.json").read_text())["dependencies"]
    lock = json.loads((ROOT / "package-lock.json").read_text())
    assert lock["packages"][""]["dependencies"] == wanted
    for name, version in wanted.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), (name, version)
        assert lock["packages"][f"node_modules/{name}"]["version"] == version


def test_the_lock_file_names_no_host_and_keeps_every_integrity_hash():
    text = (ROOT / "package-lock.json").read_text()
    assert "://" not in text and '"resolved"' not in text
    lock = json.loads(text)
    installed = {path: entry for path, entry in lock["packages"].items() if path}
    assert installed
    assert all(entry["integrity"].startswith("sha512-") for entry in installed.values())
    assert "omit-lockfile-registry-resolved=true" in (ROOT / ".npmrc").read_text().splitlines()


def test_the_files_served_are_of_locked_packages():
    lock = json.loads((ROOT / "package-lock.json").read_text())
    for package in settings.NPM_STATIC_FILES:
        assert f"node_modules/{package}" in lock["packages"], package
