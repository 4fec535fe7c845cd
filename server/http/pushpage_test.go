package http_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"wardsync/internal/wardtest"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// pageFollower keeps a replica the way a workstation that takes pushed
// pages does (desktop/sync.go): a pushed page whose from is its cursor is
// applied as it is; any other pushed page, and a poke, make it pull to the
// end. One goroutine owns the connection's frames.
type pageFollower struct {
	c     *wardtest.Client
	roles []workflow.Role

	mu          sync.Mutex
	rep         *wardtest.Replica
	pushed      int // pushed pages applied
	skipped     int // pushed pages not applied: not from its cursor, or while it pulled
	pulls       int
	pokes       int
	outcomes    []syncproto.Outcome
	resolutions []syncproto.Resolution
	err         error
	stop        chan struct{}
	done        chan struct{}
	// selfPull, when set, makes it also pull on its own this often, so
	// that its pulls race the server's pushes.
	selfPull time.Duration
}

// helloPages says hello taking pushed pages (hello.pages).
func helloPages(t testing.TB, c *wardtest.Client) {
	t.Helper()
	id := c.NextID("hello")
	c.SendFrame(t, &syncproto.Hello{RequestID: id, Protocol: syncproto.Version, DeviceID: c.Device, LastMutationSeq: c.Seq, Pages: true})
	if _, ok := c.WaitFor(t, id).F.(*syncproto.Welcome); !ok {
		t.Fatal("hello with pages not welcomed")
	}
}

// followPages pulls c to the head and follows it from there.
func followPages(t *testing.T, c *wardtest.Client, roles []workflow.Role, selfPull time.Duration) *pageFollower {
	t.Helper()
	f := &pageFollower{c: c, roles: roles, rep: wardtest.NewReplica(), stop: make(chan struct{}), done: make(chan struct{}), selfPull: selfPull}
	c.PullAll(t, f.rep, 0)
	c.DrainPokes()
	go f.loop()
	t.Cleanup(f.close)
	return f
}

func (f *pageFollower) close() {
	select {
	case <-f.stop:
	default:
		close(f.stop)
	}
	<-f.done
}

func (f *pageFollower) fail(err error) {
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.mu.Unlock()
}

func (f *pageFollower) apply(ch *syncproto.Changes) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rep.Apply(ch)
	f.outcomes = append(f.outcomes, ch.Outcomes...)
	f.resolutions = append(f.resolutions, ch.Resolutions...)
}

func (f *pageFollower) loop() {
	defer close(f.done)
	pulling, again, n := false, false, 0
	pull := func() {
		n++
		f.mu.Lock()
		cur := f.rep.Cursor
		f.pulls++
		f.mu.Unlock()
		b, err := syncproto.Encode(&syncproto.Pull{RequestID: fmt.Sprintf("fp-%d", n), Cursor: cur})
		if err == nil {
			err = f.c.Write(b)
		}
		if err != nil {
			f.fail(err)
		}
		pulling = true
	}
	var tick <-chan time.Time
	if f.selfPull > 0 {
		t := time.NewTicker(f.selfPull)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-tick:
			if !pulling {
				pull()
			}
		case <-f.stop:
			return
		case <-f.c.Closed():
			f.fail(fmt.Errorf("connection closed: %v", f.c.CloseError()))
			return
		case <-f.c.Pokes:
			f.mu.Lock()
			f.pokes++
			f.mu.Unlock()
			if pulling {
				again = true
			} else {
				pull()
			}
		case r := <-f.c.Frames:
			ch, ok := r.F.(*syncproto.Changes)
			if !ok {
				f.fail(fmt.Errorf("unexpected frame %s", wardtest.Clip(r.Raw)))
				return
			}
			if ch.From != "" { // pushed
				f.mu.Lock()
				at := f.rep.Cursor
				f.mu.Unlock()
				switch {
				case pulling:
					f.mu.Lock()
					f.skipped++
					f.mu.Unlock()
					again = true
				case ch.From == at:
					f.apply(ch)
					f.mu.Lock()
					f.pushed++
					f.mu.Unlock()
					if ch.More {
						pull()
					}
				default:
					f.mu.Lock()
					f.skipped++
					f.mu.Unlock()
					pull()
				}
				continue
			}
			f.apply(ch)
			switch {
			case ch.More || again:
				again = false
				pull()
			default:
				pulling = false
			}
		}
	}
}

// converges waits until the replica holds what PostgreSQL holds for its roles.
func (f *pageFollower) converges(t *testing.T, e *wardtest.Server) {
	t.Helper()
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
		f.mu.Lock()
		got, err := wardtest.ReplicaState(t, f.rep.Rows, nil), f.err
		f.mu.Unlock()
		if err != nil {
			t.Fatalf("follower %v: %v", f.roles, err)
		}
		if d := wardtest.Diff(got, wardtest.PGState(t, e.Pool, f.roles)); d != "" {
			return fmt.Sprintf("device %v: %s", f.roles, d)
		}
		return ""
	})
}

