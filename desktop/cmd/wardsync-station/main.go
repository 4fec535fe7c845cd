// Command wardsync-station runs the workstation engine without a window:
// for servers' integration tests, scripted wards and diagnostics.
//
//	wardsync-station -version                      print the release and commit
//	wardsync-station [-db PATH] [-server URL] [-device ID] claim -code C
//	                                                redeem the registration code
//	wardsync-station [-db PATH] [-server URL] [-device ID] [-ca-file PEM] [-pin sha256/…] login -email E -password P
//	wardsync-station [...] run                      sync until SIGINT/SIGTERM
//	wardsync-station [...] act [-email E] -args JSON NAME
//	wardsync-station [...] status                   print the status as JSON
//
// The global flags default to $WARDSYNC_DB, $WARDSYNC_SERVER,
// $WARDSYNC_DEVICE, $WARDSYNC_CA_FILE and $WARDSYNC_PIN; the password may
// come from $WARDSYNC_PASSWORD so that it does not show in the process
// list. act runs as the given user, or as the user who logged in last.
//
// The replica is encrypted and each command is a process of its own, so
// every command but login first opens the replica with a user's key slot:
// -unlock EMAIL ($WARDSYNC_UNLOCK; for act, its -email by default) and
// $WARDSYNC_PASSWORD. -slot-time and -slot-memory-kib lower Argon2id's
// costs of the slots login makes, for tests that run many processes only. $WARDSYNC_CPUPROFILE names a file for a CPU
// profile of the command.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"wardsync/desktop"
	"wardsync/desktop/keyfile"
	"wardsync/process"
	"wardsync/version"
	"wardsync/workflow"
)

func main() {
	process.Run(func(ctx context.Context) int { return run(ctx, os.Args[1:], os.Stdout, os.Stderr) })
}

// run is the life of one command and returns the exit code: 0 done,
// 1 failure, 2 usage, 3 the act or login was refused (the refusal is
// printed as JSON).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	m := NewMain()
	m.Stdout, m.Stderr = stdout, stderr
	if err := m.ParseFlags(args); err != nil {
		return 2 // the flag set or the usage said why
	}
	code := m.Run(ctx)
	if err := m.Close(); err != nil {
		fmt.Fprintln(stderr, err)
		return max(code, 1)
	}
	return code
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// errUsage is a command line the usage was printed for.
var errUsage = errors.New("usage")

// Main is one run of wardsync-station: ParseFlags reads the global flags
// and the command, Run opens the replica and does the command, Close
// closes the replica.
type Main struct {
	Stdout, Stderr io.Writer
	Config         desktop.Config
	ShowVersion    bool
	Command        string
	Args           []string // the command's own flags
	UnlockEmail    string
	Engine         *desktop.Engine // open between Run and Close
}

// NewMain is a Main writing to the process's stdout and stderr.
func NewMain() *Main { return &Main{Stdout: os.Stdout, Stderr: os.Stderr} }

// ParseFlags reads the global flags, defaulting to $WARDSYNC_*, and the
// command; it has printed why it fails.
func (m *Main) ParseFlags(args []string) error {
	global := flag.NewFlagSet("wardsync-station", flag.ContinueOnError)
	global.SetOutput(m.Stderr)
	c := &m.Config
	global.StringVar(&c.DBPath, "db", env("WARDSYNC_DB", "wardsync-station.db"), "replica file")
	global.StringVar(&c.ServerURL, "server", env("WARDSYNC_SERVER", ""), "server base URL, e.g. http://127.0.0.1:8420")
	global.StringVar(&c.DeviceID, "device", env("WARDSYNC_DEVICE", ""), "this workstation's device id (stored in the key file once given)")
	global.BoolVar(&m.ShowVersion, "version", false, "print the release and commit, then exit")
	global.StringVar(&c.Security.CAFile, "ca-file", env("WARDSYNC_CA_FILE", ""), "the hospital's CA certificate (PEM), trusted besides the system's")
	global.StringVar(&c.Security.Pin, "pin", env("WARDSYNC_PIN", ""), "sha256/<base64>: refuse any server key but this one")
	global.StringVar(&m.UnlockEmail, "unlock", env("WARDSYNC_UNLOCK", ""), "open the replica with this user's key slot and $WARDSYNC_PASSWORD")
	slotTime := global.Uint("slot-time", uint(keyfile.DefaultParams.Time), "Argon2id passes of the key slots login makes (tests only lower it)")
	global.BoolVar(&c.Unencrypted, "unencrypted", false, "keep the replica unencrypted: the benchmarks' baseline only, never a ward")
	slotMemory := global.Uint("slot-memory-kib", uint(keyfile.DefaultParams.MemoryKiB), "Argon2id memory of the key slots login makes, KiB (tests only lower it)")
	if err := global.Parse(args); err != nil {
		return err
	}
	c.SlotParams = &keyfile.Params{Time: uint32(*slotTime), MemoryKiB: uint32(*slotMemory), Threads: keyfile.DefaultParams.Threads}
	c.NetworkEvents = true
	if m.ShowVersion {
		return nil
	}
	if global.NArg() == 0 {
		fmt.Fprintln(m.Stderr, "usage: wardsync-station [-db PATH] [-server URL] [-device ID] claim|login|run|act|status [flags]")
		return errUsage
	}
	m.Command, m.Args = global.Arg(0), global.Args()[1:]
	return nil
}

