// Package cli owns wardsync-server's command line: subcommands, flags and
// WARDSYNC_* environment variables, and the NewMain → ParseFlags → Run →
// Close wiring that the main and the tests (internal/wardtest) share, so
// that a test's server is built exactly as a deployed one.
package cli

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"time"

	"wardsync/server"
	"wardsync/server/certs"
	httpserver "wardsync/server/http"
	"wardsync/server/postgres"
	"wardsync/syncproto"
	"wardsync/version"
	"wardsync/workflow"
)

const usage = `usage: wardsync-server <command> [flags]

commands:
  serve        run the sync server (HTTP, /sync websocket, /admin, /metrics)
  migrate      bring the PostgreSQL schema up to date
  seed         load the seed's demo users, patients and workflow states
  user add     create a user
  device add   register a workstation and the roles it serves
  audit verify re-check every workstation's act chain in the audit log
               (-device ID: one workstation); exit status 1 on a break
  version      print the version and commit this binary was built from
  cert init    make a local CA and a server certificate it signs (-dir,
               -hosts): serve takes -tls-cert/-tls-key, workstations trust
               the CA file (docs/security.md)

DATABASE_URL names the database. Flags may also be set as WARDSYNC_<FLAG>.`

// Main is one run of wardsync-server. ParseFlags fills it from the command
// line; a test may fill or change it instead. Run does the command: serve
// returns once it listens, and Close shuts it down (the transaction in
// flight finishes, websockets close with 1001).
type Main struct {
	Stdout, Stderr io.Writer

	Command     string // "serve", "migrate", "user add", ...
	DatabaseURL string
	LogLevel    slog.Level
	Config      postgres.Config
	Serve       ServeConfig
	User        UserFlags   // user add
	Device      DeviceFlags // device add; audit verify -device is Device.ID
	CertArgs    []string    // cert init's own flags

	// Set between ParseFlags and Run by tests; a main leaves them nil.
	Logger    *slog.Logger             // nil: JSON on Stderr at LogLevel
	Now       func() time.Time         // the server's clock; nil: time.Now
	Configure func(*httpserver.Server) // last change before serve listens

	// Open between Run and Close.
	DB     *postgres.DB
	Server *httpserver.Server

	stop context.CancelFunc
	done chan struct{}
}

// ServeConfig is what serve's flags say.
type ServeConfig struct {
	Addr, MonitoringToken, MetricsToken string
	TLSCert, TLSKey                     string
	DeferredSweep                       time.Duration
	DBWait                              time.Duration
	MinWorkstation                      *syncproto.ReleaseVersion
	Health                              httpserver.Thresholds
	TrustedProxies                      string
	LoginMaxDelay                       time.Duration
}

// UserFlags are the flags of `user add`.
type UserFlags struct {
	Name, Email, Password string
	Role                  workflow.Role
}

// DeviceFlags are the flags of `device add`.
type DeviceFlags struct {
	ID, Name string
	Roles    []workflow.Role
}

// DefaultDBWait is how long serve waits for PostgreSQL at start: a host
// that boots both, or a database restarting, takes seconds, and a server
// that exits at once would need a supervisor to come back.
const DefaultDBWait = time.Minute

// NewMain is a Main with the defaults of every flag.
func NewMain() *Main {
	return &Main{
		Stdout:      os.Stdout,
		Stderr:      os.Stderr,
		Command:     "serve",
		DatabaseURL: os.Getenv("DATABASE_URL"),
		Config:      postgres.DefaultConfig(),
		Serve: ServeConfig{
			Addr:          "127.0.0.1:8420",
			DeferredSweep: httpserver.DefaultDeferredSweep,
			DBWait:        DefaultDBWait,
			Health:        httpserver.DefaultThresholds(),
			LoginMaxDelay: httpserver.DefaultLoginLimits().MaxDelay,
		},
	}
}

