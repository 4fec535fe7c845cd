package http_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"wardsync/internal/wardtest"
	httpserver "wardsync/server/http"
	"wardsync/server/postgres"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// streamEnd is how a socket that was pulling page after page ended.
type streamEnd struct {
	pages     int
	errFrame  *syncproto.Error
	closeCode int
	closeText string
	closedAt  time.Time
	// afterEnd counts changes frames received after the error frame.
	afterEnd int
}

// streamPulls pulls c page after page (two changes a page, starting over at
// the end) until the server closes it; started says it is mid-pull.
func streamPulls(c *wardtest.Client) (started <-chan struct{}, done <-chan streamEnd) {
	st, dn := make(chan struct{}), make(chan streamEnd, 1)
	go func() {
		var end streamEnd
		var once sync.Once
		cursor := ""
		for n := 0; ; n++ {
			b, _ := syncproto.Encode(&syncproto.Pull{RequestID: "stream", Cursor: cursor, Limit: 2})
			if werr := c.Write(b); werr != nil {
				break
			}
			var r wardtest.Received
			select {
			case r = <-c.Frames:
			case <-c.Closed():
				// Frames read before the close are still queued.
				select {
				case r = <-c.Frames:
				default:
				}
			case <-time.After(wardtest.WaitTimeout):
			}
			if r.F == nil {
				break
			}
			if e, ok := r.F.(*syncproto.Error); ok {
				end.errFrame = e
				break
			}
			ch, ok := r.F.(*syncproto.Changes)
			if !ok {
				continue
			}
			end.pages++
			cursor = ch.Cursor
			if !ch.More {
				cursor = ""
			}
			if end.pages == 3 {
				once.Do(func() { close(st) })
			}
		}
		select {
		case <-c.Closed():
		case <-time.After(wardtest.WaitTimeout):
		}
		end.closedAt = time.Now()
		// What was read before the close: the error frame when the loop
		// stopped on a write to the closed socket, and anything after it.
		for len(c.Frames) > 0 {
			switch f := (<-c.Frames).F.(type) {
			case *syncproto.Error:
				if end.errFrame == nil {
					end.errFrame = f
				}
			case *syncproto.Changes:
				if end.errFrame != nil {
					end.afterEnd++
				}
			}
		}
		var ce *websocket.CloseError
		if errors.As(c.CloseError(), &ce) {
			end.closeCode, end.closeText = ce.Code, ce.Text
		}
		dn <- end
	}()
	return st, dn
}

// checkEnded asserts the socket was told why, with UNAUTHENTICATED, the
// sentence and close code 4401, within 1 s of the event.
func checkEnded(t *testing.T, started <-chan struct{}, done <-chan streamEnd, event time.Time, want *regexp.Regexp) {
	t.Helper()
	var end streamEnd
	select {
	case end = <-done:
	case <-time.After(wardtest.WaitTimeout):
		t.Fatal("the socket kept streaming")
	}
	select {
	case <-started:
	default:
		t.Fatalf("the socket was not mid-pull: %d pages", end.pages)
	}
	if end.errFrame == nil || end.errFrame.Code != workflow.CodeUnauthenticated || !end.errFrame.Fatal {
		t.Fatalf("no fatal UNAUTHENTICATED error frame: %+v", end.errFrame)
	}
	wardtest.CheckMessage(t, end.errFrame.Message, want)
	if end.closeCode != httpserver.SessionEndedCloseCode || !want.MatchString(end.closeText) {
		t.Fatalf("closed with %d %q, want %d and the sentence", end.closeCode, end.closeText, httpserver.SessionEndedCloseCode)
	}
	if end.afterEnd != 0 {
		t.Fatalf("%d changes frames after the end", end.afterEnd)
	}
	// The bound the server promises (docs/protocol.md, "Access that ends").
	took := end.closedAt.Sub(event)
	if took > time.Second {
		t.Fatalf("the socket streamed %s after its session ended, more than 1 s", took)
	}
	t.Logf("closed %s after the event, %d pages pulled before", took.Round(time.Millisecond), end.pages)
}

