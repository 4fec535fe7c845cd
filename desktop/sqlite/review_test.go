package sqlite

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"wardsync/syncproto"
	"wardsync/workflow"
)

// rejectOne queues an act and records the server's rejection of it.
func rejectOne(t *testing.T, db *DB) RejectedAct {
	t.Helper()
	seq := mustAct(t, db, secretary, "appointment.checkIn", obj{"id": appt1ID}, t0)
	out, err := db.RecordResults(context.Background(), []syncproto.MutationResult{
		{Seq: seq, Status: syncproto.StatusRejected, Code: workflow.CodeInvalidTransition, Message: "Appointment is CANCELLED, not SCHEDULED."},
	}, t0.Add(time.Minute))
	must(t, err)
	if len(out.Rejected) != 1 {
		t.Fatalf("setup: %+v", out)
	}
	return out.Rejected[0]
}

func closeAct(db *DB, id, reason string, at time.Time) (int64, error) {
	return db.CloseRejected(context.Background(), CloseAct{ID: newID(), RejectedID: id, Reason: reason, Author: secretary, At: at})
}

func TestCloseRejectedQueuesABookkeepingAct(t *testing.T) {
	db := openTest(t)
	seed(t, db)
	ctx := context.Background()
	r := rejectOne(t, db)
	before := counts(t, db)
	seq, err := closeAct(db, r.ID, "Patient left; nothing to redo.", t0.Add(time.Hour))
	must(t, err)

	entries, err := db.Outbox(ctx, seq, 1)
	must(t, err)
	if len(entries) != 1 || entries[0].Name != workflow.CloseRejected || entries[0].Author.ID != secretaryID || !entries[0].OccurredAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("outbox %+v", entries)
	}
	var args workflow.CloseRejectedArgs
	must(t, json.Unmarshal(entries[0].Args, &args))
	if args.ID != r.ID || args.Reason != "Patient left; nothing to redo." {
		t.Fatalf("args %+v", args)
	}
	// Only the outbox grew: no replicated row moved, nothing was deleted.
	after := counts(t, db)
	for k, n := range before {
		if k != "outbox" && !strings.HasPrefix(k, "state:") && after[k] != n {
			t.Errorf("%s: %d → %d", k, n, after[k])
		}
	}
	if after["outbox"] != before["outbox"]+1 {
		t.Errorf("outbox %d → %d", before["outbox"], after["outbox"])
	}
	c, _ := db.Counts(ctx)
	if c.Rejected != 0 || c.Pending != 1 || c.LikelyRejected != 0 {
		t.Errorf("counts %+v", c)
	}
	// A pull rebases the replica: the bookkeeping act is not replayed, so
	// it is never flagged "will likely be rejected".
	must(t, db.ApplyChanges(ctx, page("f.1.1", 0, upsert(workflow.TableUsers, userRow(secretaryID, "Secrétaire Test", workflow.RoleSecretary))), t0))
	if entries, _ := db.Outbox(ctx, seq, 1); entries[0].Conflict != nil {
		t.Errorf("bookkeeping act flagged: %+v", entries[0].Conflict)
	}
}

func TestCloseRejectedRefusals(t *testing.T) {
	db := openTest(t)
	seed(t, db)
	r := rejectOne(t, db)
	emptyMsg := "The reason must not be empty. Say in a few words why this rejected act needs nothing more."
	for _, tc := range []struct {
		name, id, reason string
		code             workflow.Code
		message, field   string
	}{
		{"empty reason", r.ID, "", workflow.CodeValidationFailed, emptyMsg, "reason"},
		{"blank reason", r.ID, "   ", workflow.CodeValidationFailed, emptyMsg, "reason"},
		{"too long", r.ID, strings.Repeat("é", 2001), workflow.CodeValidationFailed,
			"The reason must be at most 2,000 characters long (got 2,001). Say in a few words why this rejected act needs nothing more.", "reason"},
		{"unknown act", "ffffffff-0000-4000-8000-00000000beef", "x", workflow.CodeNotFound,
			"Workstation this workstation has no act ffffffff-0000-4000-8000-00000000beef; only an act the server recorded as rejected can be resolved.", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := counts(t, db)
			_, err := closeAct(db, tc.id, tc.reason, t0)
			rej, ok := workflow.AsRejection(err)
			if !ok || rej.Code != tc.code || rej.Message != tc.message || rej.Field != tc.field {
				t.Fatalf("got %v", err)
			}
			if after := counts(t, db); len(after) != len(before) || after["outbox"] != before["outbox"] {
				t.Fatalf("written: %v → %v", before, after)
			}
		})
	}
	t.Run("twice", func(t *testing.T) {
		_, err := closeAct(db, r.ID, "first", t0.Add(time.Hour))
		must(t, err)
		_, err = closeAct(db, r.ID, "second", t0.Add(2*time.Hour))
		rej, ok := workflow.AsRejection(err)
		want := `Rejected act ` + itoa(r.Seq) + ` of workstation this workstation was already resolved by Secrétaire Test at 2026-01-05 10:00 UTC ("first"); a resolution is made once.`
		if !ok || rej.Code != workflow.CodeInvalidTransition || rej.Message != want {
			t.Fatalf("got %v", err)
		}
	})
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestCloseRefusedByTheServer(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		code      workflow.Code
		wantState string
	}{
		// an administrator resolved it first: open again until the pull
		// brings the administrator's resolution
		{"already resolved", workflow.CodeInvalidTransition, ReviewOpen},
		// the server never recorded the act: the close stands here
		{"unknown to the server", workflow.CodeNotFound, ReviewResolved},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := openTest(t)
			seed(t, db)
			r := rejectOne(t, db)
			seq, err := closeAct(db, r.ID, "done", t0.Add(time.Hour))
			must(t, err)
			out, err := db.RecordResults(ctx, []syncproto.MutationResult{{Seq: seq, Status: syncproto.StatusRejected, Code: tc.code, Message: "the server says no"}}, t0)
			must(t, err)
			if len(out.Rejected) != 0 {
				t.Fatalf("a refused close became a rejected act: %+v", out.Rejected)
			}
			got, err := db.RejectedByID(ctx, r.ID)
			must(t, err)
			if got.State != tc.wantState || got.CloseError != "the server says no" {
				t.Fatalf("%+v", got.Review)
			}
			if all, _ := db.Rejected(ctx, true); len(all) != 1 {
				t.Fatalf("rejected list %+v", all)
			}
		})
	}
}

