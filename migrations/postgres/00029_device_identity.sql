-- A workstation's own identity. Claiming it with its one-time code
-- registers the public half of an Ed25519 key pair the workstation made
-- then (the private half stays on the workstation, sealed by the operating
-- system where it can). A login from it, and its websocket upgrade, prove
-- possession by signing a nonce from sync.challenges: its id alone gets
-- nothing.
--
-- Nonces are stored here rather than in one server's memory so that a
-- challenge fetched from one instance is accepted by any other behind the
-- same load balancer; each is used once (DELETE ... RETURNING) and lives
-- one minute.
-- +goose Up
ALTER TABLE sync.devices ADD COLUMN public_key BYTEA
    CHECK (public_key IS NULL OR octet_length(public_key) = 32);
ALTER TABLE sync.devices ADD COLUMN key_claimed_at TIMESTAMPTZ;
ALTER TABLE sync.devices ADD COLUMN last_proof_at TIMESTAMPTZ;

CREATE TABLE sync.challenges (
    nonce      TEXT PRIMARY KEY,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX challenges_expires_idx ON sync.challenges (expires_at);

-- +goose Down
DROP TABLE sync.challenges;
ALTER TABLE sync.devices DROP COLUMN last_proof_at;
ALTER TABLE sync.devices DROP COLUMN key_claimed_at;
ALTER TABLE sync.devices DROP COLUMN public_key;
