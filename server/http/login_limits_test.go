package http_test

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"wardsync/internal/wardtest"
	httpserver "wardsync/server/http"
)

// tryLogin posts a login with the headers h and returns the status, the
// answer and its headers.
func tryLogin(t testing.TB, srv *httpserver.Server, email, password, device string, h http.Header) (int, map[string]any, http.Header) {
	t.Helper()
	code, out, h, err := wardtest.PostLogin(nil, srv.URL(), wardtest.LoginBody(email, password, device), h)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	return code, out, h
}

func wantRateLimited(t testing.TB, code int, out map[string]any, h http.Header, maxWait time.Duration) int {
	t.Helper()
	if code != http.StatusTooManyRequests || out["code"] != "RATE_LIMITED" {
		t.Fatalf("want 429 RATE_LIMITED, got %d %v", code, out)
	}
	secs, err := strconv.Atoi(h.Get("Retry-After"))
	if err != nil || secs < 1 || time.Duration(secs)*time.Second > maxWait+time.Second {
		t.Fatalf("Retry-After %q, want 1 to %s", h.Get("Retry-After"), maxWait)
	}
	want := "Too many failed logins for this account or from this address; try again in " + strconv.Itoa(secs) + " seconds."
	if out["message"] != want {
		t.Fatalf("message %q, want %q", out["message"], want)
	}
	return secs
}

func wantWrongPassword(t testing.TB, code int, out map[string]any) {
	t.Helper()
	if code != http.StatusUnauthorized || out["code"] != "UNAUTHENTICATED" || out["message"] != "Wrong e-mail or password." {
		t.Fatalf("want 401 wrong password, got %d %v", code, out)
	}
}

// TestLoginLimitsDelayNotLockout: 50 wrong passwords (each after the
// delay the previous one imposed) grow the account's delay to its cap; an
// attempt without a workstation is then refused 429 with the wait, while
// the right password from the registered workstation is held for that
// wait, no longer, and gets in. A success clears the account's delays.
//
// The clock is frozen and the hold moves it instead of sleeping: with the
// clock running, the seconds a loaded machine spent between two steps
// used up the delay (the wait then came out shorter than the cap) or
// lengthened the hold measured on the wall clock past its bound.
func TestLoginLimitsDelayNotLockout(t *testing.T) {
	t.Parallel()
	env := wardtest.StartServer(t, wardtest.Options{})
	env.Clock.Freeze()
	limits := httpserver.DefaultLoginLimits()
	limits.MaxDelay = 2 * time.Second
	env.HTTP.SetLoginPolicy(limits)
	var holdMu sync.Mutex
	var holds []time.Duration
	env.HTTP.SetLoginHold(func(_ context.Context, d time.Duration) error {
		holdMu.Lock()
		defer holdMu.Unlock()
		holds = append(holds, d)
		env.Clock.Advance(d)
		return nil
	})
	for i := 0; i < 50; i++ {
		code, out, _ := tryLogin(t, env.HTTP, "nurse@hospital.com", "guess-"+strconv.Itoa(i), "", nil)
		wantWrongPassword(t, code, out)
		env.Clock.Advance(limits.MaxDelay) // the delay passes
	}
	// Back to the instant of the 50th failure.
	env.Clock.Advance(-limits.MaxDelay)
	if n := wardtest.Count(t, env.Pool, `SELECT failures FROM sync.login_limits WHERE key = 'account:nurse@hospital.com'`); n != 50 {
		t.Fatalf("account counter %d, want 50", n)
	}
	// Without a workstation, even the right password waits: refused.
	code, out, h := tryLogin(t, env.HTTP, "nurse@hospital.com", "nurse123", "", nil)
	secs := wantRateLimited(t, code, out, h, limits.MaxDelay)
	if secs != 2 {
		t.Fatalf("Retry-After %d s, want the cap of 2 s", secs)
	}
	// From the registered workstation: held for the stated wait, then in.
	code, out, _ = tryLogin(t, env.HTTP, "nurse@hospital.com", "nurse123", demo, nil)
	if code != http.StatusOK || out["token"] == nil {
		t.Fatalf("the registered workstation's right password was refused: %d %v", code, out)
	}
	// PostgreSQL keeps the failure's time to the microsecond, so the wait
	// is the cap less the nanoseconds of the frozen instant it dropped.
	holdMu.Lock()
	if len(holds) != 1 || holds[0] > limits.MaxDelay || holds[0] <= limits.MaxDelay-time.Microsecond {
		t.Fatalf("the login was held %v, want once for the stated delay of %d s", holds, secs)
	}
	holdMu.Unlock()
	if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM sync.login_limits WHERE key = 'account:nurse@hospital.com'`); n != 0 {
		t.Fatal("a success did not clear the account's delays")
	}
	// A revoked or unknown workstation id gets no such favour (once the
	// address's counter, 50 failures too, has gone quiet).
	env.Clock.Advance(env.DB.Config.LoginQuiet + time.Minute)
	limits = slowLimits(env.HTTP, 5, 30)
	code, out, _ = tryLogin(t, env.HTTP, "doctor@hospital.com", "x", "", nil)
	wantWrongPassword(t, code, out)
	for i := 0; i < 5; i++ {
		env.Clock.Advance(limits.MaxDelay)
		code, out, _ = tryLogin(t, env.HTTP, "doctor@hospital.com", "x", "", nil)
		wantWrongPassword(t, code, out)
	}
	code, out, h = tryLogin(t, env.HTTP, "doctor@hospital.com", "doctor123", "4b1c7c84-0d4a-4a57-9d59-2d1f1ad1f1f1", nil)
	wantRateLimited(t, code, out, h, limits.MaxDelay)
}

// slowLimits makes delays long (minutes), so that however slow the machine,
// a test's next attempt comes within the delay its failures imposed; the
// test moves the clock past it explicitly.
func slowLimits(srv *httpserver.Server, accountFree, addressFree int) httpserver.LoginLimits {
	l := httpserver.LoginLimits{AccountFree: accountFree, AddressFree: addressFree, BaseDelay: time.Minute, MaxDelay: 10 * time.Minute}
	srv.SetLoginPolicy(l)
	return l
}

// TestLoginLimitKeyNormalised: " Nurse@Hospital.COM" and "nurse@hospital.com"
// are one account for the limits, as for the login itself.
func TestLoginLimitKeyNormalised(t *testing.T) {
	t.Parallel()
	env := wardtest.StartServer(t, wardtest.Options{})
	limits := slowLimits(env.HTTP, 3, 1000)
	for _, email := range []string{" nurse@hospital.com", "NURSE@hospital.com ", "Nurse@Hospital.Com", "\tnurse@HOSPITAL.com"} {
		code, out, _ := tryLogin(t, env.HTTP, email, "wrong", "", nil)
		wantWrongPassword(t, code, out)
		env.Clock.Advance(limits.MaxDelay)
	}
	env.Clock.Advance(-limits.MaxDelay)
	if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM sync.login_limits WHERE key LIKE 'account:%'`); n != 1 {
		t.Fatalf("%d account counters, want one", n)
	}
	if n := wardtest.Count(t, env.Pool, `SELECT failures FROM sync.login_limits WHERE key = 'account:nurse@hospital.com'`); n != 4 {
		t.Fatalf("%d failures counted, want 4", n)
	}
	// The space variant is held back like the plain one: no bypass.
	code, out, h := tryLogin(t, env.HTTP, " nurse@hospital.com", "nurse123", "", nil)
	wantRateLimited(t, code, out, h, limits.MaxDelay)
	// Another account is not affected.
	if code, out, _ := tryLogin(t, env.HTTP, "doctor@hospital.com", "doctor123", demo, nil); code != 200 {
		t.Fatalf("another account: %d %v", code, out)
	}
}