// ParseFlags reads the command and its flags (WARDSYNC_<FLAG> for any flag
// args do not give) and checks them.
func (m *Main) ParseFlags(_ context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(m.Stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch {
	case cmd == "-version" || cmd == "--version":
		cmd = "version"
	case (cmd == "user" || cmd == "device") && len(rest) > 0 && rest[0] == "add",
		cmd == "audit" && len(rest) > 0 && rest[0] == "verify",
		cmd == "cert" && len(rest) > 0 && rest[0] == "init":
		cmd, rest = cmd+" "+rest[0], rest[1:]
	}
	m.Command = cmd
	switch cmd {
	case "version":
		return nil
	case "cert init":
		m.CertArgs = rest
		return nil
	}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.StringVar(&m.DatabaseURL, "database-url", m.DatabaseURL, "PostgreSQL URL (DATABASE_URL)")
	fs.TextVar(&m.LogLevel, "log-level", m.LogLevel, "debug, info, warn or error")
	cfg := &m.Config
	fs.DurationVar(&cfg.SessionTTL, "session-ttl", cfg.SessionTTL, "how long a login may author acts offline")
	fs.DurationVar(&cfg.AdminSessionTTL, "admin-session-ttl", cfg.AdminSessionTTL, "lifetime of an admin dashboard session")
	fs.BoolVar(&cfg.RequireDeviceKey, "require-device-key", cfg.RequireDeviceKey, "refuse every workstation not claimed with a device key (turn on once all are)")
	fs.DurationVar(&cfg.AdminIdle, "admin-idle", cfg.AdminIdle, "an admin dashboard session ends after this long without activity (0: never)")
	fs.DurationVar(&cfg.FeedRetention, "feed-retention", cfg.FeedRetention, "how long the change feed keeps changes")
	fs.DurationVar(&cfg.DeferredWindow, "deferred-window", cfg.DeferredWindow,
		"how long an act that came before its predecessor waits for it before it is rejected (docs/deferred.md)")
	maxConns := fs.Int("max-conns", int(cfg.MaxConns), "PostgreSQL pool size")
	var minVersion, role, roles, escrowKeyFile string
	switch cmd {
	case "serve":
		s := &m.Serve
		fs.StringVar(&s.Addr, "addr", s.Addr, "listen address")
		fs.StringVar(&s.MonitoringToken, "monitoring-token", "", "read-only token for GET /api/v1/sync/status (WARDSYNC_MONITORING_TOKEN)")
		fs.StringVar(&s.MetricsToken, "metrics-token", "", "bearer token /metrics needs to show per-workstation series (WARDSYNC_METRICS_TOKEN); without it, aggregates only")
		fs.StringVar(&s.TLSCert, "tls-cert", "", "serve TLS with this certificate file (PEM; re-read on SIGHUP)")
		fs.StringVar(&s.TLSKey, "tls-key", "", "the private key of -tls-cert (PEM)")
		fs.DurationVar(&s.DeferredSweep, "deferred-sweep", s.DeferredSweep,
			"how often parked acts are retried after other writers' changes and expired")
		fs.DurationVar(&s.DBWait, "db-wait", s.DBWait,
			"how long to wait at start for a PostgreSQL that is not reachable yet (starting, restarting)")
		fs.StringVar(&minVersion, "min-workstation-version", "",
			"refuse workstations older than this release, e.g. 1.3.0; they keep their queued acts until updated (docs/install.md)")
		// The dashboard's settings override these once an administrator saves them.
		fs.DurationVar(&s.Health.LateUnseen, "health-late-unseen", s.Health.LateUnseen,
			"a workstation offline this long shows \"Late\" on the dashboard and in /metrics")
		fs.DurationVar(&s.Health.LatePending, "health-late-pending", s.Health.LatePending,
			"a workstation whose oldest queued act waits this long shows \"Late\"")
		fs.DurationVar(&s.Health.Stalled, "health-stalled", s.Health.Stalled,
			"either of them this long shows \"Stalled\"")
		fs.StringVar(&s.TrustedProxies, "trusted-proxies", "",
			"comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed (docs/security.md)")
		fs.DurationVar(&s.LoginMaxDelay, "login-max-delay", s.LoginMaxDelay,
			"the longest delay failed logins impose on the next attempt (docs/security.md, \"Login limits\")")
		fs.StringVar(&escrowKeyFile, "escrow-key-file", "",
			"file of the 32-byte key sealing the workstations' escrowed replica keys, made if missing; empty: no escrow (docs/security.md)")
	case "user add":
		fs.StringVar(&m.User.Name, "name", "", "full name")
		fs.StringVar(&m.User.Email, "email", "", "e-mail (the login)")
		fs.StringVar(&m.User.Password, "password", "", "password (6-72 characters)")
		fs.StringVar(&role, "role", "", "ADMIN, DOCTOR, BIOLOGIST, NURSE or SECRETARY")
	case "device add":
		fs.StringVar(&m.Device.Name, "name", "", "workstation name, e.g. \"Ward 3\"")
		fs.StringVar(&roles, "roles", "", "comma-separated roles it serves, e.g. NURSE,DOCTOR")
		fs.StringVar(&m.Device.ID, "id", "", "device id (default: a new UUID)")
	case "audit verify":
		fs.StringVar(&m.Device.ID, "device", "", "check only this workstation's chain")
	case "migrate", "seed":
	default:
		fmt.Fprintln(m.Stderr, usage)
		return fmt.Errorf("unknown command %q", strings.Join(args, " "))
	}
	if err := parseWithEnv(fs, rest); err != nil {
		return err
	}
	cfg.MaxConns = int32(*maxConns)
	m.User.Role = workflow.Role(strings.ToUpper(role))
	for _, r := range strings.Split(roles, ",") {
		if r = strings.TrimSpace(strings.ToUpper(r)); r != "" {
			m.Device.Roles = append(m.Device.Roles, workflow.Role(r))
		}
	}
	if escrowKeyFile != "" {
		key, err := loadEscrowKey(escrowKeyFile)
		if err != nil {
			return err
		}
		cfg.EscrowKey = key
	}
	if minVersion != "" {
		v, err := syncproto.ParseVersion(minVersion)
		if err != nil {
			return fmt.Errorf("-min-workstation-version: %w", err)
		}
		m.Serve.MinWorkstation = &v
	}
	return m.check()
}

// check refuses settings no command can run with.
func (m *Main) check() error {
	if m.Config.DeferredWindow <= 0 {
		return fmt.Errorf("-deferred-window must be a positive duration such as 12h, got %s", m.Config.DeferredWindow)
	}
	if m.Serve.DeferredSweep < 0 || (m.Command == "serve" && m.Serve.DeferredSweep == 0) {
		return fmt.Errorf("-deferred-sweep must be a positive duration such as 30s, got %s", m.Serve.DeferredSweep)
	}
	if err := m.Serve.Health.Check(); err != nil {
		return fmt.Errorf("-health-late-unseen, -health-late-pending, -health-stalled: %w", err)
	}
	if (m.Serve.TLSCert == "") != (m.Serve.TLSKey == "") {
		return errors.New("-tls-cert and -tls-key go together: give both files, or neither for plain http")
	}
	return nil
}

// Run does the command. Serve returns once the server listens; every other
// command returns when it is done. Close follows either way.
func (m *Main) Run(ctx context.Context) error {
	switch m.Command {
	case "version":
		fmt.Fprintln(m.Stdout, "wardsync-server", version.String())
		return nil
	case "cert init":
		return certInit(m.CertArgs, m.Stdout, m.Stderr)
	}
	if err := m.check(); err != nil {
		return err
	}
	if m.Logger == nil {
		m.Logger = slog.New(slog.NewJSONHandler(m.Stderr, &slog.HandlerOptions{Level: m.LogLevel}))
	}
	if m.DatabaseURL == "" {
		return errors.New("DATABASE_URL is not set (run `make db` for a project-local PostgreSQL)")
	}
	db, err := postgres.Open(ctx, m.DatabaseURL, m.Config)
	if err != nil {
		return err
	}
	if m.Now != nil {
		db.Now = m.Now
	}
	m.DB = db
	switch m.Command {
	case "migrate":
		applied, err := db.Migrate(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "migrated: %d migration(s) applied %v\n", len(applied), applied)
	case "seed":
		n, err := db.Seed(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "seeded: %d new row(s); demo workstation id %s\n", n, postgres.DemoDeviceID)
		for _, u := range postgres.SeedUsers {
			fmt.Fprintf(m.Stdout, "  %-10s %-24s password %s\n", u.Role, u.Email, u.Password)
		}
	case "user add":
		u := m.User
		uid, err := db.AddUser(ctx, u.Name, u.Email, u.Password, u.Role)
		if err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "user %s created (%s, %s)\n", uid, u.Email, u.Role)
	case "device add":
		d, err := db.AddDevice(ctx, m.Device.ID, m.Device.Name, m.Device.Roles)
		if err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "device %s registered as %q serving %v\n", d.ID, d.Name, d.Roles)
	case "audit verify":
		return auditVerify(ctx, db, m.Device.ID, m.Stdout, m.Stderr)
	case "serve":
		return m.serve(ctx)
	}
	return nil
}

