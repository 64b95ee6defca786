"""`audit_append(events)`: appends events to the chain in one statement (PostgreSQL).

Under the chain's lock it reads the newest event's hash, hashes each event onto it
(SHA-256 of the previous hash and the event's canonical JSON, computed by the caller, as
`audit.log.chain_hash` does) and inserts it: one round trip where taking the lock, reading
the head and inserting were one each, inside a savepoint of two more. A function rather
than one plain statement because each statement of a plpgsql function takes a fresh
snapshot (READ COMMITTED): the head it reads after the lock is granted is the one the
previous holder committed, which a statement whose snapshot predates the lock would miss.
"""

from django.db import migrations

from core.vendor_sql import run_by_vendor

POSTGRES_UP = """
CREATE OR REPLACE FUNCTION audit_append(events jsonb, lock_key bigint)
RETURNS TABLE (event_id bigint, event_prev_hash varchar, event_hash varchar, previous_id bigint) AS $$
DECLARE
    canonical text;
    head_id bigint;
    head_hash varchar;
    ids bigint[] := '{}';
    prevs varchar[] := '{}';
    hashes varchar[] := '{}';
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    SELECT e.id, e.hash INTO head_id, head_hash FROM audit_auditevent e ORDER BY e.id DESC LIMIT 1;
    previous_id := coalesce(head_id, 0);
    head_hash := coalesce(head_hash, repeat('0', 64));
    -- Ids are drawn here, in the events' order, under the lock: the chain's order is the
    -- ids' order, which verify_chain walks.
    FOR canonical IN SELECT e.value->>'canonical' FROM jsonb_array_elements(events) WITH ORDINALITY AS e
            ORDER BY e.ordinality LOOP
        ids := ids || nextval(pg_get_serial_sequence('audit_auditevent', 'id'));
        prevs := prevs || head_hash;
        head_hash := encode(sha256(convert_to(head_hash || canonical, 'UTF8')), 'hex');
        hashes := hashes || head_hash;
    END LOOP;
    INSERT INTO audit_auditevent
        (id, at, actor_id, actor_username, agency_id, action, object_type, object_id, details,
         prev_hash, hash)
    SELECT ids[e.ordinality], (e.value->>'at')::timestamptz, (e.value->>'actor_id')::bigint,
           e.value->>'actor_username', (e.value->>'agency_id')::bigint, e.value->>'action',
           e.value->>'object_type', e.value->>'object_id', e.value->'details',
           prevs[e.ordinality], hashes[e.ordinality]
    FROM jsonb_array_elements(events) WITH ORDINALITY AS e;
    RETURN QUERY SELECT ids[n], prevs[n], hashes[n], previous_id FROM generate_subscripts(ids, 1) AS n ORDER BY n;
END $$ LANGUAGE plpgsql VOLATILE;
"""
POSTGRES_DOWN = "DROP FUNCTION IF EXISTS audit_append(jsonb, bigint);"


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only")]

    operations = [run_by_vendor({"postgresql": [POSTGRES_UP]}, {"postgresql": [POSTGRES_DOWN]})]
