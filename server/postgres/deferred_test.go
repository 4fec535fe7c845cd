package postgres

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"wardsync/syncproto"
	"wardsync/workflow"
)

// The deferred-act tests run the outage story against a real PostgreSQL:
// the ward's vitals arrive before reception's check-in.

const vitalsJSON = `{"weight":70,"height":170,"temperature":37,"bloodPressure":{"systolic":120,"diastolic":80},"heartRate":72}`

type deferredEnv struct {
	db                *DB
	pool              *pgxpool.Pool
	now               time.Time
	reception, ward   string // device ids
	wardB             string // a second ward workstation
	secTok, nurseTok  string
	docTok, nurseBTok string
	appt              string
	seq               map[string]int64
}

func newDeferredEnv(t *testing.T) *deferredEnv {
	t.Helper()
	db, pool := openSeeded(t)
	ctx := context.Background()
	e := &deferredEnv{db: db, pool: pool, now: time.Now().UTC().Truncate(time.Millisecond), appt: SeedID("a:scheduled"), seq: map[string]int64{}}
	db.Now = func() time.Time { return e.now }
	for _, d := range []struct {
		id    *string
		name  string
		roles []workflow.Role
	}{
		{&e.reception, "Reception", []workflow.Role{workflow.RoleSecretary}},
		{&e.ward, "Ward A", []workflow.Role{workflow.RoleNurse, workflow.RoleDoctor}},
		{&e.wardB, "Ward B", []workflow.Role{workflow.RoleNurse}},
	} {
		dev, err := db.AddDevice(ctx, "", d.name, d.roles)
		if err != nil {
			t.Fatal(err)
		}
		*d.id = dev.ID
	}
	e.secTok = mustLogin(t, db, workflow.RoleSecretary, e.reception)
	e.nurseTok = mustLogin(t, db, workflow.RoleNurse, e.ward)
	e.docTok = mustLogin(t, db, workflow.RoleDoctor, e.ward)
	e.nurseBTok = mustLogin(t, db, workflow.RoleNurse, e.wardB)
	return e
}

// push sends one act from device and returns its result.
func (e *deferredEnv) push(t *testing.T, device, tok, name, args string) syncproto.MutationResult {
	t.Helper()
	e.seq[device]++
	res, err := e.db.Push(context.Background(), device, chained(t, e.db, device, []syncproto.Mutation{{Seq: e.seq[device], ID: uuid.NewString(), Name: name,
		Args: json.RawMessage(args), OccurredAt: e.now, SessionID: tok}}))
	if err != nil {
		t.Fatalf("push %s: %v", name, err)
	}
	return res[0]
}

func (e *deferredEnv) vitals(t *testing.T, device, tok string) syncproto.MutationResult {
	return e.push(t, device, tok, "appointment.recordVitals", `{"id":"`+e.appt+`","vitals":`+vitalsJSON+`}`)
}

func (e *deferredEnv) status(t *testing.T) string {
	return scalar[string](t, e.pool, `SELECT status::text FROM appointments WHERE id = $1`, e.appt)
}

func (e *deferredEnv) audit(t *testing.T, device string, seq int64) string {
	return scalar[string](t, e.pool, `SELECT outcome || ':' || COALESCE(code, '') || ':' || COALESCE(message, '') FROM sync.mutations WHERE device_id = $1 AND seq = $2`, device, seq)
}

func mustDeferred(t *testing.T, r syncproto.MutationResult, appt string) {
	t.Helper()
	if r.Status != syncproto.StatusDeferred || r.WaitingFor != "waiting for check-in at reception" || r.WaitTable != workflow.TableAppointments ||
		r.WaitID != appt || r.WaitState != "CHECKED_IN" || r.Code != "" ||
		!strings.HasPrefix(r.Message, "Appointment "+appt+" is SCHEDULED") {
		t.Fatalf("want deferred, waiting for check-in: %+v", r)
	}
}

