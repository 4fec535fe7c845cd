-- The data key of each workstation's encrypted replica, escrowed by the
-- server: sealed with AES-256-GCM under the server's escrow key (a file
-- outside the database, -escrow-key-file), released in the login answer to
-- a registered, unrevoked device after a successful login. It is what a
-- workstation needs to open its replica for a user who has no key slot
-- there yet, and to open the acts it kept when it was revoked and wiped.
-- Revoking a device keeps its row (registering it again releases the key
-- again); deleting the device deletes it.
-- +goose Up
CREATE TABLE sync.device_keys (
    device_id  TEXT PRIMARY KEY REFERENCES sync.devices (id) ON DELETE CASCADE,
    sealed     BYTEA NOT NULL,   -- nonce (12 bytes) || ciphertext || tag
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE sync.device_keys;
