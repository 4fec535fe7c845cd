package soak

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/Shopify/toxiproxy/v2"

	"wardsync/desktop/keyfile"
	"wardsync/desktop/sqlite"
	"wardsync/internal/wardtest"
	"wardsync/workflow"
)

// ---- Servers ----

// serverProc is one wardsync-server instance, restarted on the same address.
type serverProc struct {
	name, addr, dbURL, logPath string
	// escrowKeyFile is the key every instance on the database shares, as in
	// a deployment (docs/security.md): without it a second user's first
	// login on a workstation is refused.
	escrowKeyFile string

	mu     sync.Mutex
	p      *wardtest.Proc
	starts int
	// exits counts the times the instance was found dead without having
	// been killed: a crash of its own.
	exits int
}

func (s *serverProc) URL() string { return "http://" + s.addr }

// start launches the instance and waits until /readyz answers 200.
func (s *serverProc) start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p.Alive() {
		return nil
	}
	if s.p != nil && !s.p.Killed {
		s.exits++
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		cmd := exec.Command(serverBin, "serve", "-addr", s.addr, "-log-level", "warn", "-escrow-key-file", s.escrowKeyFile)
		cmd.Env = append(os.Environ(), "DATABASE_URL="+s.dbURL)
		s.starts++
		p, err := wardtest.StartProc(cmd, s.logPath, fmt.Sprintf("start #%d", s.starts))
		if err != nil {
			return err
		}
		s.p = p
		if lastErr = wardtest.WaitReady(ctx, s.URL(), p, 30*time.Second); lastErr == nil {
			return nil
		}
		p.Kill()
		// The port may still be held a moment by the instance just killed,
		// or PostgreSQL may be restarting: try again.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
	return fmt.Errorf("server %s did not become ready: %w", s.name, lastErr)
}

func (s *serverProc) alive() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.p.Alive()
}

// kill9 kills the instance; false when it was not running.
func (s *serverProc) kill9() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.p.Alive() {
		return false
	}
	s.p.Kill()
	return true
}

// crashed says how often the instance died without being killed (so far).
func (s *serverProc) crashed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.exits
	if s.p != nil && !s.p.Alive() && !s.p.Killed {
		n++
	}
	return n
}

func (s *serverProc) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.p.Stop(20 * time.Second)
}

// ---- Proxies ----

// link is the path from one workstation to one server: a toxiproxy proxy
// that can be cut (stopped: open connections die, new ones are refused)
// and given toxics.
type link struct {
	p    *toxiproxy.Proxy
	mu   sync.Mutex
	down int // how many faults hold it down
	// toxic names the toxic each stream holds (addToxic).
	toxic map[string]string
}

func (l *link) URL() string { return "http://" + l.p.Listen }

func (l *link) cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.down++
	if l.down == 1 {
		l.p.Stop()
	}
}

func (l *link) restore() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.down--
	if l.down > 0 {
		return nil
	}
	var err error
	for i := 0; i < 50; i++ { // the port may linger a moment
		if err = l.p.Start(); err == nil || errors.Is(err, toxiproxy.ErrProxyAlreadyStarted) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("restart proxy %s: %w", l.p.Name, err)
}

// addToxic and removeToxic take the link's lock like cut and restore:
// toxiproxy's Proxy.Stop, waiting for the proxy's links to end, and
// RemoveToxic, waiting for the same links to take the new toxic chain,
// deadlocked once when a link-down fault and the end of a toxic fault hit
// one link at the same moment (seed 4191306140845332 hung for 12 min, both
// goroutines parked in toxiproxy).
//
// A stream holds at most one toxic at a time. toxiproxy 2.5.0 restarts the
// previous toxic of the chain when one is added, with the chain's toxic but
// the stub's old state: a limit_data behind another toxic then panics on a
// nil state inside toxiproxy (seed 4212210987534278 crashed the whole
// soak). With one toxic per stream the previous one is always the noop.
// addToxic reports false when both streams are taken: the fault is skipped.
func (l *link) addToxic(spec map[string]any) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.toxic == nil {
		l.toxic = map[string]string{}
	}
	stream, _ := spec["stream"].(string)
	if l.toxic[stream] != "" {
		stream = map[string]string{"upstream": "downstream", "downstream": "upstream"}[stream]
		if l.toxic[stream] != "" {
			return false, nil
		}
		spec["stream"] = stream
	}
	b, _ := json.Marshal(spec)
	if _, err := l.p.Toxics.AddToxicJson(bytes.NewReader(b)); err != nil {
		return false, err
	}
	l.toxic[stream], _ = spec["name"].(string)
	return true, nil
}

func (l *link) removeToxic(name string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for stream, n := range l.toxic {
		if n == name {
			delete(l.toxic, stream)
		}
	}
	return l.p.Toxics.RemoveToxic(context.Background(), name)
}

// ---- Workstations ----

// stationProc is one workstation: its replica file, its sync process
// (wardsync-station run) and the act processes its driver starts.
type stationProc struct {
	idx     int
	device  string
	roles   []workflow.Role
	dbPath  string
	logPath string
	links   []*link // one per server

	mu      sync.Mutex
	home    int // the server it syncs with now
	run     *wardtest.Proc
	acting  *wardtest.Proc // the act process in flight, if any
	down    bool           // killed and not yet restarted
	starts  int
	exits   int        // sync processes found dead without having been killed
	replica *sqlite.DB // the test's own handle on the replica, for reading
}

func (s *stationProc) url() string { return s.links[s.home].URL() }

