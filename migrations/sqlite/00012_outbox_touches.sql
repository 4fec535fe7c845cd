-- Each queued act's touches: the replicated rows its mutator read and the
-- rows its effect wrote, the last time it ran on this replica (a JSON array
-- of "table/id", "table/*" for a read of rows by another column). A pull's
-- rebase replays only the acts whose touches meet the rows the page changed,
-- and the acts that share rows with those, instead of every queued act for
-- every page (desktop/sqlite/touches.go). NULL, as for acts queued before
-- this migration (and acts renumbered or released from parking): not known,
-- and the rebase replays everything.

-- +goose Up
ALTER TABLE outbox ADD COLUMN touches TEXT;

-- +goose Down
ALTER TABLE outbox DROP COLUMN touches;
