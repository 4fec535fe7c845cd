package station

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"wardsync/bench/fixture"
)

// loadHospital fills a seeded database with n appointments in bulk
// (fixture.LoadHospital, shared with the benchmarks of bench/).
func loadHospital(tb testing.TB, pool *pgxpool.Pool, n int) fixture.Hospital {
	tb.Helper()
	exec := func(ctx context.Context, q string, args ...any) error {
		_, err := pool.Exec(ctx, q, args...)
		return err
	}
	h, err := fixture.LoadHospital(context.Background(), exec, n, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// rowsVisible counts the rows a device serving every role receives.
func rowsVisible(tb testing.TB, pool *pgxpool.Pool) int64 {
	tb.Helper()
	var n int64
	if err := pool.QueryRow(context.Background(), fixture.RowsVisibleSQL).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}
