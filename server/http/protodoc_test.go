package http_test

import (
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"wardsync/internal/wardtest"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// The points where docs/protocol.md and the server once disagreed, checked
// against the server: the login's answer (the authorId every act needs
// comes from it), the session window's slack before the login, and the
// chain head after a duplicate by id. (The close code for an oversized
// frame is checked in TestHostileInput, cursors in
// TestCursorsCheckedAgainstTheFeed.)
func TestProtocolDocPoints(t *testing.T) {
	t.Parallel()
	env := wardtest.StartServer(t, wardtest.Options{})

	// Logging in: {token, sessionId, user: {id, name, role}, expiresAt}.
	body := wardtest.LoginBody("secretary@hospital.com", "secretary123", demo)
	code, out, _, err := wardtest.PostLogin(nil, env.URL(), body, nil) // the acts carry its user and are signed with its key
	if err != nil || code != 200 {
		t.Fatalf("login: %d %v %v", code, out, err)
	}
	keys := func(m map[string]any) string {
		var k []string
		for name := range m {
			k = append(k, name)
		}
		sort.Strings(k)
		return strings.Join(k, ",")
	}
	user, _ := out["user"].(map[string]any)
	if keys(out) != "expiresAt,sessionId,token,user" || keys(user) != "id,name,role" ||
		user["id"] != secretaryID || user["name"] != "Secrétaire Test" || user["role"] != "SECRETARY" {
		t.Fatalf("login answer: %v", out)
	}
	expires, err := time.Parse(time.RFC3339, out["expiresAt"].(string))
	if err != nil || expires.Sub(time.Now()) < 7*24*time.Hour-time.Minute || expires.Sub(time.Now()) > 7*24*time.Hour {
		t.Fatalf("expiresAt %v (%v), want the login + 168h", out["expiresAt"], err)
	}
	sec := out["token"].(string)
	loggedIn := time.Now()
	c := env.Connect(t, sec, demo)

	// The session window: [issuedAt − 5 min, expiresAt].
	c.Act(t, "patient.register", registerArgs(uuid.NewString(), "Slack"), sec, ms(loggedIn.Add(-3*time.Minute)))
	res := c.Push(t, c.Mut("patient.register", registerArgs(uuid.NewString(), "Early"), sec, ms(loggedIn.Add(-6*time.Minute))))[0]
	wardtest.CheckRejected(t, res, workflow.CodeUnauthenticated,
		regexp.MustCompile(`^The act occurred at \d{4}-\d\d-\d\d \d\d:\d\d, before Secrétaire Test logged in at \d{4}-\d\d-\d\d \d\d:\d\d\.$`), "")

	// A duplicate by id under a new seq moves the chain head to its hash:
	// the next act chains from it.
	now := ms(time.Now())
	m := c.Mut("patient.register", registerArgs(uuid.NewString(), "Twice"), sec, now)
	if r := c.Push(t, m)[0]; r.Status != syncproto.StatusApplied {
		t.Fatalf("first: %+v", r)
	}
	again := m
	c.Seq++
	again.Seq, again.PrevHash, again.Hash = c.Seq, "", ""
	if r := c.Push(t, again)[0]; r.Status != syncproto.StatusDuplicate || r.Code != "" {
		t.Fatalf("the same id under seq %d: %+v", again.Seq, r)
	}
	c.Act(t, "patient.register", registerArgs(uuid.NewString(), "After"), sec, now)

	// ... and its end: a week later, an act after expiresAt.
	env.Clock.Advance(8 * 24 * time.Hour)
	res = c.Push(t, c.Mut("patient.register", registerArgs(uuid.NewString(), "Late"), sec, ms(expires.Add(time.Minute))))[0]
	wardtest.CheckRejected(t, res, workflow.CodeUnauthenticated,
		regexp.MustCompile(`^The act occurred at \d{4}-\d\d-\d\d \d\d:\d\d, after the session of Secrétaire Test expired at \d{4}-\d\d-\d\d \d\d:\d\d; offline work is accepted for 168h0m0s after a login\.$`), "")
}
