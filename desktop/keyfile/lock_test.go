package keyfile

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Another holder of the lock makes Update and Read give up after their
// wait, with the path and the wait, and change nothing; once it lets go
// they go through.
func TestLockBusy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "ward.db.keys")
	if err := Update(path, time.Second, func(f *File) (bool, error) { f.DeviceID = "dev-1"; return true, nil }); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(LockPath(path)); err != nil || (runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600) {
		t.Fatalf("lock file: %v %v", fi, err)
	}
	release, err := lockFile(path, true, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("keyfile: %s is locked by another process (waited 30ms)", path)
	called := false
	err = Update(path, 30*time.Millisecond, func(f *File) (bool, error) { called = true; return true, nil })
	var busy *BusyError
	if !errors.As(err, &busy) || err.Error() != want || called {
		t.Fatalf("update while locked: %v (change called: %v)", err, called)
	}
	if _, err := Read(path, 30*time.Millisecond); !errors.As(err, &busy) || err.Error() != want {
		t.Fatalf("read while locked: %v", err)
	}
	release()
	// Readers share the lock; a writer waits for them.
	r1, err := lockFile(path, false, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if f, err := Read(path, 30*time.Millisecond); err != nil || f.DeviceID != "dev-1" {
		t.Fatalf("read beside a reader: %+v %v", f, err)
	}
	if err := Update(path, 30*time.Millisecond, func(*File) (bool, error) { return true, nil }); !errors.As(err, &busy) {
		t.Fatalf("update beside a reader: %v", err)
	}
	r1()
	if err := Update(path, time.Second, func(f *File) (bool, error) { f.ServerURL = "https://x"; return true, nil }); err != nil {
		t.Fatal(err)
	}
	if f, err := Load(path); err != nil || f.DeviceID != "dev-1" || f.ServerURL != "https://x" {
		t.Fatalf("after: %+v %v", f, err)
	}
}

// childEnv makes the test binary a writer of TestProcessesLoseNoSlot.
const childEnv = "WARDSYNC_KEYFILE_CHILD"

// Processes that each put their user's slot again and again, all at once
// on one key file, lose none of the others' slots or session keys: every
// slot is there at the end and holds its user's last session.
func TestProcessesLoseNoSlot(t *testing.T) {
	const procs, rounds = 8, 12
	if v := os.Getenv(childEnv); v != "" {
		writeSlots(t, v, rounds)
		return
	}
	path := filepath.Join(t.TempDir(), "ward.db.keys")
	key := NewDataKey()
	if err := os.WriteFile(path+".data", key, 0o600); err != nil {
		t.Fatal(err)
	}
	var starts []io.WriteCloser
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for i := range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestProcessesLoseNoSlot$", "-test.count=1")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s;%d", childEnv, path, i))
		out := new(bytes.Buffer)
		cmd.Stdout, cmd.Stderr = out, out
		outs = append(outs, out)
		in, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		starts, cmds = append(starts, in), append(cmds, cmd)
	}
	// Every child is started and waits on its stdin: closing them lets
	// all of them go at once.
	for _, in := range starts {
		in.Close()
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("writer %d: %v\n%s", i, err, outs[i])
		}
	}
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Slots) != procs {
		t.Errorf("%d slots, want %d", len(f.Slots), procs)
	}
	for i := range procs {
		s := f.Slot(fmt.Sprintf("u%d@x", i))
		if s == nil {
			t.Errorf("the slot of u%d was lost", i)
			continue
		}
		_, sk, err := s.Open(fmt.Sprintf("pw%d", i))
		want := fmt.Sprintf("ses-%d-%d", i, rounds-1)
		if err != nil || sk == nil {
			t.Errorf("u%d: no session key (%v), want %s", i, err, want)
		} else if sk.SessionID != want {
			t.Errorf("u%d holds session %s, want its last one %s", i, sk.SessionID, want)
		}
	}
}

// writeSlots is one child of TestProcessesLoseNoSlot: once its stdin is
// closed, it puts its user's slot rounds times, each with a new session.
func writeSlots(t *testing.T, arg string, rounds int) {
	path, n, _ := strings.Cut(arg, ";")
	i, _ := strconv.Atoi(n)
	key, err := os.ReadFile(path + ".data")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, bufio.NewReader(os.Stdin))
	for r := range rounds {
		_, priv, _ := ed25519.GenerateKey(nil)
		s, err := NewSessionSlot(fmt.Sprintf("user-%d", i), fmt.Sprintf("u%d@x", i), fmt.Sprintf("pw%d", i), key,
			&SessionKey{SessionID: fmt.Sprintf("ses-%d-%d", i, r), Priv: priv}, cheap, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := Update(path, DefaultWait, func(f *File) (bool, error) { f.Put(s); return true, nil }); err != nil {
			t.Fatal(err)
		}
	}
}
