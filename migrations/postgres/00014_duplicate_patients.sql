-- Duplicate patients (docs/duplicates.md). Two offline reception desks may
-- register the same person; both registrations are kept, and the server
-- flags the pair for an administrator, who merges them (patient.merge) or
-- dismisses the pair. Everything lives in schema "sync": an index on
-- public.patients would be drift for Prisma, so the match keys are kept in
-- sync.patient_keys, maintained by a trigger, and indexed there.
--
-- The matching rule (docs/duplicates.md) lives here and only here:
-- sync.normalize_name folds case, common Latin accents, hyphens,
-- apostrophes and runs of spaces; a pair is a candidate when both names
-- and the birth date match, or when both carry the same non-empty idNumber
-- (compared without case and spaces).

-- +goose Up

-- +goose StatementBegin
-- translate() rather than the unaccent extension, which a managed
-- PostgreSQL may not offer. IMMUTABLE: the result is stored, and the
-- mapping is fixed by this text.
CREATE FUNCTION sync.normalize_name(s TEXT) RETURNS TEXT
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT btrim(regexp_replace(
        translate(
            replace(replace(replace(lower(coalesce(s, '')), 'æ', 'ae'), 'œ', 'oe'), 'ß', 'ss'),
            'àáâãäåāăąçćĉčďđèéêëēĕėęěĝğģĥìíîïĩīĭįıĵķĺļľłñńņňòóôõöøōŏőŕŗřśŝşšţťŧùúûüũūŭůűųŵýÿŷźżž-‐–''’.',
            'aaaaaaaaaccccddeeeeeeeeeggghiiiiiiiiijkllllnnnnooooooooorrrsssstttuuuuuuuuuuwyyyzzz      '),
        '\s+', ' ', 'g'))
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION sync.normalize_id_number(s TEXT) RETURNS TEXT
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT NULLIF(upper(regexp_replace(coalesce(s, ''), '[\s.-]+', '', 'g')), '')
$$;
-- +goose StatementEnd

-- One row per patient: its match keys. Deleted with the patient.
CREATE TABLE sync.patient_keys (
    patient_id TEXT PRIMARY KEY REFERENCES public.patients(id) ON DELETE CASCADE ON UPDATE CASCADE,
    name_key   TEXT NOT NULL,
    birth_date DATE NOT NULL,
    id_key     TEXT
);
CREATE INDEX patient_keys_name_idx ON sync.patient_keys (name_key, birth_date);
CREATE INDEX patient_keys_id_idx ON sync.patient_keys (id_key) WHERE id_key IS NOT NULL;

-- Candidate pairs, patient_a < patient_b. No foreign key to the patients:
-- a merged pair stays listed as resolved after the loser is gone.
-- reason: 'name_birth_date', 'id_number' or 'name_birth_date+id_number'.
-- resolution: NULL while open, 'merged' or 'dismissed'.
CREATE TABLE sync.duplicate_candidates (
    patient_a   TEXT NOT NULL,
    patient_b   TEXT NOT NULL,
    reason      TEXT NOT NULL,
    detected_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    resolved_at TIMESTAMPTZ,
    resolution  TEXT CHECK (resolution IN ('merged', 'dismissed')),
    resolved_by TEXT REFERENCES public.users(id) ON DELETE SET NULL ON UPDATE CASCADE,
    note        TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (patient_a, patient_b),
    CHECK (patient_a < patient_b)
);
CREATE INDEX duplicate_candidates_open_idx ON sync.duplicate_candidates (detected_at) WHERE resolved_at IS NULL;
CREATE INDEX duplicate_candidates_b_idx ON sync.duplicate_candidates (patient_b);

-- Every merge: the loser's last row (nothing is lost), where it went, who
-- did it and when, and how many records moved. The re-pointing of acts
-- that arrive later naming the loser reads this table.
CREATE TABLE sync.patient_merges (
    loser_id     TEXT PRIMARY KEY,
    survivor_id  TEXT NOT NULL,
    merged_by    TEXT REFERENCES public.users(id) ON DELETE SET NULL ON UPDATE CASCADE,
    merged_at    TIMESTAMPTZ NOT NULL,
    mutation_id  TEXT NOT NULL,
    loser_row    JSONB NOT NULL,
    moved        JSONB NOT NULL
);
CREATE INDEX patient_merges_survivor_idx ON sync.patient_merges (survivor_id);

