package station

import (
	"context"
	"testing"
	"time"

	"wardsync/desktop"
	"wardsync/internal/wardtest"
	"wardsync/server/postgres"
)

// initialSyncRows is the size of TestInitialSync's database in make test.
// The 100,000-appointment variant took 97 s on the 2-core machine (the
// replica applies ~1,200–6,000 rows/s depending on the load beside it), far
// over the package's budget, so it runs with WARDSYNC_LONG=1; the 20,000
// one takes ~15–25 s. BenchmarkInitialSync measures both sizes.
const initialSyncRows = 20_000

// TestInitialSync: a new workstation serving every role joins a database
// of many appointments. The snapshot arrives in pages; the status shows
// its progress (rows received of the total, rising, observed through
// Subscribe) and the sync completes with every row in the replica.
func TestInitialSync(t *testing.T) {
	t.Parallel()
	n := initialSyncRows
	if long() {
		n = 100_000
	}
	ctx := context.Background()
	env := newEnv(t, true)
	loadStart := time.Now()
	loadHospital(t, env.Pool, n)
	total := rowsVisible(t, env.Pool)
	t.Logf("loaded %d appointments (%d rows a full device receives) in %s", n, total, time.Since(loadStart).Round(time.Millisecond))

	s := env.station(postgres.DemoDeviceID)
	s.login(wardtest.Email(nur), wardtest.Password(nur))
	updates, cancel := s.e.Subscribe()
	defer cancel()
	start := time.Now()
	s.run()

	var seen []desktop.Progress
	deadline := time.After(3 * time.Minute)
	for done := false; !done; {
		select {
		case st, ok := <-updates:
			if !ok {
				t.Fatal("status stream closed")
			}
			if st.InitialSync != nil {
				if k := len(seen); k == 0 || seen[k-1] != *st.InitialSync {
					seen = append(seen, *st.InitialSync)
				}
			}
			done = st.Online && st.LastSyncAt != nil && st.InitialSync == nil && !st.Syncing
		case <-deadline:
			t.Fatalf("initial sync not done after 3 minutes; progress so far %v", seen[max(0, len(seen)-3):])
		}
	}
	took := time.Since(start)
	t.Logf("initial sync of %d rows in %s (%.0f rows/s); %d progress updates observed", total, took.Round(time.Millisecond),
		float64(total)/took.Seconds(), len(seen))

	// Progress: rising, of a fixed total that is the database's.
	if len(seen) < 10 {
		t.Errorf("only %d progress updates observed: %v", len(seen), seen)
	}
	for i, p := range seen {
		if p.Total != total {
			t.Errorf("progress %d: total %d, the database has %d rows", i, p.Total, total)
			break
		}
		if p.Rows <= 0 || p.Rows > p.Total || (i > 0 && p.Rows <= seen[i-1].Rows) {
			t.Errorf("progress %d: %v after %v", i, p, seen[max(0, i-1)])
			break
		}
	}
	if len(seen) > 0 && seen[len(seen)-1].Rows < total*9/10 {
		t.Errorf("last progress seen %v", seen[len(seen)-1])
	}

	// The replica holds every row.
	var got int64
	if err := s.e.DB().SQL().QueryRowContext(ctx, `SELECT (SELECT count(*) FROM "users") + (SELECT count(*) FROM "patients") +
		(SELECT count(*) FROM "appointments") + (SELECT count(*) FROM "prescriptions") + (SELECT count(*) FROM "results") +
		(SELECT count(*) FROM "documents")`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	var appts int64
	s.e.DB().SQL().QueryRowContext(ctx, `SELECT count(*) FROM "appointments"`).Scan(&appts)
	if got != total || appts != wardtest.Count(t, env.Pool, `SELECT count(*) FROM appointments`) {
		t.Errorf("replica has %d rows (%d appointments), PostgreSQL %d", got, appts, total)
	}
	// And the dashboards answer from it.
	d, err := s.e.Dashboard(ctx, wardtest.UserID(nur))
	if err != nil || len(d.ToPrepare) != 50 {
		t.Errorf("nurse's dashboard on the synced replica: %d to prepare (%v)", len(d.ToPrepare), err)
	}
}