// pullOutcomes follows device's feed from cursor to its end and returns
// the new cursor and every outcome handed out on the way. A concurrent
// test's transaction may hold the cluster's horizon back for a moment, so
// it pulls again until want outcomes came (or gives up).
func pullOutcomes(t *testing.T, db *DB, device string, roles []workflow.Role, cursor string, want int) (string, []syncproto.Outcome) {
	t.Helper()
	var out []syncproto.Outcome
	deadline := time.Now().Add(30 * time.Second)
	for {
		page, err := db.Pull(context.Background(), device, roles, cursor, 0)
		if err != nil {
			t.Fatal(err)
		}
		page.RequestID = "r-1"
		if _, err := syncproto.Encode(page); err != nil {
			t.Fatalf("the page is not a valid frame: %v", err)
		}
		cursor = page.Cursor
		out = append(out, page.Outcomes...)
		if page.More {
			continue
		}
		if len(out) >= want || time.Now().After(deadline) {
			return cursor, out
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var wardRoles = []workflow.Role{workflow.RoleNurse, workflow.RoleDoctor}

// TestDeferredStory: vitals before check-in are parked, then applied in
// the check-in's own transaction as the nurse at the nurse's time; the ward
// learns it once through its feed.
func TestDeferredStory(t *testing.T) {
	t.Parallel()
	e := newDeferredEnv(t)
	cursor, _ := pullOutcomes(t, e.db, e.ward, wardRoles, "", 0)
	nurseAt := e.now
	r := e.vitals(t, e.ward, e.nurseTok)
	mustDeferred(t, r, e.appt)
	if got := e.audit(t, e.ward, 1); !strings.HasPrefix(got, "deferred::Appointment ") {
		t.Fatalf("audit: %s", got)
	}
	if got := e.status(t); got != "SCHEDULED" {
		t.Fatalf("a parked act changed the row: %s", got)
	}
	// Another act under the parked act's seq is refused, not confused with it.
	dup, err := e.db.Push(context.Background(), e.ward, chained(t, e.db, e.ward, []syncproto.Mutation{{Seq: 1, ID: uuid.NewString(), Name: "x", Args: json.RawMessage(`{}`), OccurredAt: e.now, SessionID: e.nurseTok}}))
	if err != nil || dup[0].Status != syncproto.StatusRejected || dup[0].Code != workflow.CodeProtocolError {
		t.Fatalf("a reused seq: %+v %v", dup, err)
	}

	e.now = e.now.Add(10 * time.Minute)
	if r := e.push(t, e.reception, e.secTok, "appointment.checkIn", `{"id":"`+e.appt+`"}`); r.Status != syncproto.StatusApplied {
		t.Fatalf("check-in: %+v", r)
	}
	if got := e.status(t); got != "IN_CONSULTATION" {
		t.Fatalf("after the check-in the appointment is %s, want IN_CONSULTATION", got)
	}
	var by string
	var at time.Time
	if err := e.pool.QueryRow(context.Background(), `SELECT "vitalsEnteredBy", "vitalsEnteredAt" FROM appointments WHERE id = $1`, e.appt).Scan(&by, &at); err != nil {
		t.Fatal(err)
	}
	nurseID := scalar[string](t, e.pool, `SELECT id FROM users WHERE role = 'NURSE' LIMIT 1`)
	if by != nurseID || !at.Equal(nurseAt) {
		t.Fatalf("vitals entered by %s at %s, want the nurse %s at %s", by, at, nurseID, nurseAt)
	}
	if got := e.audit(t, e.ward, 1); got != "applied::" {
		t.Fatalf("audit after: %s", got)
	}
	cursor, outs := pullOutcomes(t, e.db, e.ward, wardRoles, cursor, 1)
	if len(outs) != 1 || outs[0].Seq != 1 || outs[0].Status != syncproto.StatusApplied || outs[0].Code != "" {
		t.Fatalf("outcomes: %+v", outs)
	}
	// Exactly once: the next range does not repeat it, and reception's
	// feed never carries the ward's outcomes.
	if _, again := pullOutcomes(t, e.db, e.ward, wardRoles, cursor, 0); len(again) != 0 {
		t.Fatalf("outcome repeated: %+v", again)
	}
	if _, other := pullOutcomes(t, e.db, e.reception, []workflow.Role{workflow.RoleSecretary}, "", 0); len(other) != 0 {
		t.Fatalf("reception received the ward's outcomes: %+v", other)
	}
	// The duplicate of a decided act repeats its decided outcome.
	m := scalar[string](t, e.pool, `SELECT mutation_id FROM sync.mutations WHERE device_id = $1 AND seq = 1`, e.ward)
	dup, err = e.db.Push(context.Background(), e.ward, chained(t, e.db, e.ward, []syncproto.Mutation{{Seq: 1, ID: m, Name: "appointment.recordVitals", Args: json.RawMessage(`{}`), OccurredAt: e.now, SessionID: e.nurseTok}}))
	if err != nil || dup[0].Status != syncproto.StatusDuplicate || dup[0].Code != "" || dup[0].WaitingFor != "" {
		t.Fatalf("duplicate after the decision: %+v %v", dup, err)
	}
}

// TestDeferredDuplicateWhileParked: a lost reply is repeated with the wait.
func TestDeferredDuplicateWhileParked(t *testing.T) {
	t.Parallel()
	e := newDeferredEnv(t)
	id := uuid.NewString()
	m := syncproto.Mutation{Seq: 1, ID: id, Name: "appointment.recordVitals", Args: json.RawMessage(`{"id":"` + e.appt + `","vitals":` + vitalsJSON + `}`),
		OccurredAt: e.now, SessionID: e.nurseTok}
	for i, want := range []syncproto.Status{syncproto.StatusDeferred, syncproto.StatusDuplicate} {
		res, err := e.db.Push(context.Background(), e.ward, chained(t, e.db, e.ward, []syncproto.Mutation{m}))
		if err != nil {
			t.Fatal(err)
		}
		r := res[0]
		if r.Status != want || r.WaitingFor != "waiting for check-in at reception" || r.WaitID != e.appt {
			t.Fatalf("push %d: %+v", i+1, r)
		}
		if _, err := syncproto.Encode(&syncproto.PushResult{RequestID: "r-1", Results: res}); err != nil {
			t.Fatalf("push %d: result is not a valid frame: %v", i+1, err)
		}
	}
}

// TestDeferredRejected: the row moves past the act or is cancelled while
// it waits; the act is rejected with a sentence saying why, in the
// transaction that moved the row.
func TestDeferredRejected(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		moves func(t *testing.T, e *deferredEnv)
		want  string
	}{
		{"cancelled", func(t *testing.T, e *deferredEnv) {
			if r := e.push(t, e.reception, e.secTok, "appointment.cancel", `{"id":"`+e.appt+`"}`); r.Status != syncproto.StatusApplied {
				t.Fatalf("cancel: %+v", r)
			}
		}, "is CANCELLED (cancelled at %s), not CHECKED_IN. It had been waiting for check-in at reception since %s."},
		{"another nurse came first", func(t *testing.T, e *deferredEnv) {
			if r := e.push(t, e.reception, e.secTok, "appointment.checkIn", `{"id":"`+e.appt+`"}`); r.Status != syncproto.StatusApplied {
				t.Fatalf("check-in: %+v", r)
			}
			// Ward B's vitals arrived second, so the ward's parked act
			// applied first, and ward B's is now past its state.
		}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newDeferredEnv(t)
			parkedAt := e.now
			mustDeferred(t, e.vitals(t, e.ward, e.nurseTok), e.appt)
			if c.want == "" {
				// Arrival order: two nurses' vitals wait on one row.
				mustDeferred(t, e.vitals(t, e.wardB, e.nurseBTok), e.appt)
			}
			e.now = e.now.Add(7 * time.Minute)
			c.moves(t, e)
			if c.want == "" {
				if got := e.audit(t, e.ward, 1); got != "applied::" {
					t.Fatalf("first arrival: %s", got)
				}
				got := e.audit(t, e.wardB, 1)
				want := "rejected:INVALID_TRANSITION:Appointment " + e.appt + " is IN_CONSULTATION (vitals entered by Infirmier Test at " +
					parkedAt.Format("15:04") + "), not CHECKED_IN. It had been waiting for check-in at reception since " + parkedAt.Format("2006-01-02 15:04 UTC") + "."
				if parkedAt.Format(time.DateOnly) != e.now.Format(time.DateOnly) {
					t.Skip("the test ran across midnight UTC; the sentence then carries a date")
				}
				if got != want {
					t.Fatalf("second arrival:\n got %s\nwant %s", got, want)
				}
				return
			}
			// The cancel's time carries its date when it is not the parked
			// act's day (a run across midnight UTC), as workflow's clock says.
			cancelled := e.now.UTC().Format("15:04")
			if d := e.now.UTC().Format(time.DateOnly); d != parkedAt.UTC().Format(time.DateOnly) {
				cancelled += " on " + d
			}
			want := "rejected:INVALID_TRANSITION:Appointment " + e.appt + " " +
				strings.Replace(strings.Replace(c.want, "%s", cancelled, 1), "%s", parkedAt.Format("2006-01-02 15:04 UTC"), 1)
			if got := e.audit(t, e.ward, 1); got != want {
				t.Fatalf("audit:\n got %s\nwant %s", got, want)
			}
			if got := e.status(t); got != "CANCELLED" {
				t.Fatalf("status %s", got)
			}
		})
	}
}

// TestDeferredOutcomeRejectedInFeed: the rejection reaches the author's
// device through its feed with code and message.
func TestDeferredOutcomeRejectedInFeed(t *testing.T) {
	t.Parallel()
	e := newDeferredEnv(t)
	cursor, _ := pullOutcomes(t, e.db, e.ward, wardRoles, "", 0)
	mustDeferred(t, e.vitals(t, e.ward, e.nurseTok), e.appt)
	e.push(t, e.reception, e.secTok, "appointment.cancel", `{"id":"`+e.appt+`"}`)
	_, outs := pullOutcomes(t, e.db, e.ward, wardRoles, cursor, 1)
	if len(outs) != 1 || outs[0].Status != syncproto.StatusRejected || outs[0].Code != workflow.CodeInvalidTransition ||
		!strings.Contains(outs[0].Message, "is CANCELLED") || !strings.HasSuffix(outs[0].Message, "It had been waiting for check-in at reception since "+
		e.now.Format("2006-01-02 15:04 UTC")+".") {
		t.Fatalf("outcomes: %+v", outs)
	}
}

// TestDeferredChain: acts parked on one row apply one after the other in
// the predecessor's transaction, each when the row reaches its state,
// whatever their arrival order.
func TestDeferredChain(t *testing.T) {
	t.Parallel()
	e := newDeferredEnv(t)
	consult := e.push(t, e.ward, e.docTok, "appointment.completeConsultation", `{"id":"`+e.appt+`","consultationNotes":"Examen normal."}`)
	if consult.Status != syncproto.StatusDeferred || consult.WaitingFor != "waiting for the vitals from the nurse" || consult.WaitState != "IN_CONSULTATION" {
		t.Fatalf("consultation: %+v", consult)
	}
	mustDeferred(t, e.vitals(t, e.ward, e.nurseTok), e.appt)
	e.push(t, e.reception, e.secTok, "appointment.checkIn", `{"id":"`+e.appt+`"}`)
	if got := e.status(t); got != "CONSULTATION_COMPLETED" {
		t.Fatalf("status %s, want CONSULTATION_COMPLETED", got)
	}
	for seq := int64(1); seq <= 2; seq++ {
		if got := e.audit(t, e.ward, seq); got != "applied::" {
			t.Fatalf("seq %d: %s", seq, got)
		}
	}
	// The counts follow the decisions: two applied, none deferred.
	if n := scalar[int64](t, e.pool, `SELECT COALESCE(sum(n), 0)::bigint FROM sync.mutation_counts WHERE device_id = $1 AND outcome = 'deferred'`, e.ward); n != 0 {
		t.Fatalf("deferred count %d", n)
	}
	if n := scalar[int64](t, e.pool, `SELECT COALESCE(sum(n), 0)::bigint FROM sync.mutation_counts WHERE device_id = $1 AND outcome = 'applied'`, e.ward); n != 2 {
		t.Fatalf("applied count %d", n)
	}
}

// TestDeferredExpiry: an act still waiting after the window is rejected by
// the sweeper, with a sentence; one within the window keeps waiting.
func TestDeferredExpiry(t *testing.T) {
	t.Parallel()
	e := newDeferredEnv(t)
	parkedAt := e.now
	mustDeferred(t, e.vitals(t, e.ward, e.nurseTok), e.appt)
	e.now = parkedAt.Add(DefaultDeferredWindow - time.Second)
	if n, err := e.db.SweepDeferred(context.Background()); err != nil || n != 0 {
		t.Fatalf("sweep within the window decided %d (%v)", n, err)
	}
	e.now = parkedAt.Add(DefaultDeferredWindow)
	if n, err := e.db.SweepDeferred(context.Background()); err != nil || n != 1 {
		t.Fatalf("sweep after the window decided %d (%v)", n, err)
	}
	want := "rejected:INVALID_TRANSITION:It had been waiting for check-in at reception since " + parkedAt.Format("2006-01-02 15:04 UTC") +
		", longer than the 12h0m0s the server keeps an act waiting; it was not applied. Appointment " + e.appt + " is SCHEDULED"
	if got := e.audit(t, e.ward, 1); !strings.HasPrefix(got, want) {
		t.Fatalf("audit:\n got %s\nwant %s…", got, want)
	}
	if got := e.status(t); got != "SCHEDULED" {
		t.Fatalf("status %s", got)
	}
	// Decided once: a later check-in does not bring it back.
	e.push(t, e.reception, e.secTok, "appointment.checkIn", `{"id":"`+e.appt+`"}`)
	if got := e.status(t); got != "CHECKED_IN" {
		t.Fatalf("status %s", got)
	}
}

// TestDeferredWokenBySQL: a program writing SQL directly moves the row;
// the trigger marks the parked act and the sweeper applies it.
func TestDeferredWokenBySQL(t *testing.T) {
	t.Parallel()
	e := newDeferredEnv(t)
	mustDeferred(t, e.vitals(t, e.ward, e.nurseTok), e.appt)
	if _, err := e.pool.Exec(context.Background(), `UPDATE appointments SET status = 'CHECKED_IN', "checkedInAt" = now() WHERE id = $1`, e.appt); err != nil {
		t.Fatal(err)
	}
	if n := scalar[int64](t, e.pool, `SELECT count(*) FROM sync.deferred WHERE woken AND outcome IS NULL`); n != 1 {
		t.Fatalf("woken: %d", n)
	}
	if n, err := e.db.SweepDeferred(context.Background()); err != nil || n != 1 {
		t.Fatalf("sweep decided %d (%v)", n, err)
	}
	if got := e.status(t); got != "IN_CONSULTATION" {
		t.Fatalf("status %s", got)
	}
}

// TestDeferredSurvivesRestart: a parked act lives in PostgreSQL; a new
// server process on the same database applies it when the check-in lands.
func TestDeferredSurvivesRestart(t *testing.T) {
	t.Parallel()
	e := newDeferredEnv(t)
	mustDeferred(t, e.vitals(t, e.ward, e.nurseTok), e.appt)
	url := e.db.url
	_ = e.db.Close(context.Background())
	db2, err := Open(context.Background(), url, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db2.Close(context.Background()) })
	db2.Now = func() time.Time { return e.now }
	e.db = db2
	if n, err := db2.ParkedCount(context.Background()); err != nil || n != 1 {
		t.Fatalf("parked after restart: %d (%v)", n, err)
	}
	e.push(t, e.reception, e.secTok, "appointment.checkIn", `{"id":"`+e.appt+`"}`)
	if got := e.status(t); got != "IN_CONSULTATION" {
		t.Fatalf("status %s", got)
	}
}

