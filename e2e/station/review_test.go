package station

import (
	"context"
	"fmt"
	"testing"
	"time"

	"wardsync/desktop"
	"wardsync/internal/wardtest"
	"wardsync/server/postgres"
	"wardsync/workflow"
)

// The review queue end to end (docs/review-queue.md): a real server on a real
// PostgreSQL, a real workstation engine on its SQLite file, a toxiproxy link
// that can be cut. A rejected act stays in the workstation's inbox until it
// is resolved — closed there with a reason (even offline), re-issued there,
// or resolved by an administrator — and the workstation learns every
// resolution through the feed.

// rejectedOnWard makes the nurse of ward-1 record vitals while offline on
// an appointment that reception cancels meanwhile; on reconnect the act is
// rejected. It returns the station and the rejected act.
func rejectedOnWard(t *testing.T, env *env) (*station, desktop.RejectedAct) {
	t.Helper()
	env.addDevice("ward-1", nur, sec)
	w := env.station("ward-1")
	w.loginAll(nur)
	w.run()
	wardtest.Eventually(t, wardtest.WaitTimeout, w.synced)
	offline(t, w)
	appt := postgres.SeedID("a:checkedin")
	w.act(nur, "appointment.recordVitals", map[string]any{"id": appt,
		"vitals": map[string]any{"weight": 70, "height": 170, "temperature": 37.5, "bloodPressure": map[string]any{"systolic": 120, "diastolic": 80}, "heartRate": 70}})
	wardtest.Exec(t, env.Pool, `UPDATE appointments SET status = 'CANCELLED', "updatedAt" = now() WHERE id = $1`, appt)
	w.reconnect()
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
		if st := w.e.Status(); st.Rejected != 1 {
			return fmt.Sprintf("rejected %d", st.Rejected)
		}
		return w.synced()
	})
	open, err := w.e.Rejected(context.Background(), false)
	if err != nil || len(open) != 1 || open[0].State != "open" {
		t.Fatalf("inbox %+v %v", open, err)
	}
	return w, open[0]
}

func offline(t *testing.T, w *station) {
	t.Helper()
	w.link.Cut()
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
		if w.e.Status().Online {
			return w.device + " still online"
		}
		return ""
	})
}

// inboxState waits until the act's review state is want and returns it.
func inboxState(t *testing.T, w *station, id, want string) desktop.RejectedAct {
	t.Helper()
	var got desktop.RejectedAct
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
		all, err := w.e.Rejected(context.Background(), true)
		if err != nil {
			return err.Error()
		}
		for _, r := range all {
			if r.ID == id {
				got = r
				if r.State == want {
					return ""
				}
				return fmt.Sprintf("state %s, want %s", r.State, want)
			}
		}
		return "act not in the inbox"
	})
	return got
}

