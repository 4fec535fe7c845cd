-- Duplicate detection without deadlocks.
--
-- 00014 serialised two writers of one patient's match keys with advisory
-- locks on 128 hash buckets, sorted within each trigger call. A push
-- applies many registrations in one transaction, one trigger call each, so
-- two pushes of different people took buckets in opposite orders and
-- deadlocked (fifty desks registering at once: a deadlock a second, pushes
-- of minutes). Buckets also made unrelated people wait for each other.
--
-- Now a writer claims the exact keys it writes, as rows of
-- sync.patient_key_claims: inserting or updating a claim row locks that row
-- until commit, so the second writer of one key waits for the first and then
-- sees its row (READ COMMITTED: the detection statement takes a new
-- snapshot). Different people never share a key, so they never wait. Row
-- locks live in the rows, not in the shared lock table, so a bulk import may
-- claim any number of keys.
--
-- Order: every claim statement claims its keys sorted. The sync server
-- claims all the keys of a whole push in one statement before it applies the
-- first act (server/postgres/claims.go), so the trigger's own claims inside
-- that push find rows it already holds and wait for nobody. Two pushes, or a
-- push and a one-statement import, then take their keys in one global
-- order and cannot deadlock. Only a transaction that writes patients in
-- several statements outside the server (a script) claims in several steps;
-- two of those may deadlock with each other, and the server's retries of
-- its own transactions are counted (wardsync_db_retries_total).
--
-- Only keys that change are claimed: an edit of a patient's phone or medical
-- history claims nothing and waits for nobody.

-- +goose Up
CREATE TABLE sync.patient_key_claims (
    key TEXT PRIMARY KEY
);