// TestAccessEndsOnOpenSocket: disable, role change, password reset, logout
// (each by the API, on the second instance while the socket is on the
// first: the news travels by LISTEN/NOTIFY) and expiry each stop a socket
// that was mid-pull within 1 s, with close code 4401 and the sentence.
func TestAccessEndsOnOpenSocket(t *testing.T) {
	t.Parallel()
	env := wardtest.StartServer(t, wardtest.Options{})
	other := env.Again(t, wardtest.Options{})
	admin := wardtest.LoginAs(t, other.URL(), "admin@hospital.com", "admin123", "")
	at := `\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC`
	cases := []struct {
		name string
		role workflow.Role
		act  func(token string)
		want *regexp.Regexp
	}{
		{"disable", workflow.RoleNurse, func(string) {
			if code, out := wardtest.PostJSON(t, other.URL()+"/api/v1/admin/users/"+nurseID+"/disable", admin, nil); code != 200 {
				t.Fatalf("disable: %d %v", code, out)
			}
		}, regexp.MustCompile(`^The account of Infirmier Test is disabled\.$`)},
		{"role change", workflow.RoleDoctor, func(string) {
			if code, out := wardtest.CallJSON(t, nil, http.MethodPatch, other.URL()+"/api/v1/admin/users/"+doctorID, admin, map[string]string{"role": "BIOLOGIST"}); code != 200 {
				t.Fatalf("role change: %d %v", code, out)
			}
		}, regexp.MustCompile(`^The role of Dr Médecin Test was changed at ` + at + `; log in again\.$`)},
		{"password reset", workflow.RoleBiologist, func(string) {
			if code, out := wardtest.PostJSON(t, other.URL()+"/api/v1/admin/users/"+biologistID+"/password", admin, map[string]string{"password": "new-secret-1"}); code != 200 {
				t.Fatalf("password reset: %d %v", code, out)
			}
		}, regexp.MustCompile(`^The password of Biologiste Test was reset at ` + at + `; log in again with the new password\.$`)},
		{"logout", workflow.RoleSecretary, func(token string) {
			if code, out := wardtest.PostJSON(t, other.URL()+"/api/v1/auth/logout", token, nil); code != 200 {
				t.Fatalf("logout: %d %v", code, out)
			}
		}, regexp.MustCompile(`^Secrétaire Test logged out at ` + at + `; log in again\.$`)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok := env.Login(t, tc.role, demo)
			c := env.Connect(t, tok, demo)
			started, done := streamPulls(c)
			select {
			case <-started:
			case <-time.After(wardtest.WaitTimeout):
				t.Fatal("the socket never got going")
			}
			sent := time.Now()
			tc.act(tok)
			// The session ended at the act's commit, before its answer.
			answered := time.Now()
			checkEnded(t, started, done, answered, tc.want)
			t.Logf("the act took %s from request to answer", answered.Sub(sent).Round(time.Millisecond))
		})
	}

	t.Run("expiry", func(t *testing.T) {
		short := wardtest.StartServer(t, wardtest.Options{Config: func(c *postgres.Config) { c.SessionTTL = 3 * time.Second }})
		code, out := wardtest.PostJSON(t, short.URL()+"/api/v1/auth/login", "", wardtest.LoginBody("nurse@hospital.com", "nurse123", demo))
		if code != 200 {
			t.Fatalf("login: %d %v", code, out)
		}
		expires, err := time.Parse(time.RFC3339Nano, out["expiresAt"].(string))
		if err != nil {
			t.Fatal(err)
		}
		c := short.Connect(t, out["token"].(string), demo)
		started, done := streamPulls(c)
		checkEnded(t, started, done, expires, regexp.MustCompile(`^The session of Infirmier Test expired at `+at+`; log in again\.$`))
		// The expiry is in the security log, once.
		if n := wardtest.Count(t, short.Pool, `SELECT count(*) FROM sync.security_events WHERE kind = 'session_expired' AND user_id = $1 AND at = $2`,
			nurseID, expires); n != 1 {
			t.Fatalf("%d session_expired events at the expiry", n)
		}
	})
}