-- Acts that arrived naming a merged patient and were applied to its
-- survivor instead (the audit log keeps the args as sent).
CREATE TABLE sync.merge_repoints (
    device_id    TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    mutation_id  TEXT NOT NULL,
    field        TEXT NOT NULL,
    from_patient TEXT NOT NULL,
    to_patient   TEXT NOT NULL,
    at           TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (device_id, seq, field)
);

-- +goose StatementBegin
-- Keeps the written patients' keys and flags candidate pairs in the writing
-- transaction, whoever writes (an act, the seed, plain SQL, a bulk import).
-- One statement-level pass over the transition table, set-based, so a bulk
-- import does not pay a function call per row. A pair already known (open,
-- merged or dismissed) is left as it is: a dismissed pair is not raised
-- again by a later edit.
CREATE FUNCTION sync.detect_duplicates() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Two desks' registrations of one person often arrive together, in two
    -- concurrent transactions that cannot see each other's row: the one
    -- that comes second waits here for the first to finish, and its lookup
    -- below (a new snapshot, READ COMMITTED) then sees it. The keys are
    -- hashed into 128 buckets, taken in order, so that a bulk import holds
    -- at most 128 locks (one per key would exhaust the lock table) and two
    -- writers cannot deadlock on them; writers of unrelated keys rarely
    -- share a bucket, and then only wait for a commit. 7214 keeps these
    -- locks apart from other advisory locks.
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

-- Transition tables cannot name columns, so every update is looked at; an
-- update that changes no key finds only pairs already known.
CREATE TRIGGER wardsync_duplicates_insert AFTER INSERT ON public.patients
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION sync.detect_duplicates();
CREATE TRIGGER wardsync_duplicates_update AFTER UPDATE ON public.patients
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION sync.detect_duplicates();

-- Patients already there: keys, then the pairs among them.
INSERT INTO sync.patient_keys (patient_id, name_key, birth_date, id_key)
SELECT id, sync.normalize_name("firstName") || '|' || sync.normalize_name("lastName"), "birthDate"::date,
       sync.normalize_id_number("idNumber")
  FROM public.patients;

INSERT INTO sync.duplicate_candidates (patient_a, patient_b, reason)
SELECT a.patient_id, b.patient_id,
       concat_ws('+',
           CASE WHEN a.name_key = b.name_key AND a.birth_date = b.birth_date THEN 'name_birth_date' END,
           CASE WHEN a.id_key = b.id_key THEN 'id_number' END)
  FROM sync.patient_keys a
  JOIN sync.patient_keys b ON a.patient_id < b.patient_id
   AND ((a.name_key = b.name_key AND a.birth_date = b.birth_date) OR a.id_key = b.id_key);

-- +goose StatementBegin
CREATE FUNCTION sync.notify_duplicates() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('wardsync_admin', TG_TABLE_NAME);
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER wardsync_admin_notify AFTER INSERT OR UPDATE ON sync.duplicate_candidates
    FOR EACH STATEMENT EXECUTE FUNCTION sync.notify_duplicates();

-- +goose Down
DROP TRIGGER wardsync_admin_notify ON sync.duplicate_candidates;
DROP FUNCTION sync.notify_duplicates();
DROP TRIGGER wardsync_duplicates_update ON public.patients;
DROP TRIGGER wardsync_duplicates_insert ON public.patients;
DROP FUNCTION sync.detect_duplicates();
DROP TABLE sync.merge_repoints;
DROP TABLE sync.patient_merges;
DROP TABLE sync.duplicate_candidates;
DROP TABLE sync.patient_keys;
DROP FUNCTION sync.normalize_id_number(TEXT);
DROP FUNCTION sync.normalize_name(TEXT);
