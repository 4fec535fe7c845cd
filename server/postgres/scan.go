package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// countBy runs a query whose rows are (key, count) and returns the counts
// by key: the dashboard's tallies per device, code or kind.
func (db *DB) countBy(ctx context.Context, sql string, args ...any) (map[string]int64, error) {
	rows, err := db.Pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	if err := scanInto(rows, out); err != nil {
		return nil, err
	}
	return out, nil
}

// scanInto reads rows of (key, value) into m, and closes rows.
func scanInto[V any](rows pgx.Rows, m map[string]V) error {
	var (
		key string
		v   V
	)
	_, err := pgx.ForEachRow(rows, []any{&key, &v}, func() error {
		m[key] = v
		return nil
	})
	return err
}
