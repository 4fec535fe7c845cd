package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"wardsync/internal/pgtest"
	"wardsync/server/cli"
	"wardsync/server/postgres"
	"wardsync/syncproto"
	"wardsync/version"
)

func run(t *testing.T, url string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := execute(context.Background(), append(args, "-database-url", url), &out, &errOut)
	return out.String(), err
}

func mustRun(t *testing.T, url string, args ...string) string {
	t.Helper()
	out, err := run(t, url, args...)
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return out
}

func TestMigrateSeedAdd(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t, false)

	out := mustRun(t, url, "migrate")
	mm := regexp.MustCompile(`^migrated: (\d+) migration\(s\) applied \[([0-9 ]+)\]\n$`).FindStringSubmatch(out)
	if mm == nil || atoi(mm[1]) < 10 || !strings.HasPrefix(mm[2], "1 2 3 4 5 6 7 8 9 10") || len(strings.Fields(mm[2])) != atoi(mm[1]) {
		t.Fatalf("first migrate: %q", out)
	}
	if out := mustRun(t, url, "migrate"); out != "migrated: 0 migration(s) applied []\n" {
		t.Fatalf("second migrate: %q", out)
	}

	out = mustRun(t, url, "seed")
	m := regexp.MustCompile(`^seeded: (\d+) new row\(s\); demo workstation id (\S+)\n`).FindStringSubmatch(out)
	if m == nil || m[1] == "0" || m[2] != postgres.DemoDeviceID || !strings.Contains(out, "nurse@hospital.com") {
		t.Fatalf("first seed: %q", out)
	}
	if out := mustRun(t, url, "seed"); !strings.HasPrefix(out, "seeded: 0 new row(s);") {
		t.Fatalf("second seed: %q", out)
	}

	out = mustRun(t, url, "user", "add", "-name", "Dr House", "-email", "House@Hospital.com", "-password", "vicodin1", "-role", "doctor")
	um := regexp.MustCompile(`^user ([0-9a-f-]{36}) created \(House@Hospital.com, DOCTOR\)\n$`).FindStringSubmatch(out)
	if um == nil {
		t.Fatalf("user add: %q", out)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var email, role string
	if err := conn.QueryRow(ctx, `SELECT email, role::text FROM users WHERE id = $1`, um[1]).Scan(&email, &role); err != nil || email != "house@hospital.com" || role != "DOCTOR" {
		t.Fatalf("user stored as %s %s (%v)", email, role, err)
	}
	if _, err := run(t, url, "user", "add", "-name", "Again", "-email", "house@hospital.com", "-password", "vicodin1", "-role", "DOCTOR"); err == nil ||
		!strings.Contains(err.Error(), "already exists") {
		t.Fatalf("duplicate e-mail: %v", err)
	}

	out = mustRun(t, url, "device", "add", "-name", "Ward 3", "-roles", "nurse, DOCTOR", "-id", "ward-3")
	if out != "device ward-3 registered as \"Ward 3\" serving [NURSE DOCTOR]\n" {
		t.Fatalf("device add: %q", out)
	}
	var roles []string
	if err := conn.QueryRow(ctx, `SELECT roles FROM sync.devices WHERE id = 'ward-3'`).Scan(&roles); err != nil || strings.Join(roles, ",") != "NURSE,DOCTOR" {
		t.Fatalf("device stored with %v (%v)", roles, err)
	}
}

func TestVersionCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if err := execute(context.Background(), []string{"version"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if want := "wardsync-server " + version.String() + "\n"; out.String() != want {
		t.Errorf("version printed %q, want %q", out.String(), want)
	}
}

func TestCLIRefusals(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t, true)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"user", "add", "-name", "X", "-email", "x@y.z", "-password", "secret1", "-role", "SURGEON"}, `"SURGEON"`},
		{[]string{"device", "add", "-name", "Ward", "-roles", "NURSE,JANITOR"}, `"JANITOR"`},
		{[]string{"device", "add", "-name", "Ward", "-roles", ""}, "at least one role"},
		{[]string{"device", "add", "-roles", "NURSE"}, "name"},
		{[]string{"user", "add", "-name", "X", "-email", "not-an-email", "-password", "secret1", "-role", "NURSE"}, "not an e-mail"},
		{[]string{"frobnicate"}, `unknown command "frobnicate`},
		{[]string{"seed", "-no-such-flag"}, "no-such-flag"},
		{[]string{"seed", "-deferred-window", "0s"}, "-deferred-window must be a positive duration such as 12h, got 0s"},
		{[]string{"serve", "-deferred-sweep", "-1s"}, "-deferred-sweep must be a positive duration such as 30s, got -1s"},
		{[]string{"serve", "-min-workstation-version", "1.3"}, `-min-workstation-version: version "1.3" is not MAJOR.MINOR.PATCH such as 1.3.0`},
		{[]string{"serve", "-health-stalled", "10m"}, `Stalled after 10 min must come later than both Late thresholds (5 min offline, 15 min waiting).`},
		{[]string{"serve", "-health-late-unseen", "10s"}, `"Late when offline for" must be between 1 min and 30 days; got 10 s.`},
	} {
		_, err := run(t, url, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one naming %s", tc.args, err, tc.want)
		}
	}
	var out, errOut bytes.Buffer
	if err := execute(context.Background(), nil, &out, &errOut); err == nil || !strings.Contains(errOut.String(), "usage:") {
		t.Errorf("no command: %v %q", err, errOut.String())
	}
}

