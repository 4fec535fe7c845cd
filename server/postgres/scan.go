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
	var (
		key string
		n   int64
	)
	if _, err := pgx.ForEachRow(rows, []any{&key, &n}, func() error {
		out[key] = n
		return nil
	}); err != nil {
		return nil, err
	}
	return out, nil
}
