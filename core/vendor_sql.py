"""Migrations that run SQL of their own (triggers, an extension's index), per database vendor."""

from django.db import migrations


def run_by_vendor(up: dict[str, list[str]], down: dict[str, list[str]]) -> migrations.RunPython:
    """A migration step running `up[vendor]` (reversed by `down[vendor]`) on the database in
    use; a vendor not named runs nothing (SQLite needs no trigram index, for one)."""

    def runner(statements_by_vendor: dict[str, list[str]]):
        def apply(apps, schema_editor) -> None:
            # A raw cursor: plpgsql bodies hold '%' placeholders of their own.
            with schema_editor.connection.cursor() as cursor:
                for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
                    cursor.execute(statement)

        return apply

    return migrations.RunPython(runner(up), runner(down))
