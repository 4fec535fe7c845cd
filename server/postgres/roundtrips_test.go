package postgres

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"wardsync/syncproto"
	"wardsync/workflow"
)

// countingConn counts the client's writes to PostgreSQL: pgx writes once
// per round trip (a batch or a pipeline is one write for all its
// statements), so the count is the round trips the server waited for.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Write(b []byte) (int, error) {
	c.n.Add(1)
	return c.Conn.Write(b)
}

// statementLog keeps the SQL each round trip carried, to say which
// statements a push still pays for one at a time.
type statementLog struct {
	mu  sync.Mutex
	sql []string
}

func (l *statementLog) add(s string) {
	l.mu.Lock()
	l.sql = append(l.sql, strings.Join(strings.Fields(s), " "))
	l.mu.Unlock()
}

func (l *statementLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.sql
	l.sql = nil
	return out
}

func (l *statementLog) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	l.add(d.SQL)
	return ctx
}
func (l *statementLog) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (l *statementLog) TraceBatchStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	var q []string
	for _, qq := range d.Batch.QueuedQueries {
		q = append(q, strings.Join(strings.Fields(qq.SQL), " "))
	}
	l.add("batch[" + strings.Join(q, " | ") + "]")
	return ctx
}
func (l *statementLog) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (l *statementLog) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// TestOneActPushRoundTrips counts what an online workstation's push of one
// act costs in round trips to PostgreSQL: each is paid in full by the
// device waiting for its answer, and under load they, not the server's CPU,
// bound the pushes of one act (the push bench's one-act row). The
// appointment's whole lifecycle is pushed one act at a time, as the bench
// does, once to warm the statement cache and once counted.
func TestOneActPushRoundTrips(t *testing.T) {
	seeded, _ := openSeeded(t)
	ctx := context.Background()
	var writes atomic.Int64
	log := &statementLog{}
	pc, err := pgxpool.ParseConfig(seeded.url)
	if err != nil {
		t.Fatal(err)
	}
	pc.MaxConns = 2
	pc.ConnConfig.RuntimeParams["application_name"] = ApplicationName
	pc.ConnConfig.Tracer = log
	dial := pc.ConnConfig.DialFunc
	pc.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{Conn: c, n: &writes}, nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	db := &DB{Pool: pool, Config: seeded.Config, Now: time.Now, url: seeded.url, ann: newAnnouncer()}
	// The peer NOTIFY after each commit is sent by a goroutine of its own,
	// off the push's path: held back here, so that only the push is counted.
	db.ann.sending = true

	dev, err := db.AddDevice(ctx, "", "Round trips", workflow.Roles)
	if err != nil {
		t.Fatal(err)
	}
	tokens := map[workflow.Role]string{}
	for _, r := range []workflow.Role{workflow.RoleSecretary, workflow.RoleNurse, workflow.RoleDoctor} {
		tokens[r] = mustLogin(t, db, r, dev.ID)
	}
	var seq int64
	push := func(name string, role workflow.Role, args map[string]any) (int64, []string) {
		t.Helper()
		seq++
		raw, _ := json.Marshal(args)
		m := chained(t, db, dev.ID, []syncproto.Mutation{{Seq: seq, ID: uuid.NewString(), Name: name, Args: raw,
			OccurredAt: time.Now().UTC().Truncate(time.Millisecond), SessionID: tokens[role]}})
		log.take()
		before := writes.Load()
		res, err := db.Push(ctx, dev.ID, m)
		n := writes.Load() - before
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(res) != 1 || res[0].Status != syncproto.StatusApplied {
			t.Fatalf("%s: %+v", name, res)
		}
		return n, log.take()
	}
	lifecycle := func(count bool) {
		patient := uuid.NewString()
		appt := uuid.NewString()
		// most is what each act may cost: the BEGIN with the device's lock,
		// its outcomes and sessions; the mutator's reads; the savepoint
		// with the writes; the audit row with the seq's advance and the
		// COMMIT.
		steps := []struct {
			name string
			role workflow.Role
			most int64
			args map[string]any
		}{
			{"patient.register", workflow.RoleSecretary, 5, map[string]any{"id": patient, "firstName": "Round", "lastName": "Trips " + patient[:8], "birthDate": "1980-05-01T00:00:00Z"}},
			{"appointment.schedule", workflow.RoleSecretary, 7, map[string]any{"id": appt, "patientId": patient,
				"doctorId": SeedID("user:doctor@hospital.com"), "date": time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "motif": "Suivi"}},
			{"appointment.checkIn", workflow.RoleSecretary, 4, map[string]any{"id": appt}},
			{"appointment.recordVitals", workflow.RoleNurse, 4, map[string]any{"id": appt, "vitals": map[string]any{"weight": 72.5, "height": 175, "temperature": 37.1,
				"bloodPressure": map[string]any{"systolic": 125, "diastolic": 82}, "heartRate": 74}}},
			{"appointment.completeConsultation", workflow.RoleDoctor, 4, map[string]any{"id": appt, "consultationNotes": "Normal."}},
			{"appointment.close", workflow.RoleSecretary, 4, map[string]any{"id": appt, "billingAmount": "120.50", "billingStatus": string(workflow.BillingPaid)}},
		}
		for _, s := range steps {
			n, sql := push(s.name, s.role, s.args)
			if !count {
				continue
			}
			t.Logf("%s: %d round trips", s.name, n)
			if n > s.most {
				for _, q := range sql {
					t.Logf("    %.160s", q)
				}
				t.Errorf("%s: %d round trips, want at most %d", s.name, n, s.most)
			}
		}
	}
	lifecycle(false)
	lifecycle(true)
}

