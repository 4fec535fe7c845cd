-- A deferred index records its table, so that an initial load builds a
-- table's indexes as soon as the snapshot has paged past that table
-- (desktop/sqlite/bulkload.go), instead of all of them after the last
-- page. An index deferred before this migration has no table recorded and
-- is built at the end of the load, as before.

-- +goose Up
ALTER TABLE deferred_indexes ADD COLUMN tbl TEXT;

-- +goose Down
ALTER TABLE deferred_indexes DROP COLUMN tbl;
