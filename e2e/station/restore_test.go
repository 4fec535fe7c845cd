package station

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"wardsync/internal/pgtest"
	"wardsync/internal/wardtest"
	"wardsync/workflow"
)

// syncedSecretary is a seeded world with a workstation named device on
// which the secretary logged in, running and synced.
func syncedSecretary(t *testing.T, device string) (*env, *station) {
	t.Helper()
	env := newEnv(t, true)
	env.addDevice(device)
	s := env.station(device)
	s.loginAll(workflow.RoleSecretary)
	s.run()
	wardtest.Eventually(t, wardtest.WaitTimeout, s.synced)
	return env, s
}

// TestRestoredServer: the server's database is restored from a pg_dump
// taken before the workstation's cursor. The workstation's next pull is
// answered resync (with the sentence that says why), it starts over by
// itself, and the act it queued while the server was away is kept and
// applied once. The act the server had applied after the dump and the
// workstation had already seen come back is lost with the restore: the
// replica ends up exactly as PostgreSQL is.
func TestRestoredServer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env, s := syncedSecretary(t, "ward-r")
	register := func(last string) string {
		id := uuid.NewString()
		s.act(workflow.RoleSecretary, "patient.register", map[string]any{"id": id, "firstName": "Restore", "lastName": last, "birthDate": "1970-01-01T00:00:00Z"})
		return id
	}
	before := register("Before")
	wardtest.Eventually(t, wardtest.WaitTimeout, s.synced)

	dump := filepath.Join(t.TempDir(), "before.dump")
	pgTool(t, "pg_dump", "--format=custom", "--file="+dump, "--dbname="+env.DatabaseURL)

	afterDump := register("AfterDump")
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
		if msg := s.synced(); msg != "" {
			return msg
		}
		if n := replicaCount(t, s, `SELECT count(*) FROM patients WHERE id = ?`, afterDump); n != 1 {
			return "the act after the dump has not come back"
		}
		return ""
	})
	st, err := s.e.DB().State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	oldCursor := st.Cursor

	// The link goes down; the desk goes on working.
	s.link.Cut()
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
		if s.e.Status().Online {
			return "still online"
		}
		return ""
	})
	queued := register("WhileAway")

	// The database is restored from the dump (into a new database, as an
	// operator restoring onto a fresh server would) and the server restarted
	// on it.
	restored := pgtest.NewDatabase(t, false)
	pgTool(t, "pg_restore", "--no-owner", "--no-acl", "--exit-on-error", "--dbname="+restored, dump)
	env.switchDatabase(restored)
	if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM patients WHERE id = $1`, afterDump); n != 0 {
		t.Fatal("the restored database holds the act made after the dump")
	}

	// The server refuses the workstation's cursor: resync, with the reason.
	page, err := env.DB.Pull(ctx, "ward-r", workflow.Roles, oldCursor, 1)
	if err != nil {
		t.Fatal(err)
	}
	oldTag := oldCursor[strings.LastIndex(oldCursor, ".")+1:]
	parts := strings.Split(page.Cursor, ".")
	if len(parts) != 7 || !page.Resync {
		t.Fatalf("pull with the old cursor %s: resync %v, cursor %s", oldCursor, page.Resync, page.Cursor)
	}
	want := fmt.Sprintf("Cursor %s was issued by another copy of the database (feed %s; this one is %s): the server's database was restored from a backup or replaced. The replica starts over from a fresh snapshot; queued acts are kept and sent again.",
		oldCursor, oldTag, parts[5])
	if page.ResyncReason != want {
		t.Fatalf("resync reason:\n got %q\nwant %q", page.ResyncReason, want)
	}

	// The workstation starts over by itself and sends its queued act.
	s.reconnect()
	roles := workflow.Roles
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
		if msg := s.synced(); msg != "" {
			return msg
		}
		return wardtest.Diff(replicaState(t, s, roles), wardtest.PGState(t, env.Pool, roles))
	})
	for id, want := range map[string]int64{before: 1, queued: 1, afterDump: 0} {
		if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM patients WHERE id = $1`, id); n != want {
			t.Fatalf("patient %s: %d at the server, want %d", id, n, want)
		}
	}
	if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM sync.mutations WHERE device_id = 'ward-r' AND outcome = 'applied' AND args->>'id' = $1`, queued); n != 1 {
		t.Fatalf("the queued act was applied %d times", n)
	}
	if st, err := s.e.DB().State(ctx); err != nil || !strings.HasSuffix(st.Cursor, "."+parts[5]) {
		t.Fatalf("the replica's cursor %q is not one of the restored feed (%s): %v", st.Cursor, parts[5], err)
	}
}

// TestFutureCursorStartsOver: a workstation whose cursor lies ahead of the
// feed's head (a database restored to an earlier point keeps its feed's
// identity when restored in place by a physical backup) is answered
// resync; it starts over by itself and its queued act is applied once.
func TestFutureCursorStartsOver(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env, s := syncedSecretary(t, "ward-f")
	s.stop()
	st, err := s.e.DB().State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var xid, id uint64
	var tag string
	if _, err := fmt.Sscanf(strings.ReplaceAll(st.Cursor, ".", " "), "f %d %d %s", &xid, &id, &tag); err != nil {
		t.Fatalf("cursor %q: %v", st.Cursor, err)
	}
	future := fmt.Sprintf("f.%d.0.%s", xid+10_000_000, tag)
	page, err := env.DB.Pull(ctx, "ward-f", workflow.Roles, future, 1)
	if err != nil {
		t.Fatal(err)
	}
	wantPrefix := fmt.Sprintf("Cursor %s is ahead of this server's change feed (its head is f.", future)
	wantSuffix := fmt.Sprintf(".0.%s): the server's database was restored to an earlier point. The replica starts over from a fresh snapshot; queued acts are kept and sent again.", tag)
	if !page.Resync || !strings.HasPrefix(page.ResyncReason, wantPrefix) || !strings.HasSuffix(page.ResyncReason, wantSuffix) {
		t.Fatalf("future cursor: resync %v, reason %q", page.Resync, page.ResyncReason)
	}

	id1 := uuid.NewString()
	s.act(workflow.RoleSecretary, "patient.register", map[string]any{"id": id1, "firstName": "Future", "lastName": "Cursor", "birthDate": "1970-01-01T00:00:00Z"})
	if _, err := s.e.DB().SQL().ExecContext(ctx, `UPDATE sync_state SET cursor = ? WHERE singleton = 1`, future); err != nil {
		t.Fatal(err)
	}
	s.run()
	roles := workflow.Roles
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
		if msg := s.synced(); msg != "" {
			return msg
		}
		if st, err := s.e.DB().State(ctx); err != nil || st.Cursor == future {
			return "the replica still holds the future cursor"
		}
		return wardtest.Diff(replicaState(t, s, roles), wardtest.PGState(t, env.Pool, roles))
	})
	if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM sync.mutations WHERE device_id = 'ward-f' AND outcome = 'applied' AND args->>'id' = $1`, id1); n != 1 {
		t.Fatalf("the queued act was applied %d times", n)
	}
}

// switchDatabase points the server at another database (a restored copy):
// the server is stopped and started again on the same address, with a pool
// on url.
func (e *env) switchDatabase(url string) {
	e.tb.Helper()
	addr := e.Addr()
	e.Stop()
	e.Server = wardtest.StartServer(e.tb, wardtest.Options{DatabaseURL: url, Addr: addr})
}

// pgTool runs a PostgreSQL client program (pg_dump, pg_restore) of the
// newest installed version (Debian keeps them off PATH).
func pgTool(tb testing.TB, name string, args ...string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, wardtest.PGBin(name), args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("%s: %v\n%s", name, err, out)
	}
}

func replicaCount(tb testing.TB, s *station, q string, args ...any) int64 {
	tb.Helper()
	var n int64
	if err := s.e.DB().SQL().QueryRow(q, args...).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
	return n
}
