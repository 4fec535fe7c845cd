package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// Setting is one value an administrator set on the dashboard.
type Setting struct {
	Value     []byte // JSON
	UpdatedAt time.Time
	UpdatedBy string // user id; "" when that user is gone
}

// Setting reads the named setting; nil when nobody set it (the server's
// flags then hold).
func (db *DB) Setting(ctx context.Context, name string) (*Setting, error) {
	var s Setting
	var by *string
	err := db.Pool.QueryRow(ctx, `SELECT value, updated_at, updated_by FROM sync.settings WHERE name = $1`, name).
		Scan(&s.Value, &s.UpdatedAt, &by)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if by != nil {
		s.UpdatedBy = *by
	}
	return &s, nil
}

// SetSetting stores the named setting's JSON value, as set by userID.
func (db *DB) SetSetting(ctx context.Context, name string, value []byte, userID string) error {
	_, err := db.Pool.Exec(ctx, `
		INSERT INTO sync.settings (name, value, updated_at, updated_by) VALUES ($1, $2, $3, $4)
		ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by`,
		name, value, db.now(), userID)
	return err
}

// ClearSetting removes the named setting: the server's flags hold again.
func (db *DB) ClearSetting(ctx context.Context, name string) error {
	_, err := db.Pool.Exec(ctx, `DELETE FROM sync.settings WHERE name = $1`, name)
	return err
}