// Run opens the replica and does the command; it returns the exit code.
func (m *Main) Run(ctx context.Context) int {
	if m.ShowVersion {
		fmt.Fprintln(m.Stdout, "wardsync-station", version.String())
		return 0
	}
	m.Config.Logger = slog.New(slog.NewTextHandler(m.Stderr, nil))
	e, err := desktop.Open(ctx, m.Config)
	if err != nil {
		fmt.Fprintln(m.Stderr, err)
		return 1
	}
	m.Engine = e
	return command(ctx, e, m.Command, m.Args, m.UnlockEmail, m.Stdout, m.Stderr)
}

// Close closes the replica, waiting up to 10 seconds.
func (m *Main) Close() error {
	if m.Engine == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := m.Engine.Close(ctx)
	m.Engine = nil
	return err
}

func command(ctx context.Context, e *desktop.Engine, cmd string, args []string, unlockEmail string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	email := fs.String("email", "", "user's email")
	printJSON := func(v any) int {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(v)
		return 0
	}
	fail := func(err error) int {
		if r, ok := workflow.AsRejection(err); ok {
			enc := json.NewEncoder(stderr)
			enc.Encode(r)
			return 3
		}
		fmt.Fprintln(stderr, err)
		return 1
	}
	// answer prints what a command returned, or its error.
	answer := func(v any, err error) int {
		if err != nil {
			return fail(err)
		}
		return printJSON(v)
	}
	switch cmd {
	case "claim":
		code := fs.String("code", os.Getenv("WARDSYNC_CLAIM_CODE"), "the one-time registration code (or $WARDSYNC_CLAIM_CODE)")
		if fs.Parse(args) != nil {
			return 2
		}
		st := e.Status()
		return answer(desktop.ClaimDevice(ctx, nil, st.ServerURL, st.DeviceID, *code, e.DeviceKeyPath()))
	case "login":
		password := fs.String("password", os.Getenv("WARDSYNC_PASSWORD"), "password (or $WARDSYNC_PASSWORD)")
		if fs.Parse(args) != nil {
			return 2
		}
		return answer(e.Login(ctx, *email, *password))
	case "run":
		if fs.Parse(args) != nil {
			return 2
		}
		if err := unlock(ctx, e, unlockEmail); err != nil {
			return fail(err)
		}
		if err := e.Run(ctx); err != nil {
			return fail(err)
		}
		return 0
	case "act":
		argsJSON := fs.String("args", "{}", "the act's arguments as a JSON object")
		if fs.Parse(args) != nil {
			return 2
		}
		name := fs.Arg(0)
		// Flags may also follow the act's name.
		if fs.NArg() > 1 && fs.Parse(fs.Args()[1:]) != nil {
			return 2
		}
		if name == "" {
			fmt.Fprintln(stderr, "usage: act [-email E] -args JSON NAME")
			return 2
		}
		if unlockEmail == "" {
			unlockEmail = *email
		}
		if err := unlock(ctx, e, unlockEmail); err != nil {
			return fail(err)
		}
		userID, err := actingUser(ctx, e, *email)
		if err != nil {
			return fail(err)
		}
		return answer(e.Act(ctx, userID, name, json.RawMessage(*argsJSON)))
	case "status":
		if fs.Parse(args) != nil {
			return 2
		}
		if unlockEmail != "" {
			if err := unlock(ctx, e, unlockEmail); err != nil {
				return fail(err)
			}
		}
		return printJSON(e.Status())
	}
	fmt.Fprintf(stderr, "unknown command %q: use claim, login, run, act or status\n", cmd)
	return 2
}

// unlock opens the replica with the user's key slot and $WARDSYNC_PASSWORD.
func unlock(ctx context.Context, e *desktop.Engine, email string) error {
	if e.Unlocked() {
		return nil
	}
	if email == "" {
		return errors.New("the replica is encrypted: give -unlock EMAIL (or $WARDSYNC_UNLOCK) and $WARDSYNC_PASSWORD")
	}
	return e.Unlock(ctx, email, os.Getenv("WARDSYNC_PASSWORD"))
}

func actingUser(ctx context.Context, e *desktop.Engine, email string) (string, error) {
	if email != "" {
		s, err := e.SessionByEmail(ctx, email)
		if err != nil {
			return "", err
		}
		return s.User.ID, nil
	}
	sessions, err := e.Sessions(ctx)
	if err != nil {
		return "", err
	}
	if len(sessions) == 0 {
		return "", errors.New("nobody is logged in on this workstation: run login first")
	}
	return sessions[0].User.ID, nil
}
