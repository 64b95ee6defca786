"""Browser libraries from npm, served as static files straight from `node_modules`.

`package.json` and its lock file pin them; `make npm-packages` installs them (`npm ci`).
Only the files named in `settings.NPM_STATIC_FILES` are served (and collected), each as
`npm/<package>/<path inside the package>`: a package's sources, tests and demos stay out of
the static files, and nothing of a library is copied into the repository. The finder has no
system check: the fast tier and production commands run without node_modules (collected static
files serve production); tests/test_chart_page.py finds each file."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

PREFIX = "npm"


def node_modules() -> Path:
    return Path(settings.BASE_DIR) / "node_modules"


class NpmPackageFinder(BaseFinder):
    """Finds `npm/<package>/<path>` for the files `NPM_STATIC_FILES` lists."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.files: dict[str, tuple[str, str]] = {
            f"{PREFIX}/{package}/{path}": (package, path)
            for package, paths in settings.NPM_STATIC_FILES.items()
            for path in paths
        }

    def _file(self, package: str, path: str) -> Path | None:
        found = node_modules() / package / path
        return found if found.is_file() else None

    def find(self, path: str, find_all: bool = False, **kwargs) -> str | list[str]:
        package_path = self.files.get(path)
        found = self._file(*package_path) if package_path else None
        if found is None:
            return []
        return [str(found)] if find_all else str(found)

    def list(self, ignore_patterns):
        for package, path in sorted(set(self.files.values())):
            if self._file(package, path):
                storage = FileSystemStorage(location=node_modules() / package)
                storage.prefix = f"{PREFIX}/{package}"
                yield path, storage
