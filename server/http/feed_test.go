package http_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"wardsync/internal/wardtest"
	"wardsync/server/postgres"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// directPuller follows the feed with DB.Pull, the way the websocket does.
type directPuller struct {
	db     *postgres.DB
	device string
	roles  []workflow.Role
	rep    *wardtest.Replica
	limit  int
}

func (p *directPuller) pullAll(ctx context.Context) error {
	for i := 0; ; i++ {
		if i > 100000 {
			return errors.New("pull never ends")
		}
		ch, err := p.db.Pull(ctx, p.device, p.roles, p.rep.Cursor, p.limit)
		if err != nil {
			return err
		}
		// What the server would send must be sendable.
		ch.RequestID = "check"
		if _, err := syncproto.Encode(ch); err != nil {
			return fmt.Errorf("page of cursor %q cannot be sent: %w", p.rep.Cursor, err)
		}
		p.rep.Apply(ch)
		if !ch.More {
			return nil
		}
	}
}

func testSeed(t testing.TB) uint64 {
	if s := os.Getenv("WARDSYNC_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	return uint64(time.Now().UnixNano())
}

// TestNoSkippedChange is a randomised property test of the guarantee that
// a pull never skips a committed change: while writers of every kind run at once (pushes through the
// server, and other programs' SQL on their own connections, with
// transactions held open, savepoints rolled back, aborts and cascading
// deletes), devices follow the feed; when the writers stop, every device
// holds exactly what PostgreSQL holds. Some devices start from an empty
// cursor in the middle of the writes (snapshot paging under load), one
// follows through the websocket, pulling only when poked.
// WARDSYNC_SEED=n replays a run.
func TestNoSkippedChange(t *testing.T) {
	t.Parallel()
	env := wardtest.StartServer(t, wardtest.Options{})
	seed := testSeed(t)
	t.Logf("WARDSYNC_SEED=%d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	ctx := context.Background()
	roles := workflow.Roles

	// Writers through the server: two workstations, each with its own seq.
	type pusher struct {
		dev      string
		sec, doc string
		seq      int64
		chain    *syncproto.Chainer
	}
	var pushers []*pusher
	for i := 0; i < 2; i++ {
		dev := env.AddDevice(t, fmt.Sprint("Pusher ", i), roles...)
		pushers = append(pushers, &pusher{dev: dev, chain: wardtest.ChainOf(env, dev), sec: env.Login(t, workflow.RoleSecretary, dev), doc: env.Login(t, workflow.RoleDoctor, dev)})
	}
	// The websocket follower, on the demo workstation.
	fol := wardtest.Follow(t, env.Connect(t, env.Login(t, workflow.RoleNurse, demo), demo), 0)
	// A direct puller that follows for the whole test.
	steady := &directPuller{db: env.DB, device: env.AddDevice(t, "Steady", roles...), roles: roles, rep: wardtest.NewReplica(), limit: 13}

	patientIDs := func() []string {
		rows, _ := env.Pool.Query(ctx, `SELECT id FROM patients`)
		ids, _ := pgx.CollectRows(rows, pgx.RowTo[string])
		return ids
	}

	budget := 6 * time.Second
	if testing.Short() {
		budget = 3 * time.Second
	}
	start := time.Now()
	var stats struct{ pushes, commits, aborts, holds, pages atomic.Int64 }
	for round := 0; round == 0 || time.Since(start) < budget; round++ {
		rseed := rng.Uint64()
		known := patientIDs()
		stop := make(chan struct{})
		var writers, pullers sync.WaitGroup
		errs := make(chan error, 64)

		for i, p := range pushers {
			writers.Add(1)
			go func(p *pusher, r *rand.Rand) {
				defer writers.Done()
				mine := append([]string(nil), known...)
				for n := 0; n < 25; n++ {
					var name string
					var args map[string]any
					tok := p.sec
					switch k := r.IntN(4); {
					case k == 0 || len(mine) == 0:
						id := uuid.NewString()
						mine = append(mine, id)
						name, args = "patient.register", registerArgs(id, fmt.Sprint("P", n))
					case k == 1:
						name, args = "patient.update", map[string]any{"id": mine[r.IntN(len(mine))], "phone": fmt.Sprint(r.Int())}
					case k == 2:
						name, args = "appointment.schedule", map[string]any{"id": uuid.NewString(), "patientId": mine[r.IntN(len(mine))],
							"doctorId": doctorID, "date": time.Now().UTC().Format(time.RFC3339), "motif": "m"}
					default:
						tok = p.doc
						name, args = "document.attach", map[string]any{"id": uuid.NewString(), "patientId": mine[r.IntN(len(mine))],
							"name": "n", "type": "t", "url": "u"}
					}
					p.seq++
					m := []syncproto.Mutation{{Seq: p.seq, ID: uuid.NewString(), Name: name, Args: wardtest.MustJSON(args), OccurredAt: ms(time.Now()), SessionID: tok}}
					if err := wardtest.Author(p.chain, m); err != nil {
						errs <- err
						return
					}
					if _, err := env.DB.Push(ctx, p.dev, m); err != nil {
						errs <- fmt.Errorf("push: %w", err)
						return
					}
					stats.pushes.Add(1)
				}
			}(p, rand.New(rand.NewPCG(rseed, uint64(i))))
		}
		for i := 0; i < 3; i++ {
			writers.Add(1)
			go func(r *rand.Rand) {
				defer writers.Done()
				for n := 0; n < 12; n++ {
					if err := sqlWriter(ctx, env.Pool, r, known); err != nil {
						stats.aborts.Add(1)
					} else {
						stats.commits.Add(1)
					}
				}
			}(rand.New(rand.NewPCG(rseed, uint64(100+i))))
		}
		// A transaction of another program that does nothing for a while
		// but holds the horizon back.
		writers.Add(1)
		go func(r *rand.Rand) {
			defer writers.Done()
			for n := 0; n < 3; n++ {
				tx, err := env.Pool.Begin(ctx)
				if err != nil {
					errs <- err
					return
				}
				_, _ = tx.Exec(ctx, `SELECT pg_current_xact_id()`)
				time.Sleep(time.Duration(50+r.IntN(150)) * time.Millisecond)
				_ = tx.Commit(ctx)
				stats.holds.Add(1)
			}
		}(rand.New(rand.NewPCG(rseed, 200)))

		// Pullers while they write: the steady one, and one from scratch.
		fresh := &directPuller{db: env.DB, device: steady.device, roles: roles, rep: wardtest.NewReplica(), limit: 1 + rng.IntN(40)}
		for i, p := range []*directPuller{steady, fresh} {
			pullers.Add(1)
			r := rand.New(rand.NewPCG(rseed, uint64(300+i)))
			go func(p *directPuller) {
				defer pullers.Done()
				for {
					if err := p.pullAll(ctx); err != nil {
						errs <- err
						return
					}
					stats.pages.Add(1)
					select {
					case <-stop:
						return
					case <-time.After(time.Duration(r.IntN(3)) * time.Millisecond):
					}
				}
			}(p)
		}
		writers.Wait()
		close(stop)
		pullers.Wait()
		select {
		case err := <-errs:
			t.Fatalf("round %d: %v", round, err)
		default:
		}

		// Once the writers are done, every follower reaches PostgreSQL's state.
		want := func() map[string]map[string]map[string]any { return wardtest.PGState(t, env.Pool, roles) }
		for name, p := range map[string]*directPuller{"steady": steady, "fresh": fresh} {
			wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
				if err := p.pullAll(ctx); err != nil {
					t.Fatal(err)
				}
				if d := wardtest.Diff(wardtest.ReplicaState(t, p.rep.Rows, nil), want()); d != "" {
					return fmt.Sprintf("round %d, %s puller:\n%s", round, name, d)
				}
				return ""
			})
		}
		fol.Converges(t, env.Pool, roles, wardtest.WaitTimeout)
	}
	t.Logf("%d pushes, %d SQL commits, %d aborts, %d held transactions, %d pull passes",
		stats.pushes.Load(), stats.commits.Load(), stats.aborts.Load(), stats.holds.Load(), stats.pages.Load())
	if wardtest.Count(t, env.Pool, `SELECT count(*) FROM sync.changes`) < 100 {
		t.Fatal("the writers wrote almost nothing: the test proves little")
	}
}

