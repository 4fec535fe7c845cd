-- Protocol 2: a workstation's session signs its acts. At each online login
-- the workstation makes an Ed25519 key pair and sends the public half; the
-- private half stays on the workstation, sealed under the user's key slot.
-- Every act names its session and carries a signature over its chain hash,
-- checked against this key (syncproto.VerifyAct): the session's bearer
-- token no longer authors anything. NULL for dashboard sessions and for
-- sessions opened before this migration (their acts are refused: their
-- authors log in again).
-- +goose Up
ALTER TABLE sync.sessions ADD COLUMN sign_key BYTEA
    CHECK (sign_key IS NULL OR octet_length(sign_key) = 32);

-- +goose Down
ALTER TABLE sync.sessions DROP COLUMN sign_key;
