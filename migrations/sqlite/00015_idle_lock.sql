-- The idle lock an administrator set for this workstation on the dashboard,
-- in minutes (0: never), as the server's last welcome or login answer said;
-- NULL: none set, the app's -idle-lock flag holds. Kept in the replica so
-- that an offline start keeps the dashboard's value.

-- +goose Up
ALTER TABLE sync_state ADD COLUMN idleLockMinutes INTEGER;

-- +goose Down
ALTER TABLE sync_state DROP COLUMN idleLockMinutes;