// sqlWriter is another program writing SQL: one transaction of a few
// random statements with pauses, savepoints, and sometimes an abort.
func sqlWriter(ctx context.Context, pool *pgxpool.Pool, r *rand.Rand, known []string) (err error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(ctx)
		}
	}()
	pick := func() string { return known[r.IntN(len(known))] }
	for s := 1 + r.IntN(4); s > 0; s-- {
		switch r.IntN(7) {
		case 0, 1:
			_, err = tx.Exec(ctx, `INSERT INTO patients (id, "firstName", "lastName", "birthDate", "updatedAt") VALUES ($1, 'Sql', $2, '1970-01-01', now())`,
				uuid.NewString(), fmt.Sprint(r.Int()))
		case 2:
			_, err = tx.Exec(ctx, `UPDATE patients SET phone = $2, "updatedAt" = now() WHERE id = $1`, pick(), fmt.Sprint(r.Int()))
		case 3:
			_, err = tx.Exec(ctx, `UPDATE appointments SET motif = $1, "updatedAt" = now()
				WHERE id = (SELECT id FROM appointments ORDER BY random() LIMIT 1)`, fmt.Sprint("sql ", r.Int()))
		case 4:
			// Deletes, some cascading to appointments and documents.
			_, err = tx.Exec(ctx, `DELETE FROM patients WHERE id = (SELECT id FROM patients WHERE "firstName" = 'Sql' ORDER BY random() LIMIT 1)`)
		case 5:
			_, err = tx.Exec(ctx, `DELETE FROM documents WHERE id = (SELECT id FROM documents ORDER BY random() LIMIT 1)`)
		case 6:
			if _, err = tx.Exec(ctx, `SAVEPOINT sp`); err == nil {
				if _, err = tx.Exec(ctx, `UPDATE patients SET address = 'rolled back', "updatedAt" = now() WHERE id = $1`, pick()); err == nil {
					_, err = tx.Exec(ctx, `ROLLBACK TO SAVEPOINT sp`)
				}
			}
		}
		if err != nil {
			return err
		}
		time.Sleep(time.Duration(r.IntN(15)) * time.Millisecond)
	}
	if r.IntN(7) == 0 {
		_ = tx.Rollback(ctx)
		return errors.New("aborted on purpose")
	}
	return tx.Commit(ctx)
}

