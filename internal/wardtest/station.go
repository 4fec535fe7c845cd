package wardtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"wardsync/desktop/keyfile"
	"wardsync/desktop/sqlite"
	"wardsync/workflow"
)

// StationCLI is a workstation run as wardsync-station processes (Bin) on
// one replica file. They open the encrypted replica with Unlock's key
// slot, made cheap: tests run hundreds of processes, and keyfile's
// benchmark measures the real cost.
type StationCLI struct {
	Bin, DB, Server, Device string
	Unlock                  workflow.Role
	Env                     []string // added to every process's
}

// Command is `wardsync-station args...` on the station.
func (s StationCLI) Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, s.Bin, append([]string{"-db", s.DB, "-server", s.Server, "-device", s.Device,
		"-slot-time", "1", "-slot-memory-kib", "64"}, args...)...)
	cmd.Env = append(append(os.Environ(), "WARDSYNC_UNLOCK="+Email(s.Unlock), "WARDSYNC_PASSWORD="+Password(s.Unlock)), s.Env...)
	return cmd
}

// Login logs role's seeded user in online: an offline login is an error.
func (s StationCLI) Login(ctx context.Context, role workflow.Role, global ...string) error {
	cmd := s.Command(ctx, append(global, "login", "-email", Email(role))...)
	cmd.Env = append(cmd.Env, "WARDSYNC_PASSWORD="+Password(role))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: login %s: %v\n%s", s.Device, role, err, errb.String())
	}
	var sess struct {
		Offline bool `json:"offline"`
	}
	if err := json.Unmarshal(out.Bytes(), &sess); err != nil || sess.Offline {
		return fmt.Errorf("%s: login %s: not online: %s", s.Device, role, out.String())
	}
	return nil
}

// Act is one act process of the station, started by Start.
type Act struct {
	Cmd         *exec.Cmd
	Out, Errout bytes.Buffer
}

// Acted is what an act process reported: accepted (exit 0, its id and
// seq), refused on the workstation (exit 3), or killed before it could say.
type Acted struct {
	ID      string `json:"id"`
	Seq     int64  `json:"seq"`
	Refusal *workflow.Rejection
	Killed  bool
}

// Act is the process acting name with args as role's user. It opens the
// replica with the author's own slot, where the session's signing key is
// sealed, as the app does when that user logs in (a later variable wins).
func (s StationCLI) Act(role workflow.Role, name string, args any) *Act {
	cmd := s.Command(context.Background(), "act", "-email", Email(role), "-args", string(MustJSON(args)), name)
	cmd.Env = append(cmd.Env, "WARDSYNC_UNLOCK="+Email(role), "WARDSYNC_PASSWORD="+Password(role))
	a := &Act{Cmd: cmd}
	cmd.Stdout, cmd.Stderr = &a.Out, &a.Errout
	return a
}

// Result reads what the act process said once it ended (err: Wait's).
func (a *Act) Result(err error) (Acted, error) {
	st := a.Cmd.ProcessState
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return Acted{Killed: true}, nil
	}
	var r Acted
	switch st.ExitCode() {
	case 0:
		if err := json.Unmarshal(a.Out.Bytes(), &r); err != nil || r.ID == "" {
			return r, fmt.Errorf("act: unreadable output %q", a.Out.String())
		}
		return r, nil
	case 3:
		r.Refusal = &workflow.Rejection{}
		if err := json.Unmarshal(a.Errout.Bytes(), r.Refusal); err != nil || r.Refusal.Code == "" {
			return r, fmt.Errorf("act: unreadable refusal %q", a.Errout.String())
		}
		return r, nil
	}
	return r, fmt.Errorf("act %s failed (%v): %s", a.Cmd.Args, err, a.Errout.String())
}

// ReplicaKey is the encrypted replica's data key, from role's key slot.
func ReplicaKey(path string, role workflow.Role) ([]byte, error) {
	kf, err := keyfile.Load(path + ".keys")
	if err != nil {
		return nil, err
	}
	slot := kf.Slot(Email(role))
	if slot == nil {
		return nil, fmt.Errorf("%s has no key slot for %s", path, Email(role))
	}
	return slot.Unwrap(Password(role))
}

// OpenReplica opens the encrypted replica at path with role's key slot,
// as a second process on the workstation would.
func OpenReplica(ctx context.Context, path string, role workflow.Role) (*sqlite.DB, error) {
	key, err := ReplicaKey(path, role)
	if err != nil {
		return nil, err
	}
	return sqlite.Open(ctx, path, key)
}
