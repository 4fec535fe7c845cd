-- The feed's identity, so that a cursor issued by another copy of the
-- database is recognised (docs/protocol.md, "Cursors").
--
-- A workstation's cursor is a position in this database's change feed. A
-- database restored from a backup taken before that position has a feed
-- that lies behind it, and a cursor accepted there would skip every change
-- made after the restore up to the cursor's position. The server therefore
-- stamps its cursors with a tag of the feed's identity: this random epoch,
-- drawn at migrate, together with the database's oid and the oid of
-- sync.changes. pg_restore recreates the tables (and a restore into another
-- database has another oid), so the tag changes with every restore even
-- though the epoch is restored with the data; two databases migrated apart
-- have different epochs. A cursor whose tag differs is answered with
-- resync: the workstation starts over and keeps its queued acts.

-- +goose Up
ALTER TABLE sync.feed_state ADD COLUMN epoch TEXT NOT NULL DEFAULT md5(random()::text || clock_timestamp()::text);

-- +goose Down
ALTER TABLE sync.feed_state DROP COLUMN epoch;
