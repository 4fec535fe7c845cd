-- Offline login opens the user's key slot (the key file beside the
-- replica); the bcrypt verifier it replaces goes, so that no password
-- verifier is kept anywhere on the workstation.
-- +goose Up
ALTER TABLE local_credentials DROP COLUMN verifier;

-- +goose Down
ALTER TABLE local_credentials ADD COLUMN verifier TEXT NOT NULL DEFAULT '';
