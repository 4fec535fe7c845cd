package postgres

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"wardsync/syncproto"
	"wardsync/workflow"
)

// pullToEnd pages from cursor until more is false and returns the cursor.
func pullToEnd(t *testing.T, db *DB, device string, roles []workflow.Role, cursor string) string {
	t.Helper()
	for {
		ch, err := db.Pull(context.Background(), device, roles, cursor, 0)
		if err != nil {
			t.Fatalf("pull: %v", err)
		}
		cursor = ch.Cursor
		if !ch.More {
			return cursor
		}
	}
}

// deliverable waits until every change recorded so far lies below the
// horizon: the horizon is cluster-wide, so another database's open
// transaction may hold this one's last commit back for a moment, and two
// reads compared must both see it.
func deliverable(t *testing.T, db *DB) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var held bool
		if err := db.Pool.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM sync.changes WHERE xid >= pg_snapshot_xmin(pg_current_snapshot()))
			OR EXISTS (SELECT 1 FROM sync.deferred WHERE decided_xid >= pg_snapshot_xmin(pg_current_snapshot()))
			OR EXISTS (SELECT 1 FROM sync.rejection_resolutions WHERE xid >= pg_snapshot_xmin(pg_current_snapshot()))`).Scan(&held); err != nil {
			t.Fatal(err)
		}
		if !held {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("changes still above the horizon after 30 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSharedPagesMatchPull: the page one shared read gives each device is
// exactly what that device's own pull from the same cursor answers —
// changes (need to know: tables and columns of its roles), its last seq,
// its parked acts' outcomes and its resolutions, each only its own — for
// five devices in four visibility classes at once, on a page of many
// changes from several transactions (acts, an outcome decided later, a
// dashboard resolution, a foreign SQL transaction writing, inserting and
// deleting rows in several tables). A revoked device gets no page; a cursor
// the feed will not follow, or a range over one page, gives none; nothing
// new gives nil.
func TestSharedPagesMatchPull(t *testing.T) {
	t.Parallel()
	e := newDeferredEnv(t)
	ctx := context.Background()
	lab, err := e.db.AddDevice(ctx, "", "Lab", []workflow.Role{workflow.RoleBiologist})
	if err != nil {
		t.Fatal(err)
	}
	wardC, err := e.db.AddDevice(ctx, "", "Ward C", []workflow.Role{workflow.RoleNurse})
	if err != nil {
		t.Fatal(err)
	}
	gone, err := e.db.AddDevice(ctx, "", "Revoked", []workflow.Role{workflow.RoleNurse})
	if err != nil {
		t.Fatal(err)
	}
	devs := []PageDevice{
		{e.reception, []workflow.Role{workflow.RoleSecretary}},
		{e.ward, []workflow.Role{workflow.RoleNurse, workflow.RoleDoctor}},
		{e.wardB, []workflow.Role{workflow.RoleNurse}},
		{wardC.ID, []workflow.Role{workflow.RoleNurse}},
		{lab.ID, []workflow.Role{workflow.RoleBiologist}},
		{gone.ID, []workflow.Role{workflow.RoleNurse}},
	}
	from := pullToEnd(t, e.db, e.ward, devs[1].Roles, "")

	// The ward's vitals wait for the check-in (parked), its nurse's
	// check-in is refused and then resolved on the dashboard, reception
	// checks in (the parked act applies: an outcome), and a program writes
	// several tables in one transaction.
	mustDeferred(t, e.vitals(t, e.ward, e.nurseTok), e.appt)
	if r := e.push(t, e.ward, e.nurseTok, "appointment.checkIn", `{"id":"`+e.appt+`"}`); r.Status != syncproto.StatusRejected {
		t.Fatalf("the nurse's check-in: %+v", r)
	}
	admin := scalar[string](t, e.pool, `SELECT id FROM users WHERE role = 'ADMIN' LIMIT 1`)
	if err := e.db.ResolveRejection(ctx, e.ward, 2, admin, "Reception checks patients in."); err != nil {
		t.Fatal(err)
	}
	e.now = e.now.Add(time.Minute)
	if r := e.push(t, e.reception, e.secTok, "appointment.checkIn", `{"id":"`+e.appt+`"}`); r.Status != syncproto.StatusApplied {
		t.Fatalf("check-in: %+v", r)
	}
	dropped := uuid.NewString()
	tx, err := e.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO patients (id, "firstName", "lastName", "birthDate", "updatedAt") VALUES ('` + uuid.NewString() + `', 'Sql', 'Shared', '1970-01-01', now())`,
		`UPDATE patients SET phone = '0102030405', "updatedAt" = now() WHERE id IN (SELECT id FROM patients ORDER BY id LIMIT 2)`,
		`UPDATE appointments SET motif = 'shared page', "updatedAt" = now() WHERE id IN (SELECT id FROM appointments ORDER BY id LIMIT 3)`,
		`UPDATE results SET "updatedAt" = now() WHERE id IN (SELECT id FROM results ORDER BY id LIMIT 2)`,
		`INSERT INTO patients (id, "firstName", "lastName", "birthDate", "updatedAt") VALUES ('` + dropped + `', 'Sql', 'Dropped', '1970-01-01', now())`,
		`DELETE FROM patients WHERE id = '` + dropped + `'`,
	} {
		if _, err := tx.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.db.RevokeDevice(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	deliverable(t, e.db)

	pages, err := e.db.SharedPages(ctx, from, devs)
	if err != nil {
		t.Fatalf("shared pages: %v", err)
	}
	tables := map[string]map[string]bool{}
	for _, d := range devs {
		got, ok := pages[d.ID]
		want, err := e.db.Pull(ctx, d.ID, d.Roles, from, 0)
		if d.ID == gone.ID {
			if ok {
				t.Fatalf("the revoked device got a page: %+v", got)
			}
			if r, isRej := workflow.AsRejection(err); !isRej || r.Code != workflow.CodeUnauthenticated ||
				r.Message != "This workstation was revoked; it can no longer synchronise." {
				t.Fatalf("the revoked device's pull: %v", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("pull of %s: %v", d.ID, err)
		}
		if !ok {
			t.Fatalf("device %v got no shared page", d.Roles)
		}
		if got.From != from || got.RequestID != "" || got.More || want.More {
			t.Fatalf("device %v: from %q requestId %q more %v (pull more %v)", d.Roles, got.From, got.RequestID, got.More, want.More)
		}
		// Both reads saw every change; the cursors' horizons may differ
		// (other databases of the cluster move it), the contents not.
		if !reflect.DeepEqual(got.Changes, want.Changes) || got.LastMutationSeq != want.LastMutationSeq ||
			!reflect.DeepEqual(got.Resolutions, want.Resolutions) || !reflect.DeepEqual(got.Outcomes, want.Outcomes) {
			t.Fatalf("device %v: shared page differs from its pull\nshared: %+v\npull:   %+v", d.Roles, got, want)
		}
		if _, err := syncproto.Encode(got); err != nil {
			t.Fatalf("device %v: the shared page does not encode: %v", d.Roles, err)
		}
		seen := map[string]bool{}
		for _, c := range got.Changes {
			seen[c.Table] = true
		}
		tables[d.ID] = seen
	}
	// The page is the many-change one the test means, per class.
	if n := len(pages[e.ward].Changes); n < 6 {
		t.Fatalf("the ward's page holds %d changes, want several", n)
	}
	if !tables[e.ward]["appointments"] || !tables[e.ward]["patients"] || !tables[e.ward]["results"] {
		t.Fatalf("the ward's page covers tables %v", tables[e.ward])
	}
	if !slices.ContainsFunc(pages[e.ward].Changes, func(c syncproto.Change) bool { return c.Op == syncproto.OpDelete && c.ID == dropped }) {
		t.Fatalf("the ward's page lacks the delete of %s", dropped)
	}
	if tables[lab.ID]["appointments"] || !tables[lab.ID]["results"] {
		t.Fatalf("the lab's page covers tables %v: need to know", tables[lab.ID])
	}
	// Outcomes and resolutions: the author's, once, nobody else's.
	w := pages[e.ward]
	if len(w.Outcomes) != 1 || w.Outcomes[0].Seq != 1 || w.Outcomes[0].Status != syncproto.StatusApplied ||
		len(w.Resolutions) != 1 || w.Resolutions[0].Seq != 2 || w.Resolutions[0].Note != "Reception checks patients in." || w.LastMutationSeq != 2 {
		t.Fatalf("the ward's own members: outcomes %+v resolutions %+v last seq %d", w.Outcomes, w.Resolutions, w.LastMutationSeq)
	}
	for _, d := range []string{e.reception, e.wardB, wardC.ID, lab.ID} {
		if p := pages[d]; len(p.Outcomes) != 0 || len(p.Resolutions) != 0 {
			t.Fatalf("device %s got another's outcomes %+v or resolutions %+v", d, p.Outcomes, p.Resolutions)
		}
	}
	if pages[e.reception].LastMutationSeq != 1 {
		t.Fatalf("reception's last seq %d, want 1", pages[e.reception].LastMutationSeq)
	}
	// Two devices of one class with nothing of their own share one page
	// (encoded once); a device of another class does not.
	if pages[e.wardB] != pages[wardC.ID] || pages[e.wardB] == pages[e.ward] {
		t.Fatal("pages of one visibility class are not shared, or shared across classes")
	}

	// Nothing new after the page's cursor: nil, the devices are at the head.
	at := pages[e.ward].Cursor
	if again, err := e.db.SharedPages(ctx, at, devs[:5]); err != nil || again != nil {
		t.Fatalf("nothing new: %v %v", again, err)
	}
	// More than one page after the cursor: every device pulls.
	e.db.Config.PullLimit = 2
	if big, err := e.db.SharedPages(ctx, from, devs[:5]); err != nil || big == nil || len(big) != 0 {
		t.Fatalf("over one page: %v %v", big, err)
	}
	e.db.Config.PullLimit = DefaultConfig().PullLimit
	// A cursor of another feed (tag), or not a feed cursor: every device pulls.
	other := at[:strings.LastIndex(at, ".")+1] + "00000000"
	for _, c := range []string{other, "", "s.1.0.0.0.x"} {
		if res, err := e.db.SharedPages(ctx, c, devs[:5]); err != nil || res == nil || len(res) != 0 {
			t.Fatalf("cursor %q: %v %v", c, res, err)
		}
	}
}