// TestManyActPushMakesNoMultiXact: in a push of many acts, each act's
// savepoint opens with the mutator's first read, so the rows it locks are
// locked and written by one subtransaction. A row locked by the push's
// transaction and written by a subtransaction of it needs a MultiXact (its
// xmax must name both), which PostgreSQL creates, and later reads and
// truncates, for every act. mxid_age(datminmxid) is the cluster's next
// MultiXact id less a constant: it must not move across the pushes. Not
// parallel: no other test of the package runs meanwhile, and the cluster
// is this checkout's own.
func TestManyActPushMakesNoMultiXact(t *testing.T) {
	db, pool := openSeeded(t)
	ctx := context.Background()
	dev, err := db.AddDevice(ctx, "", "MultiXact", workflow.Roles)
	if err != nil {
		t.Fatal(err)
	}
	sec := mustLogin(t, db, workflow.RoleSecretary, dev.ID)
	nurse := mustLogin(t, db, workflow.RoleNurse, dev.ID)
	doctor := mustLogin(t, db, workflow.RoleDoctor, dev.ID)
	now := time.Now().UTC().Truncate(time.Millisecond)
	const n = 10
	patient := uuid.NewString()
	appts := make([]string, n)
	for i := range appts {
		appts[i] = uuid.NewString()
	}
	var seq int64
	act := func(name, tok string, args map[string]any) syncproto.Mutation {
		seq++
		raw, _ := json.Marshal(args)
		return syncproto.Mutation{Seq: seq, ID: uuid.NewString(), Name: name, Args: raw, OccurredAt: now, SessionID: tok}
	}
	vitals := map[string]any{"weight": 70, "height": 170, "temperature": 37, "bloodPressure": map[string]any{"systolic": 120, "diastolic": 80}, "heartRate": 70}
	// Inserts that name a patient (its KEY SHARE lock, then the foreign
	// key's), updates of rows locked FOR UPDATE, two acts on one row, and
	// a patch of a row held FOR KEY SHARE.
	pushes := [][]syncproto.Mutation{{act("patient.register", sec, map[string]any{"id": patient, "firstName": "Multi", "lastName": "Xact " + patient[:8], "birthDate": "1980-05-01T00:00:00Z"})}}
	var schedule, checkIn, more []syncproto.Mutation
	for _, a := range appts {
		schedule = append(schedule, act("appointment.schedule", sec, map[string]any{"id": a, "patientId": patient,
			"doctorId": SeedID("user:doctor@hospital.com"), "date": now.Add(time.Hour).Format(time.RFC3339), "motif": "Suivi"}))
	}
	for _, a := range appts {
		checkIn = append(checkIn, act("appointment.checkIn", sec, map[string]any{"id": a}))
	}
	for _, a := range appts[:n/2] {
		more = append(more, act("appointment.recordVitals", nurse, map[string]any{"id": a, "vitals": vitals}))
	}
	more = append(more, act("patient.update", sec, map[string]any{"id": patient, "phone": "0600000000"}))
	pushes = append(pushes, schedule, checkIn, more)
	// A row written by one act of the push, then read and written by the
	// next: the second act's read does not lock the row again (the first
	// act's lock stays on the row it wrote, and a second lock from another
	// subtransaction makes a MultiXact). Its write may still need one.
	again := appts[n-1]
	twice := []syncproto.Mutation{act("appointment.recordVitals", nurse, map[string]any{"id": again, "vitals": vitals}),
		act("appointment.completeConsultation", doctor, map[string]any{"id": again, "consultationNotes": "Normal."})}
	pushes = append(pushes, twice)

	next := func() int64 {
		return scalar[int64](t, pool, `SELECT mxid_age(datminmxid) FROM pg_database WHERE datname = current_database()`)
	}
	for i, p := range pushes {
		before := next()
		res, err := db.Push(ctx, dev.ID, chained(t, db, dev.ID, p))
		if err != nil {
			t.Fatalf("push %d: %v", i, err)
		}
		for _, r := range res {
			if r.Status != syncproto.StatusApplied {
				t.Fatalf("push %d: %+v", i, r)
			}
		}
		want := int64(0)
		if i == len(pushes)-1 {
			want = 1
		}
		if made := next() - before; made > want {
			t.Errorf("push %d of %d acts (%s): %d MultiXacts made, want at most %d", i, len(p), p[0].Name, made, want)
		}
	}
	if got := scalar[int64](t, pool, `SELECT count(*) FROM appointments WHERE id = ANY($1) AND status = 'CHECKED_IN'`, appts); got != n-n/2-1 {
		t.Fatalf("%d appointments checked in, want %d", got, n-n/2-1)
	}
}
