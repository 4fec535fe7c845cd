package station

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/google/uuid"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"wardsync/desktop"
	"wardsync/desktop/devicekey"
	"wardsync/desktop/keyfile"
	"wardsync/desktop/remote"
	"wardsync/internal/wardtest"
	"wardsync/server/postgres"
	"wardsync/syncproto"
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
	// Claimed with its one-time code, as an installed workstation is: it
	// has its own device key, in its folder (no DPAPI on Linux).
	code, _, err := env.DB.IssueRegistrationCode(ctx, s.device)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := desktop.ClaimDevice(ctx, nil, s.cfg.ServerURL, s.device, code, desktop.DeviceKeyPath(s.cfg)); err != nil {
		t.Fatal(err)
	}
	s.loginAll(nur, sec)
	s.run()
	wardtest.Eventually(t, wardtest.WaitTimeout, s.synced)
	s.stop()

	var lastName string
	if err := s.e.DB().SQL().QueryRowContext(ctx, `SELECT "lastName" FROM patients ORDER BY "lastName" DESC LIMIT 1`).Scan(&lastName); err != nil || len(lastName) < 4 {
		t.Fatalf("a replicated patient: %q %v", lastName, err)
	}
	marker := "MARKER-stolen-5d1e9b"
	s.act(nur, "appointment.recordVitals", map[string]any{"id": postgres.SeedID("a:checkedin"), "vitals": vitals(37.4, 121),
		"medicalHistoryNotes": marker})
	var tokens []string
	rows, err := s.e.DB().SQL().QueryContext(ctx, `SELECT token FROM local_credentials WHERE token IS NOT NULL`)
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
	// The queued act as it would travel: what an attacker could copy off
	// the wire or the audit log, the strongest thing short of the key.
	queued, err := s.e.DB().Outbox(ctx, 0, 0)
	if err != nil || len(queued) == 0 || queued[0].Signature == "" || queued[0].Author.SessionID == "" {
		t.Fatalf("a signed queued act: %+v %v", queued, err)
	}
	for _, r := range []workflow.Role{nur, sec} {
		if err := s.e.Logout(ctx, s.users[r]); err != nil {
			t.Fatal(err)
		}
	}
	loggedOut := time.Now()
	// The secretary's logout reached the server, which ended her session:
	// her key is destroyed. The nurse's act still waits, so the server
	// keeps her session open and her key stays sealed, under her password
	// only: the copied folder below gets nothing from it.
	kf, err := keyfile.Load(s.cfg.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, slot := range kf.Slots {
		if waits := slot.UserID == s.users[nur]; (slot.Session != nil) != waits {
			t.Errorf("after logout, the key slot of %s seals a session key: %v, want %v", slot.Email, slot.Session != nil, waits)
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

	// Anything the copied files hold, tried as the session a socket needs:
	// every string of the key file and every token-shaped run of bytes of
	// every file. None opens a socket.
	copyDir := filepath.Join(t.TempDir(), "stolen-again")
	copyFolder(t, folder, copyDir)
	found := candidates(t, copyDir)
	if len(found) < 5 {
		t.Fatalf("only %d candidate strings found in the copied files", len(found))
	}
	for _, c := range found {
		conn, err := remote.Dial(ctx, env.URL(), c, remote.Options{})
		if err == nil {
			conn.Close()
			t.Fatalf("a socket opened with %q found in the copied files", c)
		}
		want401(t, "socket with "+c, err, "The token is not valid; log in again.")
	}
	// The device key the folder holds proves the device, but a socket also
	// needs a live session's proof: the nurse's session (her acts still
	// wait, so the server did not end it), proved with any key but the one
	// logout destroyed.
	stolenKey, err := devicekey.Load(filepath.Join(copyDir, filepath.Base(desktop.DeviceKeyPath(s.cfg))))
	if err != nil || stolenKey == nil {
		t.Fatalf("the copied device key: %v", err)
	}
	_, guess := syncproto.NewKey()
	_, err = remote.DialProved(ctx, nil, env.URL(), s.device, stolenKey, syncproto.SessionKey{SessionID: queued[0].Author.SessionID, Priv: guess}, remote.Options{})
	want401(t, "socket with the copied device key", err, postgres.MsgBadSessionProof)

	// The queued act pushed with its copied signature but changed args,
	// re-hashed so that its chain holds, on a socket of the server's own
	// (a doctor's login here): the signature does not verify.
	doctorKey, doctorSigner := syncproto.NewKey()
	deviceKey, err := devicekey.Load(desktop.DeviceKeyPath(s.cfg))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := remote.Login(ctx, nil, env.URL(), wardtest.Email(workflow.RoleDoctor), wardtest.Password(workflow.RoleDoctor), s.device, doctorKey, deviceKey)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := remote.DialProved(ctx, nil, env.URL(), s.device, deviceKey, syncproto.SessionKey{SessionID: doc.SessionID, Priv: doctorSigner}, remote.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Hello(ctx, syncproto.Hello{RequestID: "h", Protocol: syncproto.Version, DeviceID: s.device}); err != nil {
		t.Fatal(err)
	}
	q := queued[0]
	forged := syncproto.Mutation{Seq: q.Seq, ID: q.ID, Name: q.Name, OccurredAt: q.OccurredAt, AuthorID: q.Author.ID,
		SessionID: q.Author.SessionID, Signature: q.Signature, PrevHash: q.PrevHash,
		Args: wardtest.MustJSON(map[string]any{"id": postgres.SeedID("a:checkedin"), "vitals": vitals(39.9, 180), "medicalHistoryNotes": "forged"})}
	if forged.Hash, err = syncproto.ChainHash(forged.PrevHash, forged.Content(s.device)); err != nil {
		t.Fatal(err)
	}
	// A backdated act built after the logout from what the files and the
	// wire give: the nurse's session, a time before the logout, and a
	// signature by a key of the attacker's (the session's own was
	// destroyed at logout).
	backdated := syncproto.Mutation{Seq: q.Seq + 1, ID: uuid.NewString(), Name: "appointment.recordVitals",
		OccurredAt: loggedOut.Add(-time.Minute).UTC().Truncate(time.Millisecond), AuthorID: q.Author.ID,
		Args: wardtest.MustJSON(map[string]any{"id": postgres.SeedID("a:checkedin"), "vitals": vitals(36.1, 110), "medicalHistoryNotes": "backdated"})}
	muts := []syncproto.Mutation{backdated}
	if _, err := syncproto.Chain(s.device, forged.Hash, muts); err != nil {
		t.Fatal(err)
	}
	_, attacker := syncproto.NewKey()
	syncproto.SignAct(attacker, q.Author.SessionID, &muts[0])
	res, err := conn.Push(ctx, []syncproto.Mutation{forged, muts[0]})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res.Results {
		if r.Status != syncproto.StatusRejected || r.Code != workflow.CodeUnauthenticated || r.Message != syncproto.MsgActBadSig {
			t.Errorf("act %d (%s): %+v, want rejected UNAUTHENTICATED %q", i, []string{"changed args", "backdated"}[i], r, syncproto.MsgActBadSig)
		}
	}
	if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM appointments WHERE "medicalHistoryNotes" IN ('forged', 'backdated')`); n != 0 {
		t.Errorf("%d forged acts wrote their notes", n)
	}
}

func want401(t *testing.T, what string, err error, msg string) {
	t.Helper()
	var he *remote.HTTPError
	if !errors.As(err, &he) || he.Status != 401 || he.Rejection == nil || he.Rejection.Code != workflow.CodeUnauthenticated || he.Rejection.Message != msg {
		t.Fatalf("%s: %v, want 401 UNAUTHENTICATED %q", what, err, msg)
	}
}

// candidates are the strings a thief would try from a copied folder: the
// key file's JSON string values, and every run of 16 or more base64url or
// hex characters in any file.
func candidates(t *testing.T, dir string) []string {
	t.Helper()
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if len(s) >= 16 && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	ents, _ := os.ReadDir(dir)
	for _, ent := range ents {
		raw, err := os.ReadFile(filepath.Join(dir, ent.Name()))
		if err != nil {
			t.Fatal(err)
		}
		var anyJSON any
		if json.Unmarshal(raw, &anyJSON) == nil {
			var walk func(v any)
			walk = func(v any) {
				switch v := v.(type) {
				case string:
					add(v)
				case map[string]any:
					for _, x := range v {
						walk(x)
					}
				case []any:
					for _, x := range v {
						walk(x)
					}
				}
			}
			walk(anyJSON)
		}
		for _, m := range tokenRun.FindAll(raw, 200) {
			add(string(m))
		}
	}
	return out
}

var tokenRun = regexp.MustCompile(`[A-Za-z0-9_\-]{16,}`)

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