// TestDeferredInAudit: the audit search finds acts on hold by their
// outcome, and refuses an unknown outcome naming the three.
func TestDeferredInAudit(t *testing.T) {
	t.Parallel()
	e := newDeferredEnv(t)
	mustDeferred(t, e.vitals(t, e.ward, e.nurseTok), e.appt)
	entries, _, err := e.db.Audit(context.Background(), AuditFilter{Outcome: "deferred"})
	if err != nil || len(entries) != 1 || entries[0].Outcome != "deferred" || entries[0].Name != "appointment.recordVitals" {
		t.Fatalf("audit: %+v %v", entries, err)
	}
	_, _, err = e.db.Audit(context.Background(), AuditFilter{Outcome: "parked"})
	if r, ok := workflow.AsRejection(err); !ok || r.Code != workflow.CodeValidationFailed || r.Field != "outcome" ||
		r.Message != `Outcome "parked" is not applied, rejected or deferred.` {
		t.Fatalf("unknown outcome: %v", err)
	}
}

// TestDeferredOutcomeAfterSnapshot: a workstation that starts over from a
// snapshot (first sync, resync) still learns the outcomes decided before
// the snapshot, on its last page, once.
func TestDeferredOutcomeAfterSnapshot(t *testing.T) {
	t.Parallel()
	e := newDeferredEnv(t)
	mustDeferred(t, e.vitals(t, e.ward, e.nurseTok), e.appt)
	e.push(t, e.reception, e.secTok, "appointment.cancel", `{"id":"`+e.appt+`"}`)
	cursor, outs := pullOutcomes(t, e.db, e.ward, wardRoles, "", 1)
	if len(outs) != 1 || outs[0].Seq != 1 || outs[0].Status != syncproto.StatusRejected || !strings.Contains(outs[0].Message, "is CANCELLED") {
		t.Fatalf("outcomes of the snapshot: %+v", outs)
	}
	if _, again := pullOutcomes(t, e.db, e.ward, wardRoles, cursor, 0); len(again) != 0 {
		t.Fatalf("repeated after the snapshot: %+v", again)
	}
}
