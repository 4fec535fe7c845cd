package station

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"wardsync/desktop"
	"wardsync/internal/wardtest"
	"wardsync/syncproto"
)

// TestUpgradeRequired: a server that needs release 1.3.0 refuses a 1.2.0
// workstation with acts queued. The workstation shows the server's
// sentence, keeps every act in its outbox and does not hammer the server;
// PostgreSQL has none of them. The same replica opened by the updated
// release (1.3.0) drains the queue and PostgreSQL then holds every act.
func TestUpgradeRequired(t *testing.T) {
	t.Parallel()
	env := newEnv(t, true)
	min, err := syncproto.ParseVersion("1.3.0")
	if err != nil {
		t.Fatal(err)
	}
	env.HTTP.SetMinWorkstationVersion(&min)
	const device = "old-ward"
	env.addDevice(device, sec)
	old := env.station(device, func(c *desktop.Config) { c.Version = "1.2.0" })
	old.login(wardtest.Email(sec), wardtest.Password(sec))
	const acts = 5
	var ids []string
	for i := range acts {
		id := uuid.NewString()
		ids = append(ids, id)
		old.act(sec, "patient.register", map[string]any{"id": id, "firstName": "Before", "lastName": fmt.Sprint("Update ", i), "birthDate": "1970-01-01T00:00:00Z"})
	}
	old.run()
	const sentence = "this workstation runs 1.2.0; the server needs 1.3.0 or later: ask IT to update it"
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
		if st := old.e.Status(); st.UpgradeRequired != sentence || st.LastError != sentence || st.Online {
			return fmt.Sprintf("status: online %v, upgradeRequired %q, lastError %q", st.Online, st.UpgradeRequired, st.LastError)
		}
		return ""
	})
	// The refusal is recorded for the dashboard, and not retried at the
	// backoff's pace (10–200 ms here): the time of the last refusal stays.
	refusedAt := func() time.Time {
		var at time.Time
		if err := env.Pool.QueryRow(context.Background(), `SELECT last_error_at FROM sync.clients WHERE device_id = $1 AND last_error = $2`,
			device, sentence).Scan(&at); err != nil {
			t.Fatalf("the refusal was not recorded for the dashboard: %v", err)
		}
		return at
	}
	first := refusedAt()
	time.Sleep(time.Second)
	if again := refusedAt(); !again.Equal(first) {
		t.Errorf("the refused workstation asked again after %s", again.Sub(first))
	}
	if n := len(old.pending()); n != acts {
		t.Fatalf("the refused workstation's outbox holds %d acts, want %d", n, acts)
	}
	if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM sync.mutations WHERE device_id = $1`, device); n != 0 {
		t.Fatalf("the server recorded %d acts of a refused workstation", n)
	}
	if st := old.e.Status(); st.Pending != acts || st.Version != "1.2.0" {
		t.Errorf("status: pending %d, version %q", st.Pending, st.Version)
	}
	old.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := old.e.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// IT updates the workstation: the same replica, the new release.
	cfg := old.cfg
	cfg.Version = "1.3.0"
	eng, err := desktop.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	updated := &station{tb: t, env: env, device: device, link: old.link, cfg: cfg, e: eng, users: old.users}
	t.Cleanup(func() {
		updated.stop()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		eng.Close(ctx)
	})
	// The replica is encrypted: the updated release opens it locked, and
	// syncs once the next user logs in (docs/security.md).
	updated.login(wardtest.Email(sec), wardtest.Password(sec))
	updated.run()
	wardtest.Eventually(t, wardtest.WaitTimeout, updated.synced)
	if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM patients WHERE id = ANY($1)`, ids); n != acts {
		t.Fatalf("PostgreSQL holds %d of the %d queued registrations", n, acts)
	}
	if st := updated.e.Status(); st.UpgradeRequired != "" || st.Version != "1.3.0" {
		t.Errorf("after the update: %+v", st)
	}
}