// TestPromptDelivery: a change reaches a connected device (poke, then its
// pull) within 2 s of becoming deliverable, even when an unrelated
// transaction held the horizon back for longer than the re-check backoff,
// and even when the change's transaction commits after a younger one whose
// change was already handed out (a lower change id, committed later).
// "Deliverable" is measured by a reader following the feed beside the
// device, so that other databases' transactions on the same cluster (which
// share the xid horizon) cannot make the test fail or pass by luck.
func TestPromptDelivery(t *testing.T) {
	t.Parallel()
	env := wardtest.StartServer(t, wardtest.Options{})
	ctx := context.Background()
	fol := wardtest.Follow(t, env.Connect(t, env.Login(t, workflow.RoleSecretary, demo), demo), 0)
	fol.Converges(t, env.Pool, workflow.Roles, wardtest.WaitTimeout)
	const prompt = 2 * time.Second

	phoneIn := func(rows map[string]json.RawMessage, id string) string {
		var p workflow.Patient
		if raw, ok := rows[id]; ok {
			_ = json.Unmarshal(raw, &p)
		}
		return p.Phone
	}
	followerHas := func(id string) string {
		var phone string
		fol.Lock()
		phone = phoneIn(fol.Replica.Rows["patients"], id)
		fol.Unlock()
		return phone
	}
	// watcher follows the feed from now on, on no device's behalf.
	watcher := func(t *testing.T) *directPuller {
		w := &directPuller{db: env.DB, roles: workflow.Roles, rep: wardtest.NewReplica()}
		if err := w.pullAll(ctx); err != nil {
			t.Fatal(err)
		}
		w.rep.Rows = map[string]map[string]json.RawMessage{}
		return w
	}
	// deliverable waits until the feed hands out the change and says when.
	deliverable := func(t *testing.T, w *directPuller, id, phone string) time.Time {
		t.Helper()
		deadline := time.Now().Add(wardtest.WaitTimeout)
		for {
			if err := w.pullAll(ctx); err != nil {
				t.Fatal(err)
			}
			if phoneIn(w.rep.Rows["patients"], id) == phone {
				return time.Now()
			}
			if time.Now().After(deadline) {
				t.Fatalf("the change %s never became deliverable", phone)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	arrives := func(t *testing.T, what, id, phone string, since time.Time) {
		t.Helper()
		for followerHas(id) != phone {
			if time.Since(since) > prompt {
				t.Fatalf("%s: the device did not get the change within %s of it becoming deliverable", what, prompt)
			}
			time.Sleep(2 * time.Millisecond)
		}
		t.Logf("%s: delivered %s after it became deliverable", what, time.Since(since).Round(time.Millisecond))
	}

	t.Run("unrelated transaction held open", func(t *testing.T) {
		// A row image is read when its change is handed out, so it may be
		// newer than the cursor: wait until nothing is owed before checking
		// that a held change is not handed out early.
		fol.CaughtUp(t, env.Pool)
		w := watcher(t)
		holder, err := env.Pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer holder.Rollback(ctx)
		if _, err := holder.Exec(ctx, `SELECT pg_current_xact_id()`); err != nil {
			t.Fatal(err)
		}
		p := seedID("patient:1")
		if _, err := env.Pool.Exec(ctx, `UPDATE patients SET phone = 'held', "updatedAt" = now() WHERE id = $1`, p); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second) // long enough for the re-check backoff to reach its cap
		if followerHas(p) == "held" {
			t.Fatal("a change above the horizon was handed out")
		}
		if err := holder.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		arrives(t, "after the holder committed", p, "held", deliverable(t, w, p, "held"))
	})

	t.Run("older transaction commits last", func(t *testing.T) {
		w := watcher(t)
		older, err := env.Pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer older.Rollback(ctx)
		younger, err := env.Pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer younger.Rollback(ctx)
		// older takes its xid first, younger writes first (a lower change
		// id), older writes later and commits first.
		if _, err := older.Exec(ctx, `SELECT pg_current_xact_id()`); err != nil {
			t.Fatal(err)
		}
		p2, p3 := seedID("patient:2"), seedID("patient:3")
		if _, err := younger.Exec(ctx, `UPDATE patients SET phone = 'younger', "updatedAt" = now() WHERE id = $1`, p2); err != nil {
			t.Fatal(err)
		}
		if _, err := older.Exec(ctx, `UPDATE patients SET phone = 'older', "updatedAt" = now() WHERE id = $1`, p3); err != nil {
			t.Fatal(err)
		}
		if err := older.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		arrives(t, "the older transaction's change", p3, "older", deliverable(t, w, p3, "older"))
		if err := younger.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		arrives(t, "the younger transaction's change, committed last", p2, "younger", deliverable(t, w, p2, "younger"))
	})
}

// TestTwoInstancesPoke: a push applied by instance A pokes a device
// connected to instance B (LISTEN/NOTIFY), which then pulls the change from B.
func TestTwoInstancesPoke(t *testing.T) {
	t.Parallel()
	env := wardtest.StartServer(t, wardtest.Options{})
	b := env.Again(t, wardtest.Options{})
	sec := env.Login(t, workflow.RoleSecretary, demo)
	ward := env.AddDevice(t, "Ward B", workflow.Roles...)
	onB := b.Connect(t, b.Login(t, workflow.RoleNurse, ward), ward)
	rep := wardtest.NewReplica()
	onB.PullAll(t, rep, 0)
	onB.DrainPokes()

	onA := env.Connect(t, sec, demo)
	p := uuid.NewString()
	sent := time.Now()
	onA.Act(t, "patient.register", registerArgs(p, "Across"), sec, ms(time.Now()))
	if !onB.WaitPoke(5 * time.Second) {
		t.Fatal("the device on B was not poked within 5s of a push on A")
	}
	t.Logf("poke after %s", time.Since(sent))
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
		onB.PullAll(t, rep, 0)
		if _, ok := rep.Rows["patients"][p]; !ok {
			return "B's device does not have the patient"
		}
		return ""
	})
	// And the other way round, for a change written by another program.
	onA.DrainPokes()
	if _, err := env.Pool.Exec(context.Background(), `UPDATE patients SET phone = 'sql', "updatedAt" = now() WHERE id = $1`, p); err != nil {
		t.Fatal(err)
	}
	if !onA.WaitPoke(5*time.Second) || !onB.WaitPoke(5*time.Second) {
		t.Fatal("a commit by another program did not poke both instances' devices")
	}
}

