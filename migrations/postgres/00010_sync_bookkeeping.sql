-- wardsync's own bookkeeping. It lives in schema "sync", never in "public":
-- Prisma treats anything extra in "public" as drift. Rows are keyed by the
-- seed's ids; nothing here adds a column, table, enum or index to "public".
-- Triggers and functions on the public tables are fine (Prisma does not
-- compare them).

-- +goose Up
CREATE SCHEMA IF NOT EXISTS sync;

-- Registered workstations and the roles each may serve.
CREATE TABLE sync.devices (
    id                 TEXT PRIMARY KEY,
    name               TEXT NOT NULL,
    roles              TEXT[] NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at         TIMESTAMPTZ,
    -- one-time registration code, stored hashed; cleared once used
    registration_hash  BYTEA,
    registration_until TIMESTAMPTZ
);

-- What the seed's users table lacks: a user can be disabled.
CREATE TABLE sync.user_status (
    user_id     TEXT PRIMARY KEY REFERENCES public.users(id) ON DELETE CASCADE ON UPDATE CASCADE,
    disabled_at TIMESTAMPTZ
);

-- Revocable bearer tokens, stored as SHA-256 of the token. device_id is NULL
-- for an admin dashboard session.
CREATE TABLE sync.sessions (
    id         TEXT PRIMARY KEY,
    token_hash BYTEA NOT NULL UNIQUE,
    user_id    TEXT NOT NULL REFERENCES public.users(id) ON DELETE CASCADE ON UPDATE CASCADE,
    device_id  TEXT REFERENCES sync.devices(id) ON DELETE CASCADE,
    issued_at  TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX sessions_user_idx ON sync.sessions (user_id);
CREATE INDEX sessions_device_idx ON sync.sessions (device_id);

-- Per device: how far its mutations and its pulls have got, and what it last
-- told us about its queue.
CREATE TABLE sync.clients (
    device_id          TEXT PRIMARY KEY REFERENCES sync.devices(id) ON DELETE CASCADE,
    last_mutation_seq  BIGINT NOT NULL DEFAULT 0,
    cursor             TEXT NOT NULL DEFAULT '',
    cursor_xid         xid8,
    cursor_id          BIGINT,
    last_seen          TIMESTAMPTZ,
    pending            INTEGER NOT NULL DEFAULT 0,
    oldest_pending_at  TIMESTAMPTZ,
    last_error         TEXT,
    last_error_at      TIMESTAMPTZ
);

-- The audit log: every mutation ever received and what became of it.
CREATE TABLE sync.mutations (
    device_id    TEXT NOT NULL REFERENCES sync.devices(id) ON DELETE CASCADE,
    seq          BIGINT NOT NULL,
    mutation_id  TEXT NOT NULL,
    name         TEXT NOT NULL,
    args         JSONB NOT NULL,
    author_id    TEXT,
    session_id   TEXT,
    occurred_at  TIMESTAMPTZ NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL,
    outcome      TEXT NOT NULL CHECK (outcome IN ('applied', 'rejected')),
    code         TEXT,
    message      TEXT,
    field        TEXT,
    target_table TEXT,
    target_id    TEXT,
    -- the recording transaction, so a pull can tell which outcomes are
    -- below its horizon (their effects are then in the changes it hands out)
    xid          xid8 NOT NULL DEFAULT pg_current_xact_id(),
    PRIMARY KEY (device_id, seq)
);
CREATE INDEX mutations_received_idx ON sync.mutations (received_at);
CREATE INDEX mutations_author_idx ON sync.mutations (author_id, received_at);
CREATE INDEX mutations_target_idx ON sync.mutations (target_id);
CREATE INDEX mutations_rejected_idx ON sync.mutations (received_at) WHERE outcome = 'rejected';

-- The change feed. Every write to a seed table, by anyone, lands here by
-- trigger with the writing transaction's xid. A reader hands out only
-- changes below its snapshot's xmin: every transaction below that horizon
-- has finished, so nothing can later appear behind a cursor.
CREATE TABLE sync.changes (
    id     BIGSERIAL PRIMARY KEY,
    xid    xid8 NOT NULL DEFAULT pg_current_xact_id(),
    tbl    TEXT NOT NULL,
    row_id TEXT NOT NULL,
    op     TEXT NOT NULL,
    at     TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX changes_xid_id_idx ON sync.changes (xid, id);

-- How far the feed has been pruned: a cursor below this is told to resync.
CREATE TABLE sync.feed_state (
    singleton     BOOLEAN PRIMARY KEY DEFAULT true CHECK (singleton),
    pruned_xid    xid8 NOT NULL DEFAULT '0'::xid8,
    pruned_id     BIGINT NOT NULL DEFAULT 0
);
INSERT INTO sync.feed_state DEFAULT VALUES;

-- +goose StatementBegin
CREATE FUNCTION sync.capture_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO sync.changes (tbl, row_id, op) VALUES (TG_TABLE_NAME, OLD.id, 'delete');
    ELSE
        IF TG_OP = 'UPDATE' AND NEW.id IS DISTINCT FROM OLD.id THEN
            INSERT INTO sync.changes (tbl, row_id, op) VALUES (TG_TABLE_NAME, OLD.id, 'delete');
        END IF;
        INSERT INTO sync.changes (tbl, row_id, op) VALUES (TG_TABLE_NAME, NEW.id, lower(TG_OP));
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- One notification per statement (and PostgreSQL folds duplicates per
-- transaction); it is delivered at commit, whoever wrote.
CREATE FUNCTION sync.notify_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('wardsync_changes', '');
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER wardsync_capture AFTER INSERT OR UPDATE OR DELETE ON public.users
    FOR EACH ROW EXECUTE FUNCTION sync.capture_change();
CREATE TRIGGER wardsync_capture AFTER INSERT OR UPDATE OR DELETE ON public.patients
    FOR EACH ROW EXECUTE FUNCTION sync.capture_change();
CREATE TRIGGER wardsync_capture AFTER INSERT OR UPDATE OR DELETE ON public.appointments
    FOR EACH ROW EXECUTE FUNCTION sync.capture_change();
CREATE TRIGGER wardsync_capture AFTER INSERT OR UPDATE OR DELETE ON public.prescriptions
    FOR EACH ROW EXECUTE FUNCTION sync.capture_change();
CREATE TRIGGER wardsync_capture AFTER INSERT OR UPDATE OR DELETE ON public.results
    FOR EACH ROW EXECUTE FUNCTION sync.capture_change();
CREATE TRIGGER wardsync_capture AFTER INSERT OR UPDATE OR DELETE ON public.documents
    FOR EACH ROW EXECUTE FUNCTION sync.capture_change();

CREATE TRIGGER wardsync_notify AFTER INSERT ON sync.changes
    FOR EACH STATEMENT EXECUTE FUNCTION sync.notify_change();

-- +goose Down
DROP TRIGGER wardsync_capture ON public.documents;
DROP TRIGGER wardsync_capture ON public.results;
DROP TRIGGER wardsync_capture ON public.prescriptions;
DROP TRIGGER wardsync_capture ON public.appointments;
DROP TRIGGER wardsync_capture ON public.patients;
DROP TRIGGER wardsync_capture ON public.users;
DROP TABLE sync.feed_state;
DROP TABLE sync.changes;
DROP FUNCTION sync.notify_change();
DROP FUNCTION sync.capture_change();
DROP TABLE sync.mutations;
DROP TABLE sync.clients;
DROP TABLE sync.sessions;
DROP TABLE sync.user_status;
DROP TABLE sync.devices;
