"""Migrations that run SQL of their own (triggers, an extension's index), per database vendor."""

from django.db import migrations, models


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


def drop_key_index(
    app_label: str, model_name: str, field_name: str, field: models.ForeignKey
) -> migrations.SeparateDatabaseAndState:
    """The AlterField that makes a foreign key `db_index=False` (`field`, the key as it now
    is), its own single-column index dropped by name rather than by Django's schema editor:
    SQLite rebuilds a table for any AlterField, and a trigger of another table naming it
    (`sharing_agreement_signed_terms`) fails the rebuild. Reversed, the index comes back."""

    def key(apps, schema_editor) -> tuple[str, str]:
        model = apps.get_model(app_label, model_name)
        return model._meta.db_table, model._meta.get_field(field_name).column

    def drop(apps, schema_editor) -> None:
        table, column = key(apps, schema_editor)
        connection = schema_editor.connection
        with connection.cursor() as cursor:
            constraints = connection.introspection.get_constraints(cursor, table)
        for name, constraint in constraints.items():
            if constraint["index"] and not constraint["unique"] and constraint["columns"] == [column]:
                schema_editor.execute(f"DROP INDEX {schema_editor.quote_name(name)}")

    def restore(apps, schema_editor) -> None:
        table, column = key(apps, schema_editor)
        name = schema_editor.quote_name(f"{table}_{column}_key"[:63])
        quoted = schema_editor.quote_name
        schema_editor.execute(f"CREATE INDEX {name} ON {quoted(table)} ({quoted(column)})")

    return migrations.SeparateDatabaseAndState(
        database_operations=[migrations.RunPython(drop, restore)],
        state_operations=[migrations.AlterField(model_name=model_name, name=field_name, field=field)],
    )
