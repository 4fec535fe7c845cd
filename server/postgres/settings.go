package postgres

import (
	"context"
	"encoding/json"
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

// SetSetting stores the named setting's JSON value, as set by userID, and
// logs the change (before and after) in the security log in the same
// transaction.
func (db *DB) SetSetting(ctx context.Context, name string, value []byte, userID string) error {
	return db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		before, err := settingIn(ctx, tx, name)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO sync.settings (name, value, updated_at, updated_by) VALUES ($1, $2, $3, $4)
			ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by`,
			name, value, db.now(), userID); err != nil {
			return err
		}
		return db.logEvent(ctx, tx, SecurityEvent{Kind: EventSettingChange, Target: name}, before, json.RawMessage(value))
	})
}

// ClearSetting removes the named setting: the server's flags hold again.
// The security log keeps what it was.
func (db *DB) ClearSetting(ctx context.Context, name string) error {
	return db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		before, err := settingIn(ctx, tx, name)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM sync.settings WHERE name = $1`, name); err != nil {
			return err
		}
		return db.logEvent(ctx, tx, SecurityEvent{Kind: EventSettingChange, Target: name, Reason: "reset to the server's flags"}, before, nil)
	})
}

// settingIn is the setting's value as the security log's "before" (nil
// when unset), read under a row lock so two administrators' changes log in
// order.
func settingIn(ctx context.Context, tx pgx.Tx, name string) (any, error) {
	var v []byte
	err := tx.QueryRow(ctx, `SELECT value FROM sync.settings WHERE name = $1 FOR UPDATE`, name).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return json.RawMessage(v), nil
}