func TestResolutionsFromThePull(t *testing.T) {
	db := openTest(t)
	seed(t, db)
	ctx := context.Background()
	r := rejectOne(t, db)
	other := rejectOne(t, db)
	p := page("f.1.1", 0)
	p.Resolutions = []syncproto.Resolution{
		{ID: r.ID, Seq: r.Seq, Kind: syncproto.ResolutionClosed, ResolvedAt: t0.Add(time.Hour), ResolvedBy: "Admin Test", Note: "told the ward"},
		{ID: "ffffffff-0000-4000-8000-00000000beef", Seq: 99, Kind: syncproto.ResolutionClosed, ResolvedAt: t0, ResolvedBy: "x", Note: "not here"},
	}
	must(t, db.ApplyChanges(ctx, p, t0))
	got, _ := db.RejectedByID(ctx, r.ID)
	if got.State != ReviewResolved || got.ResolvedBy != "Admin Test" || got.ResolutionNote != "told the ward" || !got.ResolvedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("%+v", got.Review)
	}
	open, _ := db.Rejected(ctx, false)
	if len(open) != 1 || open[0].ID != other.ID {
		t.Fatalf("open %+v", open)
	}
	// The first resolution stands.
	p2 := page("f.2.1", 0)
	p2.Resolutions = []syncproto.Resolution{{ID: r.ID, Seq: r.Seq, Kind: syncproto.ResolutionClosed, ResolvedAt: t0.Add(2 * time.Hour), ResolvedBy: "Someone", Note: "later"}}
	must(t, db.ApplyChanges(ctx, p2, t0))
	if got, _ := db.RejectedByID(ctx, r.ID); got.ResolvedBy != "Admin Test" {
		t.Fatalf("overwritten: %+v", got.Review)
	}
}

func TestReissueLinksAndReopensOnRejection(t *testing.T) {
	db := openTest(t)
	seed(t, db)
	ctx := context.Background()
	r := rejectOne(t, db)
	id := newID()
	seq, err := db.Act(ctx, NewAct{ID: id, Name: "appointment.cancel", Args: js(obj{"id": appt1ID}), OccurredAt: t0, Author: secretary, ReissueOf: r.ID})
	must(t, err)
	if e, _ := db.Outbox(ctx, seq, 1); e[0].ReissueOf != r.ID {
		t.Fatalf("outbox entry %+v", e[0])
	}
	if got, _ := db.RejectedByID(ctx, r.ID); got.State != ReviewReissuing || got.ReissueID != id {
		t.Fatalf("%+v", got.Review)
	}
	// A second copy of the same rejected act goes on as a plain act.
	seq2, err := db.Act(ctx, NewAct{ID: newID(), Name: "document.attach", Args: js(obj{"id": "dddddddd-0000-4000-8000-000000000001", "patientId": patient1ID, "name": "n", "type": "t", "url": "u"}),
		OccurredAt: t0, Author: secretary, ReissueOf: r.ID})
	must(t, err)
	if e, _ := db.Outbox(ctx, seq2, 1); e[0].ReissueOf != "" {
		t.Fatalf("linked twice: %+v", e[0])
	}
	// The re-issue is rejected too: the original is open again.
	_, err = db.RecordResults(ctx, []syncproto.MutationResult{{Seq: seq, Status: syncproto.StatusRejected, Code: workflow.CodeForbidden, Message: "no"}}, t0)
	must(t, err)
	if got, _ := db.RejectedByID(ctx, r.ID); got.State != ReviewOpen {
		t.Fatalf("%+v", got.Review)
	}
	if open, _ := db.Rejected(ctx, false); len(open) != 2 {
		t.Fatalf("open %+v", open)
	}
}
