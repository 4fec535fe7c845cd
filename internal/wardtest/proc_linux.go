package wardtest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Proc is a child process of the tests (a server, a workstation's CLI).
// The kernel kills it if the test process dies (a panic, a timeout), so
// that none outlives a run.
type Proc struct {
	Cmd    *exec.Cmd
	Done   chan struct{} // closed once it has ended
	Err    error         // how it ended, once Done is closed
	Killed bool          // the test ended it (Kill, Stop)
}

// StartProc starts cmd; with a logPath its output is appended there after
// a line naming banner, else it goes where cmd says.
func StartProc(cmd *exec.Cmd, logPath, banner string) (*Proc, error) {
	var log *os.File
	if logPath != "" {
		var err error
		if log, err = os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
			return nil, err
		}
		fmt.Fprintf(log, "\n===== %s %s =====\n", time.Now().Format("15:04:05.000"), banner)
		cmd.Stdout, cmd.Stderr = log, log
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, err
	}
	p := &Proc{Cmd: cmd, Done: make(chan struct{})}
	go func() {
		p.Err = cmd.Wait()
		log.Close()
		close(p.Done)
	}()
	return p, nil
}

// Alive says whether p is running (false for nil).
func (p *Proc) Alive() bool {
	if p == nil {
		return false
	}
	select {
	case <-p.Done:
		return false
	default:
		return true
	}
}

// Kill sends SIGKILL and waits for the end.
func (p *Proc) Kill() {
	if p == nil {
		return
	}
	p.Killed = true
	p.Cmd.Process.Signal(syscall.SIGKILL)
	<-p.Done
}

// Stop asks politely (SIGTERM), kills after grace, and says how p ended.
func (p *Proc) Stop(grace time.Duration) error {
	if p == nil {
		return nil
	}
	p.Killed = true
	p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.Done:
	case <-time.After(grace):
		p.Kill()
	}
	return p.Err
}

// waitReady waits until the server p runs answers 200 on url's /readyz.
func waitReady(ctx context.Context, url string, p *Proc, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Get(url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("readyz: %s", resp.Status)
		}
		if !p.Alive() {
			return fmt.Errorf("the process exited: %v", p.Err)
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// ServerProc is a wardsync-server child process (`Bin serve -addr Addr
// Args...` on DatabaseURL, its output appended to LogPath), started again
// on the same address after a kill, as a service manager would.
type ServerProc struct {
	Name, Bin, Addr, DatabaseURL, LogPath string
	Args, Env                             []string

	mu     sync.Mutex
	p      *Proc
	starts int
	exits  int // the times it was found dead without having been killed
}

// URL is the server's base URL.
func (s *ServerProc) URL() string { return "http://" + s.Addr }

// Proc is the running (or last) process.
func (s *ServerProc) Proc() *Proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.p
}

// Start launches the server unless it runs, and waits until /readyz
// answers 200. It tries again a few times: the port may still be held a
// moment by the instance just killed, or PostgreSQL may be restarting.
func (s *ServerProc) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p.Alive() {
		return nil
	}
	if s.p != nil && !s.p.Killed {
		s.exits++
	}
	var err error
	for range 5 {
		cmd := exec.Command(s.Bin, append([]string{"serve", "-addr", s.Addr}, s.Args...)...)
		cmd.Env = append(append(os.Environ(), "DATABASE_URL="+s.DatabaseURL), s.Env...)
		s.starts++
		if s.p, err = StartProc(cmd, s.LogPath, fmt.Sprintf("start #%d", s.starts)); err != nil {
			return err
		}
		if err = waitReady(ctx, s.URL(), s.p, time.Minute); err == nil {
			return nil
		}
		s.p.Kill()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
	log, _ := os.ReadFile(s.LogPath)
	return fmt.Errorf("server %s on %s did not become ready: %w\n%s", s.Name, s.Addr, err, log)
}

// Kill kills the server (SIGKILL); false when it was not running.
func (s *ServerProc) Kill() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.p.Alive() {
		return false
	}
	s.p.Kill()
	return true
}

// Crashed says how often the server died without being killed (so far).
func (s *ServerProc) Crashed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.exits
	if s.p != nil && !s.p.Alive() && !s.p.Killed {
		n++
	}
	return n
}

// Stop asks the server to end (SIGTERM), as a service manager does.
func (s *ServerProc) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.p.Stop(20 * time.Second)
}
