package station

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"wardsync/desktop"
	"wardsync/internal/wardtest"
	"wardsync/server/postgres"
	"wardsync/workflow"
)

// offsetClock is real time shifted by an offset the test moves: the
// engine's injected clock.
type offsetClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *offsetClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *offsetClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

func wantRefusal(t *testing.T, what string, err error, code workflow.Code, msg string) {
	t.Helper()
	r, ok := workflow.AsRejection(err)
	if !ok {
		t.Errorf("%s: %v, want a %s refusal", what, err, code)
		return
	}
	if r.Code != code || r.Message != msg {
		t.Errorf("%s: %s %q\nwant %s %q", what, r.Code, r.Message, code, msg)
	}
}

// TestOfflineLogin: a user who logged in online on this workstation logs in
// offline (the link cut, then the server gone) with the same password, and
// may act; a user who never logged in here, a wrong password, and a login
// after the offline window are refused with UNAUTHENTICATED and the
// sentences the UI shows. A refusal by the server itself is final.
func TestOfflineLogin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := newEnv(t, true)
	clk := &offsetClock{}
	s := env.station(postgres.DemoDeviceID, func(c *desktop.Config) { c.Now = clk.Now })

	// Online: a wrong password is the server's refusal, and no key slot is made.
	_, err := s.e.Login(ctx, wardtest.Email(nur), "nurse124")
	wantRefusal(t, "online, wrong password", err, workflow.CodeUnauthenticated, "Wrong e-mail or password.")
	online := s.login(wardtest.Email(nur), wardtest.Password(nur))
	if online.Offline || online.User.Name != wardtest.SeedUser(nur).Name || online.User.Role != nur {
		t.Fatalf("online login: %+v", online)
	}
	if d := time.Until(online.ExpiresAt); d < 7*24*time.Hour-time.Minute || d > 7*24*time.Hour+time.Minute {
		t.Errorf("session ends in %s, want the server's 7 days", d)
	}
	s.run()
	wardtest.Eventually(t, wardtest.WaitTimeout, s.synced)
	s.stop()

	// The link is cut (connections reset at once): the same password works
	// offline, by opening the key slot the online login made.
	s.link.Cut()
	sess, err := s.e.Login(ctx, strings.ToUpper(wardtest.Email(nur)), wardtest.Password(nur))
	if err != nil {
		t.Fatalf("offline login through a dead link: %v", err)
	}
	if !sess.Offline || sess.User.ID != wardtest.UserID(nur) || !sess.ExpiresAt.Equal(online.ExpiresAt) {
		t.Errorf("offline session: %+v", sess)
	}

	// Now the server itself goes away (connection refused).
	env.Stop()
	s.reconnect()
	sess, err = s.e.Login(ctx, wardtest.Email(nur), wardtest.Password(nur))
	if err != nil || !sess.Offline {
		t.Fatalf("offline login with the server down: %+v %v", sess, err)
	}
	// Offline, the nurse works: vitals of the checked-in appointment.
	if _, err := s.e.Act(ctx, sess.User.ID, "appointment.recordVitals", wardtest.MustJSON(map[string]any{
		"id": postgres.SeedID("a:checkedin"), "vitals": vitals(37.0, 118)})); err != nil {
		t.Fatalf("act after an offline login: %v", err)
	}

	_, err = s.e.Login(ctx, wardtest.Email(doc), wardtest.Password(doc))
	wantRefusal(t, "never logged in here", err, workflow.CodeUnauthenticated, desktop.MsgNeverOnline)
	_, err = s.e.Login(ctx, "nobody@hospital.com", "whatever1")
	wantRefusal(t, "unknown user", err, workflow.CodeUnauthenticated, desktop.MsgNeverOnline)
	_, err = s.e.Login(ctx, wardtest.Email(nur), "nurse124")
	wantRefusal(t, "wrong password", err, workflow.CodeUnauthenticated, desktop.MsgWrongPassword)
	_, err = s.e.Login(ctx, wardtest.Email(nur), "")
	wantRefusal(t, "no password", err, workflow.CodeUnauthenticated, desktop.MsgMissingLogin)

	// A week and a minute later the window is closed.
	clk.Advance(7*24*time.Hour + time.Minute)
	_, err = s.e.Login(ctx, wardtest.Email(nur), wardtest.Password(nur))
	expires := online.ExpiresAt.In(time.UTC).Format("2006-01-02 15:04")
	wantRefusal(t, "after the window", err, workflow.CodeUnauthenticated,
		"Your last online login on this workstation was on "+online.LastLoginAt.In(time.UTC).Format("2006-01-02 15:04")+
			"; offline work was allowed until "+expires+". Connect to the network to log in again.")
	// The password is still checked first: a wrong one says only that.
	_, err = s.e.Login(ctx, wardtest.Email(nur), "nurse124")
	wantRefusal(t, "wrong password after the window", err, workflow.CodeUnauthenticated, desktop.MsgWrongPassword)
	// And the user can no longer act on this workstation.
	_, err = s.e.Act(ctx, wardtest.UserID(nur), "document.attach", wardtest.MustJSON(map[string]any{"id": "0b7e7d7c-0000-4000-8000-000000000001",
		"patientId": postgres.SeedID("patient:1"), "name": "Scan", "type": "image/png", "url": "https://pacs/1"}))
	wantRefusal(t, "act after the window", err, workflow.CodeUnauthenticated,
		"The session of "+wardtest.SeedUser(nur).Name+" ended at "+expires+"; log in again online to go on working.")
}
