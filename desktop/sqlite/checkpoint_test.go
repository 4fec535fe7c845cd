package sqlite

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

type checkpointed struct {
	r   CheckpointResult
	err error
}

// openCheckpointed opens a replica whose checkpointer never pauses and
// reports every background checkpoint on the returned channel.
func openCheckpointed(t *testing.T, path string) (*DB, <-chan checkpointed) {
	t.Helper()
	ch := make(chan checkpointed, 10_000)
	db, err := open(context.Background(), path, testKey, 0, walRestartFrames, func(r CheckpointResult, err error) {
		select {
		case ch <- checkpointed{r, err}:
		default: // the test reads them all; never block the checkpointer
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, ch
}

// copyMainFile copies the database file alone, without its WAL: what it
// holds is what checkpoints have moved there.
func copyMainFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	must(t, err)
	defer in.Close()
	out, err := os.Create(dst)
	must(t, err)
	_, err = io.Copy(out, in)
	must(t, err)
	must(t, out.Close())
}

// TestCheckpointInBackground: the replica's connections never checkpoint
// inside a commit (wal_autocheckpoint 0), and the background checkpointer
// moves every committed act into the database file soon after.
func TestCheckpointInBackground(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "replica.db")
	db, results := openCheckpointed(t, path)

	var auto int
	must(t, db.sql.QueryRowContext(ctx, `PRAGMA wal_autocheckpoint`).Scan(&auto))
	if auto != 0 {
		t.Fatalf("wal_autocheckpoint = %d on a replica connection, want 0 (checkpoints belong to the background checkpointer)", auto)
	}

	seed(t, db)
	const n = 50
	for i := 0; i < n; i++ {
		mustAct(t, db, secretary, "patient.register", obj{"id": fmt.Sprintf("aaaaaaaa-1111-4000-8000-%012d", i),
			"firstName": "Ckpt", "lastName": fmt.Sprint(i), "birthDate": "1990-01-01T00:00:00Z"}, t0)
	}

	// Every commit wakes the checkpointer after it, so one of the
	// checkpoints reported from here on covers the last act: the main
	// file alone then holds all of them.
	inMainFile := func() int {
		cp := filepath.Join(t.TempDir(), "main-only.db")
		copyMainFile(t, path, cp)
		raw := rawOpen(t, cp)
		var got int
		if err := raw.QueryRowContext(ctx, `SELECT COUNT(*) FROM patients WHERE firstName = 'Ckpt'`).Scan(&got); err != nil {
			return -1 // not even the tables are checkpointed yet
		}
		return got
	}
	for got := inMainFile(); got != n; got = inMainFile() {
		c := <-results
		if c.err != nil {
			t.Fatalf("background checkpoint: %v", c.err)
		}
	}

	// A quiet replica's WAL is fully checkpointed.
	r, err := db.Checkpoint(ctx)
	must(t, err)
	if r.Busy || r.Checkpointed != r.WALFrames {
		t.Fatalf("checkpoint of a quiet replica: %+v, want every frame checkpointed and not busy", r)
	}
}

// TestCloseStopsCheckpointer: Close waits for the checkpointer to end,
// closes the file once (leaving no WAL behind), and a second Close is
// harmless; what was written is there when the file is opened again.
func TestCloseStopsCheckpointer(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "replica.db")
	db, _ := openCheckpointed(t, path)
	seed(t, db)
	mustAct(t, db, secretary, "appointment.checkIn", obj{"id": appt1ID}, t0)
	must(t, db.Close())
	select {
	case <-db.ckDone:
	default:
		t.Fatal("Close returned while the checkpointer was still running")
	}
	must(t, db.Close())
	if _, err := db.Checkpoint(ctx); err == nil {
		t.Fatal("Checkpoint after Close: no error")
	}
	// The last connection's close checkpointed everything and removed the
	// WAL, automatic checkpoints off or not.
	if _, err := os.Stat(path + "-wal"); !os.IsNotExist(err) {
		t.Fatalf("the WAL is still there after Close (stat: %v)", err)
	}

	again, err := Open(ctx, path, testKey)
	must(t, err)
	defer again.Close()
	if got := column(t, again, "appointments", appt1ID, "status"); got != "CHECKED_IN" {
		t.Fatalf("status after reopening = %v, want CHECKED_IN", got)
	}
}

// TestCheckpointRestartsBusyWAL: acts committed while a checkpoint runs
// keep SQLite from starting the WAL over; past the restart threshold the
// checkpointer catches up with the writers held off, so that under a
// steady stream of acts the WAL still starts over instead of growing
// without end.
func TestCheckpointRestartsBusyWAL(t *testing.T) {
	ctx := context.Background()
	db, err := open(ctx, filepath.Join(t.TempDir(), "replica.db"), testKey, -1, 1, nil) // checkpoints by hand only
	must(t, err)
	defer db.Close()
	seed(t, db)

	// A writer acts without pause until told to stop; each commit is
	// announced so that every round below has writes to contend with.
	stop, committed, done := make(chan struct{}), make(chan struct{}, 1), make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			if _, err := db.Act(ctx, NewAct{ID: newIDAt(i), Name: "patient.update", Args: js(obj{"id": patient1ID, "phone": fmt.Sprint(i)}),
				OccurredAt: t0, Author: secretary}); err != nil {
				done <- err
				return
			}
			kick(committed)
		}
	}()
	restarted := false
	prev := 0
	for round := 0; round < 20 && !restarted; round++ {
		<-committed
		r, err := db.checkpointOnce(ctx)
		must(t, err)
		if r.Checkpointed != r.WALFrames {
			t.Fatalf("round %d: the catch-up left frames behind: %+v", round, r)
		}
		restarted = round > 0 && r.WALFrames < prev
		prev = r.WALFrames
	}
	close(stop)
	must(t, <-done)
	if !restarted {
		t.Fatal("the WAL never started over under a steady stream of acts")
	}
}

// newIDAt is a mutation id of its own for the writer goroutine (newID's
// counter belongs to the test's goroutine).
func newIDAt(i int) string { return "eeeeeeee-0000-4000-8000-" + leftPad(i+1) }
