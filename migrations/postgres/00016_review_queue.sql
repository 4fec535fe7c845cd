-- The rejected-acts review queue (docs/review-queue.md), in schema "sync" only.
--
-- A rejected act stays in the audit log for ever; it is "resolved" once a
-- row in sync.rejection_resolutions says who dealt with it, when and how:
--   closed   — closed with a written reason, from the dashboard (by_seq NULL)
--              or from the author's workstation (by_seq: the device's own
--              bookkeeping act "rejected.close" that carried the reason);
--   reissued — a new act of the same device, linked to it, was applied
--              (by_seq: that act's seq).
--
-- sync.mutations.reissue_of links a re-issued act to the rejected one (the
-- rejected act's mutation id, on the same device), so the audit view shows
-- the link both ways.
--
-- Resolutions travel to the author's workstation in the changes frame,
-- following the cursor like rows do: xid records the resolving transaction,
-- and a pull hands out the resolutions whose xid lies in the range of the
-- page, so each is delivered once. A statement trigger pokes the devices
-- (wardsync_changes) and the dashboards (wardsync_admin) at commit.

-- +goose Up
ALTER TABLE sync.mutations ADD COLUMN reissue_of TEXT;
CREATE INDEX mutations_reissue_idx ON sync.mutations (device_id, reissue_of) WHERE reissue_of IS NOT NULL;

ALTER TABLE sync.rejection_resolutions
    ADD COLUMN xid    xid8 NOT NULL DEFAULT pg_current_xact_id(),
    ADD COLUMN kind   TEXT NOT NULL DEFAULT 'closed' CHECK (kind IN ('closed', 'reissued')),
    ADD COLUMN by_seq BIGINT;
CREATE INDEX rejection_resolutions_xid_idx ON sync.rejection_resolutions (device_id, xid);

CREATE TRIGGER wardsync_resolution_notify AFTER INSERT OR UPDATE ON sync.rejection_resolutions
    FOR EACH STATEMENT EXECUTE FUNCTION sync.notify_change();
CREATE TRIGGER wardsync_admin_notify AFTER INSERT OR UPDATE OR DELETE ON sync.rejection_resolutions
    FOR EACH STATEMENT EXECUTE FUNCTION sync.notify_admin();

-- +goose StatementBegin
-- Rejected acts are never deleted and a resolution is never undone: the
-- audit log is the hospital's record of what was refused and why. Only the
-- removal of a whole workstation (ON DELETE CASCADE from sync.devices, which
-- nothing in wardsync does) may take them.
CREATE FUNCTION sync.keep_rejected() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF pg_trigger_depth() > 1 THEN
        RETURN OLD; -- a cascade from sync.devices
    END IF;
    IF TG_TABLE_NAME = 'mutations' THEN
        -- (nested: plpgsql does not promise to short-circuit AND)
        IF OLD.outcome <> 'rejected' THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'wardsync: % of % %/% refused: rejected acts and their resolutions are never deleted',
        TG_OP, TG_TABLE_NAME, OLD.device_id, OLD.seq USING ERRCODE = 'restrict_violation';
END
$$;
-- +goose StatementEnd

CREATE TRIGGER wardsync_keep_rejected BEFORE DELETE ON sync.mutations
    FOR EACH ROW EXECUTE FUNCTION sync.keep_rejected();
CREATE TRIGGER wardsync_keep_rejected BEFORE DELETE ON sync.rejection_resolutions
    FOR EACH ROW EXECUTE FUNCTION sync.keep_rejected();

-- +goose Down
DROP TRIGGER wardsync_keep_rejected ON sync.rejection_resolutions;
DROP TRIGGER wardsync_keep_rejected ON sync.mutations;
DROP FUNCTION sync.keep_rejected();
DROP TRIGGER wardsync_admin_notify ON sync.rejection_resolutions;
DROP TRIGGER wardsync_resolution_notify ON sync.rejection_resolutions;
DROP INDEX sync.rejection_resolutions_xid_idx;
ALTER TABLE sync.rejection_resolutions DROP COLUMN by_seq, DROP COLUMN kind, DROP COLUMN xid;
DROP INDEX sync.mutations_reissue_idx;
ALTER TABLE sync.mutations DROP COLUMN reissue_of;
