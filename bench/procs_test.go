package bench

import (
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

// cpuSeconds is the CPU time (user + system) p used, once it has ended:
// with the wall time, it tells waiting (for a core, for the disk, for the
// other side) from working.
func cpuSeconds(p *wardtest.Proc) float64 {
	<-p.Done
	ru, ok := p.Cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// startChild starts bin with args, its output in logPath (a file the
// failure message names); the benchmark's end stops it.
func startChild(b *testing.B, logPath string, env []string, bin string, args ...string) *wardtest.Proc {
	b.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	p, err := wardtest.StartProc(cmd, logPath, bin)
	if err != nil {
		fatalf(b, "start %s: %v", bin, err)
	}
	b.Cleanup(func() { _ = p.Stop(30 * time.Second) })
	return p
}

// startServer runs `wardsync-server serve` on a free loopback port against
// dbURL and returns it with its base URL.
func startServer(b *testing.B, dbURL string, env ...string) (*wardtest.Proc, string) {
	b.Helper()
	serverBin, _ := binaries(b)
	logPath := filepath.Join(b.TempDir(), "server.log")
	// Escrow on, as a hospital runs it: each station process logs its
	// users in one by one, and only the first finds no replica to open.
	// One escrow key for the whole run (servers restart on the same data).
	escrow := "WARDSYNC_ESCROW_KEY_FILE=" + filepath.Join(benchDataDir(b), "escrow.key")
	addr := wardtest.FreeAddr(b)
	p := startChild(b, logPath, append([]string{"DATABASE_URL=" + dbURL, "WARDSYNC_LOG_LEVEL=warn", escrow}, env...), serverBin, "serve", "-addr", addr)
	if err := wardtest.WaitReady(context.Background(), "http://"+addr, p, 2*time.Minute); err != nil {
		log, _ := os.ReadFile(logPath)
		fatalf(b, "wardsync-server not ready: %v\n%s", err, log)
	}
	return p, "http://" + addr
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
