-- The server's own writes no longer call the notifying triggers at all.
--
-- Since 00027 the notifying functions do nothing for the server's sessions
-- (application_name 'wardsync-server'): the server announces its commits
-- itself. The triggers on the path of every act still called them, three
-- PL/pgSQL calls per act that return at once: the feed row's insert
-- (sync.changes), the audit row's insert (sync.mutations) and the device's
-- seq advance (sync.clients). The same test in the triggers' WHEN skips
-- the call and, for the row trigger, the queued after-trigger event.
-- Every other writer (psql, another application) is notified exactly as
-- before: the functions are unchanged and keep their own test.

-- +goose Up
DROP TRIGGER wardsync_notify ON sync.changes;
CREATE TRIGGER wardsync_notify AFTER INSERT ON sync.changes
    FOR EACH STATEMENT
    WHEN (current_setting('application_name') IS DISTINCT FROM 'wardsync-server')
    EXECUTE FUNCTION sync.notify_change();

DROP TRIGGER wardsync_admin_notify ON sync.mutations;
CREATE TRIGGER wardsync_admin_notify AFTER INSERT ON sync.mutations
    FOR EACH STATEMENT
    WHEN (current_setting('application_name') IS DISTINCT FROM 'wardsync-server')
    EXECUTE FUNCTION sync.notify_admin();

DROP TRIGGER wardsync_admin_notify_update ON sync.clients;
CREATE TRIGGER wardsync_admin_notify_update AFTER UPDATE ON sync.clients
    FOR EACH ROW WHEN (
        current_setting('application_name') IS DISTINCT FROM 'wardsync-server' AND (
        OLD.pending IS DISTINCT FROM NEW.pending
     OR OLD.oldest_pending_at IS DISTINCT FROM NEW.oldest_pending_at
     OR OLD.last_error_at IS DISTINCT FROM NEW.last_error_at
     OR OLD.last_mutation_seq IS DISTINCT FROM NEW.last_mutation_seq
     OR (NEW.last_seen IS NOT NULL AND (OLD.last_seen IS NULL OR NEW.last_seen - OLD.last_seen > interval '1 minute'))))
    EXECUTE FUNCTION sync.notify_admin();

-- +goose Down
DROP TRIGGER wardsync_admin_notify_update ON sync.clients;
CREATE TRIGGER wardsync_admin_notify_update AFTER UPDATE ON sync.clients
    FOR EACH ROW WHEN (
        OLD.pending IS DISTINCT FROM NEW.pending
     OR OLD.oldest_pending_at IS DISTINCT FROM NEW.oldest_pending_at
     OR OLD.last_error_at IS DISTINCT FROM NEW.last_error_at
     OR OLD.last_mutation_seq IS DISTINCT FROM NEW.last_mutation_seq
     OR (NEW.last_seen IS NOT NULL AND (OLD.last_seen IS NULL OR NEW.last_seen - OLD.last_seen > interval '1 minute')))
    EXECUTE FUNCTION sync.notify_admin();

DROP TRIGGER wardsync_admin_notify ON sync.mutations;
CREATE TRIGGER wardsync_admin_notify AFTER INSERT ON sync.mutations
    FOR EACH STATEMENT EXECUTE FUNCTION sync.notify_admin();

DROP TRIGGER wardsync_notify ON sync.changes;
CREATE TRIGGER wardsync_notify AFTER INSERT ON sync.changes
    FOR EACH STATEMENT EXECUTE FUNCTION sync.notify_change();