// Execute is the life of a Main, for the main and for the tests alike:
// flags, Run, and for serve until ctx ends (a signal), then Close.
func (m *Main) Execute(ctx context.Context, args []string) error {
	if err := m.ParseFlags(ctx, args); err != nil {
		return err
	}
	if err := m.Run(ctx); err != nil {
		m.Close()
		return err
	}
	if m.Server != nil {
		<-ctx.Done()
	}
	return m.Close()
}

// Close stops what Run started: the server shuts down gracefully within
// 15 seconds, then the database pool closes. It is safe when Run failed.
func (m *Main) Close() error {
	var err error
	if m.stop != nil {
		m.stop()
		<-m.done
		m.stop = nil
	}
	if m.Server != nil {
		m.Logger.Info("shutting down")
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		err = m.Server.Close(ctx)
		m.Server = nil
	}
	if m.DB != nil {
		m.DB.Close(context.Background())
		m.DB = nil
	}
	return err
}

// serve waits for PostgreSQL, migrates and listens; the prune loop and the
// certificate reloads run until Close.
func (m *Main) serve(ctx context.Context) error {
	sc, db, logger := m.Serve, m.DB, m.Logger
	// Bad certificate files are reported before anything waits.
	var cert *certs.Reloader
	if sc.TLSCert != "" {
		var err error
		if cert, err = certs.Load(sc.TLSCert, sc.TLSKey); err != nil {
			return err
		}
	}
	if err := db.WaitReachable(ctx, sc.DBWait, func(err error, next time.Duration) {
		logger.Warn("waiting for PostgreSQL", "err", err, "retry_in", next)
	}); err != nil {
		return err
	}
	if _, err := db.Migrate(ctx); err != nil {
		return err
	}
	srv := httpserver.New(db, logger)
	srv.DeferredSweep = sc.DeferredSweep
	if err := srv.SetTrustedProxies(sc.TrustedProxies); err != nil {
		return err
	}
	limits := httpserver.DefaultLoginLimits()
	if sc.LoginMaxDelay > 0 {
		limits.MaxDelay = sc.LoginMaxDelay
	}
	srv.SetLoginPolicy(limits)
	if err := srv.SetHealthThresholds(sc.Health); err != nil {
		return err
	}
	if sc.MonitoringToken != "" {
		srv.SetMonitoringToken(sc.MonitoringToken)
	}
	srv.SetMetricsToken(sc.MetricsToken)
	srv.SetMinWorkstationVersion(sc.MinWorkstation)
	if m.Configure != nil {
		m.Configure(srv)
	}
	// The chores outlive Run's ctx, which may be a request's: Close ends them.
	chores, stop := context.WithCancel(context.WithoutCancel(ctx))
	if cert != nil {
		srv.UseTLS(cert)
		reloadOnHangup(chores, cert, logger)
	}
	if err := srv.Open(ctx, sc.Addr); err != nil {
		stop()
		return err
	}
	m.Server = srv
	logger.Info("serving", "addr", srv.Addr(), "dashboard", srv.URL()+"/admin", "tls", srv.TLS(), "version", version.Version, "commit", version.CommitOrVCS())
	fmt.Fprintf(m.Stdout, "wardsync-server listening on %s — dashboard %s/admin\n", srv.Addr(), srv.URL())
	m.stop, m.done = stop, make(chan struct{})
	go func() {
		defer close(m.done)
		pruneLoop(chores, db, logger)
	}()
	return nil
}

