package soak

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"wardsync/internal/pgtest"
	"wardsync/server/postgres"
)

// TestSeedHoldsNoHorizon: seeding hashes the demo passwords before its
// transaction, not inside it. A transaction that holds an xid while the
// client does slow work holds back the change feed's horizon for every
// database of the cluster: under the soak's load, seeding once kept other
// packages' changes from every device for over twenty seconds. The test
// watches the seeding backend and fails if it ever sits idle in a
// transaction, holding an xid, for as long as half a bcrypt takes.
func TestSeedHoldsNoHorizon(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t, true)
	db, err := postgres.Open(ctx, url, postgres.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	watch, err := postgres.Open(ctx, url, postgres.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close(ctx)
	start := time.Now()
	bcrypt.GenerateFromPassword([]byte("nurse123"), postgres.BcryptCost)
	hash := time.Since(start)

	var done atomic.Bool
	errc := make(chan error, 1)
	go func() {
		_, err := db.Seed(ctx)
		done.Store(true)
		errc <- err
	}()
	var longest time.Duration
	samples := 0
	for !done.Load() {
		var idle *float64
		if err := watch.Pool.QueryRow(ctx, `SELECT max(extract(epoch FROM now() - state_change)) FROM pg_stat_activity
			 WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'idle in transaction' AND backend_xid IS NOT NULL`).Scan(&idle); err != nil {
			t.Fatal(err)
		}
		samples++
		if idle != nil {
			longest = max(longest, time.Duration(*idle*float64(time.Second)))
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	t.Logf("%d samples; longest idle in a transaction with an xid: %s (a bcrypt: %s)", samples, longest, hash)
	if longest >= max(hash/2, 20*time.Millisecond) {
		t.Fatalf("seeding held an xid idle for %s (a bcrypt takes %s): slow work inside its transaction", longest, hash)
	}
}
