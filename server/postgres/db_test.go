package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"wardsync/internal/pgtest"
	"wardsync/syncproto"
	"wardsync/workflow"
)

func openSeeded(t *testing.T) (*DB, *pgxpool.Pool) {
	t.Helper()
	pool, url := pgtest.MustOpenDB(t)
	cfg := DefaultConfig()
	cfg.MaxConns = 6
	db, err := Open(context.Background(), url, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close(context.Background()) })
	if _, err := db.Seed(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db, pool
}

func mustLogin(t *testing.T, db *DB, role workflow.Role, device string) string {
	t.Helper()
	pub, priv := syncproto.NewKey()
	tok, s, err := db.Login(context.Background(), strings.ToLower(string(role))+"@hospital.com", strings.ToLower(string(role))+"123", device, pub, DeviceProof{})
	if err != nil {
		t.Fatal(err)
	}
	testKeys.Put(tok, syncproto.SessionKey{SessionID: s.ID, Priv: priv})
	testKeys.Put(s.ID, syncproto.SessionKey{SessionID: s.ID, Priv: priv}) // an act signed once is re-signed by its id
	return tok
}

func scalar[T any](t *testing.T, pool *pgxpool.Pool, q string, args ...any) T {
	t.Helper()
	var v T
	if err := pool.QueryRow(context.Background(), q, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v
}

func TestCursors(t *testing.T) {
	for _, c := range []cursor{
		{pos: position{42, 7}},
		{pos: position{1 << 40, 0}},
		{snapshot: true, pos: position{99, 0}, table: 3, total: 10, sent: 4, lastID: "b2c3"},
		{snapshot: true, pos: position{99, 0}, table: 0, total: 0, sent: 0, lastID: ""},
		{pos: position{42, 7}, tag: "0123abcd"},
		{snapshot: true, pos: position{99, 0}, table: 3, total: 10, sent: 4, lastID: "b2c3", tag: "0123abcd"},
		{snapshot: true, pos: position{99, 0}, table: 0, tag: "0123abcd"},
	} {
		got, err := parseCursor(c.String())
		if err != nil || got != c {
			t.Errorf("%q parsed as %+v (%v)", c.String(), got, err)
		}
	}
	if c, err := parseCursor(""); err != nil || !c.snapshot || c.table != -1 {
		t.Errorf("empty cursor: %+v %v", c, err)
	}
	for _, bad := range []string{"x", "f.1", "f.-1.2", "f.1.2.3", "s.1.99.0.0.", "s.1.2.3", "f.a.b", "f.99999999999999999999.1",
		"f.1.2.0123ABCD", "f.1.2.0123abc", "f.1.2.0123abcde", "s.1.2.3.4.nothex12.id"} {
		_, err := parseCursor(bad)
		rej, ok := workflow.AsRejection(err)
		if !ok || rej.Code != workflow.CodeProtocolError || !strings.Contains(rej.Message, `"`+bad+`"`) {
			t.Errorf("cursor %q: %v", bad, err)
		}
	}
}

func TestRetryable(t *testing.T) {
	for code, want := range map[string]bool{"40001": true, "40P01": true, "08006": true, "57P01": true, "23505": false, "22001": false, "42601": false} {
		if got := Retryable(&pgconn.PgError{Code: code}); got != want {
			t.Errorf("Retryable(%s) = %v", code, got)
		}
	}
	if Retryable(workflow.Reject(workflow.CodeNotFound, "x")) || Retryable(errors.New("x")) {
		t.Error("a rejection or a plain error is not retryable")
	}
}

// TestUnavailable: PostgreSQL out of reach (down, starting, shutting
// down, the link lost) is told from its refusals by SQLSTATE and type.
func TestUnavailable(t *testing.T) {
	for code, want := range map[string]bool{"57P01": true, "57P02": true, "57P03": true, "08006": true,
		"40P01": false, "23505": false, "28P01": false, "42601": false} {
		if got := Unavailable(&pgconn.PgError{Code: code}); got != want {
			t.Errorf("Unavailable(%s) = %v", code, got)
		}
	}
	// What a connection to a port nobody listens on returns.
	_, err := pgconn.Connect(context.Background(), "postgres://x@127.0.0.1:1/x?connect_timeout=2")
	if err == nil || !Unavailable(err) || !Unavailable(&RetriesExhaustedError{Err: err}) {
		t.Errorf("a refused connection: %v", err)
	}
	// What a pooled connection whose server went away returns when it is
	// used next (pgx: "conn closed", not safe to retry in place).
	if closed := fmt.Errorf("read login limits: %w", pgconn.ErrConnClosed); !Unavailable(closed) {
		t.Errorf("a closed connection: %v", closed)
	}
	if Unavailable(nil) || Unavailable(workflow.Reject(workflow.CodeNotFound, "x")) || Unavailable(errors.New("x")) {
		t.Error("no error, a rejection or a plain error is not PostgreSQL out of reach")
	}
}

func TestJSONBSafe(t *testing.T) {
	for raw, want := range map[string]bool{
		`{"a":1}`:                                true,
		`{"a":"\\u0000"}`:                        true, // an escaped backslash, then text
		`{"a":"\u0000"}`:                         false,
		`{"a":"x\ud800"}`:                        false,
		`{"a":"\udc00"}`:                         false,
		`{"a":"\ud83d\ude00"}`:                   true,
		`{"a":"\ud83d\u0041"}`:                   false,
		`{"a":1e100000}`:                         false,
		`{"a":1e-5000}`:                          false,
		`{"a":1.5e10}`:                           true,
		`{"a":[1,2,{"b":1E+300}]}`:               true,
		`{"a":` + strings.Repeat("9", 200) + `}`: false,
		`not json`:                               false,
	} {
		if got := jsonbSafe([]byte(raw)); got != want {
			t.Errorf("jsonbSafe(%s) = %v, want %v", raw, got, want)
		}
	}
}

// TestUnstorableArgsAreAudited: arguments PostgreSQL's jsonb refuses are
// refused by the mutator and recorded (as text) in the audit log; the
// device's queue goes on.
func TestUnstorableArgsAreAudited(t *testing.T) {
	t.Parallel()
	db, pool := openSeeded(t)
	ctx := context.Background()
	tok := mustLogin(t, db, workflow.RoleSecretary, DemoDeviceID)
	now := time.Now().UTC().Truncate(time.Millisecond)
	appt := SeedID("a:scheduled")
	var muts []syncproto.Mutation
	for i, args := range []string{
		`{"id":"` + appt + `","x":"\u0000"}`,
		`{"id":"` + appt + `","x":"\ud800"}`,
		`{"id":"` + appt + `","x":1e100000}`,
		`{"id":"` + appt + `","x\u0000y":1}`,
		`{"id":"` + appt + `"}`,
	} {
		muts = append(muts, syncproto.Mutation{Seq: int64(i + 1), ID: uuid.NewString(), Name: "appointment.checkIn", Args: json.RawMessage(args), OccurredAt: now, SessionID: tok})
	}
	res, err := db.Push(ctx, DemoDeviceID, chained(t, db, DemoDeviceID, muts))
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	for i, r := range res[:4] {
		want := "x"
		if i == 3 {
			want = "x\uFFFDy"
		}
		if r.Status != syncproto.StatusRejected || r.Code != workflow.CodeValidationFailed || r.Field != want {
			t.Errorf("mutation %d: %+v", i+1, r)
		}
		stored := scalar[string](t, pool, `SELECT args #>> '{}' FROM sync.mutations WHERE device_id = $1 AND seq = $2`, DemoDeviceID, i+1)
		if stored != string(muts[i].Args) {
			t.Errorf("audit of %d holds %q, want the text sent %q", i+1, stored, muts[i].Args)
		}
	}
	if res[4].Status != syncproto.StatusApplied {
		t.Fatalf("the act queued behind them: %+v", res[4])
	}
	// A duplicate repeats the rejection exactly.
	again, err := db.Push(ctx, DemoDeviceID, chained(t, db, DemoDeviceID, muts[3:4]))
	if err != nil || again[0].Status != syncproto.StatusDuplicate || again[0].Field != res[3].Field || again[0].Message != res[3].Message {
		t.Fatalf("duplicate: %+v (%v), first %+v", again, err, res[3])
	}
}

// TestInsertRaceReadsLikeTheWorkflow: an insert that loses a race to
// another writer's same id is DUPLICATE_ID in the mutator's own words.
func TestInsertRaceReadsLikeTheWorkflow(t *testing.T) {
	t.Parallel()
	db, pool := openSeeded(t)
	ctx := context.Background()
	tok := mustLogin(t, db, workflow.RoleSecretary, DemoDeviceID)
	id := uuid.NewString()
	// Another program inserts the same id and has not committed yet: the
	// mutator does not see it, the insert waits on the key, then fails.
	other, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback(ctx)
	if _, err := other.Exec(ctx, `INSERT INTO patients (id, "firstName", "lastName", "birthDate", "updatedAt") VALUES ($1, 'A', 'B', '1970-01-01', now())`, id); err != nil {
		t.Fatal(err)
	}
	done := make(chan []syncproto.MutationResult, 1)
	go func() {
		res, err := db.Push(ctx, DemoDeviceID, chained(t, db, DemoDeviceID, []syncproto.Mutation{{Seq: 1, ID: uuid.NewString(), Name: "patient.register",
			Args:       json.RawMessage(`{"id":"` + id + `","firstName":"C","lastName":"D","birthDate":"1980-01-01T00:00:00Z"}`),
			OccurredAt: time.Now().UTC(), SessionID: tok}}))
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	// Wait until the push is blocked on the other transaction's key.
	deadline := time.Now().Add(10 * time.Second)
	for scalar[int64](t, pool, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the push never waited for the other writer")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := other.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	res := <-done
	if len(res) != 1 || res[0].Status != syncproto.StatusRejected || res[0].Code != workflow.CodeDuplicateID ||
		res[0].Message != "A patient with id "+id+" already exists." || res[0].Field != "id" {
		t.Fatalf("lost race: %+v", res)
	}
	if n := scalar[int64](t, pool, `SELECT count(*) FROM sync.mutations WHERE device_id = $1 AND outcome = 'rejected' AND code = 'DUPLICATE_ID'`, DemoDeviceID); n != 1 {
		t.Fatalf("audited %d", n)
	}
}

func TestPushUnknownDevice(t *testing.T) {
	t.Parallel()
	db, _ := openSeeded(t)
	_, err := db.Push(context.Background(), "nowhere", chained(t, db, "nowhere", []syncproto.Mutation{{Seq: 1, ID: uuid.NewString(), Name: "x", Args: json.RawMessage(`{}`), OccurredAt: time.Now(), SessionID: "t"}}))
	rej, ok := workflow.AsRejection(err)
	if !ok || rej.Code != workflow.CodeUnauthenticated || rej.Message != "Workstation nowhere is not registered with this server." {
		t.Fatalf("%v", err)
	}
	_, err = db.Pull(context.Background(), "nowhere", workflow.Roles, "", 0)
	if rej, ok := workflow.AsRejection(err); !ok || rej.Code != workflow.CodeUnauthenticated {
		t.Fatalf("pull of an unknown device: %v", err)
	}
}

// TestHelloAndLastMutationSeq: the welcome and every changes page tell the
// device how far its own mutations have got; a changes page counts only
// those whose effects it has handed out.
func TestHelloAndLastMutationSeq(t *testing.T) {
	t.Parallel()
	db, pool := openSeeded(t)
	ctx := context.Background()
	tok := mustLogin(t, db, workflow.RoleSecretary, DemoDeviceID)
	oldest := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	w, err := db.Hello(ctx, DemoDeviceID, 3, &oldest)
	if err != nil || w.LastMutationSeq != 0 || w.DeviceName != "Demo workstation" || w.Head == "" {
		t.Fatalf("welcome %+v %v", w, err)
	}
	if p := scalar[int32](t, pool, `SELECT pending FROM sync.clients WHERE device_id = $1`, DemoDeviceID); p != 3 {
		t.Fatalf("pending %d", p)
	}
	var muts []syncproto.Mutation
	for i := 1; i <= 3; i++ {
		muts = append(muts, syncproto.Mutation{Seq: int64(i), ID: uuid.NewString(), Name: "patient.register",
			Args:       json.RawMessage(`{"id":"` + uuid.NewString() + `","firstName":"A","lastName":"B","birthDate":"1980-01-01T00:00:00Z"}`),
			OccurredAt: time.Now().UTC(), SessionID: tok})
	}
	if _, err := db.Push(ctx, DemoDeviceID, chained(t, db, DemoDeviceID, muts)); err != nil {
		t.Fatal(err)
	}
	w, _ = db.Hello(ctx, DemoDeviceID, 0, nil)
	if w.LastMutationSeq != 3 || w.Head != scalar[string](t, pool, `SELECT max(id)::text FROM sync.changes`) {
		t.Fatalf("welcome after pushes: %+v", w)
	}
	// A pull that hands out the patients reports seq 3, in the same page.
	cursor := ""
	deadline := time.Now().Add(30 * time.Second)
	for {
		ch, err := db.Pull(ctx, DemoDeviceID, workflow.Roles, cursor, 0)
		if err != nil {
			t.Fatal(err)
		}
		cursor = ch.Cursor
		if !ch.More && ch.LastMutationSeq == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lastMutationSeq stays %d", ch.LastMutationSeq)
		}
	}
	// Another device's view of this device's seqs is its own.
	other, err := db.AddDevice(ctx, "", "Other", workflow.Roles)
	if err != nil {
		t.Fatal(err)
	}
	if ch, err := db.Pull(ctx, other.ID, workflow.Roles, cursor, 0); err != nil || ch.LastMutationSeq != 0 {
		t.Fatalf("other device: %+v %v", ch, err)
	}
}

func TestSeedIsIdempotent(t *testing.T) {
	t.Parallel()
	db, pool := openSeeded(t)
	// An administrator revoked the demo workstation: seeding again keeps it so.
	if err := db.RevokeDevice(context.Background(), DemoDeviceID); err != nil {
		t.Fatal(err)
	}
	before := scalar[int64](t, pool, `SELECT count(*) FROM sync.changes`)
	n, err := db.Seed(context.Background())
	if err != nil || n != 0 {
		t.Fatalf("second seed inserted %d (%v)", n, err)
	}
	if after := scalar[int64](t, pool, `SELECT count(*) FROM sync.changes`); after != before {
		t.Fatalf("second seed wrote %d changes", after-before)
	}
	if d, err := db.Device(context.Background(), DemoDeviceID); err != nil || d.RevokedAt == nil {
		t.Fatalf("seeding again brought a revoked workstation back: %+v %v", d, err)
	}
	for _, want := range []struct {
		name, table, status string
	}{{"a:scheduled", "appointments", "SCHEDULED"}, {"a:completed", "appointments", "COMPLETED"}, {"rx:inprogress", "prescriptions", "IN_PROGRESS"}} {
		if got := scalar[string](t, pool, `SELECT status::text FROM `+want.table+` WHERE id = $1`, SeedID(want.name)); got != want.status {
			t.Errorf("%s is %s", want.name, got)
		}
	}
}

// TestDuplicateByID: a mutation the server already has, sent again under a
// new seq (a workstation restored from a backup renumbers its queue), is a
// duplicate of its first outcome: never applied twice, its seq advances.
func TestDuplicateByID(t *testing.T) {
	t.Parallel()
	db, pool := openSeeded(t)
	ctx := context.Background()
	tok := mustLogin(t, db, workflow.RoleSecretary, DemoDeviceID)
	now := time.Now().UTC().Truncate(time.Millisecond)
	mut := func(seq int64, id, name, args string) syncproto.Mutation {
		return syncproto.Mutation{Seq: seq, ID: id, Name: name, Args: json.RawMessage(args), OccurredAt: now, SessionID: tok}
	}
	checkIn := mut(1, uuid.NewString(), "appointment.checkIn", `{"id":"`+SeedID("a:scheduled")+`"}`)
	bad := mut(2, uuid.NewString(), "appointment.checkIn", `{"id":"`+SeedID("a:completed")+`"}`)
	res, err := db.Push(ctx, DemoDeviceID, chained(t, db, DemoDeviceID, []syncproto.Mutation{checkIn, bad}))
	if err != nil || res[0].Status != syncproto.StatusApplied || res[1].Status != syncproto.StatusRejected {
		t.Fatalf("first push: %+v %v", res, err)
	}
	changes := scalar[int64](t, pool, `SELECT count(*) FROM sync.changes`)

	// Renumbered after a restore: seqs 3 and 4 carry the same two acts, and
	// a new act follows, once with its id repeated in the same push.
	again1, again2 := checkIn, bad
	again1.Seq, again2.Seq = 3, 4
	fresh := mut(5, uuid.NewString(), "patient.update", `{"id":"`+SeedID("patient:1")+`","phone":"5"}`)
	twice := fresh
	twice.Seq = 6
	res, err = db.Push(ctx, DemoDeviceID, chained(t, db, DemoDeviceID, []syncproto.Mutation{again1, again2, fresh, twice}))
	if err != nil {
		t.Fatal(err)
	}
	want := []syncproto.MutationResult{
		{Seq: 3, Status: syncproto.StatusDuplicate},
		{Seq: 4, Status: syncproto.StatusDuplicate, Code: res[1].Code, Message: res[1].Message},
		{Seq: 5, Status: syncproto.StatusApplied},
		{Seq: 6, Status: syncproto.StatusDuplicate},
	}
	first, _ := db.Push(ctx, DemoDeviceID, chained(t, db, DemoDeviceID, []syncproto.Mutation{bad}))
	want[1].Code, want[1].Message, want[1].Field = first[0].Code, first[0].Message, first[0].Field
	for i := range want {
		if res[i] != want[i] {
			t.Errorf("result %d = %+v, want %+v", i, res[i], want[i])
		}
	}
	if want[1].Code != workflow.CodeInvalidTransition {
		t.Fatalf("the repeated rejection lost its code: %+v", want[1])
	}
	if n := scalar[int64](t, pool, `SELECT count(*) FROM sync.changes`) - changes; n != 1 {
		t.Fatalf("%d rows changed, want 1 (the one new act)", n)
	}
	if w, _ := db.Hello(ctx, DemoDeviceID, 0, nil); w.LastMutationSeq != 6 {
		t.Fatalf("last seq %d, want 6", w.LastMutationSeq)
	}
	// A lost reply: resending the renumbered seqs repeats the same outcomes.
	res, err = db.Push(ctx, DemoDeviceID, chained(t, db, DemoDeviceID, []syncproto.Mutation{again1, again2}))
	if err != nil || res[0] != want[0] || res[1] != want[1] {
		t.Fatalf("resend of renumbered seqs: %+v %v", res, err)
	}
	if n := scalar[int64](t, pool, `SELECT count(*) FROM sync.mutations WHERE device_id = $1`, DemoDeviceID); n != 3 {
		t.Fatalf("audit log holds %d mutations, want 3 (each act once)", n)
	}
}
