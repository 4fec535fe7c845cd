-- What the server knows of each workstation's keys, for the dashboard's
-- workstation table: when it last proved its identity (a login or a
-- websocket hello from it succeeded), when it was told it was revoked (its
-- standing check after the revocation), and when it reported that it
-- destroyed its keys. The server cannot see a workstation's disk: wiped_at
-- is the workstation's own report, recorded only for a revoked device.
-- When its one-time code was claimed is read from the security log
-- (device_claim), which has it for every device since migration 00020.
-- idle_lock_minutes is the idle lock an administrator set for the
-- workstation (0: off); NULL leaves the workstation's -idle-lock flag.
-- +goose Up
CREATE TABLE sync.device_key_state (
    device_id         TEXT PRIMARY KEY REFERENCES sync.devices (id) ON DELETE CASCADE,
    last_proof_at     TIMESTAMPTZ,
    told_revoked_at   TIMESTAMPTZ,
    wiped_at          TIMESTAMPTZ,
    idle_lock_minutes INTEGER CHECK (idle_lock_minutes BETWEEN 0 AND 120)
);

-- +goose Down
DROP TABLE sync.device_key_state;
