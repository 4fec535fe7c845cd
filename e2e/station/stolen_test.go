package station

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"wardsync/server/postgres"
	"wardsync/workflow"
)

// TestStolenFilesGiveNothingAway: a workstation that replicated patients,
// took acts offline (vitals with a unique marker in the notes) and logged
// out has its folder copied, while it runs and after it closed. No copied
// file holds the marker, a patient's last name or a session token, and the
// stock SQLite driver (as sqlite3 would) sees no database.
func TestStolenFilesGiveNothingAway(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := newEnv(t, true)
	s := env.station(postgres.DemoDeviceID)
	s.loginAll(nur, sec)
	s.run()
	waitFor(t, waitTimeout, s.synced)
	s.stop()

	var lastName string
	if err := s.e.DB().SQL().QueryRowContext(ctx, `SELECT "lastName" FROM patients ORDER BY "lastName" DESC LIMIT 1`).Scan(&lastName); err != nil || len(lastName) < 4 {
		t.Fatalf("a replicated patient: %q %v", lastName, err)
	}
	marker := "MARKER-stolen-5d1e9b"
	s.act(nur, "appointment.recordVitals", map[string]any{"id": postgres.SeedID("a:checkedin"), "vitals": vitals(37.4, 121),
		"medicalHistoryNotes": marker})
	var tokens []string
	rows, err := s.e.DB().SQL().QueryContext(ctx, `SELECT token FROM local_credentials WHERE token IS NOT NULL UNION SELECT authorToken FROM outbox`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var tok string
		rows.Scan(&tok)
		tokens = append(tokens, tok)
	}
	rows.Close()
	if len(tokens) == 0 {
		t.Fatal("no session token to look for")
	}
	for _, r := range []workflow.Role{nur, sec} {
		if err := s.e.Logout(ctx, s.users[r]); err != nil {
			t.Fatal(err)
		}
	}

	folder := filepath.Dir(s.cfg.DBPath)
	check := func(when string, files int) {
		copyDir := filepath.Join(t.TempDir(), "stolen")
		copyFolder(t, folder, copyDir)
		ents, _ := os.ReadDir(copyDir)
		if len(ents) < files {
			t.Fatalf("%s: %d files copied, want at least %d (replica, key file, and while it runs -wal and -shm)", when, len(ents), files)
		}
		for _, ent := range ents {
			raw, err := os.ReadFile(filepath.Join(copyDir, ent.Name()))
			if err != nil {
				t.Fatal(err)
			}
			for what, needle := range map[string]string{"the marker": marker, "a patient's last name": lastName} {
				if bytes.Contains(raw, []byte(needle)) {
					t.Errorf("%s: %s holds %s", when, ent.Name(), what)
				}
			}
			for _, tok := range tokens {
				if bytes.Contains(raw, []byte(tok)) {
					t.Errorf("%s: %s holds a session token", when, ent.Name())
				}
			}
		}
		stock, err := sql.Open("sqlite", "file:"+filepath.Join(copyDir, filepath.Base(s.cfg.DBPath)))
		if err != nil {
			t.Fatal(err)
		}
		defer stock.Close()
		_, err = stock.ExecContext(ctx, `SELECT COUNT(*) FROM patients`)
		var se *sqlite.Error
		if !errors.As(err, &se) || se.Code() != sqlite3.SQLITE_NOTADB {
			t.Errorf("%s: the stock driver opened the copy: %v", when, err)
		}
	}
	check("while it runs", 4)
	if err := s.e.Close(ctx); err != nil {
		t.Fatal(err)
	}
	check("after it closed", 2)
}

func copyFolder(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o700); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, ent := range ents {
		if ent.IsDir() {
			continue
		}
		in, err := os.Open(filepath.Join(from, ent.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(to, ent.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		out.Close()
	}
}