// TestLoginLimitsSharedByInstances: failures counted by one instance hold
// back logins at another on the same database.
func TestLoginLimitsSharedByInstances(t *testing.T) {
	t.Parallel()
	env := wardtest.StartServer(t, wardtest.Options{})
	other := env.Again(t, wardtest.Options{})
	limits := slowLimits(env.HTTP, 2, 1000)
	slowLimits(other.HTTP, 2, 1000)
	for i := 0; i < 3; i++ {
		code, out, _ := tryLogin(t, env.HTTP, "secretary@hospital.com", "wrong", "", nil)
		wantWrongPassword(t, code, out)
		env.Clock.Advance(limits.MaxDelay)
	}
	env.Clock.Advance(-limits.MaxDelay)
	code, out, h := tryLogin(t, other.HTTP, "secretary@hospital.com", "wrong", "", nil)
	wantRateLimited(t, code, out, h, limits.MaxDelay)
}

// TestSpoofedForwardedFor: X-Forwarded-For from a peer that is not a
// trusted proxy is ignored (the counter and the log keep the peer's
// address); from a trusted proxy, the first untrusted hop from the right
// is the client, whatever a client put further left.
func TestSpoofedForwardedFor(t *testing.T) {
	t.Parallel()
	env := wardtest.StartServer(t, wardtest.Options{})
	limits := slowLimits(env.HTTP, 1000, 2)
	spoof := http.Header{"X-Forwarded-For": {"10.66.6.6"}}
	for i := 0; i < 3; i++ {
		code, out, _ := tryLogin(t, env.HTTP, "ghost"+strconv.Itoa(i)+"@hospital.com", "x", "", spoof)
		wantWrongPassword(t, code, out)
		env.Clock.Advance(limits.MaxDelay)
	}
	env.Clock.Advance(-limits.MaxDelay)
	if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM sync.login_limits WHERE key = 'address:10.66.6.6'`); n != 0 {
		t.Fatal("an untrusted peer's X-Forwarded-For was believed")
	}
	if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM sync.security_events WHERE kind = 'login_failed' AND address = '127.0.0.1'`); n != 3 {
		t.Fatalf("%d failed logins logged from the peer's address, want 3", n)
	}
	// The spoofing address is held back: changing the header does not help.
	code, out, h := tryLogin(t, env.HTTP, "ghost9@hospital.com", "x", "", http.Header{"X-Forwarded-For": {"10.1.2.3"}})
	wantRateLimited(t, code, out, h, limits.MaxDelay)

	// Behind a trusted proxy: the client's own address counts.
	if err := env.HTTP.SetTrustedProxies("127.0.0.0/8, ::1"); err != nil {
		t.Fatal(err)
	}
	code, out, _ = tryLogin(t, env.HTTP, "ghost@hospital.com", "x", "", http.Header{"X-Forwarded-For": {"203.0.113.9, 10.20.30.40"}})
	wantWrongPassword(t, code, out)
	if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM sync.security_events WHERE kind = 'login_failed' AND address = '10.20.30.40'`); n != 1 {
		t.Fatal("the trusted proxy's client address was not used")
	}
	if err := env.HTTP.SetTrustedProxies("10.0.0.0/33"); err == nil || err.Error() != `-trusted-proxies: "10.0.0.0/33" is neither a CIDR such as 10.0.0.0/8 nor an address` {
		t.Fatalf("a bad CIDR: %v", err)
	}
}
