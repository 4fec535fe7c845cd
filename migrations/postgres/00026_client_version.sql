-- The release each workstation last said it runs (hello.clientVersion),
-- shown on the dashboard's workstation table: IT sees which workstations
-- still need an update before raising the server's minimum.

-- +goose Up
ALTER TABLE sync.clients ADD COLUMN client_version TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE sync.clients DROP COLUMN client_version;
