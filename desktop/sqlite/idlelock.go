package sqlite

import (
	"context"
	"database/sql"
)

// IdleLock is the idle lock the dashboard set for this workstation, in
// minutes (0: never); nil when none is set.
func (db *DB) IdleLock(ctx context.Context) (*int, error) {
	var m sql.NullInt64
	err := db.read(ctx, func(t *Tx) error {
		return t.queryRow(`SELECT idleLockMinutes FROM sync_state WHERE singleton = 1`).Scan(&m)
	})
	if err != nil || !m.Valid {
		return nil, err
	}
	v := int(m.Int64)
	return &v, nil
}

// SetIdleLock records the idle lock the server said the dashboard set (nil:
// none, the app's flag holds).
func (db *DB) SetIdleLock(ctx context.Context, minutes *int) error {
	return db.write(ctx, func(t *Tx) error {
		_, err := t.exec(`UPDATE sync_state SET idleLockMinutes = ? WHERE singleton = 1`, minutes)
		return err
	})
}
