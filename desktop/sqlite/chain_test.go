package sqlite

import (
	"context"
	"strings"
	"testing"
	"time"

	"wardsync/syncproto"
	"wardsync/workflow"
)

const chainDevice = "dev-chain"

// TestActsAreChained: every queued act links to the one before, from the
// device's genesis; acts queued before the replica knew its device are
// chained when it is bound, in seq order.
func TestActsAreChained(t *testing.T) {
	db := openTest(t)
	seed(t, db)
	ctx := context.Background()
	mustAct(t, db, secretary, "appointment.cancel", obj{"id": appt1ID}, t0) // before Bind: no device yet
	if _, err := db.Bind(ctx, chainDevice, "http://server"); err != nil {
		t.Fatal(err)
	}
	mustAct(t, db, secretary, "appointment.cancel", obj{"id": appt2ID}, t0.Add(time.Minute))
	entries, err := db.Outbox(ctx, 1, 0)
	must(t, err)
	head := syncproto.Genesis(chainDevice)
	for _, e := range entries {
		want, err := syncproto.ChainHash(head, e.content(chainDevice))
		must(t, err)
		if e.PrevHash != head || e.Hash != want {
			t.Fatalf("act %d: prev %s hash %s, want prev %s hash %s", e.Seq, e.PrevHash, e.Hash, head, want)
		}
		head = e.Hash
	}
	if rej, err := db.VerifyChain(ctx); rej != nil || err != nil {
		t.Fatalf("intact chain: %v %v", rej, err)
	}
}

// TestVerifyChainFindsEdits: each way of editing the file behind the app's
// back is named with its seq.
func TestVerifyChainFindsEdits(t *testing.T) {
	cases := []struct {
		name, sql, want string
	}{
		{"args edited", `UPDATE outbox SET args = replace(args, ?, 'x') WHERE seq = 2`,
			"Act 2's content does not match its hash (modified after it was written); the server will refuse it."},
		{"author edited", `UPDATE outbox SET authorId = 'someone' WHERE seq = 1 AND ? <> ''`,
			"Act 1's content does not match its hash (modified after it was written); the server will refuse it."},
		{"middle act deleted", `DELETE FROM outbox WHERE seq = 2 AND ? <> ''`,
			"Act 2 is missing from this workstation's queue (deleted outside the app); the acts after it will be refused."},
		{"last act deleted", `DELETE FROM outbox WHERE seq = 3 AND ? <> ''`,
			"Act 3 is missing from this workstation's queue (deleted outside the app)."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db := openTest(t)
			seed(t, db)
			ctx := context.Background()
			_, err := db.Bind(ctx, chainDevice, "")
			must(t, err)
			mustAct(t, db, secretary, "appointment.cancel", obj{"id": appt1ID}, t0)
			mustAct(t, db, secretary, "appointment.cancel", obj{"id": appt2ID}, t0)
			mustAct(t, db, secretary, "appointment.cancel", obj{"id": appt3ID}, t0)
			if _, err := db.SQL().Exec(c.sql, appt2ID); err != nil {
				t.Fatal(err)
			}
			rej, err := db.VerifyChain(ctx)
			if err != nil || rej == nil || rej.Code != workflow.CodeChainBroken || rej.Message != c.want {
				t.Fatalf("VerifyChain = %v %v, want %q", rej, err, c.want)
			}
		})
	}
}