// TestSnapshotPaging: an initial snapshot with a small limit pages through
// every row with total/sent progress, continues on the feed (catching what
// changed while it paged), and a device whose cursor fell behind the pruned
// feed is told to resync and starts over.
func TestSnapshotPaging(t *testing.T) {
	t.Parallel()
	env := wardtest.StartServer(t, wardtest.Options{Config: func(c *postgres.Config) { c.FeedRetention = time.Hour }})
	ctx := context.Background()
	for i := 0; i < 40; i++ {
		if _, err := env.Pool.Exec(ctx, `INSERT INTO patients (id, "firstName", "lastName", "birthDate", "updatedAt") VALUES ($1, 'Bulk', $2, '1970-01-01', now())`,
			uuid.NewString(), fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	sec := env.Login(t, workflow.RoleSecretary, demo)
	c := env.Connect(t, sec, demo)
	total := int64(0)
	for _, table := range workflow.Tables {
		total += wardtest.Count(t, env.Pool, `SELECT count(*) FROM `+table)
	}

	rep := wardtest.NewReplica()
	const limit = 7
	var sent int64
	var early string
	for page := 0; ; page++ {
		ch := c.Pull(t, rep.Cursor, limit)
		if len(ch.Changes) > limit {
			t.Fatalf("page %d has %d changes, limit %d", page, len(ch.Changes), limit)
		}
		snapshotting := rep.Cursor == "" || strings.HasPrefix(rep.Cursor, "s.")
		if snapshotting {
			sent += int64(len(ch.Changes))
			if ch.Total != max(total, sent) {
				t.Fatalf("page %d: total %d, want %d", page, ch.Total, max(total, sent))
			}
			if ch.Sent != sent {
				t.Fatalf("page %d: sent %d, want %d", page, ch.Sent, sent)
			}
			if !ch.More {
				t.Fatalf("page %d: the snapshot's pages must lead on to the feed", page)
			}
		}
		rep.Apply(ch)
		if page == 2 {
			// Changes while paging: a row before the pages' position, an
			// update of a row already sent, a delete of one not yet sent.
			early = "00000000-0000-4000-8000-000000000001"
			if _, err := env.Pool.Exec(ctx, `INSERT INTO patients (id, "firstName", "lastName", "birthDate", "updatedAt") VALUES ($1, 'Early', 'Bird', '1970-01-01', now())`, early); err != nil {
				t.Fatal(err)
			}
			late := "ffffffff-ffff-4fff-8fff-ffffffffffff"
			if _, err := env.Pool.Exec(ctx, `INSERT INTO patients (id, "firstName", "lastName", "birthDate", "updatedAt") VALUES ($1, 'Late', 'Comer', '1970-01-01', now())`, late); err != nil {
				t.Fatal(err)
			}
			if _, err := env.Pool.Exec(ctx, `UPDATE users SET name = 'Renamed', "updatedAt" = now() WHERE id = $1`, adminID); err != nil {
				t.Fatal(err)
			}
			if _, err := env.Pool.Exec(ctx, `DELETE FROM documents`); err != nil {
				t.Fatal(err)
			}
		}
		if !ch.More {
			break
		}
		if page > 100 {
			t.Fatal("paging never ends")
		}
	}
	if sent != total+1 {
		t.Fatalf("the snapshot sent %d rows, want the %d it counted and the one inserted after its position", sent, total)
	}
	if !strings.HasPrefix(rep.Cursor, "f.") {
		t.Fatalf("after the snapshot the cursor is %q, want a feed cursor", rep.Cursor)
	}
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
		c.PullAll(t, rep, limit)
		return wardtest.Diff(wardtest.ReplicaState(t, rep.Rows, nil), wardtest.PGState(t, env.Pool, workflow.Roles))
	})
	if _, ok := rep.Rows["patients"][early]; !ok {
		t.Fatal("a row inserted behind the snapshot's position was never sent")
	}

	// Prune past the device's cursor: it must start over.
	behind := rep.Cursor
	if _, err := env.Pool.Exec(ctx, `UPDATE patients SET phone = 'after', "updatedAt" = now() WHERE id = $1`, early); err != nil {
		t.Fatal(err)
	}
	ahead := wardtest.NewReplica()
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string { // a device whose cursor is past every change
		c.PullAll(t, ahead, 0)
		var x int64
		if _, err := fmt.Sscanf(ahead.Cursor, "f.%d.", &x); err != nil {
			t.Fatalf("cursor %q", ahead.Cursor)
		}
		if x <= wardtest.Count(t, env.Pool, `SELECT max(xid)::text::bigint FROM sync.changes`) {
			return "the cursor is not past the last change yet"
		}
		return ""
	})
	if !strings.Contains(string(ahead.Rows["patients"][early]), `"after"`) {
		t.Fatal("the up-to-date device missed a change")
	}
	env.Clock.Advance(2 * time.Hour)
	total = 0
	for _, table := range workflow.Tables {
		total += wardtest.Count(t, env.Pool, `SELECT count(*) FROM `+table)
	}
	// Prune only drops what lies below the horizon, which a transaction
	// anywhere in the cluster may hold back for a while.
	var ch *syncproto.Changes
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
		if _, err := env.DB.Prune(ctx); err != nil {
			t.Fatal(err)
		}
		if ch = c.Pull(t, behind, limit); !ch.Resync {
			return "the feed is not pruned past the cursor yet"
		}
		return ""
	})
	if !ch.Resync || ch.Total != total || ch.Sent != int64(len(ch.Changes)) || !strings.HasPrefix(ch.Cursor, "s.") {
		t.Fatalf("a cursor behind the pruned feed got resync=%v total=%d sent=%d cursor=%q", ch.Resync, ch.Total, ch.Sent, ch.Cursor)
	}
	re := wardtest.NewReplica()
	re.Rows["patients"] = map[string]json.RawMessage{"stale": json.RawMessage(`{}`)}
	re.Apply(ch)
	c.PullAll(t, re, limit)
	if d := wardtest.Diff(wardtest.ReplicaState(t, re.Rows, nil), wardtest.PGState(t, env.Pool, workflow.Roles)); d != "" {
		t.Fatalf("after a resync:\n%s", d)
	}
	// A cursor at or after the pruned point goes on without a resync.
	if ch := c.Pull(t, ahead.Cursor, 0); ch.Resync {
		t.Fatal("an up-to-date cursor was told to resync")
	}
}

