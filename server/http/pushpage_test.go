package http_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"wardsync/internal/wardtest"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// pushedFrames counts the pushed changes frames c received.
func pushedFrames(c *wardtest.Client) int {
	n := 0
	for _, b := range c.RawFrames() {
		if strings.Contains(string(b), `"type":"changes"`) && strings.Contains(string(b), `"from":`) {
			n++
		}
	}
	return n
}

type pageFixture struct {
	env                        *wardtest.Server
	ward, reception, lab       string
	nurseTok, secTok           string
	wardAuthor, receptionAuthr *wardtest.Client
	followers                  map[string]*wardtest.Follower
	roles                      map[string][]workflow.Role // of each follower's device
}

// newPageFixture: five workstations that take pushed pages, in four
// visibility classes (ward: nurse and doctor; reception: secretary; lab:
// biologist; two nurse-only wards), each followed from the head by a login
// of its first role; the ward and reception also act on connections of
// their own.
func newPageFixture(t *testing.T, racing bool) *pageFixture {
	e := wardtest.StartServer(t, wardtest.Options{})
	f := &pageFixture{env: e, followers: map[string]*wardtest.Follower{}, roles: map[string][]workflow.Role{}}
	follow := func(name string, roles ...workflow.Role) (id, tok string) {
		id = e.AddDevice(t, name, roles...)
		tok = e.Login(t, roles[0], id)
		c := e.Dial(t, tok, id)
		c.Say(t, syncproto.Hello{Pages: true})
		var selfPull time.Duration
		if racing && roles[0] == workflow.RoleBiologist {
			selfPull = 7 * time.Millisecond
		}
		f.followers[id], f.roles[id] = wardtest.Follow(t, c, selfPull), roles
		return id, tok
	}
	f.ward, f.nurseTok = follow("Ward A", workflow.RoleNurse, workflow.RoleDoctor)
	f.reception, f.secTok = follow("Reception", workflow.RoleSecretary)
	f.lab, _ = follow("Lab", workflow.RoleBiologist)
	follow("Ward B", workflow.RoleNurse)
	follow("Ward C", workflow.RoleNurse)
	f.wardAuthor, f.receptionAuthr = e.Connect(t, f.nurseTok, f.ward), e.Connect(t, f.secTok, f.reception)
	return f
}

