package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCLI(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/auth/login" {
			http.NotFound(w, r)
			return
		}
		var body map[string]string
		json.NewDecoder(r.Body).Decode(&body)
		w.Header().Set("Content-Type", "application/json")
		if body["password"] != "secretary123" || body["deviceId"] != "dev-1" {
			w.WriteHeader(401)
			io.WriteString(w, `{"code":"UNAUTHENTICATED","message":"Wrong email or password."}`)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"token": "tok-1", "sessionId": "ses-1", "expiresAt": time.Now().Add(time.Hour),
			"user": map[string]any{"id": "11111111-1111-4111-8111-111111111111", "name": "Secrétaire Test", "role": "SECRETARY"}})
	}))
	defer srv.Close()
	db := filepath.Join(t.TempDir(), "station.db")
	ctx := context.Background()
	runCLI := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(ctx, append([]string{"-db", db, "-server", srv.URL, "-device", "dev-1", "-slot-time", "1", "-slot-memory-kib", "64"}, args...), &out, &errb)
		return code, out.String(), errb.String()
	}

	code, out, _ := runCLI("status")
	var st map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st["deviceId"] != "dev-1" || st["online"] != false {
		t.Fatalf("status: %d %s", code, out)
	}
	// The replica is encrypted: a command opens it with a user's key slot,
	// which only a login makes.
	if code, _, errs := runCLI("act", "-args", `{"id":"x"}`, "appointment.checkIn"); code != 1 ||
		!strings.Contains(errs, "the replica is encrypted: give -unlock EMAIL (or $WARDSYNC_UNLOCK) and $WARDSYNC_PASSWORD") {
		t.Errorf("act before login: %d %s", code, errs)
	}
	t.Setenv("WARDSYNC_PASSWORD", "secretary123")
	if code, _, errs := runCLI("-unlock", "secretary@hospital.com", "act", "-args", `{"id":"x"}`, "appointment.checkIn"); code != 3 ||
		!strings.Contains(errs, "You have never logged in online on this workstation") {
		t.Errorf("act before login, with a password: %d %s", code, errs)
	}
	if code, _, errs := runCLI("login", "-email", "secretary@hospital.com", "-password", "nope"); code != 3 || !strings.Contains(errs, "UNAUTHENTICATED") {
		t.Errorf("bad login: %d %s", code, errs)
	}
	if code, out, errs := runCLI("login", "-email", "secretary@hospital.com", "-password", "secretary123"); code != 0 || !strings.Contains(out, "Secrétaire Test") {
		t.Fatalf("login: %d %s %s", code, out, errs)
	}
	t.Setenv("WARDSYNC_UNLOCK", "secretary@hospital.com")
	args := `{"id":"aaaaaaaa-0000-4000-8000-000000000001","firstName":"Marie","lastName":"Curie","birthDate":"1967-11-07T00:00:00Z"}`
	code, out, errs := runCLI("act", "patient.register", "-args", args)
	var acted map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &acted) != nil || acted["seq"] != float64(1) {
		t.Fatalf("act: %d %s %s", code, out, errs)
	}
	// Refused the way the server would refuse it, as JSON on stderr.
	code, _, errs = runCLI("act", "-email", "secretary@hospital.com", "-args", args, "patient.register")
	if code != 3 || !strings.Contains(errs, `"code":"DUPLICATE_ID"`) {
		t.Errorf("duplicate: %d %s", code, errs)
	}
	if code, out, _ := runCLI("status"); code != 0 || !strings.Contains(out, `"pending": 1`) {
		t.Errorf("status after act: %s", out)
	}
	if code, _, _ := runCLI("fly"); code != 2 {
		t.Errorf("unknown command: %d", code)
	}
	// run stops cleanly when its context ends (SIGTERM in real life).
	ctx2, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	var out2, err2 bytes.Buffer
	if code := run(ctx2, []string{"-db", db, "-server", srv.URL, "run"}, &out2, &err2); code != 0 {
		t.Errorf("run: %d %s", code, err2.String())
	}
}

// The station's transport flags: plain http to another computer, an
// unreadable CA file and a malformed pin each stop it with their sentence
// before anything is sent.
func TestCLITransportRefusals(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "station.db")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-server", "http://10.1.2.3:8420"}, "INSECURE_URL: The server address http://10.1.2.3:8420 uses plain http://, which would send passwords and patient records unencrypted over the network"},
		{[]string{"-server", "https://10.1.2.3:8443", "-ca-file", "/no/such/ca.pem"}, "BAD_TLS_CONFIG: The CA file /no/such/ca.pem cannot be read"},
		{[]string{"-server", "https://10.1.2.3:8443", "-pin", "sha256/short"}, `BAD_TLS_CONFIG: The pin "sha256/short" is not of the form sha256/`},
	} {
		var out, errb bytes.Buffer
		code := run(ctx, append(append([]string{"-db", db, "-device", "dev-1"}, tc.args...), "status"), &out, &errb)
		if code != 1 || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, %q", tc.args, code, errb.String())
		}
	}
}
