-- The act chain (docs/provenance.md): every queued act carries
-- hash = SHA-256(prevHash || content) (syncproto/chain.go), written in the
-- transaction that queues it, so that an act edited or deleted in this file
-- behind the app's back is detected here before the push and by the server
-- on it. Acts queued before this migration are chained when the replica is
-- next bound to its device (deterministically, in seq order, from the
-- device's genesis). chainHead is the hash of the last act queued ('' = the
-- genesis); ackedHash the hash of the act at ackedSeq ('' = not known, the
-- first pending link is then not checked locally).

-- +goose Up
ALTER TABLE outbox ADD COLUMN prevHash TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN hash TEXT NOT NULL DEFAULT '';
ALTER TABLE sync_state ADD COLUMN chainHead TEXT NOT NULL DEFAULT '';
ALTER TABLE sync_state ADD COLUMN ackedHash TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE sync_state DROP COLUMN ackedHash;
ALTER TABLE sync_state DROP COLUMN chainHead;
ALTER TABLE outbox DROP COLUMN hash;
ALTER TABLE outbox DROP COLUMN prevHash;
