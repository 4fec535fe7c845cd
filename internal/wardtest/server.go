// Package wardtest is wardsync's test kit: a real server on a real
// PostgreSQL database, built through the wiring the wardsync-server binary
// uses (server/cli), seeded sessions, a workstation's websocket client, a
// follower that keeps a replica, and the comparison of PostgreSQL's rows
// with a replica's; for the tests of the binaries, built commands, server
// and workstation processes, toxiproxy links that can be cut, and a
// PostgreSQL cluster of a test's own.
//
// Every credential a test presents (a login, the websocket's handshake,
// the authorship of an act) is made in auth.go and nowhere else, so that a
// change of the protocol's credentials is one edit.
package wardtest

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"wardsync/internal/pgtest"
	"wardsync/server/cli"
	httpserver "wardsync/server/http"
	"wardsync/server/postgres"
	"wardsync/workflow"
)

// WaitTimeout bounds every wait for something the server should do soon.
// Generous, because test databases share one cluster (and its xid horizon)
// with other packages running at the same time.
const WaitTimeout = 30 * time.Second

// Clock is the server's clock: real time or a frozen instant, plus an offset.
type Clock struct {
	mu     sync.Mutex
	off    time.Duration
	frozen time.Time
}

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.frozen.IsZero() {
		return c.frozen.Add(c.off)
	}
	return time.Now().Add(c.off)
}

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// Set puts the clock at offset d from real time.
func (c *Clock) Set(d time.Duration) {
	c.mu.Lock()
	c.off = d
	c.mu.Unlock()
}

// Freeze stops the clock at the present instant; Advance still moves it.
func (c *Clock) Freeze() {
	c.mu.Lock()
	c.frozen = time.Now()
	c.mu.Unlock()
}

// Options change the server StartServer builds.
type Options struct {
	// DatabaseURL serves an existing database (a second instance); empty:
	// a fresh migrated database of the test's own, seeded.
	DatabaseURL string
	// Clock is the server's clock; nil: a new one.
	Clock *Clock
	// Config changes the database settings (session lifetimes, windows).
	Config func(*postgres.Config)
	// ProductionLoginLimits keeps the deployed limits on login attempts;
	// else a test may make as many as it likes.
	ProductionLoginLimits bool
	// Configure changes the server last, before it listens (TLS, tokens).
	Configure func(*httpserver.Server)
	// NoSeed leaves a fresh database empty.
	NoSeed bool
	// Addr is the address to listen on; empty: a free loopback port.
	Addr string
	// Logger is the server's log; nil: Logger().
	Logger *slog.Logger
	// TLSCert and TLSKey are PEM files: the server speaks https and wss.
	TLSCert, TLSKey string
}

// Server is a wardsync-server on loopback and its database.
type Server struct {
	HTTP        *httpserver.Server
	DB          *postgres.DB // the server's own
	Pool        *pgtest.Pool // the test's, for its queries
	DatabaseURL string
	Clock       *Clock
	main        *cli.Main // nil once stopped
	url         string
	opts        Options
}

// URL is the server's base URL.
func (s *Server) URL() string { return s.url }

// Addr is the address the server listens on.
func (s *Server) Addr() string {
	return strings.TrimPrefix(strings.TrimPrefix(s.url, "http://"), "https://")
}

