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
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"wardsync/desktop"
	"wardsync/desktop/keyfile"
	"wardsync/version"
	"wardsync/workflow"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// $WARDSYNC_CPUPROFILE: a CPU profile of this run, for the benchmarks
	// (docs/bench.md), which run this binary as a child process.
	if path := os.Getenv("WARDSYNC_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil && pprof.StartCPUProfile(f) == nil {
			code := cli(ctx, os.Args[1:], os.Stdout, os.Stderr)
			pprof.StopCPUProfile()
			f.Close()
			os.Exit(code)
		}
	}
	os.Exit(cli(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// cli runs one command and returns the exit code: 0 done, 1 failure,
// 2 usage, 3 the act or login was refused (the refusal is printed as JSON).
func cli(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	global := flag.NewFlagSet("wardsync-station", flag.ContinueOnError)
	global.SetOutput(stderr)
	dbPath := global.String("db", env("WARDSYNC_DB", "wardsync-station.db"), "replica file")
	server := global.String("server", env("WARDSYNC_SERVER", ""), "server base URL, e.g. http://127.0.0.1:8420")
	device := global.String("device", env("WARDSYNC_DEVICE", ""), "this workstation's device id (stored in the key file once given)")
	showVersion := global.Bool("version", false, "print the release and commit, then exit")
	var sec desktop.Security
	global.StringVar(&sec.CAFile, "ca-file", env("WARDSYNC_CA_FILE", ""), "the hospital's CA certificate (PEM), trusted besides the system's")
	global.StringVar(&sec.Pin, "pin", env("WARDSYNC_PIN", ""), "sha256/<base64>: refuse any server key but this one")
	unlockEmail := global.String("unlock", env("WARDSYNC_UNLOCK", ""), "open the replica with this user's key slot and $WARDSYNC_PASSWORD")
	slotTime := global.Uint("slot-time", uint(keyfile.DefaultParams.Time), "Argon2id passes of the key slots login makes (tests only lower it)")
	unencrypted := global.Bool("unencrypted", false, "keep the replica unencrypted: the benchmarks' baseline only, never a ward")
	slotMemory := global.Uint("slot-memory-kib", uint(keyfile.DefaultParams.MemoryKiB), "Argon2id memory of the key slots login makes, KiB (tests only lower it)")
	if err := global.Parse(args); err != nil {
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stdout, "wardsync-station", version.String())
		return 0
	}
	if global.NArg() == 0 {
		fmt.Fprintln(stderr, "usage: wardsync-station [-db PATH] [-server URL] [-device ID] claim|login|run|act|status [flags]")
		return 2
	}
	cmd, rest := global.Arg(0), global.Args()[1:]
	log := slog.New(slog.NewTextHandler(stderr, nil))
	params := keyfile.Params{Time: uint32(*slotTime), MemoryKiB: uint32(*slotMemory), Threads: keyfile.DefaultParams.Threads}
	e, err := desktop.Open(ctx, desktop.Config{DBPath: *dbPath, ServerURL: *server, DeviceID: *device, Logger: log, SlotParams: &params, Unencrypted: *unencrypted,
		Security: sec, NetworkEvents: true})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	code := command(ctx, e, cmd, rest, *unlockEmail, stdout, stderr)
	closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Close(closeCtx); err != nil {
		fmt.Fprintln(stderr, err)
		return max(code, 1)
	}
	return code
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
	switch cmd {
	case "claim":
		code := fs.String("code", os.Getenv("WARDSYNC_CLAIM_CODE"), "the one-time registration code (or $WARDSYNC_CLAIM_CODE)")
		if fs.Parse(args) != nil {
			return 2
		}
		st := e.Status()
		reg, err := desktop.ClaimDevice(ctx, nil, st.ServerURL, st.DeviceID, *code, e.DeviceKeyPath())
		if err != nil {
			return fail(err)
		}
		return printJSON(reg)
	case "login":
		password := fs.String("password", os.Getenv("WARDSYNC_PASSWORD"), "password (or $WARDSYNC_PASSWORD)")
		if fs.Parse(args) != nil {
			return 2
		}
		s, err := e.Login(ctx, *email, *password)
		if err != nil {
			return fail(err)
		}
		return printJSON(s)
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
		a, err := e.Act(ctx, userID, name, json.RawMessage(*argsJSON))
		if err != nil {
			return fail(err)
		}
		return printJSON(a)
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
