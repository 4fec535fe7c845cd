-- An initial sync (or a resync) builds the replica's secondary indexes once,
-- after the snapshot, instead of updating twenty of them under random keys
-- for every row it inserts (desktop/sqlite/bulkload.go). While the snapshot
-- pages in, the indexes it dropped wait here, definition and all, dropped and
-- recorded in the same transaction: a crash mid-snapshot leaves them listed,
-- and the page that ends the pull (more = false) creates them again and
-- empties this table, in its own transaction. Queries meanwhile are correct,
-- only slower (no index is UNIQUE).
--
-- A later migration that drops or recreates one of the replica's indexes must
-- also delete its row here (it may be deferred when the migration runs).

-- +goose Up
CREATE TABLE deferred_indexes (
    name TEXT PRIMARY KEY NOT NULL,
    sql  TEXT NOT NULL
) WITHOUT ROWID;

-- +goose Down
DROP TABLE deferred_indexes;