// Logger discards, unless WARDSYNC_TEST_LOG is set.
func Logger() *slog.Logger {
	if os.Getenv("WARDSYNC_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// StartServer runs serve through cli.Main, as the binary does; it stops
// when the test ends.
func StartServer(tb testing.TB, o Options) *Server {
	tb.Helper()
	ctx := context.Background()
	fresh := o.DatabaseURL == ""
	if fresh {
		o.DatabaseURL = pgtest.NewDatabase(tb, true)
	}
	if o.Clock == nil {
		o.Clock = &Clock{}
	}
	s := &Server{DatabaseURL: o.DatabaseURL, Clock: o.Clock, opts: o}
	s.start(tb, cmp.Or(o.Addr, FreeAddr(tb)))
	if fresh && !o.NoSeed {
		if _, err := s.DB.Seed(ctx); err != nil {
			tb.Fatalf("seed: %v", err)
		}
	}
	s.Pool = pgtest.OpenPool(tb, o.DatabaseURL)
	return s
}

func (s *Server) start(tb testing.TB, addr string) {
	tb.Helper()
	o := s.opts
	m := cli.NewMain()
	m.Stdout, m.Logger, m.Now = io.Discard, cmp.Or(o.Logger, Logger()), o.Clock.Now
	m.DatabaseURL, m.Serve.Addr = o.DatabaseURL, addr
	m.Serve.TLSCert, m.Serve.TLSKey = o.TLSCert, o.TLSKey
	m.Config.MaxConns = 10
	if o.Config != nil {
		o.Config(&m.Config)
	}
	m.Configure = func(srv *httpserver.Server) {
		if !o.ProductionLoginLimits {
			srv.SetLoginLimits(1_000_000, 1_000_000)
		}
		if o.Configure != nil {
			o.Configure(srv)
		}
	}
	err := m.Run(context.Background())
	// The port of a stopped instance may linger a moment.
	for i := 0; err != nil && addr != "127.0.0.1:0" && i < 50; i++ {
		m.Close()
		time.Sleep(100 * time.Millisecond)
		err = m.Run(context.Background())
	}
	if err != nil {
		m.Close()
		tb.Fatalf("serve: %v", err)
	}
	s.main, s.HTTP, s.DB, s.url = m, m.Server, m.DB, m.Server.URL()
	tb.Cleanup(s.Stop)
}

// Stop shuts the server down as SIGTERM would (again: nothing).
func (s *Server) Stop() {
	if s.main != nil {
		s.main.Close()
		s.main = nil
	}
}

// Restart stops the server and starts a new one on the same address and
// database, as a restarted service: workstations reconnect to it.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.Stop()
	s.start(tb, s.Addr())
}

// Again starts another server on the same database and clock, with its
// own pool: two instances behind one load balancer.
func (s *Server) Again(tb testing.TB, o Options) *Server {
	tb.Helper()
	o.DatabaseURL, o.Clock = s.DatabaseURL, s.Clock
	return StartServer(tb, o)
}

// SeededDB migrates and seeds the database at url ("": a fresh one of the
// test's) with no server in front of it, for tests that run the server as
// a child process, and opens a pool on it for the test's queries.
func SeededDB(tb testing.TB, url string) (string, *pgtest.Pool) {
	tb.Helper()
	ctx := context.Background()
	if url == "" {
		url = pgtest.NewDatabase(tb, true)
	}
	db, err := postgres.Open(ctx, url, postgres.DefaultConfig())
	if err == nil {
		defer db.Close(ctx)
		if _, err = db.Migrate(ctx); err == nil {
			_, err = db.Seed(ctx)
		}
	}
	if err != nil {
		tb.Fatalf("seed %s: %v", url, err)
	}
	return url, pgtest.OpenPool(tb, url)
}

// AddDevice registers a workstation serving roles and returns its id.
func (s *Server) AddDevice(tb testing.TB, name string, roles ...workflow.Role) string {
	tb.Helper()
	d, err := s.DB.AddDevice(context.Background(), "", name, roles)
	if err != nil {
		tb.Fatalf("add device: %v", err)
	}
	return d.ID
}

// SeedUser is the seed's user of role.
func SeedUser(role workflow.Role) postgres.SeedUser {
	for _, u := range postgres.SeedUsers {
		if u.Role == role {
			return u
		}
	}
	panic("no seed user of role " + role)
}

// Email is the seed's login of role's user.
func Email(role workflow.Role) string { return SeedUser(role).Email }

// Password is the seed's password of role's user.
func Password(role workflow.Role) string { return SeedUser(role).Password }

// UserID is the id of role's seeded user.
func UserID(role workflow.Role) string { return postgres.SeedID("user:" + Email(role)) }

// Eventually retries check until it returns "" or d passes.
func Eventually(tb testing.TB, d time.Duration, check func() string) {
	tb.Helper()
	deadline := time.Now().Add(d)
	pause := 5 * time.Millisecond
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("still not true after %s:\n%s", d, msg)
		}
		time.Sleep(pause)
		pause = min(pause*3/2, 200*time.Millisecond)
	}
}

