// Package cli owns wardsync-server's command line: subcommands, flags and
// WARDSYNC_* environment variables, and the Open → Run → Close wiring that
// tests reuse.
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

// Main runs one subcommand.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
	if cmd == "version" || cmd == "-version" || cmd == "--version" {
		fmt.Fprintln(stdout, "wardsync-server", version.String())
		return nil
	}
	if (cmd == "user" || cmd == "device") && len(rest) > 0 && rest[0] == "add" {
		cmd, rest = cmd+" add", rest[1:]
	}
	if cmd == "audit" && len(rest) > 0 && rest[0] == "verify" {
		cmd, rest = "audit verify", rest[1:]
	}
	if cmd == "cert" && len(rest) > 0 && rest[0] == "init" {
		return certInit(rest[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbURL := fs.String("database-url", os.Getenv("DATABASE_URL"), "PostgreSQL URL (DATABASE_URL)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	cfg := postgres.DefaultConfig()
	fs.DurationVar(&cfg.SessionTTL, "session-ttl", cfg.SessionTTL, "how long a login may author acts offline")
	fs.DurationVar(&cfg.AdminSessionTTL, "admin-session-ttl", cfg.AdminSessionTTL, "lifetime of an admin dashboard session")
	fs.BoolVar(&cfg.RequireDeviceKey, "require-device-key", cfg.RequireDeviceKey, "refuse every workstation not claimed with a device key (turn on once all are)")
	fs.DurationVar(&cfg.AdminIdle, "admin-idle", cfg.AdminIdle, "an admin dashboard session ends after this long without activity (0: never)")
	fs.DurationVar(&cfg.FeedRetention, "feed-retention", cfg.FeedRetention, "how long the change feed keeps changes")
	fs.DurationVar(&cfg.DeferredWindow, "deferred-window", cfg.DeferredWindow,
		"how long an act that came before its predecessor waits for it before it is rejected (docs/deferred.md)")
	maxConns := fs.Int("max-conns", int(cfg.MaxConns), "PostgreSQL pool size")
	var (
		addr                       *string
		name, email, password, rol *string
		roles, id                  *string
		monitoringToken            = new(string)
		tlsFiles                   tlsFlags
		metricsToken               = new(string)
		deferredSweep              = new(time.Duration)
		access                     accessFlags
		dbWait                     = new(time.Duration)
		minVersion                 = new(string)
		health                     = httpserver.DefaultThresholds()
		escrowKeyFile              = new(string)
	)
	switch cmd {
	case "serve":
		addr = fs.String("addr", "127.0.0.1:8420", "listen address")
		monitoringToken = fs.String("monitoring-token", "", "read-only token for GET /api/v1/sync/status (WARDSYNC_MONITORING_TOKEN)")
		metricsToken = fs.String("metrics-token", "", "bearer token /metrics needs to show per-workstation series (WARDSYNC_METRICS_TOKEN); without it, aggregates only")
		fs.StringVar(&tlsFiles.cert, "tls-cert", "", "serve TLS with this certificate file (PEM; re-read on SIGHUP)")
		fs.StringVar(&tlsFiles.key, "tls-key", "", "the private key of -tls-cert (PEM)")
		deferredSweep = fs.Duration("deferred-sweep", httpserver.DefaultDeferredSweep,
			"how often parked acts are retried after other writers' changes and expired")
		dbWait = fs.Duration("db-wait", DefaultDBWait,
			"how long to wait at start for a PostgreSQL that is not reachable yet (starting, restarting)")
		minVersion = fs.String("min-workstation-version", "",
			"refuse workstations older than this release, e.g. 1.3.0; they keep their queued acts until updated (docs/install.md)")
		// The dashboard's settings override these once an administrator saves them.
		fs.DurationVar(&health.LateUnseen, "health-late-unseen", health.LateUnseen,
			"a workstation offline this long shows \"Late\" on the dashboard and in /metrics")
		fs.DurationVar(&health.LatePending, "health-late-pending", health.LatePending,
			"a workstation whose oldest queued act waits this long shows \"Late\"")
		fs.DurationVar(&health.Stalled, "health-stalled", health.Stalled,
			"either of them this long shows \"Stalled\"")
		fs.StringVar(&access.trustedProxies, "trusted-proxies", "",
			"comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed (docs/security.md)")
		fs.DurationVar(&access.loginMaxDelay, "login-max-delay", httpserver.DefaultLoginLimits().MaxDelay,
			"the longest delay failed logins impose on the next attempt (docs/security.md, \"Login limits\")")
		escrowKeyFile = fs.String("escrow-key-file", "",
			"file of the 32-byte key sealing the workstations' escrowed replica keys, made if missing; empty: no escrow (docs/security.md)")
	case "user add":
		name = fs.String("name", "", "full name")
		email = fs.String("email", "", "e-mail (the login)")
		password = fs.String("password", "", "password (6-72 characters)")
		rol = fs.String("role", "", "ADMIN, DOCTOR, BIOLOGIST, NURSE or SECRETARY")
	case "device add":
		name = fs.String("name", "", "workstation name, e.g. \"Ward 3\"")
		roles = fs.String("roles", "", "comma-separated roles it serves, e.g. NURSE,DOCTOR")
		id = fs.String("id", "", "device id (default: a new UUID)")
	case "audit verify":
		id = fs.String("device", "", "check only this workstation's chain")
	case "migrate", "seed":
	default:
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("unknown command %q", strings.Join(args, " "))
	}
	if err := parseWithEnv(fs, rest); err != nil {
		return err
	}
	cfg.MaxConns = int32(*maxConns)
	if *escrowKeyFile != "" {
		key, err := loadEscrowKey(*escrowKeyFile)
		if err != nil {
			return err
		}
		cfg.EscrowKey = key
	}
	if cfg.DeferredWindow <= 0 {
		return fmt.Errorf("-deferred-window must be a positive duration such as 12h, got %s", cfg.DeferredWindow)
	}
	if *deferredSweep < 0 || (cmd == "serve" && *deferredSweep == 0) {
		return fmt.Errorf("-deferred-sweep must be a positive duration such as 30s, got %s", *deferredSweep)
	}
	var minWorkstation *syncproto.ReleaseVersion
	if *minVersion != "" {
		v, err := syncproto.ParseVersion(*minVersion)
		if err != nil {
			return fmt.Errorf("-min-workstation-version: %w", err)
		}
		minWorkstation = &v
	}
	if err := health.Check(); err != nil {
		return fmt.Errorf("-health-late-unseen, -health-late-pending, -health-stalled: %w", err)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	if (tlsFiles.cert == "") != (tlsFiles.key == "") {
		return errors.New("-tls-cert and -tls-key go together: give both files, or neither for plain http")
	}
	if *dbURL == "" {
		return errors.New("DATABASE_URL is not set (run `make db` for a project-local PostgreSQL)")
	}
	db, err := postgres.Open(ctx, *dbURL, cfg)
	if err != nil {
		return err
	}
	defer db.Close(context.Background())

	switch cmd {
	case "migrate":
		applied, err := db.Migrate(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "migrated: %d migration(s) applied %v\n", len(applied), applied)
	case "seed":
		n, err := db.Seed(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "seeded: %d new row(s); demo workstation id %s\n", n, postgres.DemoDeviceID)
		for _, u := range postgres.SeedUsers {
			fmt.Fprintf(stdout, "  %-10s %-24s password %s\n", u.Role, u.Email, u.Password)
		}
	case "user add":
		uid, err := db.AddUser(ctx, *name, *email, *password, workflow.Role(strings.ToUpper(*rol)))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "user %s created (%s, %s)\n", uid, *email, strings.ToUpper(*rol))
	case "device add":
		var rs []workflow.Role
		for _, r := range strings.Split(*roles, ",") {
			if r = strings.TrimSpace(strings.ToUpper(r)); r != "" {
				rs = append(rs, workflow.Role(r))
			}
		}
		d, err := db.AddDevice(ctx, *id, *name, rs)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "device %s registered as %q serving %v\n", d.ID, d.Name, d.Roles)
	case "audit verify":
		return auditVerify(ctx, db, *id, stdout, stderr)
	case "serve":
		return serve(ctx, db, serveConfig{addr: *addr, monitoringToken: *monitoringToken, metricsToken: *metricsToken,
			tls: tlsFiles, deferredSweep: *deferredSweep, dbWait: *dbWait, minWorkstation: minWorkstation, health: health,
			access: access}, logger, stdout)
	}
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

// Serve migrates, listens on addr and runs until ctx ends, then shuts down
// gracefully: the transaction in flight finishes, websockets close with 1001.
func Serve(ctx context.Context, db *postgres.DB, addr, monitoringToken string, logger *slog.Logger, stdout io.Writer) error {
	return serve(ctx, db, serveConfig{addr: addr, monitoringToken: monitoringToken,
		deferredSweep: httpserver.DefaultDeferredSweep, dbWait: DefaultDBWait, health: httpserver.DefaultThresholds()}, logger, stdout)
}

// accessFlags are serve's flags of the login limits and client addresses.
type accessFlags struct {
	trustedProxies string
	loginMaxDelay  time.Duration
}

// serveConfig is what serve's flags say.
type serveConfig struct {
	addr, monitoringToken, metricsToken string
	tls                                 tlsFlags
	deferredSweep, dbWait               time.Duration
	minWorkstation                      *syncproto.ReleaseVersion
	health                              httpserver.Thresholds
	access                              accessFlags
}

type tlsFlags struct{ cert, key string }

// DefaultDBWait is how long serve waits for PostgreSQL at start: a host
// that boots both, or a database restarting, takes seconds, and a server
// that exits at once would need a supervisor to come back.
const DefaultDBWait = time.Minute

func serve(ctx context.Context, db *postgres.DB, sc serveConfig, logger *slog.Logger, stdout io.Writer) error {
	// Bad certificate files are reported before anything waits.
	var cert *certs.Reloader
	if sc.tls.cert != "" {
		var err error
		if cert, err = certs.Load(sc.tls.cert, sc.tls.key); err != nil {
			return err
		}
	}
	if err := db.WaitReachable(ctx, sc.dbWait, func(err error, next time.Duration) {
		logger.Warn("waiting for PostgreSQL", "err", err, "retry_in", next)
	}); err != nil {
		return err
	}
	if _, err := db.Migrate(ctx); err != nil {
		return err
	}
	srv := httpserver.New(db, logger)
	srv.DeferredSweep = sc.deferredSweep
	if err := srv.SetTrustedProxies(sc.access.trustedProxies); err != nil {
		return err
	}
	limits := httpserver.DefaultLoginLimits()
	if sc.access.loginMaxDelay > 0 {
		limits.MaxDelay = sc.access.loginMaxDelay
	}
	srv.SetLoginPolicy(limits)
	if err := srv.SetHealthThresholds(sc.health); err != nil {
		return err
	}
	if sc.monitoringToken != "" {
		srv.SetMonitoringToken(sc.monitoringToken)
	}
	srv.SetMetricsToken(sc.metricsToken)
	srv.SetMinWorkstationVersion(sc.minWorkstation)
	if cert != nil {
		srv.UseTLS(cert)
		reloadOnHangup(ctx, cert, logger)
	}
	if err := srv.Open(ctx, sc.addr); err != nil {
		return err
	}
	logger.Info("serving", "addr", srv.Addr(), "dashboard", srv.URL()+"/admin", "tls", srv.TLS(), "version", version.Version, "commit", version.CommitOrVCS())
	fmt.Fprintf(stdout, "wardsync-server listening on %s — dashboard %s/admin\n", srv.Addr(), srv.URL())
	go pruneLoop(ctx, db, logger)
	<-ctx.Done()
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return srv.Close(sctx)
}

func pruneLoop(ctx context.Context, db *postgres.DB, logger *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := db.Prune(ctx); err != nil {
				logger.Warn("prune change feed", "err", err)
			} else if n > 0 {
				logger.Info("pruned change feed", "changes", n)
			}
		}
	}
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