func (f *pageFollower) counts() (pushed, skipped, pulls, pokes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pushed, f.skipped, f.pulls, f.pokes
}

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
	followers                  map[string]*pageFollower
}

// newPageFixture: five workstations that take pushed pages, in four
// visibility classes (ward: nurse and doctor; reception: secretary; lab:
// biologist; two nurse-only wards), each followed from the head; the ward
// and reception also act on connections of their own.
func newPageFixture(t *testing.T, racing bool) *pageFixture {
	e := wardtest.StartServer(t, wardtest.Options{})
	f := &pageFixture{env: e, followers: map[string]*pageFollower{}}
	nurseRoles := []workflow.Role{workflow.RoleNurse}
	for _, d := range []struct {
		name  string
		id    *string
		roles []workflow.Role
		login workflow.Role
	}{
		{"Ward A", &f.ward, []workflow.Role{workflow.RoleNurse, workflow.RoleDoctor}, workflow.RoleNurse},
		{"Reception", &f.reception, []workflow.Role{workflow.RoleSecretary}, workflow.RoleSecretary},
		{"Lab", &f.lab, []workflow.Role{workflow.RoleBiologist}, workflow.RoleBiologist},
		{"Ward B", new(string), nurseRoles, workflow.RoleNurse},
		{"Ward C", new(string), nurseRoles, workflow.RoleNurse},
	} {
		*d.id = e.AddDevice(t, d.name, d.roles...)
		tok := e.Login(t, d.login, *d.id)
		switch *d.id {
		case f.ward:
			f.nurseTok = tok
			f.wardAuthor = e.Connect(t, tok, f.ward)
		case f.reception:
			f.secTok = tok
			f.receptionAuthr = e.Connect(t, tok, f.reception)
		}
		c := e.Dial(t, tok, *d.id)
		helloPages(t, c)
		var selfPull time.Duration
		if racing && *d.id == f.lab {
			selfPull = 7 * time.Millisecond
		}
		f.followers[*d.id] = followPages(t, c, d.roles, selfPull)
	}
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
	helloPages(t, behind)
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

	for _, fl := range f.followers {
		fl.converges(t, e)
	}
	// Exactly once, and only the author's.
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
		w := f.followers[f.ward]
		w.mu.Lock()
		defer w.mu.Unlock()
		if len(w.outcomes) < 1 || len(w.resolutions) < 1 {
			return fmt.Sprintf("the ward has outcomes %+v, resolutions %+v", w.outcomes, w.resolutions)
		}
		return ""
	})
	time.Sleep(200 * time.Millisecond) // a repeat would have come by now
	w := f.followers[f.ward]
	w.mu.Lock()
	if len(w.outcomes) != 1 || w.outcomes[0].Seq != 1 || w.outcomes[0].Status != syncproto.StatusApplied ||
		len(w.resolutions) != 1 || w.resolutions[0].ID != rejected.ID || w.resolutions[0].Note != "Reception checks patients in." ||
		w.rep.LastSeq != 2 {
		t.Fatalf("the ward: outcomes %+v, resolutions %+v, last seq %d", w.outcomes, w.resolutions, w.rep.LastSeq)
	}
	w.mu.Unlock()
	for id, fl := range f.followers {
		pushed, skipped, pulls, pokes := fl.counts()
		if pushed == 0 || skipped != 0 || pulls != 0 || pokes != 0 {
			t.Errorf("device %v: %d pages pushed, %d skipped, %d pulls, %d pokes; want pages only", fl.roles, pushed, skipped, pulls, pokes)
		}
		fl.mu.Lock()
		if id != f.ward && (len(fl.outcomes) != 0 || len(fl.resolutions) != 0) {
			t.Errorf("device %v received another's outcomes %+v or resolutions %+v", fl.roles, fl.outcomes, fl.resolutions)
		}
		fl.mu.Unlock()
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
	for _, fl := range f.followers {
		fl.converges(t, e)
	}
	total := 0
	for _, fl := range f.followers {
		pushed, skipped, pulls, pokes := fl.counts()
		t.Logf("device %v: %d pages pushed, %d skipped, %d pulls, %d pokes (%d SQL transactions)", fl.roles, pushed, skipped, pulls, pokes, writes)
		total += pushed
	}
	if total == 0 {
		t.Fatal("no page was pushed")
	}
	if _, skipped, pulls, _ := f.followers[f.lab].counts(); pulls == 0 {
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
		if _, _, _, pokes := lab.counts(); pokes == 0 {
			return "the lab was not poked after the shared read failed"
		}
		return ""
	})
	_ = tx.Rollback(ctx)
	lab.converges(t, e)
	pushedBefore, _, _, _ := lab.counts()
	if _, err := e.Pool.Exec(ctx, `UPDATE results SET "updatedAt" = now() WHERE id = (SELECT id FROM results ORDER BY id LIMIT 1)`); err != nil {
		t.Fatal(err)
	}
	lab.converges(t, e)
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
		if pushed, _, _, _ := lab.counts(); pushed == pushedBefore {
			return "no page pushed once the shared read works again"
		}
		return ""
	})
}
