package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"wardsync/internal/wardtest"
)

// The station-side benchmarks run the real binaries as child processes
// (wardsync-server serve, wardsync-station login/run), so that each side's
// peak RSS is its own (VmHWM of the child in /proc). They are built once
// per run into binDir, removed when the package's benchmarks end.
var (
	buildOnce sync.Once
	buildErr  error
	binDir    string
)

func TestMain(m *testing.M) {
	if os.Getenv(bareServerEnv) == "1" {
		os.Exit(bareServer())
	}
	code := m.Run()
	for _, d := range []string{binDir, dataDir} {
		if d != "" {
			os.RemoveAll(d)
		}
	}
	os.Exit(code)
}

// binaries builds wardsync-server and wardsync-station (once) and returns
// their paths.
func binaries(b *testing.B) (server, station string) {
	b.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "wardsync-bench-bin-")
		if buildErr == nil {
			_, buildErr = wardtest.BuildBinaries(binDir, "server/cmd/wardsync-server", "desktop/cmd/wardsync-station")
		}
	})
	if buildErr != nil {
		fatalf(b, "%v", buildErr)
	}
	return filepath.Join(binDir, "wardsync-server"), filepath.Join(binDir, "wardsync-station")
}

// raiseNoFile lifts this process's open-file limit (children inherit it)
// to at least want when it may (root may raise the hard limit too), else
// to the hard limit: 10,000 websockets need 10,000 descriptors on each
// side.
func raiseNoFile(want uint64) (uint64, error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, err
	}
	if r.Max < want {
		raised := syscall.Rlimit{Cur: want, Max: want}
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised) == nil {
			return want, nil
		}
	}
	r.Cur = r.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, err
	}
	return r.Cur, nil
}

var vmRE = regexp.MustCompile(`(?m)^(VmHWM|VmRSS):\s+(\d+) kB`)

// memMB reads a live process's peak (VmHWM) and current (VmRSS) resident
// set from /proc, in MB.
func memMB(pid int) (peak, rss float64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, m := range vmRE.FindAllStringSubmatch(string(b), -1) {
		n, _ := strconv.ParseFloat(m[2], 64)
		if m[1] == "VmHWM" {
			peak = n / 1024
		} else {
			rss = n / 1024
		}
	}
	return peak, rss
}

// child is a started benchmark process; stop sends SIGTERM and waits.
type child struct {
	cmd  *exec.Cmd
	done chan error
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// cpuSeconds is the CPU time (user + system) the child used, once it has
// ended: with the wall time, it tells waiting (for a core, for the disk,
// for the other side) from working.
func (c *child) cpuSeconds() float64 {
	if c.cmd.ProcessState == nil {
		return 0
	}
	ru, ok := c.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func (c *child) stop() error {
	if c.cmd.ProcessState != nil {
		return nil
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-c.done:
		return err
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		return <-c.done
	}
}

// startChild starts bin with args; its stderr goes to log (a file the
// failure message names). The child dies with the benchmark process.
func startChild(b *testing.B, logPath string, env []string, bin string, args ...string) (*child, *bufio.Scanner) {
	b.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	logFile, err := os.Create(logPath)
	if err != nil {
		fatalf(b, "%v", err)
	}
	cmd.Stderr = logFile
	out, err := cmd.StdoutPipe()
	if err != nil {
		fatalf(b, "%v", err)
	}
	if err := cmd.Start(); err != nil {
		fatalf(b, "start %s: %v", bin, err)
	}
	c := &child{cmd: cmd, done: make(chan error, 1)}
	sc := bufio.NewScanner(out)
	go func() {
		// Wait only once stdout has been read to its end by the caller or
		// drained here; exec closes the pipe after Wait.
		c.done <- cmd.Wait()
		logFile.Close()
	}()
	b.Cleanup(func() { _ = c.stop() })
	return c, sc
}

var listenRE = regexp.MustCompile(`listening on (\S+)`)

// startServer runs `wardsync-server serve` on a free loopback port against
// dbURL and returns it with its base URL.
func startServer(b *testing.B, dbURL string, env ...string) (*child, string) {
	b.Helper()
	serverBin, _ := binaries(b)
	logPath := filepath.Join(b.TempDir(), "server.log")
	// Escrow on, as a hospital runs it: each station process logs its
	// users in one by one, and only the first finds no replica to open.
	// One escrow key for the whole run (servers restart on the same data).
	escrow := "WARDSYNC_ESCROW_KEY_FILE=" + filepath.Join(benchDataDir(b), "escrow.key")
	c, out := startChild(b, logPath, append([]string{"DATABASE_URL=" + dbURL, "WARDSYNC_LOG_LEVEL=warn", escrow}, env...), serverBin, "serve", "-addr", "127.0.0.1:0")
	addr := make(chan string, 1)
	go func() {
		for out.Scan() {
			if m := listenRE.FindStringSubmatch(out.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case a := <-addr:
		return c, "http://" + a
	case err := <-c.done:
		log, _ := os.ReadFile(logPath)
		fatalf(b, "wardsync-server exited before listening: %v\n%s", err, log)
	case <-time.After(2 * time.Minute):
		log, _ := os.ReadFile(logPath)
		fatalf(b, "wardsync-server not listening after 2 minutes\n%s", log)
	}
	return nil, ""
}

// runStation runs one wardsync-station command to its end.
func runStation(ctx context.Context, stationBin string, env []string, args ...string) error {
	cmd := exec.CommandContext(ctx, stationBin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("wardsync-station %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}