// getIdle reads path with the dashboard's idle header (ms since the
// administrator's last key or click).
func getIdle(t testing.TB, srv *httpserver.Server, path, token string, idle time.Duration) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL()+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set(httpserver.IdleHeader, strconv.FormatInt(idle.Milliseconds(), 10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestDashboardSessionLifetime: a dashboard session lasts 8 h however
// active, and ends after 30 min without a key or click even while the page
// keeps refreshing (its requests say how long the administrator has been
// idle); a workstation session lasts 7 days.
func TestDashboardSessionLifetime(t *testing.T) {
	t.Parallel()
	env := wardtest.StartServer(t, wardtest.Options{})
	code, out := wardtest.PostJSON(t, env.URL()+"/api/v1/auth/login", "", map[string]string{"email": "admin@hospital.com", "password": "admin123"})
	if code != 200 {
		t.Fatalf("login: %d %v", code, out)
	}
	issued := env.Clock.Now()
	expires, _ := time.Parse(time.RFC3339Nano, out["expiresAt"].(string))
	if d := expires.Sub(issued); d < 8*time.Hour-time.Minute || d > 8*time.Hour {
		t.Fatalf("dashboard session lasts %s, want 8h", d)
	}
	idleTok := wardtest.LoginAs(t, env.URL(), "admin@hospital.com", "admin123", "")
	busy := out["token"].(string)
	// Refreshes with an administrator at the keyboard keep it alive, an
	// unattended page's do not.
	for i := 0; i < 2; i++ {
		env.Clock.Advance(20 * time.Minute)
		if code, out := getIdle(t, env.HTTP, "/api/v1/admin/session", busy, 0); code != 200 {
			t.Fatalf("active after %d min: %d %v", 20*(i+1), code, out)
		}
		if code, out := getIdle(t, env.HTTP, "/api/v1/admin/session", idleTok, time.Duration(i+1)*20*time.Minute); i == 0 && code != 200 {
			t.Fatalf("idle 20 min: %d %v", code, out)
		} else if i == 1 && (code != 401 || out["code"] != "UNAUTHENTICATED" ||
			out["message"] != "The dashboard session of Admin Test ended after 30m0s without activity; sign in again.") {
			t.Fatalf("idle 40 min: %d %v", code, out)
		}
	}
	// Eight hours, however active.
	for env.Clock.Now().Before(expires) {
		env.Clock.Advance(20 * time.Minute)
		code, out := getIdle(t, env.HTTP, "/api/v1/admin/session", busy, 0)
		if env.Clock.Now().Before(expires) && code != 200 {
			t.Fatalf("active session refused before its 8 h: %d %v", code, out)
		}
		if !env.Clock.Now().Before(expires) && (code != 401 ||
			!regexp.MustCompile(`^The session of Admin Test expired at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC; log in again\.$`).MatchString(out["message"].(string))) {
			t.Fatalf("after 8 h: %d %v", code, out)
		}
	}
	// Both ends are in the security log.
	if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM sync.security_events WHERE kind = 'session_expired' AND user_id = $1`, adminID); n != 2 {
		t.Fatalf("%d session_expired events, want 2 (idle, lifetime)", n)
	}
	// A workstation session lasts the offline window.
	code, out = wardtest.PostJSON(t, env.URL()+"/api/v1/auth/login", "", wardtest.LoginBody("nurse@hospital.com", "nurse123", demo))
	ws, _ := time.Parse(time.RFC3339Nano, out["expiresAt"].(string))
	if d := ws.Sub(env.Clock.Now()); code != 200 || d < 7*24*time.Hour-time.Minute || d > 7*24*time.Hour {
		t.Fatalf("workstation session: %d, lasts %s", code, d)
	}
}
