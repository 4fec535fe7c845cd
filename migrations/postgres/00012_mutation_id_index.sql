-- A workstation that lost its numbering (restored backup) may resend an act
-- under a new seq; the server recognises it by its mutation id, across the
-- device's whole history.

-- +goose Up
CREATE INDEX mutations_device_mutation_idx ON sync.mutations (device_id, mutation_id);

-- +goose Down
DROP INDEX sync.mutations_device_mutation_idx;