// TestBigRowsPage: pages stay under the frame limit however large the rows
// are; the device is never cut off by a page it cannot receive.
func TestBigRowsPage(t *testing.T) {
	t.Parallel()
	env := wardtest.StartServer(t, wardtest.Options{})
	ctx := context.Background()
	big := strings.Repeat("é", 9000) // 18 kB of text per row
	for i := 0; i < 120; i++ {
		if _, err := env.Pool.Exec(ctx, `INSERT INTO prescriptions (id, text, "patientId", "doctorId", "updatedAt") VALUES ($1, $2, $3, $4, now())`,
			uuid.NewString(), big, seedID("patient:1"), doctorID); err != nil {
			t.Fatal(err)
		}
	}
	c := env.Connect(t, env.Login(t, workflow.RoleDoctor, demo), demo)
	rep := wardtest.NewReplica()
	c.PullAll(t, rep, 0)
	if n := len(rep.Rows["prescriptions"]); n != 126 {
		t.Fatalf("the device has %d prescriptions, want 126", n)
	}
	// And on the feed: all of them change in one transaction.
	if _, err := env.Pool.Exec(ctx, `UPDATE prescriptions SET text = text || 'x', "updatedAt" = now()`); err != nil {
		t.Fatal(err)
	}
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
		c.PullAll(t, rep, 0)
		return wardtest.Diff(wardtest.ReplicaState(t, rep.Rows, nil), wardtest.PGState(t, env.Pool, workflow.Roles))
	})
	for _, raw := range c.RawFrames() {
		if len(raw) > syncproto.MaxFrameBytes {
			t.Fatalf("a frame of %d bytes", len(raw))
		}
	}
}

