-- The rejected-acts review queue (docs/review-queue.md). A rejected act stays in
-- the inbox until it is resolved: closed here with a written reason (queued
-- to the server as the bookkeeping act "rejected.close"), re-issued here as
-- a new act linked to it, or resolved by an administrator on the dashboard
-- (learnt from the changes frame's "resolutions"). Rows are never deleted.
-- dismissedAt (migration 00002) is no longer written: a dismissal carried no
-- reason and never reached the server, so such acts show as open again.

-- +goose Up
ALTER TABLE rejected ADD COLUMN closedAt TEXT;       -- closed here, with closeReason, by closedBy*
ALTER TABLE rejected ADD COLUMN closedById TEXT;
ALTER TABLE rejected ADD COLUMN closedByName TEXT;
ALTER TABLE rejected ADD COLUMN closeReason TEXT;
ALTER TABLE rejected ADD COLUMN closeError TEXT;     -- the server refused the close, saying this
ALTER TABLE rejected ADD COLUMN reissueId TEXT;      -- the new act (mutation id) copied from it here
ALTER TABLE rejected ADD COLUMN resolvedAt TEXT;     -- the server's resolution, as delivered
ALTER TABLE rejected ADD COLUMN resolvedBy TEXT;
ALTER TABLE rejected ADD COLUMN resolutionNote TEXT;
ALTER TABLE rejected ADD COLUMN reissuedAs TEXT;     -- "device/seq" of the applied re-issue
CREATE INDEX rejected_open_idx ON rejected (rejectedAt) WHERE resolvedAt IS NULL AND closedAt IS NULL AND reissueId IS NULL;

-- A new act entered from a rejected one carries its mutation id to the
-- server (mutation frame "reissueOf").
ALTER TABLE outbox ADD COLUMN reissueOf TEXT;

-- +goose Down
ALTER TABLE outbox DROP COLUMN reissueOf;
DROP INDEX rejected_open_idx;
ALTER TABLE rejected DROP COLUMN reissuedAs;
ALTER TABLE rejected DROP COLUMN resolutionNote;
ALTER TABLE rejected DROP COLUMN resolvedBy;
ALTER TABLE rejected DROP COLUMN resolvedAt;
ALTER TABLE rejected DROP COLUMN reissueId;
ALTER TABLE rejected DROP COLUMN closeError;
ALTER TABLE rejected DROP COLUMN closeReason;
ALTER TABLE rejected DROP COLUMN closedByName;
ALTER TABLE rejected DROP COLUMN closedById;
ALTER TABLE rejected DROP COLUMN closedAt;