// command is a wardsync-station command on this station. A process opens
// the encrypted replica with the first role's key slot unless it says
// otherwise (an act opens it with its author's); the slots are cheap,
// since the soak runs thousands of processes.
func (s *stationProc) command(args ...string) *exec.Cmd {
	cmd := exec.Command(stationBin, append([]string{"-db", s.dbPath, "-server", s.url(), "-device", s.device,
		"-slot-time", "1", "-slot-memory-kib", "64"}, args...)...)
	cmd.Env = append(os.Environ(), "WARDSYNC_UNLOCK="+wardtest.Email(s.roles[0]), "WARDSYNC_PASSWORD="+wardtest.Password(s.roles[0]))
	return cmd
}

// openReplica opens the station's encrypted replica with the first role's
// key slot, as a second process on the workstation would.
func (s *stationProc) openReplica(ctx context.Context) (*sqlite.DB, error) {
	kf, err := keyfile.Load(s.dbPath + ".keys")
	if err != nil {
		return nil, err
	}
	slot := kf.Slot(wardtest.Email(s.roles[0]))
	if slot == nil {
		return nil, fmt.Errorf("%s has no key slot for %s", s.dbPath, wardtest.Email(s.roles[0]))
	}
	key, err := slot.Unwrap(wardtest.Password(s.roles[0]))
	if err != nil {
		return nil, err
	}
	return sqlite.Open(ctx, s.dbPath, key)
}

// login logs the role's seeded user in online.
func (s *stationProc) login(ctx context.Context, role workflow.Role) error {
	s.mu.Lock()
	cmd := s.command("login", "-email", wardtest.Email(role))
	s.mu.Unlock()
	cmd.Env = append(cmd.Env, "WARDSYNC_PASSWORD="+wardtest.Password(role))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: login %s: %v\n%s", s.device, role, err, errb.String())
	}
	var sess struct {
		Offline bool `json:"offline"`
	}
	if err := json.Unmarshal(out.Bytes(), &sess); err != nil || sess.Offline {
		return fmt.Errorf("%s: login %s: not online: %s", s.device, role, out.String())
	}
	return nil
}

// startRun starts the sync process (under s.mu).
func (s *stationProc) startRunLocked() error {
	s.starts++
	p, err := wardtest.StartProc(s.command("run"), s.logPath, fmt.Sprintf("run #%d via server %d", s.starts, s.home))
	if err != nil {
		return err
	}
	s.run, s.down = p, false
	return nil
}

func (s *stationProc) startRun() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.startRunLocked()
}

// kill9 kills the workstation: its sync process and the act in flight.
func (s *stationProc) kill9() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return false
	}
	if !s.run.Alive() {
		s.exits++
	}
	s.down = true
	s.run.Kill()
	if s.acting != nil {
		s.acting.Kill()
	}
	return true
}

// crashed says how often the sync process died without being killed.
func (s *stationProc) crashed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.exits
	if !s.down && !s.run.Alive() {
		n++
	}
	return n
}

// restart brings a killed workstation back, possibly on the other server.
func (s *stationProc) restart(home int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.down {
		return nil
	}
	s.home = home
	return s.startRunLocked()
}

func (s *stationProc) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.run.Stop(10 * time.Second)
	s.down = true
}

// actOutcome is what one act process said.
type actOutcome struct {
	accepted bool
	id       string
	seq      int64
	refusal  *workflow.Rejection // refused on the workstation (exit 3)
	killed   bool                // the workstation was killed while acting
	skipped  bool                // the workstation was down
}

// act runs one act process as role's user. kill, when positive, kills it
// after that long (a crash in the middle of an act).
func (s *stationProc) act(ctx context.Context, role workflow.Role, name string, args json.RawMessage, kill time.Duration) (actOutcome, error) {
	s.mu.Lock()
	if s.down {
		s.mu.Unlock()
		return actOutcome{skipped: true}, nil
	}
	cmd := s.command("act", "-email", wardtest.Email(role), "-args", string(args), name)
	// The act is signed with its author's session key, sealed in the
	// author's own slot: the process opens the replica with that slot (a
	// later variable wins), as the app does when that user logs in.
	cmd.Env = append(cmd.Env, "WARDSYNC_UNLOCK="+wardtest.Email(role), "WARDSYNC_PASSWORD="+wardtest.Password(role))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	p, err := wardtest.StartProc(cmd, "", "")
	if err != nil {
		s.mu.Unlock()
		return actOutcome{}, err
	}
	s.acting = p
	s.mu.Unlock()
	if kill > 0 {
		t := time.AfterFunc(kill, func() { cmd.Process.Signal(syscall.SIGKILL) })
		defer t.Stop()
	}
	select {
	case <-p.Done:
	case <-ctx.Done():
		p.Kill()
	}
	s.mu.Lock()
	s.acting = nil
	s.mu.Unlock()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return actOutcome{killed: true}, nil
	}
	switch cmd.ProcessState.ExitCode() {
	case 0:
		var a struct {
			ID  string `json:"id"`
			Seq int64  `json:"seq"`
		}
		if err := json.Unmarshal(out.Bytes(), &a); err != nil || a.ID == "" {
			return actOutcome{}, fmt.Errorf("%s: %s: unreadable output %q", s.device, name, out.String())
		}
		return actOutcome{accepted: true, id: a.ID, seq: a.Seq}, nil
	case 3:
		var r workflow.Rejection
		if err := json.Unmarshal(errb.Bytes(), &r); err != nil || r.Code == "" {
			return actOutcome{}, fmt.Errorf("%s: %s: unreadable refusal %q", s.device, name, errb.String())
		}
		return actOutcome{refusal: &r}, nil
	}
	return actOutcome{}, fmt.Errorf("%s: act %s %s as %s failed (%v): %s", s.device, name, args, role, p.Err, errb.String())
}
