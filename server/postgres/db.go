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
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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

// Retryable says whether a failed transaction may simply be run again:
// serialization failures and deadlocks (PostgreSQL class 40), and lost
// connections. Decided by SQLSTATE, never by message text.
func Retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "40001" || pe.Code == "40P01" || pe.Code[:2] == "08" || pe.Code == "57P01"
	}
	return pgconn.SafeToRetry(err)
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// inTx runs fn in a transaction, retrying it when PostgreSQL says the
// conflict was transient. Each retry is counted by SQLSTATE (Retries, for
// /metrics). When the attempts run out, the error says so and keeps its
// cause, so that the INTERNAL the device hears is logged with the SQLSTATE
// that caused it.
func (db *DB) inTx(ctx context.Context, opts pgx.TxOptions, fn func(pgx.Tx) error) error {
	return db.retrying(ctx, func() error { return pgx.BeginTxFunc(ctx, db.Pool, opts, fn) })
}

// inBatchTx is inTx for a batchTx: fn queues the BEGIN with its first
// statements and, on success, the COMMIT with its last; a transaction fn
// returns from without queueing its COMMIT is committed after it. Failed
// transactions are retried as inTx retries them.
func (db *DB) inBatchTx(ctx context.Context, fn func(tx *batchTx) error) error {
	return db.retrying(ctx, func() error { return db.batchTxOnce(ctx, fn) })
}

func (db *DB) batchTxOnce(ctx context.Context, fn func(tx *batchTx) error) error {
	c, err := db.Pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// A connection left inside a transaction is closed by the pool, not
	// handed out again.
	defer c.Release()
	tx := &batchTx{conn: c.Conn()}
	if err := fn(tx); err != nil {
		_ = tx.Rollback(ctx)
		return err
	}
	if !tx.begun {
		return errNotBegun
	}
	if !tx.ended {
		return tx.Commit(ctx)
	}
	if tx.conn.PgConn().TxStatus() != 'I' {
		// The batch with the COMMIT was not sent: never leave it open.
		_ = tx.Rollback(ctx)
		return errors.New("batchTx: the queued COMMIT was never sent")
	}
	return nil
}

// retrying runs one attempt of a transaction (inTx, inBatchTx) until it
// succeeds, fails for good, or the attempts run out.
func (db *DB) retrying(ctx context.Context, attempt func() error) error {
	const attempts = 8
	var err error
	for n := 1; ; n++ {
		err = attempt()
		if err == nil || !Retryable(err) || ctx.Err() != nil {
			return err
		}
		if n == attempts {
			break
		}
		db.retries.add(retryCause(err))
		time.Sleep(time.Duration(n) * 5 * time.Millisecond)
	}
	return &RetriesExhaustedError{Attempts: attempts, SQLState: pgCode(err), Err: err}
}

// RetriesExhaustedError is a transaction that failed transiently on every
// attempt (a deadlock storm, a serialization failure that kept recurring).
type RetriesExhaustedError struct {
	Attempts int
	SQLState string // of the last attempt; "" for a lost connection
	Err      error
}

func (e *RetriesExhaustedError) Error() string {
	return fmt.Sprintf("transaction failed %d times in a row (last SQLSTATE %q): %v", e.Attempts, e.SQLState, e.Err)
}

func (e *RetriesExhaustedError) Unwrap() error { return e.Err }

// retryCause names a retried failure for the retry counter: its SQLSTATE
// (40P01 deadlock, 40001 serialization failure, 08xxx connection), or
// "connection" for a network error without one.
func retryCause(err error) string {
	if c := pgCode(err); c != "" {
		return c
	}
	return "connection"
}

// retryCounts counts transaction retries by cause.
type retryCounts struct {
	mu sync.Mutex
	n  map[string]uint64
}

func (r *retryCounts) add(cause string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == nil {
		r.n = map[string]uint64{}
	}
	r.n[cause]++
}

// Retries returns how many transactions this handle retried, by cause
// (SQLSTATE such as 40P01 for a deadlock, or "connection").
func (db *DB) Retries() map[string]uint64 {
	db.retries.mu.Lock()
	defer db.retries.mu.Unlock()
	out := make(map[string]uint64, len(db.retries.n))
	for k, v := range db.retries.n {
		out[k] = v
	}
	return out
}
