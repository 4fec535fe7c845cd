-- sync.devices.last_proof_at (00029) was never written: when a workstation
-- last proved its identity is kept in sync.device_key_state.last_proof_at
-- (00030), which the dashboard reads. A column that always reads NULL
-- beside the real one misleads whoever queries the table. No release
-- reads or writes it, so instances of the previous release run on
-- unharmed while the next one is rolled out.

-- +goose Up
ALTER TABLE sync.devices DROP COLUMN last_proof_at;

-- +goose Down
ALTER TABLE sync.devices ADD COLUMN last_proof_at TIMESTAMPTZ;
