package station

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"wardsync/desktop"
	"wardsync/desktop/keyfile"
	"wardsync/internal/wardtest"
	"wardsync/workflow"
)

// station is one workstation: an engine on its own SQLite file, talking to
// the server through its own link (cut: a pulled cable or a dead switch,
// as the engine sees it).
type station struct {
	tb     testing.TB
	env    *env
	device string
	link   *wardtest.Link
	cfg    desktop.Config
	e      *desktop.Engine
	users  map[workflow.Role]string // role → id of the user logged in for it
	stopFn func()
}

// station starts a workstation's engine, its config changed by opts.
func (e *env) station(device string, opts ...func(*desktop.Config)) *station {
	e.tb.Helper()
	p := wardtest.NewLink(e.tb, e.tb.Name()+"/"+device, e.Addr())
	cfg := desktop.Config{
		DBPath:     filepath.Join(e.tb.TempDir(), device+".db"),
		ServerURL:  p.URL(),
		DeviceID:   device,
		Logger:     wardtest.Logger().With("station", device),
		Location:   time.UTC,
		BackoffMin: 10 * time.Millisecond, BackoffMax: 200 * time.Millisecond,
		PollInterval: 50 * time.Millisecond,
		// Cheap key slots: the tests log in often; keyfile's benchmark
		// measures the real costs.
		SlotParams: &keyfile.Params{Time: 1, MemoryKiB: 64, Threads: 1},
	}
	for _, o := range opts {
		o(&cfg)
	}
	eng, err := desktop.Open(context.Background(), cfg)
	if err != nil {
		e.tb.Fatal(err)
	}
	s := &station{tb: e.tb, env: e, device: device, link: p, cfg: cfg, e: eng, users: map[workflow.Role]string{}}
	e.tb.Cleanup(func() {
		s.stop()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := eng.Close(ctx); err != nil {
			e.tb.Errorf("close %s: %v", device, err)
		}
	})
	return s
}

func (s *station) login(email, password string) *desktop.Session {
	s.tb.Helper()
	sess, err := s.e.Login(context.Background(), email, password)
	if err != nil {
		s.tb.Fatalf("%s: login %s: %v", s.device, email, err)
	}
	s.users[sess.User.Role] = sess.User.ID
	return sess
}

// loginAll logs the seed's users of roles in, online.
func (s *station) loginAll(roles ...workflow.Role) {
	s.tb.Helper()
	for _, r := range roles {
		sess := s.login(wardtest.Email(r), wardtest.Password(r))
		if sess.Offline {
			s.tb.Fatalf("%s: %s logged in offline", s.device, r)
		}
	}
}

// run starts the sync loop; stop ends it and waits.
func (s *station) run() {
	s.tb.Helper()
	if s.stopFn != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.e.Run(ctx) }()
	s.stopFn = func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				s.tb.Errorf("%s: run: %v", s.device, err)
			}
		case <-time.After(10 * time.Second):
			s.tb.Errorf("%s: run did not stop", s.device)
		}
	}
}

// reconnect restores the link Cut took down.
func (s *station) reconnect() {
	s.tb.Helper()
	if err := s.link.Restore(); err != nil {
		s.tb.Fatal(err)
	}
}

func (s *station) stop() {
	if s.stopFn != nil {
		s.stopFn()
		s.stopFn = nil
	}
}

// act performs one act as role's logged-in user (see perform).
func (s *station) act(role workflow.Role, name string, args map[string]any) *desktop.Acted {
	s.tb.Helper()
	a, err := s.perform([]step{{role, name, args}})
	if err != nil {
		s.tb.Fatal(err)
	}
	return a[0]
}

func (s *station) pending() []desktop.PendingAct {
	s.tb.Helper()
	p, err := s.e.Pending(context.Background())
	if err != nil {
		s.tb.Fatal(err)
	}
	return p
}

// synced says why the station is not yet idle and up to date ("" when it is).
func (s *station) synced() string {
	st := s.e.Status()
	switch {
	case !st.Online:
		return s.device + " offline: " + st.LastError
	case st.LastSyncAt == nil:
		return s.device + " never synced"
	case st.Syncing:
		return s.device + " syncing"
	}
	if n := len(s.pending()); n > 0 {
		return fmt.Sprintf("%s has %d acts in its outbox", s.device, n)
	}
	return ""
}

// replicaState is s's replica as wardtest.State, for roles.
func replicaState(tb testing.TB, s *station, roles []workflow.Role) wardtest.State {
	tb.Helper()
	st, err := wardtest.SQLiteState(context.Background(), s.e.DB(), roles)
	if err != nil {
		tb.Fatal(err)
	}
	return st
}
