// Package postgres is the server's PostgreSQL adapter: every SQL statement
// of the sync server lives here. It applies pushed acts through the workflow
// in one transaction, serves the change feed (captured by trigger, handed out
// below the snapshot horizon), and keeps sessions, devices, users and the
// audit log in schema "sync".
package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"wardsync/migrations"
	"wardsync/workflow"
)

// Config holds the rules of the server that are settings, not workflow.
type Config struct {
	// SessionTTL bounds offline authoring: a session may author acts that
	// occurred up to this long after it was issued.
	SessionTTL time.Duration
	// MaxSkew is how far in the server's future an act may claim to have
	// occurred: 5 minutes of slack for a ward PC whose clock runs ahead, since
	// an act cannot have happened after it arrived.
	MaxSkew time.Duration
	// FeedRetention is how long the change feed keeps changes; a device
	// whose cursor is older starts over.
	FeedRetention time.Duration
	// PullLimit is the default and maximum number of changes per page.
	PullLimit int
	// MaxConns sizes the pool (the seed: 10 in development, 50 in production).
	MaxConns int32
	// DeferredWindow is how long a parked act waits for its predecessor
	// before it is rejected (docs/deferred.md; 0: DefaultDeferredWindow).
	DeferredWindow time.Duration
	// AdminSessionTTL is the lifetime of an admin dashboard session, and
	// AdminIdle how long it survives without its administrator's activity
	// (0: no idle timeout).
	AdminSessionTTL time.Duration
	AdminIdle       time.Duration
	// LoginQuiet is how long without a failed login resets a login-limit
	// counter (docs/security.md, "Login limits").
	LoginQuiet time.Duration
	// EscrowKey seals the workstations' replica keys the server escrows
	// (sync.device_keys); nil: the server escrows none (escrow.go).
	EscrowKey []byte
	// RequireDeviceKey refuses every workstation that was not claimed with
	// a device key (device_identity.go). Off, a workstation registered
	// before device identity, which has no key, still logs in and syncs
	// with its sessions alone, until it is claimed again; one that has a
	// key must always prove it.
	RequireDeviceKey bool
}

// DefaultConfig returns the safe defaults.
func DefaultConfig() Config {
	return Config{
		SessionTTL:    workflow.OfflineWindow,
		MaxSkew:       5 * time.Minute,
		FeedRetention: 30 * 24 * time.Hour,
		PullLimit:     1000,
		MaxConns:      20,
		// Twelve hours cover a night's outage at reception.
		DeferredWindow:  DefaultDeferredWindow,
		AdminSessionTTL: 8 * time.Hour,
		AdminIdle:       30 * time.Minute,
		LoginQuiet:      15 * time.Minute,
	}
}

// DB is the server's handle on PostgreSQL.
type DB struct {
	Pool   *pgxpool.Pool
	Config Config
	// Now is the server clock; tests inject their own.
	Now func() time.Time
	url string
	// cursors holds the feed positions pulls reached, not yet written to
	// sync.clients (cursors.go).
	cursors cursorLog
	// retries counts retried transactions by cause (inTx).
	retries retryCounts
	// ann announces this server's commits after they commit (announce.go).
	ann *announcer
}

// Open connects to url. It does not migrate.
func Open(ctx context.Context, url string, cfg Config) (*DB, error) {
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	if cfg.MaxConns > 0 {
		pc.MaxConns = cfg.MaxConns
	}
	// The notifying triggers stay silent for the server's own sessions:
	// it announces its commits after they commit (announce.go).
	pc.ConnConfig.RuntimeParams["application_name"] = ApplicationName
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	return &DB{Pool: pool, Config: cfg, Now: time.Now, url: url, ann: newAnnouncer()}, nil
}

// Close releases the pool.
func (db *DB) Close(context.Context) error {
	db.cursors.wg.Wait() // the last positions pulled are written first
	db.ann.stopAnnouncing()
	db.Pool.Close()
	return nil
}

// Migrate brings the schema up to date and returns the versions applied.
func (db *DB) Migrate(ctx context.Context) ([]int64, error) {
	sqldb := stdlib.OpenDBFromPool(db.Pool)
	defer sqldb.Close()
	return migrations.UpPostgres(ctx, sqldb)
}

// Ready says whether the database answers and carries every migration.
func (db *DB) Ready(ctx context.Context) error {
	if err := db.Pool.Ping(ctx); err != nil {
		return fmt.Errorf("database unreachable: %w", err)
	}
	sqldb := stdlib.OpenDBFromPool(db.Pool)
	defer sqldb.Close()
	pending, err := migrations.PostgresPending(ctx, sqldb)
	if err != nil {
		return fmt.Errorf("read migration state: %w", err)
	}
	if pending {
		return ErrMigrationsPending
	}
	return nil
}

// ErrMigrationsPending is Ready's answer when the schema is behind the
// binary: /readyz reports it by code.
var ErrMigrationsPending = errors.New("migrations pending: run wardsync-server migrate")

func (db *DB) now() time.Time { return db.Now().UTC() }

// inTx runs fn in a transaction, retrying it when PostgreSQL says the
// conflict was transient. Each retry is counted by SQLSTATE (Retries, for
// /metrics). When the attempts run out, the error says so and keeps its
// cause, so that the INTERNAL the device hears is logged with the SQLSTATE
// that caused it.
func (db *DB) inTx(ctx context.Context, opts pgx.TxOptions, fn func(pgx.Tx) error) error {
	return db.retrying(ctx, func() error { return pgx.BeginTxFunc(ctx, db.Pool, opts, fn) })
}