// TestPokeOnlyAfterWelcome: a connection that has not said hello is not
// poked; once welcomed it is, and the welcome comes first.
func TestPokeOnlyAfterWelcome(t *testing.T) {
	t.Parallel()
	env := wardtest.StartServer(t, wardtest.Options{})
	tok := env.Login(t, workflow.RoleSecretary, demo)
	ref := env.Connect(t, tok, demo)
	quiet := env.Dial(t, tok, demo)
	if _, err := env.Pool.Exec(context.Background(), `UPDATE patients SET phone = 'p1', "updatedAt" = now() WHERE id = $1`, seedID("patient:1")); err != nil {
		t.Fatal(err)
	}
	if !ref.WaitPoke(wardtest.WaitTimeout) {
		t.Fatal("the welcomed connection was not poked")
	}
	if n := len(quiet.RawFrames()); n != 0 {
		t.Fatalf("a connection without hello received %d frames: %s", n, quiet.RawFrames()[0])
	}
	quiet.Hello(t, "")
	if first := quiet.RawFrames()[0]; !strings.HasPrefix(string(first), `{"type":"welcome"`) {
		t.Fatalf("first frame %s", first)
	}
	if _, err := env.Pool.Exec(context.Background(), `UPDATE patients SET phone = 'p2', "updatedAt" = now() WHERE id = $1`, seedID("patient:1")); err != nil {
		t.Fatal(err)
	}
	if !quiet.WaitPoke(wardtest.WaitTimeout) {
		t.Fatal("not poked after welcome")
	}
}