// auditVerify prints the first broken link of each workstation's chain and
// fails when there is one; progress goes to stderr.
func auditVerify(ctx context.Context, db *postgres.DB, device string, stdout, stderr io.Writer) error {
	rep, err := db.VerifyChains(ctx, device, func(n int64) { fmt.Fprintf(stderr, "checked %d acts\n", n) })
	if err != nil {
		return err
	}
	for _, b := range rep.Breaks {
		when := "changed in the audit log after it was recorded"
		if b.AtPush {
			when = "refused CHAIN_BROKEN when it arrived"
		}
		fmt.Fprintf(stdout, "BROKEN device %s (%s) seq %d: %s; %s\n  expected %s\n  found    %s\n",
			b.DeviceID, b.DeviceName, b.Seq, b.Problem, when, b.Expected, b.Found)
	}
	fmt.Fprintf(stdout, "checked %d acts of %d workstation(s): %d broken chain(s)\n", rep.Acts, rep.Devices, len(rep.Breaks))
	if device != "" && rep.Devices == 0 {
		return fmt.Errorf("audit verify: workstation %s has no acts in the audit log", device)
	}
	if len(rep.Breaks) > 0 {
		return fmt.Errorf("audit verify: %d workstation(s) with a broken chain", len(rep.Breaks))
	}
	return nil
}