// TestServe runs `serve` until its context ends: it migrates, listens,
// answers, and shuts down cleanly.
func TestServe(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m, done := serve(t, ctx, `listening on (\S+) — dashboard http://\S+/admin`, url)
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get("http://" + m[1] + path)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]string
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %v", path, resp.StatusCode, body)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve ended with %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
}

// serve runs `serve` on a free loopback port with the database at url and
// extra flags, until ctx ends (its result then arrives on done). Its first
// line must match want; m is the match, m[1] the address.
func serve(t *testing.T, ctx context.Context, want, url string, extra ...string) (m []string, done <-chan error) {
	t.Helper()
	pr, pw := io.Pipe()
	result := make(chan error, 1)
	go func() {
		result <- execute(ctx, append([]string{"serve", "-addr", "127.0.0.1:0", "-database-url", url, "-log-level", "error"}, extra...), pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("serve printed nothing: %v", err)
	}
	go io.Copy(io.Discard, pr)
	m = regexp.MustCompile(want).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("serve said %q", line)
	}
	return m, result
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// TestAuditVerify: `audit verify` passes an intact log, then names the seq
// whose args were changed in PostgreSQL and exits with an error.
func TestAuditVerify(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t, true)
	ctx := context.Background()
	mustRun(t, url, "seed")
	db, err := postgres.Open(ctx, url, postgres.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	pub, priv := syncproto.NewKey()
	_, s, err := db.Login(ctx, "secretary@hospital.com", "secretary123", postgres.DemoDeviceID, pub, postgres.DeviceProof{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	var muts []syncproto.Mutation
	for i, phone := range []string{"1", "2", "3"} {
		muts = append(muts, syncproto.Mutation{Seq: int64(i + 1), ID: uuid.NewString(), Name: "patient.update",
			Args:       json.RawMessage(`{"id":"` + postgres.SeedID("patient:1") + `","phone":"` + phone + `"}`),
			OccurredAt: now, AuthorID: s.UserID})
	}
	if _, err := syncproto.Chain(postgres.DemoDeviceID, "", muts); err != nil {
		t.Fatal(err)
	}
	for i := range muts {
		syncproto.SignAct(priv, s.ID, &muts[i])
	}
	if res, err := db.Push(ctx, postgres.DemoDeviceID, muts); err != nil || res[2].Status != syncproto.StatusApplied {
		t.Fatalf("push: %+v %v", res, err)
	}
	if out := mustRun(t, url, "audit", "verify"); out != "checked 3 acts of 1 workstation(s): 0 broken chain(s)\n" {
		t.Fatalf("intact log: %q", out)
	}
	if _, err := db.Pool.Exec(ctx, `UPDATE sync.mutations SET args = jsonb_set(args, '{phone}', '"9"') WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, url, "audit", "verify", "-device", postgres.DemoDeviceID)
	if err == nil || err.Error() != "audit verify: 1 workstation(s) with a broken chain" {
		t.Fatalf("tampered log: error %v", err)
	}
	want := "BROKEN device " + postgres.DemoDeviceID + " (Demo workstation) seq 2: act 2's args in the audit log are not the args it was hashed with (modified after it was recorded); changed in the audit log after it was recorded\n"
	if !strings.HasPrefix(out, want) || !strings.Contains(out, `"phone": "9"`) || !strings.HasSuffix(out, "checked 3 acts of 1 workstation(s): 1 broken chain(s)\n") {
		t.Fatalf("tampered log: %q", out)
	}
	if _, err := run(t, url, "audit", "verify", "-device", "nowhere"); err == nil || !strings.Contains(err.Error(), "workstation nowhere has no acts") {
		t.Fatalf("unknown device: %v", err)
	}
}

// execute runs args as wardsync-server's main does (Main.Execute), with
// its output to stdout and stderr.
func execute(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	m := cli.NewMain()
	m.Stdout, m.Stderr = stdout, stderr
	return m.Execute(ctx, args)
}