-- +goose StatementBegin
-- The claim keys of one patient: its name key with the birth date, and its
-- id-number key when it has one. The same folding as sync.patient_keys.
CREATE FUNCTION sync.patient_claim_keys(first_name TEXT, last_name TEXT, birth_date DATE, id_number TEXT) RETURNS TEXT[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_remove(ARRAY[
        'n|' || sync.normalize_name(first_name) || '|' || sync.normalize_name(last_name) || '|' || birth_date::text,
        'i|' || sync.normalize_id_number(id_number)], NULL)
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- Claims keys in sorted order, in one statement: a claim row is locked until
-- the transaction ends, and a claim already held by another transaction is
-- waited for. Updating the key to itself is what locks an existing row (a
-- HOT update: the indexed value does not change).
CREATE FUNCTION sync.claim_patient_keys(keys TEXT[]) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO sync.patient_key_claims AS c (key)
    SELECT DISTINCT k FROM unnest(keys) k WHERE k IS NOT NULL ORDER BY k
    ON CONFLICT (key) DO UPDATE SET key = EXCLUDED.key
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION sync.detect_duplicates() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- The keys this statement writes that differ from the ones recorded
    -- (a new patient, or an edit of a name, birth date or id number) are
    -- claimed first, sorted. A concurrent writer of one of them makes this
    -- wait for its commit, and the lookup below (a new snapshot) then sees
    -- its row. Keys left as they were need no claim: their pairs are known.
    PERFORM sync.claim_patient_keys(ARRAY(
        SELECT k
          FROM written w
          LEFT JOIN sync.patient_keys pk ON pk.patient_id = w.id,
               unnest(sync.patient_claim_keys(w."firstName", w."lastName", w."birthDate"::date, w."idNumber")) k
         WHERE pk.patient_id IS NULL
            OR pk.name_key IS DISTINCT FROM sync.normalize_name(w."firstName") || '|' || sync.normalize_name(w."lastName")
            OR pk.birth_date IS DISTINCT FROM w."birthDate"::date
            OR pk.id_key IS DISTINCT FROM sync.normalize_id_number(w."idNumber")));

    INSERT INTO sync.patient_keys (patient_id, name_key, birth_date, id_key)
    SELECT id, sync.normalize_name("firstName") || '|' || sync.normalize_name("lastName"), "birthDate"::date,
           sync.normalize_id_number("idNumber")
      FROM written
    ON CONFLICT (patient_id) DO UPDATE SET name_key = EXCLUDED.name_key, birth_date = EXCLUDED.birth_date, id_key = EXCLUDED.id_key;

    -- Two equality joins (each served by its index) rather than one join
    -- on an OR, which no index serves. EXECUTE plans it for this call's
    -- number of rows: PL/pgSQL would otherwise keep the plan of its first
    -- call, and one registration must not run a bulk import's hash joins
    -- over every patient (or the reverse).
    EXECUTE $q$
    WITH w AS MATERIALIZED (
        SELECT k.* FROM written JOIN sync.patient_keys k ON k.patient_id = written.id
    ), hits AS (
        SELECT w.patient_id AS id, m.patient_id AS other
          FROM w JOIN sync.patient_keys m ON m.name_key = w.name_key AND m.birth_date = w.birth_date
        UNION
        SELECT w.patient_id, m.patient_id
          FROM w JOIN sync.patient_keys m ON m.id_key = w.id_key
    )
    INSERT INTO sync.duplicate_candidates (patient_a, patient_b, reason)
    SELECT DISTINCT least(w.patient_id, m.patient_id), greatest(w.patient_id, m.patient_id),
           concat_ws('+',
               CASE WHEN m.name_key = w.name_key AND m.birth_date = w.birth_date THEN 'name_birth_date' END,
               CASE WHEN m.id_key = w.id_key THEN 'id_number' END)
      FROM hits h
      JOIN w ON w.patient_id = h.id
      JOIN sync.patient_keys m ON m.patient_id = h.other
     WHERE h.id <> h.other
    ON CONFLICT (patient_a, patient_b) DO NOTHING
    $q$;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION sync.detect_duplicates() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7214, b)
       FROM (SELECT hashtext(sync.normalize_name("firstName") || '|' || sync.normalize_name("lastName") || '|' || "birthDate"::date::text) & 127 AS b
               FROM written
             UNION
             SELECT hashtext('id|' || sync.normalize_id_number("idNumber")) & 127
               FROM written WHERE sync.normalize_id_number("idNumber") IS NOT NULL) x
      ORDER BY b;

    INSERT INTO sync.patient_keys (patient_id, name_key, birth_date, id_key)
    SELECT id, sync.normalize_name("firstName") || '|' || sync.normalize_name("lastName"), "birthDate"::date,
           sync.normalize_id_number("idNumber")
      FROM written
    ON CONFLICT (patient_id) DO UPDATE SET name_key = EXCLUDED.name_key, birth_date = EXCLUDED.birth_date, id_key = EXCLUDED.id_key;

    EXECUTE $q$
    WITH w AS MATERIALIZED (
        SELECT k.* FROM written JOIN sync.patient_keys k ON k.patient_id = written.id
    ), hits AS (
        SELECT w.patient_id AS id, m.patient_id AS other
          FROM w JOIN sync.patient_keys m ON m.name_key = w.name_key AND m.birth_date = w.birth_date
        UNION
        SELECT w.patient_id, m.patient_id
          FROM w JOIN sync.patient_keys m ON m.id_key = w.id_key
    )
    INSERT INTO sync.duplicate_candidates (patient_a, patient_b, reason)
    SELECT DISTINCT least(w.patient_id, m.patient_id), greatest(w.patient_id, m.patient_id),
           concat_ws('+',
               CASE WHEN m.name_key = w.name_key AND m.birth_date = w.birth_date THEN 'name_birth_date' END,
               CASE WHEN m.id_key = w.id_key THEN 'id_number' END)
      FROM hits h
      JOIN w ON w.patient_id = h.id
      JOIN sync.patient_keys m ON m.patient_id = h.other
     WHERE h.id <> h.other
    ON CONFLICT (patient_a, patient_b) DO NOTHING
    $q$;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
DROP FUNCTION sync.claim_patient_keys(TEXT[]);
DROP FUNCTION sync.patient_claim_keys(TEXT, TEXT, DATE, TEXT);
DROP TABLE sync.patient_key_claims;