// TestPushedPagesExact: after each commit, every workstation at the head
// gets the new page pushed, in one shared read, and never pulls or is
// poked: a multi-change page from a foreign SQL transaction (inserts,
// updates and a delete in several tables), a parked act's outcome decided
// later, a rejected act resolved on the dashboard. Each replica equals what
// PostgreSQL holds for its own roles (need to know, four classes at once),
// the ward receives its outcome and its resolution exactly once, and no
// other workstation receives them. A workstation that does not take pages
// is poked and pulls as before; one still paging through its snapshot is
// poked, not pushed a page.
func TestPushedPagesExact(t *testing.T) {
	t.Parallel()
	f := newPageFixture(t, false)
	e := f.env
	ctx := context.Background()
	oldTok := e.Login(t, workflow.RoleNurse, demo)
	old := e.Dial(t, oldTok, demo)
	oldRoles := old.Hello(t, "").Roles // without pages
	oldRep := wardtest.NewReplica()
	old.PullAll(t, oldRep, 0)
	behindID := e.AddDevice(t, "Behind", workflow.RoleDoctor)
	behind := e.Dial(t, e.Login(t, workflow.RoleDoctor, behindID), behindID)
	behind.Say(t, syncproto.Hello{Pages: true})
	if ch := behind.Pull(t, "", 1); !ch.More {
		t.Fatal("setup: the snapshot fits one change")
	}
	old.DrainPokes()
	behind.DrainPokes()

	appt := seedID("a:scheduled")
	now := ms(time.Now())
	if r := f.wardAuthor.Push(t, f.wardAuthor.Mut("appointment.recordVitals", map[string]any{"id": appt, "vitals": vitalsArg}, f.nurseTok, now))[0]; r.Status != syncproto.StatusDeferred {
		t.Fatalf("vitals before check-in: %+v", r)
	}
	rejected := f.wardAuthor.Mut("appointment.checkIn", map[string]any{"id": appt}, f.nurseTok, now)
	if r := f.wardAuthor.Push(t, rejected)[0]; r.Status != syncproto.StatusRejected || r.Code != workflow.CodeForbidden {
		t.Fatalf("the nurse's check-in: %+v", r)
	}
	admin := wardtest.LoginAs(t, e.URL(), "admin@hospital.com", "admin123", "")
	if st, body := wardtest.PostJSON(t, fmt.Sprintf("%s/api/v1/admin/rejected/%s/%d/resolve", e.URL(), f.ward, rejected.Seq), admin,
		map[string]any{"note": "Reception checks patients in."}); st != 200 {
		t.Fatalf("resolve: %d %v", st, body)
	}
	if r := f.receptionAuthr.Push(t, f.receptionAuthr.Mut("appointment.checkIn", map[string]any{"id": appt}, f.secTok, now))[0]; r.Status != syncproto.StatusApplied {
		t.Fatalf("check-in: %+v", r)
	}
	tx, err := e.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO patients (id, "firstName", "lastName", "birthDate", "updatedAt") VALUES (gen_random_uuid(), 'Sql', 'Pushed', '1970-01-01', now())`,
		`UPDATE patients SET phone = '0102030405', "updatedAt" = now() WHERE id IN (SELECT id FROM patients ORDER BY id LIMIT 2)`,
		`UPDATE appointments SET motif = 'pushed page', "updatedAt" = now() WHERE id IN (SELECT id FROM appointments ORDER BY id LIMIT 3)`,
		`UPDATE results SET "updatedAt" = now() WHERE id IN (SELECT id FROM results ORDER BY id LIMIT 2)`,
		`DELETE FROM patients WHERE id = (SELECT id FROM patients WHERE "lastName" = 'Pushed')`,
	} {
		if _, err := tx.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	for id, fl := range f.followers {
		fl.Converges(t, e.Pool, f.roles[id], wardtest.WaitTimeout)
	}
	// Exactly once, and only the author's.
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
		w := f.followers[f.ward]
		w.Lock()
		defer w.Unlock()
		if len(w.Outcomes) < 1 || len(w.Resolutions) < 1 {
			return fmt.Sprintf("the ward has outcomes %+v, resolutions %+v", w.Outcomes, w.Resolutions)
		}
		return ""
	})
	time.Sleep(200 * time.Millisecond) // a repeat would have come by now
	w := f.followers[f.ward]
	w.Lock()
	if len(w.Outcomes) != 1 || w.Outcomes[0].Seq != 1 || w.Outcomes[0].Status != syncproto.StatusApplied ||
		len(w.Resolutions) != 1 || w.Resolutions[0].ID != rejected.ID || w.Resolutions[0].Note != "Reception checks patients in." ||
		w.Replica.LastSeq != 2 {
		t.Fatalf("the ward: outcomes %+v, resolutions %+v, last seq %d", w.Outcomes, w.Resolutions, w.Replica.LastSeq)
	}
	w.Unlock()
	for id, fl := range f.followers {
		pushed, skipped, pulls, pokes := fl.Counts()
		if pushed == 0 || skipped != 0 || pulls != 0 || pokes != 0 {
			t.Errorf("device %v: %d pages pushed, %d skipped, %d pulls, %d pokes; want pages only", f.roles[id], pushed, skipped, pulls, pokes)
		}
		fl.Lock()
		if id != f.ward && (len(fl.Outcomes) != 0 || len(fl.Resolutions) != 0) {
			t.Errorf("device %v received another's outcomes %+v or resolutions %+v", f.roles[id], fl.Outcomes, fl.Resolutions)
		}
		fl.Unlock()
	}
	// The workstation that does not take pages, and the one still paging.
	if !old.WaitPoke(wardtest.WaitTimeout) || !behind.WaitPoke(wardtest.WaitTimeout) {
		t.Fatal("a workstation that must pull was not poked")
	}
	if n := pushedFrames(old) + pushedFrames(behind); n != 0 {
		t.Fatalf("%d pages pushed to workstations that must pull", n)
	}
	old.PullAll(t, oldRep, 0)
	if d := wardtest.Diff(wardtest.ReplicaState(t, oldRep.Rows, nil), wardtest.PGState(t, e.Pool, oldRoles)); d != "" {
		t.Fatalf("the pulling workstation: %s", d)
	}
}

// TestPushedPagesUnderLoad: while a program writes multi-row transactions
// and workstations act, as fast as they can, every workstation that takes
// pages converges to exactly what its roles may read; most changes reach
// them pushed. The lab also pulls on its own every few milliseconds, so its
// pulls race the pushes: a pushed page that arrives while it pulls, or
// that no longer starts at its cursor, is never applied (it pulls
// instead), and its replica still ends exact.
func TestPushedPagesUnderLoad(t *testing.T) {
	t.Parallel()
	f := newPageFixture(t, true)
	e := f.env
	ctx := context.Background()
	var known []string
	rows, err := e.Pool.Query(ctx, `SELECT id FROM patients`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		_ = rows.Scan(&id)
		known = append(known, id)
	}
	rows.Close()
	r := rand.New(rand.NewPCG(testSeed(t), 17))
	deadline := time.Now().Add(3 * time.Second)
	writes := 0
	for time.Now().Before(deadline) {
		if err := sqlWriter(ctx, e.Pool, r, known); err == nil {
			writes++
		}
		if r.IntN(3) == 0 {
			f.receptionAuthr.Act(t, "patient.register", map[string]any{"id": uuid.NewString(), "firstName": "Load", "lastName": fmt.Sprint(r.Int()), "birthDate": "1980-01-02T00:00:00Z"}, f.secTok, ms(time.Now()))
		}
	}
	for id, fl := range f.followers {
		fl.Converges(t, e.Pool, f.roles[id], wardtest.WaitTimeout)
	}
	total := 0
	for id, fl := range f.followers {
		pushed, skipped, pulls, pokes := fl.Counts()
		t.Logf("device %v: %d pages pushed, %d skipped, %d pulls, %d pokes (%d SQL transactions)", f.roles[id], pushed, skipped, pulls, pokes, writes)
		total += pushed
	}
	if total == 0 {
		t.Fatal("no page was pushed")
	}
	if _, skipped, pulls, _ := f.followers[f.lab].Counts(); pulls == 0 {
		t.Fatalf("the lab never pulled on its own (%d pushed pages skipped)", skipped)
	}
}

// TestPushedPagesFallBack: when the shared read fails, the workstations at
// the head are poked and pull instead; once it works again, pages are
// pushed again.
func TestPushedPagesFallBack(t *testing.T) {
	t.Parallel()
	f := newPageFixture(t, false)
	e := f.env
	ctx := context.Background()
	lab := f.followers[f.lab]
	// A lock on a table the shared read reads makes it wait past its
	// timeout and fail (a pull waits for the lock too, and goes on once
	// it is released).
	conn, err := e.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE sync.rejection_resolutions IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Pool.Exec(ctx, `UPDATE results SET "updatedAt" = now() WHERE id = (SELECT id FROM results ORDER BY id LIMIT 1)`); err != nil {
		t.Fatal(err)
	}
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
		if _, _, _, pokes := lab.Counts(); pokes == 0 {
			return "the lab was not poked after the shared read failed"
		}
		return ""
	})
	_ = tx.Rollback(ctx)
	lab.Converges(t, e.Pool, f.roles[f.lab], wardtest.WaitTimeout)
	pushedBefore, _, _, _ := lab.Counts()
	if _, err := e.Pool.Exec(ctx, `UPDATE results SET "updatedAt" = now() WHERE id = (SELECT id FROM results ORDER BY id LIMIT 1)`); err != nil {
		t.Fatal(err)
	}
	lab.Converges(t, e.Pool, f.roles[f.lab], wardtest.WaitTimeout)
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
		if pushed, _, _, _ := lab.Counts(); pushed == pushedBefore {
			return "no page pushed once the shared read works again"
		}
		return ""
	})
}
