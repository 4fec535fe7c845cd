package wardtest

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"time"

	"wardsync/workflow"
)

// StationProc is a workstation as the tests of the binaries crash it: its
// sync process (`run`, its output appended to LogPath) and the act process
// in flight, killed together as a machine that loses power, the sync
// process started again afterwards, through any of its links (one per
// server; none: CLI.Server).
type StationProc struct {
	CLI     StationCLI
	LogPath string

	// The links' URLs, read once: toxiproxy rewrites a proxy's address
	// (the same one) each time a Restore starts it.
	urls []string

	mu     sync.Mutex
	home   int // the link its processes use now
	runs   []*Proc
	acting *Proc // the act process in flight, if any
	up     bool  // the last of runs runs, unless it died by itself
}

// NewStationProc is a station that is down, its processes to go through
// links[home] (no links: cli.Server).
func NewStationProc(cli StationCLI, logPath string, links []*Link, home int) *StationProc {
	s := &StationProc{CLI: cli, LogPath: logPath, home: home}
	for _, l := range links {
		s.urls = append(s.urls, l.URL())
	}
	return s
}

// Via is the station's CLI through the link it uses now.
func (s *StationProc) Via() StationCLI {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cli()
}

func (s *StationProc) cli() StationCLI {
	c := s.CLI
	if len(s.urls) > 0 {
		c.Server = s.urls[s.home]
	}
	return c
}

// Home is the link the sync process uses now.
func (s *StationProc) Home() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.home
}

// Start starts the sync process through link home, unless it runs.
func (s *StationProc) Start(home int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.up {
		return nil
	}
	s.home = home
	p, err := StartProc(s.cli().Command(context.Background(), "run"), s.LogPath, fmt.Sprintf("run #%d via link %d", len(s.runs)+1, home))
	if err != nil {
		return err
	}
	s.runs, s.up = append(s.runs, p), true
	return nil
}

// Kill kills the sync process and the act in flight (SIGKILL); false when
// the station was down already.
func (s *StationProc) Kill() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.up {
		return false
	}
	s.up = false
	// One that ended by itself is left unmarked, for Crashed to count.
	if run := s.runs[len(s.runs)-1]; run.Alive() {
		run.Kill()
	}
	if s.acting != nil {
		s.acting.Kill()
	}
	return true
}

// Crashed says how often the sync process died without being killed.
func (s *StationProc) Crashed() (n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.runs {
		if !p.Alive() && !p.Killed {
			n++
		}
	}
	return n
}

// Stop ends the sync process politely.
func (s *StationProc) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.up {
		s.runs[len(s.runs)-1].Stop(10 * time.Second)
	}
	s.up = false
}

// Act runs one act process as role's user, unless the station is down
// (skipped). kill, when positive, kills it that long after it starts: a
// crash in the middle of an act. An end of ctx kills it too.
func (s *StationProc) Act(ctx context.Context, role workflow.Role, name string, args any, kill time.Duration) (out Acted, skipped bool, err error) {
	s.mu.Lock()
	if !s.up {
		s.mu.Unlock()
		return out, true, nil
	}
	a := s.cli().Act(role, name, args)
	p, err := StartProc(a.Cmd, "", "")
	if err != nil {
		s.mu.Unlock()
		return out, false, err
	}
	s.acting = p
	s.mu.Unlock()
	if kill > 0 {
		t := time.AfterFunc(kill, func() { a.Cmd.Process.Signal(syscall.SIGKILL) })
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
	if out, err = a.Result(p.Err); err != nil {
		err = fmt.Errorf("%s as %s: %w", s.CLI.Device, role, err)
	}
	return out, false, err
}
