package postgres

import (
	"context"
	"time"
)

// NoteDeviceProof records that deviceID proved possession of its key at
// at (the dashboard's key state shows the last proof).
func (db *DB) NoteDeviceProof(ctx context.Context, deviceID string, at time.Time) error {
	_, err := db.Pool.Exec(ctx, `UPDATE sync.devices SET last_proof_at = $2
		 WHERE id = $1 AND (last_proof_at IS NULL OR last_proof_at < $2)`, deviceID, at)
	return err
}
