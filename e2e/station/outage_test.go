package station

import (
	"context"
	"testing"
	"time"

	"wardsync/desktop"
	"wardsync/internal/wardtest"
	"wardsync/workflow"
)

// TestOutage: two workstations serving every role work online; the link of
// one is cut (its link closes every connection and refuses new ones) and it
// performs 200 acts of the whole workflow offline while the other keeps
// working online on other patients. Once the link is back both replicas
// hold exactly PostgreSQL's rows, the audit log has every act once and
// applied, and both outboxes are empty.
func TestOutage(t *testing.T) {
	t.Parallel()
	offlineActs, onlineActs := 200, 78
	if long() {
		offlineActs, onlineActs = 2000, 520
	}
	env := newEnv(t, true)
	env.addDevice("ward-a")
	env.addDevice("ward-b")
	a, b := env.station("ward-a"), env.station("ward-b")
	a.loginAll(wardRoles...)
	b.loginAll(wardRoles...)
	a.run()
	b.run()
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string { return a.synced() + b.synced() })
	t.Logf("both synced")

	// The cable of ward A is pulled.
	a.link.Cut()
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
		if st := a.e.Status(); st.Online || st.OfflineSince == nil {
			return "ward A still online"
		}
		return ""
	})

	began := time.Now()
	var onlineDone = make(chan error, 1)
	var bActs []*desktop.Acted
	go func() {
		// Ward B acts online, each act pushed as it is made (the loop is
		// kicked by every act), while A works offline.
		var err error
		bActs, err = b.perform(wardScript("online", onlineActs, time.Now()))
		onlineDone <- err
	}()
	aActs, err := a.perform(wardScript("offline", offlineActs, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if err := <-onlineDone; err != nil {
		t.Fatal(err)
	}
	t.Logf("%d offline acts on A and %d online acts on B in %s", len(aActs), len(bActs), time.Since(began).Round(time.Millisecond))

	// B's work reached the server while A was away; none of A's did.
	wardtest.Eventually(t, wardtest.WaitTimeout, b.synced)
	t.Logf("B synced %s after the start of the outage work", time.Since(began).Round(time.Millisecond))
	if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM sync.mutations WHERE device_id = 'ward-b' AND outcome = 'applied'`); n != int64(onlineActs) {
		t.Fatalf("B: %d acts applied at the server, want %d", n, onlineActs)
	}
	if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM sync.mutations WHERE device_id = 'ward-a'`); n != 0 {
		t.Fatalf("A was offline, yet the server has %d of its acts", n)
	}
	st := a.e.Status()
	if st.Online || st.Pending != int64(offlineActs) || st.OfflineSince == nil {
		t.Fatalf("A's status while offline: %+v", st)
	}
	// A's replica shows its own queued work, and nothing of B's yet.
	var mine, theirs int
	if err := a.e.DB().SQL().QueryRow(`SELECT
			(SELECT count(*) FROM "patients" WHERE "lastName" LIKE 'offline-%'),
			(SELECT count(*) FROM "patients" WHERE "lastName" LIKE 'online-%')`).Scan(&mine, &theirs); err != nil {
		t.Fatal(err)
	}
	if mine != (offlineActs+12)/13 || theirs != 0 {
		t.Fatalf("A's replica while offline: %d of its own patients, %d of B's", mine, theirs)
	}

	// The link is back.
	reconnect := time.Now()
	a.reconnect()
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
		if why := a.synced() + b.synced(); why != "" {
			return why
		}
		want := wardtest.PGState(t, env.Pool, workflow.Roles)
		if d := wardtest.Diff(replicaState(t, a, workflow.Roles), want); d != "" {
			return "ward A differs from PostgreSQL:\n" + d
		}
		if d := wardtest.Diff(replicaState(t, b, workflow.Roles), want); d != "" {
			return "ward B differs from PostgreSQL:\n" + d
		}
		return ""
	})
	t.Logf("after reconnecting, both replicas equal PostgreSQL in %s", time.Since(reconnect).Round(time.Millisecond))

	// The audit log: every act exactly once, applied, under its device and
	// seq; the seqs of each device run 1..n without a hole.
	checkAudit(t, env, "ward-a", aActs)
	checkAudit(t, env, "ward-b", bActs)
	if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM (SELECT mutation_id FROM sync.mutations GROUP BY mutation_id HAVING count(*) > 1) d`); n != 0 {
		t.Errorf("%d mutation ids recorded more than once", n)
	}
	for _, s := range []*station{a, b} {
		if p := s.pending(); len(p) != 0 {
			t.Errorf("%s: outbox not empty: %+v", s.device, p[0])
		}
		if r, _ := s.e.Rejected(context.Background(), true); len(r) != 0 {
			t.Errorf("%s: %d rejected acts, first %+v", s.device, len(r), r[0].Rejection)
		}
	}
	// The rows are the workflow's end state, with the ward's clinical time.
	if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM appointments WHERE motif LIKE 'Suivi offline-%' AND status = 'COMPLETED' AND "billingStatus" = 'PAID'`); n == 0 {
		t.Error("no offline patient went through the whole workflow")
	}
	// Clinical time is the ward's occurredAt, not the time of the sync.
	if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM appointments a JOIN sync.mutations m
		ON m.target_id = a.id AND m.name = 'appointment.checkIn' AND m.device_id = 'ward-a'
		WHERE a."checkedInAt" IS DISTINCT FROM (m.occurred_at AT TIME ZONE 'UTC')`); n != 0 {
		t.Errorf("%d offline check-ins carry another time than the ward's", n)
	}
	if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM sync.mutations WHERE device_id = 'ward-a' AND name = 'appointment.checkIn'`); n == 0 {
		t.Error("no offline check-in audited")
	}
}

// checkAudit checks that every act is in sync.mutations exactly once,
// applied, with the seq the workstation gave it, and that the device's seqs
// are contiguous from 1.
func checkAudit(t *testing.T, env *env, device string, acts []*desktop.Acted) {
	t.Helper()
	rows, err := env.Pool.Query(context.Background(), `SELECT mutation_id, seq, outcome, COALESCE(code, '') FROM sync.mutations WHERE device_id = $1 ORDER BY seq`, device)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	type rec struct {
		seq           int64
		outcome, code string
		n             int
	}
	got := map[string]*rec{}
	var seq int64
	for rows.Next() {
		var id string
		var r rec
		if err := rows.Scan(&id, &r.seq, &r.outcome, &r.code); err != nil {
			t.Fatal(err)
		}
		seq++
		if r.seq != seq {
			t.Fatalf("%s: audit seq %d where %d was expected: a hole", device, r.seq, seq)
		}
		if p, ok := got[id]; ok {
			p.n++
			continue
		}
		r.n = 1
		got[id] = &r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(acts) {
		t.Errorf("%s: %d distinct mutations audited, %d acts made", device, len(got), len(acts))
	}
	for _, a := range acts {
		r, ok := got[a.ID]
		switch {
		case !ok:
			t.Errorf("%s: act %s (seq %d) missing from the audit log", device, a.ID, a.Seq)
		case r.n != 1:
			t.Errorf("%s: act %s audited %d times", device, a.ID, r.n)
		case r.outcome != "applied":
			t.Errorf("%s: act %s %s (%s)", device, a.ID, r.outcome, r.code)
		case r.seq != a.Seq:
			t.Errorf("%s: act %s audited under seq %d, queued as %d", device, a.ID, r.seq, a.Seq)
		}
	}
}
