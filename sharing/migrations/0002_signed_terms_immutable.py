"""The database itself refuses to change the terms, or the parties, of a signed agreement,
so that no write (raw SQL included) changes what a party signed; `Agreement.save()` and the
querysets refuse it first, with a message naming the fields.

Adding a party is refused by the models only: loaders insert an already signed agreement's
parties in one statement, whose rows a row trigger would see one after another.
"""

from django.db import migrations

from core.vendor_sql import run_by_vendor

TERMS = (
    "reference",
    "title",
    "document",
    "starts_at",
    "ends_at",
    "categories",
    "classification_ceiling",
    "purposes",
    "discovery_allowed",
    "onward_sharing_allowed",
    "redacted_fields",
    "created_by_id",
    "amends_id",
    "version",
)
PARTY_TERMS = ("agreement_id", "agency_id", "provides", "receives")


def differ(columns: tuple[str, ...]) -> str:
    old = ", ".join(f"OLD.{c}" for c in columns)
    new = ", ".join(f"NEW.{c}" for c in columns)
    return f"ROW({old}) IS DISTINCT FROM ROW({new})"


def differ_sqlite(columns: tuple[str, ...]) -> str:
    return "(" + " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in columns) + ")"


def signed(agreement_id: str) -> str:
    return (
        "EXISTS (SELECT 1 FROM sharing_agreementparty signed "
        f"WHERE signed.agreement_id = {agreement_id} AND signed.signed_at IS NOT NULL)"  # noqa: S608
    )


POSTGRES_UP = f"""
CREATE OR REPLACE FUNCTION sharing_agreement_signed_terms() RETURNS trigger AS $$
BEGIN
    IF {signed("OLD.id")} THEN
        RAISE EXCEPTION 'agreement % is signed: its terms cannot change; amend it', OLD.reference;
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER sharing_agreement_signed_terms
    BEFORE UPDATE ON sharing_agreement FOR EACH ROW
    WHEN ({differ(TERMS)})
    EXECUTE FUNCTION sharing_agreement_signed_terms();

CREATE OR REPLACE FUNCTION sharing_agreementparty_signed_terms() RETURNS trigger AS $$
BEGIN
    IF {signed("OLD.agreement_id")} THEN
        RAISE EXCEPTION 'the parties of signed agreement % cannot change; amend it', OLD.agreement_id;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER sharing_agreementparty_signed_terms
    BEFORE UPDATE ON sharing_agreementparty FOR EACH ROW
    WHEN ({differ(PARTY_TERMS)})
    EXECUTE FUNCTION sharing_agreementparty_signed_terms();
CREATE TRIGGER sharing_agreementparty_signed_delete
    BEFORE DELETE ON sharing_agreementparty FOR EACH ROW
    EXECUTE FUNCTION sharing_agreementparty_signed_terms();
"""
POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS sharing_agreement_signed_terms ON sharing_agreement;
DROP TRIGGER IF EXISTS sharing_agreementparty_signed_terms ON sharing_agreementparty;
DROP TRIGGER IF EXISTS sharing_agreementparty_signed_delete ON sharing_agreementparty;
DROP FUNCTION IF EXISTS sharing_agreement_signed_terms();
DROP FUNCTION IF EXISTS sharing_agreementparty_signed_terms();
"""
SQLITE_UP = [
    "CREATE TRIGGER sharing_agreement_signed_terms BEFORE UPDATE ON sharing_agreement "
    f"FOR EACH ROW WHEN {differ_sqlite(TERMS)} AND {signed('OLD.id')} "
    "BEGIN SELECT RAISE(ABORT, 'a signed agreement''s terms cannot change; amend it'); END;",
    "CREATE TRIGGER sharing_agreementparty_signed_terms BEFORE UPDATE ON sharing_agreementparty "
    f"FOR EACH ROW WHEN {differ_sqlite(PARTY_TERMS)} AND {signed('OLD.agreement_id')} "
    "BEGIN SELECT RAISE(ABORT, 'the parties of a signed agreement cannot change'); END;",
    "CREATE TRIGGER sharing_agreementparty_signed_delete BEFORE DELETE ON sharing_agreementparty "
    f"FOR EACH ROW WHEN {signed('OLD.agreement_id')} "
    "BEGIN SELECT RAISE(ABORT, 'the parties of a signed agreement cannot change'); END;",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS sharing_agreement_signed_terms;",
    "DROP TRIGGER IF EXISTS sharing_agreementparty_signed_terms;",
    "DROP TRIGGER IF EXISTS sharing_agreementparty_signed_delete;",
]


class Migration(migrations.Migration):
    dependencies = [("sharing", "0001_initial")]

    operations = [
        run_by_vendor(
            {"postgresql": [POSTGRES_UP], "sqlite": SQLITE_UP},
            {"postgresql": [POSTGRES_DOWN], "sqlite": SQLITE_DOWN},
        )
    ]
