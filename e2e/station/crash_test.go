package station

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"wardsync/desktop/sqlite"
	"wardsync/internal/wardtest"
)

// acted is an act wardsync-station reported as accepted (exit 0, its JSON).
type acted struct {
	wardtest.Acted
	// what it did
	name, patient, phone string
}

// TestCrash: wardsync-station, a separate process, acts in a loop and
// syncs; it is SIGKILLed 50 times at random points — while acting (an act
// process killed at a random instant), while pushing (the sync process
// killed at a random instant after it starts, or the very moment the
// server has committed its push, before the reply is recorded). After each
// kill: every act it reported as accepted is in its outbox or in the
// server's audit log, the audit log has each mutation once and the device's
// seqs without a hole, and outbox and audit log together cover every seq
// the replica assigned. At the end a clean sync drains everything, each
// act applied exactly once.
func TestCrash(t *testing.T) {
	t.Parallel()
	kills := 50
	if long() {
		kills = 300
	}
	ctx := context.Background()
	env := newEnv(t, true)
	const device = "crash-ward"
	env.addDevice(device, sec)
	c := wardtest.StationCLI{Bin: stationBin, DB: filepath.Join(t.TempDir(), "crash.db"), Server: env.HTTP.URL(), Device: device, Unlock: sec}
	if err := c.Login(ctx, sec); err != nil {
		t.Fatal(err)
	}

	var reported []acted
	registered := []string{} // patients whose registration was reported
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("WARDSYNC_CRASH_SEED"); v != "" {
		fmt.Sscan(v, &seed)
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	t.Logf("%d kills, random seed %d (WARDSYNC_CRASH_SEED replays it)", kills, seed)
	stats := map[string]int{}

	// act runs one act process; killAfter > 0 kills it after that long.
	act := func(killAfter time.Duration) {
		var a acted
		var args map[string]any
		if len(registered) == 0 || rng.IntN(2) == 0 {
			a.name, a.patient = "patient.register", uuid.NewString()
			args = map[string]any{"id": a.patient, "firstName": "Crash", "lastName": fmt.Sprint(len(reported)), "birthDate": "1990-01-01T00:00:00Z"}
		} else {
			a.name, a.patient, a.phone = "patient.update", registered[rng.IntN(len(registered))], fmt.Sprintf("p%d", len(reported))
			args = map[string]any{"id": a.patient, "phone": a.phone}
		}
		act := c.Act(sec, a.name, args)
		if err := act.Cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if killAfter > 0 {
			timer := time.AfterFunc(killAfter, func() { act.Cmd.Process.Signal(syscall.SIGKILL) })
			defer timer.Stop()
		}
		var err error
		if a.Acted, err = act.Result(act.Cmd.Wait()); err != nil {
			t.Fatal(err)
		}
		if a.Refusal != nil {
			t.Fatalf("act refused: %s %s", a.Refusal.Code, a.Refusal.Message)
		}
		if a.Killed {
			stats["act killed"]++
			return // killed before it could report: its fate is its own
		}
		if killAfter > 0 {
			stats["act finished before its kill"]++
		}
		reported = append(reported, a)
		if a.name == "patient.register" {
			registered = append(registered, a.patient)
		}
	}

	lastSeqAtServer := func() int64 {
		return wardtest.Count(t, env.Pool, `SELECT COALESCE(max(seq), 0) FROM sync.mutations WHERE device_id = $1`, device)
	}

	for round := 0; round < kills; round++ {
		// Acting: a few acts, the last one possibly killed mid-way.
		n := 1 + rng.IntN(6)
		for i := 0; i < n; i++ {
			var kill time.Duration
			if i == n-1 && rng.IntN(2) == 0 {
				kill = time.Duration(1+rng.IntN(30_000)) * time.Microsecond
			}
			act(kill)
		}
		// Syncing, killed at a random moment or right when the server
		// committed a push (its reply still in flight).
		before := lastSeqAtServer()
		run := c.Command(ctx, "run")
		if err := run.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill on commit only when there is something to push.
		onCommit := rng.IntN(2) == 0 && replicaLastSeq(t, c.DB) > before
		if onCommit {
			deadline := time.Now().Add(10 * time.Second)
			for lastSeqAtServer() == before && time.Now().Before(deadline) {
			}
		} else {
			time.Sleep(time.Duration(rng.IntN(120_000)) * time.Microsecond)
		}
		// Acting goes on while the sync process runs (another process on
		// the same file, as the desktop app and the CLI can be).
		if rng.IntN(3) == 0 {
			act(0)
		}
		run.Process.Signal(syscall.SIGKILL)
		run.Wait()
		after := lastSeqAtServer()

		st := checkCrash(t, env, c.DB, device, reported, round)
		switch {
		case after == before:
			stats["sync killed before pushing"]++
		case st.AckedSeq < after:
			stats["sync killed with a push applied but its outcome unrecorded"]++
		default:
			stats["sync killed after recording a push"]++
		}
	}
	t.Logf("%d acts reported over %d kills: %v", len(reported), kills, stats)

	// A clean run drains everything.
	run := c.Command(ctx, "run")
	started := time.Now()
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	// Connected (its hello seen by the server) before anything else: the
	// SIGTERM below must find the process past installing its handler,
	// even when the outbox was already empty.
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
		var seen time.Time
		if err := env.Pool.QueryRow(ctx, `SELECT last_seen FROM sync.clients WHERE device_id = $1`, device).Scan(&seen); err != nil {
			return err.Error()
		}
		if !seen.After(started) {
			return "the clean run has not said hello yet"
		}
		return ""
	})
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
		db, err := wardtest.OpenReplica(ctx, c.DB, sec)
		if err != nil {
			return err.Error()
		}
		defer db.Close()
		cnt, err := db.Counts(ctx)
		if err != nil {
			return err.Error()
		}
		if cnt.Unreflected > 0 {
			return fmt.Sprintf("%d acts still in the outbox", cnt.Unreflected)
		}
		return ""
	})
	run.Process.Signal(syscall.SIGTERM)
	if err := run.Wait(); err != nil {
		t.Errorf("run after SIGTERM: %v", err)
	}
	st := checkCrash(t, env, c.DB, device, reported, kills)
	ids := map[string]bool{}
	for _, a := range reported {
		ids[a.ID] = true
	}
	// Every act reported is applied exactly once; acts killed before they
	// reported may have made it too, and are applied once as well.
	rows, err := env.Pool.Query(ctx, `SELECT mutation_id, outcome, COALESCE(message, '') FROM sync.mutations WHERE device_id = $1`, device)
	if err != nil {
		t.Fatal(err)
	}
	audited := 0
	for rows.Next() {
		var id, outcome, msg string
		if err := rows.Scan(&id, &outcome, &msg); err != nil {
			t.Fatal(err)
		}
		audited++
		if outcome != "applied" {
			t.Errorf("act %s %s: %s", id, outcome, msg)
		}
		delete(ids, id)
	}
	rows.Close()
	if len(ids) != 0 {
		t.Errorf("%d reported acts never reached the server", len(ids))
	}
	if int64(audited) != st.LastSeq {
		t.Errorf("%d acts audited, the replica assigned %d seqs", audited, st.LastSeq)
	}
	// The server's rows are the reported acts' effects (registrations
	// applied once each, the last reported phone of each patient).
	phones := map[string]string{}
	for _, a := range reported {
		if a.name == "patient.register" {
			if _, ok := phones[a.patient]; !ok {
				phones[a.patient] = ""
			}
		} else {
			phones[a.patient] = a.phone
		}
	}
	for p, phone := range phones {
		var got string
		if err := env.Pool.QueryRow(ctx, `SELECT phone FROM patients WHERE id = $1`, p).Scan(&got); err != nil {
			t.Errorf("patient %s: %v", p, err)
			continue
		}
		if phone != "" && got != phone {
			// A later update whose act was killed unreported may have won.
			var later int64
			env.Pool.QueryRow(ctx, `SELECT count(*) FROM sync.mutations WHERE device_id = $1 AND target_id = $2 AND args->>'phone' = $3`,
				device, p, got).Scan(&later)
			if later == 0 {
				t.Errorf("patient %s has phone %q, no act set it (last reported %q)", p, got, phone)
			}
		}
	}
	if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM patients WHERE "firstName" = 'Crash'`); n < int64(len(phones)) {
		t.Errorf("%d patients at the server, %d registrations reported", n, len(phones))
	}
}

func replicaLastSeq(t *testing.T, path string) int64 {
	t.Helper()
	db, err := wardtest.OpenReplica(context.Background(), path, sec)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := db.State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.LastSeq
}

// checkCrash checks the invariants after a kill and returns the replica's state.
func checkCrash(t *testing.T, env *env, path, device string, reported []acted, round int) sqlite.State {
	t.Helper()
	ctx := context.Background()
	db, err := wardtest.OpenReplica(ctx, path, sec)
	if err != nil {
		t.Fatalf("round %d: reopen: %v", round, err)
	}
	defer db.Close()
	st, err := db.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := db.Outbox(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	rejected, err := db.Rejected(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rejected {
		t.Errorf("round %d: act %d rejected: %s", round, r.Seq, r.Rejection.Message)
	}
	queued := map[int64]string{}
	for i, e := range entries {
		if i > 0 && e.Seq != entries[i-1].Seq+1 {
			t.Fatalf("round %d: outbox seq %d follows %d: a hole", round, e.Seq, entries[i-1].Seq)
		}
		queued[e.Seq] = e.ID
	}
	if len(entries) > 0 && entries[len(entries)-1].Seq != st.LastSeq {
		t.Fatalf("round %d: outbox ends at %d, last seq assigned %d", round, entries[len(entries)-1].Seq, st.LastSeq)
	}

	// The audit log: one row per mutation id, seqs 1..max without a hole.
	rows, err := env.Pool.Query(ctx, `SELECT seq, mutation_id FROM sync.mutations WHERE device_id = $1 ORDER BY seq`, device)
	if err != nil {
		t.Fatal(err)
	}
	audited := map[string]int64{}
	var seq int64
	for rows.Next() {
		var s int64
		var id string
		if err := rows.Scan(&s, &id); err != nil {
			t.Fatal(err)
		}
		seq++
		if s != seq {
			t.Fatalf("round %d: audit seq %d where %d was due: a hole", round, s, seq)
		}
		if _, dup := audited[id]; dup {
			t.Fatalf("round %d: mutation %s audited twice", round, id)
		}
		audited[id] = s
		if q, ok := queued[s]; ok && q != id {
			t.Fatalf("round %d: seq %d is %s at the server, %s in the outbox", round, s, id, q)
		}
	}
	rows.Close()
	if seq > st.LastSeq {
		t.Fatalf("round %d: the server has seq %d, the replica assigned only %d", round, seq, st.LastSeq)
	}
	// Every seq the replica assigned is at the server or still queued.
	for s := int64(1); s <= st.LastSeq; s++ {
		if _, ok := queued[s]; !ok && s > seq {
			t.Fatalf("round %d: seq %d is neither queued nor at the server (server has up to %d)", round, s, seq)
		}
	}
	// Nothing reported is lost.
	inOutbox := map[string]bool{}
	for _, e := range entries {
		inOutbox[e.ID] = true
	}
	for _, a := range reported {
		if !inOutbox[a.ID] {
			if s, ok := audited[a.ID]; !ok {
				t.Fatalf("round %d: act %s (seq %d) reported accepted, now neither queued nor at the server", round, a.ID, a.Seq)
			} else if s != a.Seq {
				t.Fatalf("round %d: act %s reported as seq %d, audited as %d", round, a.ID, a.Seq, s)
			}
		}
	}
	return st
}
