package desktop

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"wardsync/desktop/keyfile"
	"wardsync/workflow"
)

// loginChildEnv makes the test binary one login process of
// TestLoginProcessesKeepEverySlot, as a station's `login` command is.
const loginChildEnv = "WARDSYNC_TEST_LOGIN_PROCESS"

// Login processes running at once on one workstation, each logging its
// own user in online again and again, lose nobody's slot or session key:
// at the end every user's slot opens with their password and holds the
// session the server issued to their last login. (Without the key file's
// lock, two processes each wrote back the file as they had read it, and
// the second dropped the slot the first had just put.)
func TestLoginProcessesKeepEverySlot(t *testing.T) {
	if v := os.Getenv(loginChildEnv); v != "" {
		loginProcess(t, v)
		return
	}
	const procs, rounds = 6, 3
	w := newWorld(t)
	w.fs.escrow = map[string][]byte{}
	cfg := w.config(wardDevice, "")
	// The first login makes the replica, as a station's first `login`.
	e := newEngine(t, cfg)
	login(t, e, "secretary@hospital.com", "secretary123")
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	user := func(i int) (id, email, password string) {
		return fmt.Sprintf("55555555-5555-4555-8555-%012d", i), fmt.Sprintf("nurse%d@hospital.com", i), fmt.Sprintf("nurse-pw-%d", i)
	}
	for i := range procs {
		id, email, password := user(i)
		w.fs.addUser(email, password, fakeUser{ID: id, Name: "Nurse " + strconv.Itoa(i), Role: workflow.RoleNurse})
	}
	var starts []io.WriteCloser
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for i := range procs {
		_, email, password := user(i)
		cmd := exec.Command(os.Args[0], "-test.run=^TestLoginProcessesKeepEverySlot$", "-test.count=1")
		cmd.Env = append(os.Environ(), loginChildEnv+"="+strings.Join(
			[]string{cfg.DBPath, cfg.ServerURL, cfg.DeviceID, email, password, strconv.Itoa(rounds)}, "\n"))
		out := new(bytes.Buffer)
		cmd.Stdout, cmd.Stderr = out, out
		in, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		starts, cmds, outs = append(starts, in), append(cmds, cmd), append(outs, out)
	}
	// Each process opens its engine, then waits on its stdin: closing
	// them all lets the logins go at once.
	for _, in := range starts {
		in.Close()
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("login process %d: %v\n%s", i, err, outs[i])
		}
	}

	kf, err := keyfile.Load(cfg.DBPath + ".keys")
	if err != nil {
		t.Fatal(err)
	}
	if len(kf.Slots) != procs+1 || kf.DeviceID != wardDevice {
		t.Errorf("%d slots on device %q, want %d on %s", len(kf.Slots), kf.DeviceID, procs+1, wardDevice)
	}
	check := func(id, email, password string) {
		s := kf.Slot(email)
		if s == nil {
			t.Errorf("the slot of %s was lost", email)
			return
		}
		key, sk, err := s.Open(password)
		want := w.fs.lastSession(id)
		switch {
		case err != nil || !bytes.Equal(key, w.fs.escrow[wardDevice]):
			t.Errorf("the slot of %s does not open to the replica's key: %v", email, err)
		case sk == nil:
			t.Errorf("the session key of %s was lost, want %s", email, want)
		case sk.SessionID != want:
			t.Errorf("%s's slot holds session %s, want its last login's %s", email, sk.SessionID, want)
		}
	}
	check(secretaryID, "secretary@hospital.com", "secretary123")
	for i := range procs {
		check(user(i))
	}
}

// loginProcess is one process of TestLoginProcessesKeepEverySlot: it
// opens the workstation, waits for its stdin to close, then logs its user
// in online rounds times.
func loginProcess(t *testing.T, arg string) {
	a := strings.Split(arg, "\n")
	rounds, _ := strconv.Atoi(a[5])
	ctx := context.Background()
	e, err := Open(ctx, Config{DBPath: a[0], ServerURL: a[1], DeviceID: a[2], Now: func() time.Time { return t0 },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Location: time.UTC, SlotParams: &cheapSlots})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	io.Copy(io.Discard, os.Stdin)
	for range rounds {
		if _, err := e.Login(ctx, a[3], a[4]); err != nil {
			t.Fatalf("login %s: %v", a[3], err)
		}
	}
}

// A key file whose lock another process keeps refuses the login
// KEY_FILE_BUSY, naming the file and the wait, and changes nothing; once
// it is let go the same login goes through.
func TestKeyFileBusy(t *testing.T) {
	w := newWorld(t)
	cfg := w.config(wardDevice, "")
	cfg.KeyFileWait = 40 * time.Millisecond
	e := newEngine(t, cfg)
	held, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		// Another process's change in progress: the lock is taken
		// per open file, so this holds it against the engine as another
		// process would.
		done <- keyfile.Update(e.cfg.KeyFile, time.Second, func(*keyfile.File) (bool, error) {
			close(held)
			<-release
			return false, nil
		})
	}()
	<-held
	_, err := e.Login(context.Background(), "nurse@hospital.com", "nurse123")
	wantRejection(t, err, workflow.CodeKeyFileBusy, fmt.Sprintf("The key file %s is held by another wardsync program on this workstation "+
		"(a login, an act or the app) and was not released within 40ms; nothing was changed. Try again; if it stays busy, close the other wardsync programs.",
		e.cfg.KeyFile))
	if e.Unlocked() {
		t.Fatal("a refused login opened the replica")
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	login(t, e, "nurse@hospital.com", "nurse123")
	if kf, err := keyfile.Load(e.cfg.KeyFile); err != nil || kf.Slot("nurse@hospital.com") == nil {
		t.Fatalf("no slot after the lock was let go: %v", err)
	}
}