// TestCloseQueueHoles: acts after a deleted one move down; the first keeps
// its link to the deleted act (so the server refuses it), the rest are
// re-hashed and link on; an edited act is not re-hashed (never laundered).
func TestCloseQueueHoles(t *testing.T) {
	db := openTest(t)
	seed(t, db)
	ctx := context.Background()
	_, err := db.Bind(ctx, chainDevice, "")
	must(t, err)
	for _, id := range []string{appt1ID, appt2ID, appt3ID} {
		mustAct(t, db, secretary, "appointment.cancel", obj{"id": id}, t0)
	}
	mustAct(t, db, secretary, "patient.update", obj{"id": patient1ID, "phone": "1"}, t0)
	before, err := db.Outbox(ctx, 1, 0)
	must(t, err)
	if _, err := db.SQL().Exec(`DELETE FROM outbox WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL().Exec(`UPDATE outbox SET args = replace(args, '"1"', '"2"') WHERE seq = 4`); err != nil {
		t.Fatal(err)
	}
	n, err := db.CloseQueueHoles(ctx)
	if err != nil || n != 2 {
		t.Fatalf("moved %d (%v), want 2", n, err)
	}
	after, err := db.Outbox(ctx, 1, 0)
	must(t, err)
	if len(after) != 3 || after[1].Seq != 2 || after[2].Seq != 3 {
		t.Fatalf("outbox after: %+v", after)
	}
	if after[1].PrevHash != before[1].Hash {
		t.Errorf("the act after the hole no longer names the deleted act")
	}
	if syncproto.ChainCheck(after[1].PrevHash, after[1].content(chainDevice), after[1].PrevHash, after[1].Hash) != "" {
		t.Errorf("the moved act was not re-hashed for its new seq")
	}
	if syncproto.ChainCheck(after[1].Hash, after[2].content(chainDevice), after[2].PrevHash, after[2].Hash) != syncproto.ChainBrokenContent {
		t.Errorf("the edited act was laundered")
	}
	st, err := db.State(ctx)
	if err != nil || st.LastSeq != 3 {
		t.Fatalf("lastSeq %d %v", st.LastSeq, err)
	}
	rej, _ := db.VerifyChain(ctx)
	if rej == nil || rej.Message != "Act 2 does not follow act 1 (an act was removed or reordered); the server will refuse it." {
		t.Errorf("after closing: %v", rej)
	}
}

// TestCatchUpSeqRechains: renumbered acts are re-chained after the server's
// head, and the acknowledged hash follows the server's results.
func TestCatchUpSeqRechains(t *testing.T) {
	db := openTest(t)
	seed(t, db)
	ctx := context.Background()
	_, err := db.Bind(ctx, chainDevice, "")
	must(t, err)
	mustAct(t, db, secretary, "appointment.cancel", obj{"id": appt1ID}, t0)
	serverHead := strings.Repeat("ab", 32)
	if changed, err := db.CatchUpSeq(ctx, 7, serverHead); err != nil || !changed {
		t.Fatalf("CatchUpSeq: %v %v", changed, err)
	}
	e, err := db.Outbox(ctx, 1, 0)
	must(t, err)
	if len(e) != 1 || e[0].Seq != 8 || e[0].PrevHash != serverHead {
		t.Fatalf("renumbered %+v", e)
	}
	if rej, err := db.VerifyChain(ctx); rej != nil || err != nil {
		t.Fatalf("after renumbering: %v %v", rej, err)
	}
	if _, err := db.RecordResults(ctx, []syncproto.MutationResult{{Seq: 8, Status: syncproto.StatusApplied}}, t0); err != nil {
		t.Fatal(err)
	}
	mustAct(t, db, secretary, "appointment.cancel", obj{"id": appt2ID}, t0)
	if rej, err := db.VerifyChain(ctx); rej != nil || err != nil {
		t.Fatalf("after an outcome and a new act: %v %v", rej, err)
	}
}

// TestTimelineShowsQueuedProvenance: an act still in the outbox appears on
// its row's timeline entry with its clinical time, author, workstation and
// "not yet sent"; an applied one says so.
func TestTimelineShowsQueuedProvenance(t *testing.T) {
	db := openTest(t)
	seed(t, db)
	ctx := context.Background()
	_, err := db.Bind(ctx, chainDevice, "")
	must(t, err)
	at := t0.Add(3 * time.Minute)
	mustAct(t, db, secretary, "appointment.cancel", obj{"id": appt3ID}, at)
	tl, err := db.PatientTimeline(ctx, patient3ID)
	must(t, err)
	var got []ActProvenance
	for _, e := range tl.Entries {
		if e.Appointment != nil && e.Appointment.ID == appt3ID {
			got = e.Acts
		} else if len(e.Acts) != 0 {
			t.Errorf("entry %s has acts %+v", e.Kind, e.Acts)
		}
	}
	if len(got) != 1 {
		t.Fatalf("acts on the appointment: %+v", got)
	}
	p := got[0]
	if p.Name != "appointment.cancel" || !p.OccurredAt.Equal(at) || p.ReceivedAt != nil || p.AuthorName != "Secrétaire Test" ||
		p.AuthorRole != workflow.RoleSecretary || p.DeviceID != chainDevice || p.State != "not yet sent" || len(p.HashPrefix) != 10 {
		t.Fatalf("provenance %+v", p)
	}
	if _, err := db.RecordResults(ctx, []syncproto.MutationResult{{Seq: p.Seq, Status: syncproto.StatusApplied}}, t0); err != nil {
		t.Fatal(err)
	}
	tl, err = db.PatientTimeline(ctx, patient3ID)
	must(t, err)
	for _, e := range tl.Entries {
		if e.Appointment != nil && e.Appointment.ID == appt3ID && (len(e.Acts) != 1 || e.Acts[0].State != "applied") {
			t.Fatalf("after the server applied it: %+v", e.Acts)
		}
	}
}
