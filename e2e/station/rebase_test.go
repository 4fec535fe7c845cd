package station

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"wardsync/internal/wardtest"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// TestRebaseOnPull: acts queued on a workstation whose target rows then
// change at the server (a direct SQL UPDATE in PostgreSQL, as another
// program would write) are re-run when the changes are pulled. The one that
// no longer applies is flagged "will likely be rejected" with the very code
// and message the server gives it once pushed; the ones that still apply
// are not flagged, and show on top of the server's new values.
//
// The engine's loop pushes before it pulls, so a queued act meets a pulled
// change only in the instant between the two; the test pulls the way the
// loop does (desktop/remote's Pull into the replica's ApplyChanges, page by
// page) while the loop is stopped, then lets the loop push.
func TestRebaseOnPull(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := newEnv(t, true)
	roles := []workflow.Role{sec, nur}
	env.addDevice("front", roles...)
	s := env.station("front")
	s.loginAll(sec)
	s.run()
	wardtest.Eventually(t, wardtest.WaitTimeout, s.synced)
	now := time.Now().UTC()
	P, A1, A2 := uuid.NewString(), uuid.NewString(), uuid.NewString()
	s.act(sec, "patient.register", map[string]any{"id": P, "firstName": "Rebase", "lastName": "Test", "birthDate": "1970-05-06T00:00:00Z", "phone": "0101"})
	for i, a := range []string{A1, A2} {
		s.act(sec, "appointment.schedule", map[string]any{"id": a, "patientId": P, "doctorId": wardtest.UserID(doc),
			"date": now.Add(time.Duration(i+1) * time.Hour).Format(time.RFC3339), "motif": "Motif initial"})
	}
	wardtest.Eventually(t, wardtest.WaitTimeout, s.synced)
	s.stop()

	// Offline (the loop is stopped): three acts queue up.
	checkIn1 := s.act(sec, "appointment.checkIn", map[string]any{"id": A1})
	checkIn2 := s.act(sec, "appointment.checkIn", map[string]any{"id": A2})
	phone := s.act(sec, "patient.update", map[string]any{"id": P, "phone": "0202"})

	// Meanwhile, at the server, somebody writes SQL: A1 is cancelled, A2's
	// motif and the patient's address change.
	wardtest.Exec(t, env.Pool, `UPDATE appointments SET status = 'CANCELLED', "updatedAt" = now() AT TIME ZONE 'UTC' WHERE id = $1`, A1)
	wardtest.Exec(t, env.Pool, `UPDATE appointments SET motif = 'Motif corrigé au guichet', "updatedAt" = now() AT TIME ZONE 'UTC' WHERE id = $1`, A2)
	wardtest.Exec(t, env.Pool, `UPDATE patients SET address = '3 rue du Guichet', "updatedAt" = now() AT TIME ZONE 'UTC' WHERE id = $1`, P)

	// The pull, as the engine's loop does it.
	pullAll(t, s, 3, 3)

	pending := s.pending()
	if len(pending) != 3 {
		t.Fatalf("pending after the pull: %+v", pending)
	}
	flags := map[string]*workflow.Rejection{}
	for _, p := range pending {
		if p.Applied {
			t.Errorf("act %d marked applied before any push", p.Seq)
		}
		flags[p.ID] = p.LikelyRejection
	}
	flag := flags[checkIn1.ID]
	if flag == nil || flag.Code != workflow.CodeInvalidTransition {
		t.Fatalf("check-in of the cancelled appointment: flag %+v, want INVALID_TRANSITION", flag)
	}
	if flags[checkIn2.ID] != nil || flags[phone.ID] != nil {
		t.Errorf("acts that still apply are flagged: %+v / %+v", flags[checkIn2.ID], flags[phone.ID])
	}
	row := func(table, id string) map[string]any {
		raw, err := s.e.DB().Row(ctx, table, id)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		json.Unmarshal(raw, &m)
		return m
	}
	// The server's state wins where the act no longer applies; the others
	// are replayed on top of the server's new values.
	if a := row(workflow.TableAppointments, A1); a["status"] != "CANCELLED" {
		t.Errorf("A1 in the replica: %v", a)
	}
	if a := row(workflow.TableAppointments, A2); a["status"] != "CHECKED_IN" || a["motif"] != "Motif corrigé au guichet" {
		t.Errorf("A2 in the replica: %v", a)
	}
	if p := row(workflow.TablePatients, P); p["phone"] != "0202" || p["address"] != "3 rue du Guichet" {
		t.Errorf("patient in the replica: %v", p)
	}

	// The loop runs again: the flagged act is rejected with the code and
	// message the flag predicted; the others are applied.
	s.run()
	wardtest.Eventually(t, wardtest.WaitTimeout, s.synced)
	rej, err := s.e.Rejected(ctx, false)
	if err != nil || len(rej) != 1 {
		t.Fatalf("rejected: %+v (%v)", rej, err)
	}
	if rej[0].ID != checkIn1.ID || rej[0].Rejection.Code != flag.Code || rej[0].Rejection.Message != flag.Message {
		t.Errorf("server's rejection %+v, the flag said %+v", rej[0].Rejection, flag)
	}
	t.Logf("flag and rejection: %s", flag.Message)
	for _, a := range []string{checkIn2.ID, phone.ID} {
		if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM sync.mutations WHERE mutation_id = $1 AND outcome = 'applied'`, a); n != 1 {
			t.Errorf("act %s applied %d times", a, n)
		}
	}
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
		return wardtest.Diff(replicaState(t, s, roles), wardtest.PGState(t, env.Pool, roles))
	})
}

// pullAll pulls the pages after the replica's cursor and applies each, as
// the engine's sync loop does, without pushing anything, until it has
// received at least wantChanges changes. The server must know every seq of
// the device but the wantQueued queued ones.
func pullAll(t *testing.T, s *station, wantQueued, wantChanges int) {
	t.Helper()
	ctx := context.Background()
	creds, err := s.e.DB().Credentials(ctx)
	if err != nil || len(creds) == 0 {
		t.Fatalf("credentials: %v", err)
	}
	c, st, err := s.e.DB().CountsAndState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	conn := s.env.Dial(t, creds[0].Token, s.device)
	defer conn.Close()
	w := conn.Say(t, syncproto.Hello{Cursor: st.Cursor, LastMutationSeq: st.LastSeq, Pending: c.Pending, OldestPendingAt: c.OldestPendingAt})
	if w.LastMutationSeq != st.LastSeq-int64(wantQueued) {
		t.Fatalf("the server has seq %d, the replica %d with %d queued", w.LastMutationSeq, st.LastSeq, wantQueued)
	}
	// The direct UPDATEs must be below the horizon before the pull can
	// hand them out: pull until the pages carry them.
	cursor, got := st.Cursor, 0
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
		page := conn.Pull(t, cursor, 0)
		if err := s.e.DB().ApplyChanges(ctx, page, time.Now()); err != nil {
			t.Fatal(err)
		}
		cursor, got = page.Cursor, got+len(page.Changes)
		if got < wantChanges {
			return fmt.Sprintf("the server's changes have not all come: %d of %d", got, wantChanges)
		}
		return ""
	})
}
