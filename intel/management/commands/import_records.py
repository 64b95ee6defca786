from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from agencies.models import Agency
from intel.import_reading import ImportFailed, count_rows, detect_format
from intel.import_writing import import_file


class Command(BaseCommand):
    help = (
        "Imports a CSV, JSON or JSON Lines file of records for one agency, all-or-nothing (docs/import.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--agency", required=True, help="code of the agency that owns the records")
        parser.add_argument("--user", help="username recorded as the importer")
        parser.add_argument(
            "--format", choices=["csv", "json", "jsonl"], help="default: from the file's suffix"
        )
        parser.add_argument(
            "--allow-unknown-columns",
            action="store_true",
            help="ignore columns the format does not know, listing them as warnings (default: an error)",
        )

    def handle(
        self,
        *args,
        file: Path,
        agency: str,
        user: str | None,
        format: str | None,
        allow_unknown_columns: bool = False,
        **options,
    ) -> None:
        if not file.is_file():
            raise CommandError(f"{file}: no such file")
        try:
            owner = Agency.objects.get(code=agency)
        except Agency.DoesNotExist as exc:
            known = ", ".join(Agency.objects.values_list("code", flat=True)) or "none yet"
            raise CommandError(f"unknown agency {agency!r} (known: {known})") from exc
        importer = None
        if user:
            importer = get_user_model().objects.filter(username=user).first()
            if importer is None:
                raise CommandError(f"unknown user {user!r}")
        try:
            file_format = format or detect_format(file.name)
            total = count_rows(file, file_format)
            with tqdm(total=total, unit="rows", file=self.stderr, dynamic_ncols=True) as bar:

                def progress(rows: int) -> None:
                    bar.update(rows - bar.n)

                result = import_file(
                    file,
                    owner,
                    user=importer,
                    file_format=file_format,
                    progress=progress,
                    allow_unknown_columns=allow_unknown_columns,
                )
        except ImportFailed as failure:
            self.list_problems(failure.errors)
            raise CommandError(f"{failure}") from failure
        self.list_problems(result.warnings, prefix="warning: ")
        self.stdout.write(
            self.style.SUCCESS(
                f"{result.rows} rows: {result.created} created, {result.updated} updated, "
                f"{result.unchanged} unchanged"
            )
        )

    def list_problems(self, problems: list[dict], prefix: str = "") -> None:
        for problem in problems:
            where = f"row {problem['row']}" if problem["row"] is not None else "file"
            field = f", field {problem['field']}" if problem["field"] else ""
            self.stderr.write(f"{prefix}{where}{field}: {problem['message']}")
