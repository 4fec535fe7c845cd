-- Monitoring and admin bookkeeping, in schema "sync" only (never "public").
--
-- sync.mutation_counts keeps, per device, how many mutations ended applied or
-- rejected (by code), maintained by trigger, so the status page and the
-- Prometheus scrape never count the whole audit log.
--
-- sync.rejection_resolutions records that an administrator has dealt with a
-- rejected act; the "unresolved rejected" figures are the rejected acts
-- without a row here.
--
-- A notification on channel wardsync_admin tells the admin dashboards of
-- every server instance that something they show has changed: a mutation was
-- recorded, a workstation reported its queue, came back, or failed.

-- +goose Up
CREATE TABLE sync.mutation_counts (
    device_id TEXT NOT NULL REFERENCES sync.devices(id) ON DELETE CASCADE,
    outcome   TEXT NOT NULL,
    code      TEXT NOT NULL DEFAULT '',
    n         BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (device_id, outcome, code)
);

INSERT INTO sync.mutation_counts (device_id, outcome, code, n)
SELECT device_id, outcome, COALESCE(code, ''), count(*) FROM sync.mutations GROUP BY 1, 2, 3;

CREATE TABLE sync.rejection_resolutions (
    device_id   TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    resolved_at TIMESTAMPTZ NOT NULL,
    resolved_by TEXT REFERENCES public.users(id) ON DELETE SET NULL ON UPDATE CASCADE,
    note        TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (device_id, seq),
    FOREIGN KEY (device_id, seq) REFERENCES sync.mutations(device_id, seq) ON DELETE CASCADE
);

-- Audit search by workstation, newest first.
CREATE INDEX mutations_device_received_idx ON sync.mutations (device_id, received_at);

-- +goose StatementBegin
CREATE FUNCTION sync.count_mutation() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- The device's pushes are serialised by its sync.clients row, so this
    -- counter row is never contended by two transactions at once.
    INSERT INTO sync.mutation_counts (device_id, outcome, code, n)
    VALUES (NEW.device_id, NEW.outcome, COALESCE(NEW.code, ''), 1)
    ON CONFLICT (device_id, outcome, code) DO UPDATE SET n = sync.mutation_counts.n + 1;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION sync.notify_admin() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- PostgreSQL folds identical notifications within a transaction and
    -- delivers them at commit.
    PERFORM pg_notify('wardsync_admin', TG_TABLE_NAME);
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER wardsync_count AFTER INSERT ON sync.mutations
    FOR EACH ROW EXECUTE FUNCTION sync.count_mutation();

CREATE TRIGGER wardsync_admin_notify AFTER INSERT ON sync.mutations
    FOR EACH STATEMENT EXECUTE FUNCTION sync.notify_admin();

CREATE TRIGGER wardsync_admin_notify AFTER INSERT OR UPDATE OR DELETE ON sync.devices
    FOR EACH STATEMENT EXECUTE FUNCTION sync.notify_admin();

CREATE TRIGGER wardsync_admin_notify_insert AFTER INSERT ON sync.clients
    FOR EACH ROW EXECUTE FUNCTION sync.notify_admin();

-- Not on every pull (cursor and last_seen move constantly): only when what a
-- dashboard shows changes its meaning: the queue, the last error, the seq, or
-- a workstation coming back after more than a minute away.
CREATE TRIGGER wardsync_admin_notify_update AFTER UPDATE ON sync.clients
    FOR EACH ROW WHEN (
        OLD.pending IS DISTINCT FROM NEW.pending
     OR OLD.oldest_pending_at IS DISTINCT FROM NEW.oldest_pending_at
     OR OLD.last_error_at IS DISTINCT FROM NEW.last_error_at
     OR OLD.last_mutation_seq IS DISTINCT FROM NEW.last_mutation_seq
     OR (NEW.last_seen IS NOT NULL AND (OLD.last_seen IS NULL OR NEW.last_seen - OLD.last_seen > interval '1 minute')))
    EXECUTE FUNCTION sync.notify_admin();

-- +goose Down
DROP TRIGGER wardsync_admin_notify_update ON sync.clients;
DROP TRIGGER wardsync_admin_notify_insert ON sync.clients;
DROP TRIGGER wardsync_admin_notify ON sync.devices;
DROP TRIGGER wardsync_admin_notify ON sync.mutations;
DROP TRIGGER wardsync_count ON sync.mutations;
DROP FUNCTION sync.notify_admin();
DROP FUNCTION sync.count_mutation();
DROP INDEX sync.mutations_device_received_idx;
DROP TABLE sync.rejection_resolutions;
DROP TABLE sync.mutation_counts;
