-- Duplicate patients (issue #8 part 3). Two offline reception desks may
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
-- Keeps the patient's keys and flags candidate pairs in the writing
-- transaction, whoever writes (an act, the seed, plain SQL). A pair already
-- known (open, merged or dismissed) is left as it is: a dismissed pair is
-- not raised again by a later edit.
CREATE FUNCTION sync.detect_duplicates() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    k_name TEXT := sync.normalize_name(NEW."firstName") || '|' || sync.normalize_name(NEW."lastName");
    k_birth DATE := NEW."birthDate"::date;
    k_id TEXT := sync.normalize_id_number(NEW."idNumber");
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.id IS NOT DISTINCT FROM OLD.id
       AND NEW."firstName" IS NOT DISTINCT FROM OLD."firstName"
       AND NEW."lastName" IS NOT DISTINCT FROM OLD."lastName"
       AND NEW."birthDate" IS NOT DISTINCT FROM OLD."birthDate"
       AND NEW."idNumber" IS NOT DISTINCT FROM OLD."idNumber" THEN
        RETURN NULL;
    END IF;
    -- Two desks' registrations of one person often arrive together, in two
    -- concurrent transactions that cannot see each other's row: the one
    -- that comes second waits here for the first to finish, and its lookup
    -- below (a new snapshot, READ COMMITTED) then sees it. Only writers of
    -- the same keys wait; 7214 keeps these locks apart from others.
    PERFORM pg_advisory_xact_lock(7214, hashtext(k_name || '|' || k_birth::text));
    IF k_id IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(7214, hashtext('id|' || k_id));
    END IF;
    INSERT INTO sync.patient_keys (patient_id, name_key, birth_date, id_key)
    VALUES (NEW.id, k_name, k_birth, k_id)
    ON CONFLICT (patient_id) DO UPDATE SET name_key = EXCLUDED.name_key, birth_date = EXCLUDED.birth_date, id_key = EXCLUDED.id_key;

    INSERT INTO sync.duplicate_candidates (patient_a, patient_b, reason)
    SELECT least(NEW.id, m.patient_id), greatest(NEW.id, m.patient_id),
           concat_ws('+',
               CASE WHEN m.name_key = k_name AND m.birth_date = k_birth THEN 'name_birth_date' END,
               CASE WHEN k_id IS NOT NULL AND m.id_key = k_id THEN 'id_number' END)
      FROM (SELECT * FROM sync.patient_keys WHERE name_key = k_name AND birth_date = k_birth
            UNION
            SELECT * FROM sync.patient_keys WHERE k_id IS NOT NULL AND id_key = k_id) m
     WHERE m.patient_id <> NEW.id
    ON CONFLICT (patient_a, patient_b) DO NOTHING;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER wardsync_duplicates AFTER INSERT OR UPDATE ON public.patients
    FOR EACH ROW EXECUTE FUNCTION sync.detect_duplicates();

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
DROP TRIGGER wardsync_duplicates ON public.patients;
DROP FUNCTION sync.detect_duplicates();
DROP TABLE sync.merge_repoints;
DROP TABLE sync.patient_merges;
DROP TABLE sync.duplicate_candidates;
DROP TABLE sync.patient_keys;
DROP FUNCTION sync.normalize_id_number(TEXT);
DROP FUNCTION sync.normalize_name(TEXT);
