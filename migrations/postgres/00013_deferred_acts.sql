-- Deferred acts (docs/deferred.md). An act refused only
-- because its row is still earlier on its status path (vitals on an
-- appointment whose check-in is still on the reception PC) is parked here
-- instead of rejected, retried whenever that row changes, and decided
-- exactly once: applied, or rejected with a sentence saying why.
--
-- Schema "sync" only: nothing here touches "public" but triggers, which
-- Prisma does not compare.

-- +goose Up
ALTER TABLE sync.mutations DROP CONSTRAINT mutations_outcome_check;
ALTER TABLE sync.mutations ADD CONSTRAINT mutations_outcome_check CHECK (outcome IN ('applied', 'rejected', 'deferred'));

CREATE TABLE sync.deferred (
    -- arrival order: parked acts on one row are retried in this order
    arrival       BIGSERIAL UNIQUE,
    device_id     TEXT NOT NULL,
    seq           BIGINT NOT NULL,
    -- the row the act waits on and the state it must reach
    wait_table    TEXT NOT NULL,
    wait_id       TEXT NOT NULL,
    wait_state    TEXT NOT NULL,
    waiting_for   TEXT NOT NULL,
    -- the author as authenticated at push time: a parked act is applied as
    -- its original author, at its original occurredAt (sync.mutations)
    author_id     TEXT NOT NULL,
    author_name   TEXT NOT NULL,
    author_role   TEXT NOT NULL,
    parked_at     TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    -- set by trigger when the row it waits on changes; the server retries
    -- woken acts in the transaction that woke them, or soon after
    woken         BOOLEAN NOT NULL DEFAULT false,
    -- the decision, once: outcome, when, and the deciding transaction, so
    -- that a pull hands the outcome to the device exactly once (with the
    -- changes the same transaction made)
    outcome       TEXT CHECK (outcome IN ('applied', 'rejected')),
    decided_at    TIMESTAMPTZ,
    decided_xid   xid8,
    PRIMARY KEY (device_id, seq),
    FOREIGN KEY (device_id, seq) REFERENCES sync.mutations(device_id, seq) ON DELETE CASCADE,
    CHECK ((outcome IS NULL) = (decided_at IS NULL) AND (outcome IS NULL) = (decided_xid IS NULL))
);
CREATE INDEX deferred_waiting_idx ON sync.deferred (wait_table, wait_id, arrival) WHERE outcome IS NULL;
CREATE INDEX deferred_woken_idx ON sync.deferred (arrival) WHERE outcome IS NULL AND woken;
CREATE INDEX deferred_expiry_idx ON sync.deferred (expires_at) WHERE outcome IS NULL;
CREATE INDEX deferred_decided_idx ON sync.deferred (device_id, decided_xid) WHERE decided_xid IS NOT NULL;

-- +goose StatementBegin
-- Whoever changes a row (this server, another instance, psql), the acts
-- parked on it are marked woken in the same transaction, and the servers
-- are told at commit on channel wardsync_deferred.
CREATE FUNCTION sync.wake_deferred() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE sync.deferred SET woken = true
     WHERE wait_table = TG_TABLE_NAME AND wait_id = OLD.id AND outcome IS NULL AND NOT woken;
    IF FOUND THEN
        PERFORM pg_notify('wardsync_deferred', '');
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER wardsync_wake_deferred AFTER UPDATE OR DELETE ON public.appointments
    FOR EACH ROW EXECUTE FUNCTION sync.wake_deferred();
CREATE TRIGGER wardsync_wake_deferred AFTER UPDATE OR DELETE ON public.prescriptions
    FOR EACH ROW EXECUTE FUNCTION sync.wake_deferred();

-- +goose StatementBegin
-- A parked act's audit row changes outcome once (deferred → applied or
-- rejected): the per-device counts follow. The decision is taken in
-- another device's push (the one that moved the row), so unlike in 00011
-- two transactions may now update one counter row; a deadlock between them
-- is retried like any other (server/postgres Retryable).
CREATE FUNCTION sync.recount_mutation() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE sync.mutation_counts SET n = n - 1
     WHERE device_id = OLD.device_id AND outcome = OLD.outcome AND code = COALESCE(OLD.code, '');
    INSERT INTO sync.mutation_counts (device_id, outcome, code, n)
    VALUES (NEW.device_id, NEW.outcome, COALESCE(NEW.code, ''), 1)
    ON CONFLICT (device_id, outcome, code) DO UPDATE SET n = sync.mutation_counts.n + 1;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER wardsync_recount AFTER UPDATE OF outcome, code ON sync.mutations
    FOR EACH ROW WHEN (OLD.outcome IS DISTINCT FROM NEW.outcome OR OLD.code IS DISTINCT FROM NEW.code)
    EXECUTE FUNCTION sync.recount_mutation();

CREATE TRIGGER wardsync_admin_notify_update AFTER UPDATE ON sync.mutations
    FOR EACH STATEMENT EXECUTE FUNCTION sync.notify_admin();

-- +goose Down
DROP TRIGGER wardsync_admin_notify_update ON sync.mutations;
DROP TRIGGER wardsync_recount ON sync.mutations;
DROP FUNCTION sync.recount_mutation();
DROP TRIGGER wardsync_wake_deferred ON public.prescriptions;
DROP TRIGGER wardsync_wake_deferred ON public.appointments;
DROP FUNCTION sync.wake_deferred();
DROP TABLE sync.deferred;
UPDATE sync.mutations SET outcome = 'rejected', code = 'INVALID_TRANSITION' WHERE outcome = 'deferred';
ALTER TABLE sync.mutations DROP CONSTRAINT mutations_outcome_check;
ALTER TABLE sync.mutations ADD CONSTRAINT mutations_outcome_check CHECK (outcome IN ('applied', 'rejected'));
