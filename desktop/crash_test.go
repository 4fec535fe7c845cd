package desktop

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"wardsync/desktop/sqlite"
	"wardsync/workflow"
)

const crashEnv = "WARDSYNC_CRASH_DB"

// TestCrashChild is the child of TestCrashLosesNothing: it acts in a loop
// until it is killed. It does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("child of TestCrashLosesNothing only")
	}
	ctx := context.Background()
	e, err := Open(ctx, Config{DBPath: path, Now: func() time.Time { return t0 }, DataKey: testKey})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	fmt.Println("acting")
	for i := 0; ; i++ {
		id := uuid.NewString()
		if _, err := e.Act(ctx, secretaryID, "patient.register", js(map[string]any{"id": id, "firstName": "Crash",
			"lastName": fmt.Sprint(i), "birthDate": "1990-01-01T00:00:00Z"})); err != nil {
			fmt.Println("register:", err)
			os.Exit(2)
		}
		if _, err := e.Act(ctx, secretaryID, "patient.update", js(map[string]any{"id": id, "phone": "p" + fmt.Sprint(i)})); err != nil {
			fmt.Println("update:", err)
			os.Exit(2)
		}
	}
}

// A workstation killed at any moment loses nothing and invents nothing:
// after each of many SIGKILLs, the outbox's seqs run without a hole to the
// last seq assigned, and an act's effect is in the replica exactly when
// the act is in the outbox.
func TestCrashLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	ctx := context.Background()
	db, err := sqlite.Open(ctx, path, testKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.PutCredential(ctx, sqlite.Credential{UserID: secretaryID, Email: "secretary@hospital.com", Name: "Secrétaire Test",
		Role: workflow.RoleSecretary, Token: "tok", ExpiresAt: t0.Add(time.Hour),
		OnlineLoginAt: t0, LastLoginAt: t0}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	const kills = 25
	for i := 0; i < kills; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(out).ReadString('\n')
		if line != "acting\n" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child %d: %q", i, line)
		}
		time.Sleep(time.Duration(rand.IntN(60_000)) * time.Microsecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		checkCrashInvariants(t, path, i)
	}
}

func checkCrashInvariants(t *testing.T, path string, round int) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, path, testKey)
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
	if int64(len(entries)) != st.LastSeq {
		t.Fatalf("round %d: %d outbox entries, last seq %d", round, len(entries), st.LastSeq)
	}
	registered := map[string]bool{}
	phone := map[string]string{}
	for i, e := range entries {
		if e.Seq != int64(i+1) {
			t.Fatalf("round %d: outbox seq %d at position %d: a hole", round, e.Seq, i)
		}
		var args struct{ ID, Phone string }
		if err := json.Unmarshal(e.Args, &args); err != nil {
			t.Fatal(err)
		}
		switch e.Name {
		case "patient.register":
			registered[args.ID] = true
			phone[args.ID] = ""
		case "patient.update":
			if !registered[args.ID] {
				t.Fatalf("round %d: update of %s queued before its registration", round, args.ID)
			}
			phone[args.ID] = args.Phone
		}
	}
	rows, err := db.SQL().Query(`SELECT "id", "phone" FROM "patients"`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id, p string
		if err := rows.Scan(&id, &p); err != nil {
			t.Fatal(err)
		}
		n++
		want, ok := phone[id]
		if !ok {
			t.Fatalf("round %d: patient %s is in the replica without its act in the outbox", round, id)
		}
		if p != want {
			t.Fatalf("round %d: patient %s has phone %q, its last queued update says %q", round, id, p, want)
		}
	}
	if n != len(registered) {
		t.Fatalf("round %d: %d patients for %d queued registrations", round, n, len(registered))
	}
	var bases int
	db.SQL().QueryRow(`SELECT COUNT(*) FROM rebase_base WHERE row IS NULL`).Scan(&bases)
	if bases != n {
		t.Fatalf("round %d: %d rebase rows for %d patients", round, bases, n)
	}
	if round == 0 || round%10 == 9 {
		t.Logf("round %d: %d acts survived", round, len(entries))
	}
}