// Parallel runs fn(0) … fn(n-1), at most workers at a time (0: all at
// once), and returns the first error by index, once every call has
// returned.
func Parallel(n, workers int, fn func(i int) error) error {
	if workers <= 0 {
		workers = max(n, 1)
	}
	errs := make([]error, n)
	slots := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for i := range n {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			errs[i] = fn(i)
		})
	}
	wg.Wait()
	return cmp.Or(errs...)
}

// Count runs a query that counts.
func Count(tb testing.TB, pool *pgtest.Pool, q string, args ...any) int64 {
	tb.Helper()
	var n int64
	if err := pool.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
	return n
}

// Exec runs a statement that returns no rows.
func Exec(tb testing.TB, pool *pgtest.Pool, q string, args ...any) {
	tb.Helper()
	if _, err := pool.Exec(context.Background(), q, args...); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
}

// FreeAddr is ListenAddr, failing tb when there is none.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	addr, err := ListenAddr()
	check(tb, err)
	return addr
}

// ListenAddr is a loopback address nothing listens on, on a port below the
// kernel's range for outgoing connections: a server restarted on it (kill
// -9 in the soak, Restart here) cannot find it taken by some client's
// connection in the meantime, which a port the kernel handed out could.
func ListenAddr() (string, error) {
	lo := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			fmt.Sscan(f[0], &lo)
		}
	}
	first := max(1024, lo-16384)
	for range 200 {
		addr := fmt.Sprintf("127.0.0.1:%d", first+rand.IntN(lo-first))
		if ln, err := net.Listen("tcp", addr); err == nil {
			ln.Close()
			return addr, nil
		}
	}
	return "", fmt.Errorf("no free loopback port below %d", lo)
}

// RepoRoot is the module's folder (where go.mod is), above the test's.
func RepoRoot(tb testing.TB) string {
	tb.Helper()
	out, err := exec.Command(goTool(), "env", "GOMOD").Output()
	if err != nil || len(bytes.TrimSpace(out)) == 0 {
		tb.Fatalf("go env GOMOD: %v %s", err, out)
	}
	return filepath.Dir(string(bytes.TrimSpace(out)))
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// PGBin is PostgreSQL's program name (pg_ctl, pg_dump, …) of the newest
// version installed, which Debian keeps off PATH; else name, for PATH.
func PGBin(name string) string {
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	version := func(bin string) (v int) {
		fmt.Sscan(filepath.Base(filepath.Dir(filepath.Dir(bin))), &v)
		return v
	}
	slices.SortFunc(bins, func(a, b string) int { return version(b) - version(a) })
	if len(bins) > 0 {
		return bins[0]
	}
	return name
}

// BuildAndRun is a TestMain for tests of the binaries: it builds the
// module's commands bins names (e.g. "server/cmd/wardsync-server") into a
// fresh temporary folder with one go build, so that they link in
// parallel, sets *dir and each path, runs m and removes the folder. It
// returns the exit code.
func BuildAndRun(m *testing.M, dir *string, bins map[string]*string) int {
	d, err := os.MkdirTemp("", "wardsync-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(d)
	*dir = d
	args := []string{"build", "-o", d + string(filepath.Separator)}
	for c, p := range bins {
		args = append(args, "wardsync/"+c)
		*p = filepath.Join(d, filepath.Base(c))
		if runtime.GOOS == "windows" {
			*p += ".exe"
		}
	}
	if out, err := exec.Command(goTool(), args...).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}