func pruneLoop(ctx context.Context, db *postgres.DB, logger *slog.Logger) {
	server.Every(ctx, time.Hour, nil, func(bool) {
		if n, err := db.Prune(ctx); err != nil {
			logger.Warn("prune change feed", "err", err)
		} else if n > 0 {
			logger.Info("pruned change feed", "changes", n)
		}
	})
}

// parseWithEnv lets WARDSYNC_<FLAG> set any flag the command line did not.
func parseWithEnv(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		key := "WARDSYNC_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(key); ok {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s=%q: %w", key, v, e)
			}
		}
	})
	return err
}

// loadEscrowKey reads the escrow key file, making it (32 random bytes,
// 0600) when it does not exist yet. Losing it loses every escrowed key.
func loadEscrowKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		b = make([]byte, postgres.EscrowKeySize)
		rand.Read(b)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("-escrow-key-file: %w", err)
		}
		if _, err := f.Write(b); err != nil {
			f.Close()
			return nil, fmt.Errorf("-escrow-key-file: %w", err)
		}
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("-escrow-key-file: %w", err)
		}
		return b, nil
	}
	if err != nil {
		return nil, fmt.Errorf("-escrow-key-file: %w", err)
	}
	if len(b) != postgres.EscrowKeySize {
		return nil, fmt.Errorf("-escrow-key-file: %s holds %d bytes, want %d", path, len(b), postgres.EscrowKeySize)
	}
	return b, nil
}
