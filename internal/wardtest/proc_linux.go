package wardtest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
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

// WaitReady waits until the server p runs answers 200 on url's /readyz.
func WaitReady(ctx context.Context, url string, p *Proc, timeout time.Duration) error {
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
