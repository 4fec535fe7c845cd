-- Feed marks for decisions that change no seed row.
--
-- A resolution of a rejected act (review queue) and the decision on a
-- parked act (deferred acts) travel in the changes frame, keyed by the
-- deciding transaction's xid. A pull hands them out only once that xid is
-- below the cluster-wide horizon; while it is not, the server's re-check
-- loop keeps poking the devices — but that loop watches sync.changes, and
-- these decisions wrote nothing there, so a device that pulled too early
-- heard of them only at its next periodic pull. Each such decision now also
-- leaves a mark in sync.changes (a table no role may read, so a pull skips
-- the row itself): the feed head moves, the devices are poked at commit and
-- again until the horizon passes it.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION sync.mark_decision() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO sync.changes (tbl, row_id, op) VALUES (TG_TABLE_NAME, NEW.device_id || '/' || NEW.seq, 'update');
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER wardsync_mark AFTER INSERT OR UPDATE ON sync.rejection_resolutions
    FOR EACH ROW EXECUTE FUNCTION sync.mark_decision();
CREATE TRIGGER wardsync_mark AFTER UPDATE OF outcome ON sync.deferred
    FOR EACH ROW WHEN (NEW.outcome IS NOT NULL AND OLD.outcome IS NULL) EXECUTE FUNCTION sync.mark_decision();

-- +goose Down
DROP TRIGGER wardsync_mark ON sync.deferred;
DROP TRIGGER wardsync_mark ON sync.rejection_resolutions;
DROP FUNCTION sync.mark_decision();