func TestReviewCloseWhileOffline(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := newEnv(t, true)
	w, r := rejectedOnWard(t, env)

	offline(t, w)
	const reason = "Consultation annulée par l'accueil ; rien à refaire."
	if _, err := w.e.CloseRejected(ctx, wardtest.UserID(nur), r.ID, "  "); err == nil {
		t.Fatal("closed without a reason")
	} else if rej, ok := workflow.AsRejection(err); !ok || rej.Code != workflow.CodeValidationFailed || rej.Field != "reason" ||
		rej.Message != "The reason must not be empty. Say in a few words why this rejected act needs nothing more." {
		t.Fatalf("empty reason: %v", err)
	}
	closed, err := w.e.CloseRejected(ctx, wardtest.UserID(nur), r.ID, reason)
	if err != nil {
		t.Fatal(err)
	}
	// Queued: out of the open inbox at once, kept, waiting to be sent.
	if st := w.e.Status(); st.Rejected != 0 || st.Pending != 1 {
		t.Fatalf("status while offline: %+v", st)
	}
	if got := inboxState(t, w, r.ID, "closing"); got.CloseReason != reason || got.ClosedBy != wardtest.SeedUser(nur).Name {
		t.Fatalf("closing: %+v", got.Review)
	}
	if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM sync.rejection_resolutions WHERE device_id = 'ward-1'`); n != 0 {
		t.Fatalf("the server knew of the close while the ward was offline: %d", n)
	}

	// Back online: recorded with its author, its moment and its reason, and
	// the workstation learns the server's resolution from the feed.
	w.reconnect()
	got := inboxState(t, w, r.ID, "resolved")
	if got.ResolvedBy != wardtest.SeedUser(nur).Name || got.ResolutionNote != reason || !got.ResolvedAt.Equal(closed.OccurredAt) {
		t.Fatalf("resolved: %+v", got.Review)
	}
	var by, note, kind string
	var at time.Time
	var bySeq int64
	if err := env.Pool.QueryRow(ctx, `SELECT resolved_by, note, kind, resolved_at, by_seq FROM sync.rejection_resolutions WHERE device_id = 'ward-1' AND seq = $1`, r.Seq).
		Scan(&by, &note, &kind, &at, &bySeq); err != nil {
		t.Fatal(err)
	}
	if by != wardtest.UserID(nur) || note != reason || kind != "closed" || !at.Equal(closed.OccurredAt) || bySeq != closed.Seq {
		t.Fatalf("audit: %s %q %s %s %d", by, note, kind, at, bySeq)
	}
	if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM sync.mutations WHERE device_id = 'ward-1' AND seq = $1 AND name = $2 AND outcome = 'applied' AND author_id = $3`,
		closed.Seq, workflow.CloseRejected, wardtest.UserID(nur)); n != 1 {
		t.Fatalf("closing act audited %d times", n)
	}
	// Never deleted, on either side.
	if all, _ := w.e.Rejected(ctx, true); len(all) != 1 {
		t.Fatalf("inbox %+v", all)
	}
	if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM sync.mutations WHERE mutation_id = $1 AND outcome = 'rejected'`, r.ID); n != 1 {
		t.Fatalf("rejected act in the audit log %d times", n)
	}
}

func TestReviewAdminResolutionReachesTheInbox(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := newEnv(t, true)
	w, r := rejectedOnWard(t, env)
	if err := env.DB.ResolveRejection(ctx, "ward-1", r.Seq, wardtest.UserID(workflow.RoleAdmin), "Told the ward; the patient was re-booked."); err != nil {
		t.Fatal(err)
	}
	got := inboxState(t, w, r.ID, "resolved")
	if got.ResolvedBy != wardtest.SeedUser(workflow.RoleAdmin).Name || got.ResolutionNote != "Told the ward; the patient was re-booked." {
		t.Fatalf("resolved: %+v", got.Review)
	}
	// The status's count follows the page that carried the resolution (it
	// is refreshed after the page is applied), so it may lag the inbox by
	// a moment.
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
		if st := w.e.Status(); st.Rejected != 0 {
			return fmt.Sprintf("still counted: %+v", st)
		}
		return ""
	})
	// Closing it again on the workstation is refused there, naming the
	// administrator's resolution; nothing is queued.
	_, err := w.e.CloseRejected(ctx, wardtest.UserID(nur), r.ID, "too")
	if rej, ok := workflow.AsRejection(err); !ok || rej.Code != workflow.CodeInvalidTransition {
		t.Fatalf("second close: %v", err)
	}
	if st := w.e.Status(); st.Pending != 0 {
		t.Fatalf("queued anyway: %+v", st)
	}
}

func TestReviewReissue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := newEnv(t, true)
	w, r := rejectedOnWard(t, env)
	// Adapted: the appointment is gone, so the nurse files her measures
	// as a document on the patient's record instead.
	again, err := w.e.Reissue(ctx, wardtest.UserID(nur), "document.attach", wardtest.MustJSON(map[string]any{
		"id": "0d0c0000-0000-4000-8000-000000000001", "patientId": postgres.SeedID("patient:2"), "name": "Constantes du matin", "type": "note", "url": "local://constantes"}), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := inboxState(t, w, r.ID, "reissuing"); got.ReissueID != again.ID {
		t.Fatalf("reissuing: %+v", got.Review)
	}
	got := inboxState(t, w, r.ID, "resolved")
	if want := fmt.Sprintf("ward-1/%d", again.Seq); got.ReissuedAs != want || got.ResolutionNote != "Re-issued as "+want+"." || got.ResolvedBy != wardtest.SeedUser(nur).Name {
		t.Fatalf("resolved: %+v", got.Review)
	}
	// The audit log links both ways.
	if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM sync.mutations WHERE device_id = 'ward-1' AND seq = $1 AND reissue_of = $2 AND outcome = 'applied'`, again.Seq, r.ID); n != 1 {
		t.Fatal("the re-issue does not point at the rejected act")
	}
	if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM sync.rejection_resolutions WHERE device_id = 'ward-1' AND seq = $1 AND kind = 'reissued' AND by_seq = $2`, r.Seq, again.Seq); n != 1 {
		t.Fatal("the rejected act does not point at its re-issue")
	}
}
