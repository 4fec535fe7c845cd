// Package sqlite is the workstation's replica: one SQLite file (modernc, no
// cgo) holding the server's rows as far as this device may see them, the
// effects of acts not yet reflected by the server, the outbox, rejected acts,
// the sync position and the users who logged in here. It is the only
// package of the workstation that speaks SQL.
//
// The replica is encrypted at rest: Open seals every file SQLite writes for
// it under the replica's data key (desktop/sqlite/cryptvfs), and creates
// them 0600 in a 0700 folder.
//
// The replicated tables always hold "server state + the outbox's effects":
// an act writes its effect and its outbox row in one transaction, and
// applying a page of server changes resets the rows queued acts had
// touched to the server's version and replays the outbox on top (rebase).
package sqlite

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"wardsync/desktop/sqlite/cryptvfs"
	"wardsync/migrations"
	"wardsync/workflow"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// DB is an open replica. It is safe for concurrent use.
type DB struct {
	sql  *sql.DB
	conn *connector
	path string
	// vfs seals the files under the data key key (nil: a plain replica, for
	// a benchmark's baseline only). Both are set once, by Unlock.
	vfs *cryptvfs.VFS
	key []byte
	// writeMu serialises this process's write transactions: SQLite allows
	// one writer, and waiting on a mutex is cheaper and fairer than every
	// writer spinning on the busy timeout. Other processes still meet the
	// busy timeout.
	writeMu sync.Mutex

	// resignFn signs re-hashed acts (chain.go, SetResigner).
	resignMu sync.Mutex
	resignFn func(authorID, sessionID, hash string) string

	// The checkpointer (checkpoint.go): every committed write kicks it.
	ckKick     chan struct{}
	ckStop     context.CancelFunc
	ckDone     chan struct{}
	ckEvery    time.Duration
	ckRestart  int
	ckConn     *sql.Conn                     // the checkpointer's own connection
	checkpoint func(CheckpointResult, error) // test hook: each background checkpoint's outcome
	closeOnce  sync.Once
	closeErr   error

	// stmts are the statements this DB has prepared, by SQL text (Tx.exec,
	// query, queryRow): modernc parses a statement's text on every call
	// otherwise, and parsing was a fifth of an act's CPU (make bench,
	// local act). database/sql prepares each once per connection and keeps
	// it; a statement is reset after each use, so a cached one holds no
	// lock and no snapshot.
	stmtMu      sync.Mutex
	stmts       map[string]*sql.Stmt
	stmtsClosed bool
}

// maxStmts bounds the statement cache: the package's statements are a
// fixed set (plus a few per table and column list), so it is never
// reached in practice; past it, statements are parsed per call as before.
const maxStmts = 512

// BusyTimeout is how long a write waits for another process's write lock.
const BusyTimeout = 10 * time.Second

// Open opens (creating it if needed) the replica at path, encrypted under
// key (the replica's data key, cryptvfs.KeySize bytes), and migrates it.
// A key that is not the replica's, or a file changed outside wardsync,
// fails with an *Unreadable error that says so.
func Open(ctx context.Context, path string, key []byte) (*DB, error) {
	return open(ctx, path, key, CheckpointEvery, walRestartFrames, nil)
}

// OpenUnencrypted opens a replica without encryption. Only benchmarks use
// it, as the baseline the encrypted replica is measured against; the
// workstation never does.
func OpenUnencrypted(ctx context.Context, path string) (*DB, error) {
	db, err := OpenLocked(path)
	if err != nil {
		return nil, err
	}
	if err := db.unlock(ctx, nil, CheckpointEvery, walRestartFrames); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// open is Open with the checkpointer's pause (< 0: no background
// checkpointer), its WAL restart threshold and, for tests, a hook told each
// background checkpoint's outcome.
func open(ctx context.Context, path string, key []byte, every time.Duration, restartFrames int, hook func(CheckpointResult, error)) (*DB, error) {
	if len(key) != cryptvfs.KeySize {
		return nil, fmt.Errorf("sqlite: open %s: the data key is %d bytes, want %d", path, len(key), cryptvfs.KeySize)
	}
	db, err := OpenLocked(path)
	if err != nil {
		return nil, err
	}
	db.checkpoint = hook
	if err := db.unlock(ctx, key, every, restartFrames); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// ErrNotFound is workflow's, re-exported for callers of this package.
var ErrNotFound = workflow.ErrNotFound

// IsNotFound reports whether err means a missing row.
func IsNotFound(err error) bool { return errors.Is(err, workflow.ErrNotFound) }

// ErrLocked is what every call on a locked replica answers.
var ErrLocked = &workflow.Rejection{Code: workflow.CodeUnauthenticated,
	Message: "This workstation is locked: log in to open its replica."}

// OpenLocked returns the replica at path without opening it: the data key
// is not known yet (no one has logged in). Every call fails with ErrLocked
// until Unlock. The DB is the same value before and after, so that the
// engine can hand it out from the start.
func OpenLocked(path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("sqlite: no database path")
	}
	probe, err := sql.Open("sqlite", "")
	if err != nil {
		return nil, err
	}
	drv := probe.Driver()
	probe.Close()
	c := &connector{drv: drv}
	return &DB{sql: sql.OpenDB(c), conn: c, path: path}, nil
}

// Unlocked reports whether Unlock succeeded.
func (db *DB) Unlocked() bool { return db.conn.current() != "" }

// Unlock opens the replica under key (creating it if needed), migrates it
// and starts its checkpointer. Unlocking an unlocked replica with its own
// key does nothing; with another key it fails.
func (db *DB) Unlock(ctx context.Context, key []byte) error {
	if len(key) != cryptvfs.KeySize {
		return fmt.Errorf("sqlite: open %s: the data key is %d bytes, want %d", db.path, len(key), cryptvfs.KeySize)
	}
	return db.unlock(ctx, key, CheckpointEvery, walRestartFrames)
}

// UnlockUnencrypted opens the replica without encryption: the benchmarks'
// baseline only (Config.Unencrypted of the engine); the workstation never
// does.
func (db *DB) UnlockUnencrypted(ctx context.Context) error {
	return db.unlock(ctx, nil, CheckpointEvery, walRestartFrames)
}

func (db *DB) unlock(ctx context.Context, key []byte, every time.Duration, restartFrames int) error {
	// Under the write lock: no write can commit (and kick the
	// checkpointer) while the checkpointer is being set up.
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	if db.conn.current() != "" {
		if subtle.ConstantTimeCompare(key, db.key) != 1 {
			return &Unreadable{Path: db.path, Cause: errors.New("it is open under another key")}
		}
		return nil
	}
	if key != nil {
		// A replica from before encryption is encrypted now, once.
		if _, err := convertPlaintext(ctx, db.path, key); err != nil {
			return err
		}
	}
	if err := PrepareFiles(db.path); err != nil {
		return err
	}
	dsn := DSN(db.path)
	var vfs *cryptvfs.VFS
	if key != nil {
		var err error
		if vfs, err = cryptvfs.Register(key); err != nil {
			return fmt.Errorf("sqlite: open %s: %w", db.path, err)
		}
		dsn += "&vfs=" + url.QueryEscape(vfs.Name())
	}
	fail := func(err error) error {
		db.conn.set("")
		// Drop the connections made under this key before the VFS goes.
		db.shutConns(false)
		if vfs != nil {
			if f := vfs.Failure(); f != nil && isIOErr(err) {
				err = &Unreadable{Path: db.path, Cause: f}
			}
			vfs.Close()
		}
		return err
	}
	db.conn.set(dsn)
	if err := pingBusy(ctx, db.sql); err != nil {
		return fail(fmt.Errorf("sqlite: open %s: %w", db.path, err))
	}
	if err := migrations.UpSQLite(ctx, db.sql); err != nil {
		return fail(fmt.Errorf("sqlite: %s: %w", db.path, err))
	}
	db.vfs, db.key = vfs, append([]byte(nil), key...)
	db.startCheckpointer(every, restartFrames)
	return nil
}

// connector opens the pool's connections: none while the replica is
// locked, then with the DSN Unlock set.
type connector struct {
	drv driver.Driver
	dsn atomic.Value // string: the DSN with the current key; "" while locked
}

func (c *connector) Connect(context.Context) (driver.Conn, error) {
	dsn := c.current()
	if dsn == "" {
		return nil, ErrLocked
	}
	return c.drv.Open(dsn)
}

func (c *connector) Driver() driver.Driver { return c.drv }

func (c *connector) current() string {
	dsn, _ := c.dsn.Load().(string)
	return dsn
}

func (c *connector) set(dsn string) {
	c.dsn.Store(dsn)
}

// Unreadable is an encrypted replica that cannot be read: the key is not
// its own, or a file was changed outside wardsync.
type Unreadable struct {
	Path  string
	Cause error // which file and page failed, from the VFS
}

func (e *Unreadable) Error() string {
	return fmt.Sprintf("sqlite: the replica %s cannot be read: %v", e.Path, e.Cause)
}

// isIOErr reports SQLITE_IOERR and its extended codes: how SQLite passes on
// the VFS's failed authentication.
func isIOErr(err error) bool {
	var coded interface{ Code() int }
	return errors.As(err, &coded) && coded.Code()&0xff == 10
}

// PrepareFiles makes the replica's folder (0700) and file (0600) before
// SQLite opens it: SQLite gives the -wal, -shm and journal files the main
// file's mode, so none of them is readable by another account. An existing
// folder or file with wider permissions is narrowed.
func PrepareFiles(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("sqlite: replica folder %s: %w", dir, err)
	}
	if err := narrow(dir, 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("sqlite: replica file %s: %w", path, err)
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		if err := narrow(p, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// narrow removes every permission bit of path outside want.
func narrow(path string, want fs.FileMode) error {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	if fi.Mode().Perm()&^want != 0 {
		if err := os.Chmod(path, fi.Mode().Perm()&want); err != nil {
			return fmt.Errorf("sqlite: narrowing %s to %o: %w", path, want, err)
		}
	}
	return nil
}

// DSN is the driver's name for the replica at path with the connection
// settings every replica connection runs with. Exported so that a
// benchmark's baseline (bench/) opens a bare connection with exactly the
// same pragmas.
func DSN(path string) string {
	q := url.Values{}
	// busy_timeout first: the pragmas run in order, and switching a new file
	// to WAL needs a lock that another process opening it may hold.
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", BusyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	// NORMAL is durable across a process crash in WAL mode; only a power
	// cut can lose the last transactions, never corrupt the file.
	q.Add("_pragma", "synchronous(NORMAL)")
	// 64 MB of page cache per connection (SQLite's default is 2 MB): an
	// initial sync inserts rows under random UUIDs into tables with several
	// indexes, and with the default cache a third of its CPU went to
	// re-reading index pages from the OS (make bench, docs/bench.md).
	// Pages are only held once touched, so a small replica stays small.
	q.Add("_pragma", "cache_size(-65536)")
	// No automatic checkpoint: SQLite runs it inside the commit that
	// crosses 1,000 WAL pages, so one act in ~50 paid for copying the WAL
	// into the file and two fsyncs (tens to hundreds of ms: the local act
	// row's p99). DB's own checkpointer does it in the background instead
	// (checkpoint.go); durability is the WAL's and synchronous's, not the
	// checkpoint's. Other handles on this DSN (the bench's baseline, a
	// second process) are covered by the checkpoint SQLite runs when the
	// last connection to the file closes, or by their own DB's checkpointer.
	q.Add("_pragma", "wal_autocheckpoint(0)")
	// BEGIN IMMEDIATE takes the write lock when a transaction starts, so
	// a read-then-write transaction cannot fail half way on a lock upgrade.
	q.Set("_txlock", "immediate")
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// pingBusy opens a first connection, retrying while another process holds
// the lock. Switching a brand-new file to WAL takes an exclusive lock for
// which SQLite does not always call the busy handler (it answers
// SQLITE_BUSY at once to avoid a deadlock), so busy_timeout alone does not
// cover two processes creating the same replica at the same moment.
func pingBusy(ctx context.Context, sdb *sql.DB) error {
	deadline := time.Now().Add(BusyTimeout)
	for attempt := 1; ; attempt++ {
		err := sdb.PingContext(ctx)
		if err == nil {
			return nil
		}
		if !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(min(attempt, 10)) * 10 * time.Millisecond):
		}
	}
}

// isBusy reports SQLITE_BUSY or SQLITE_LOCKED (and their extended codes).
func isBusy(err error) bool {
	var coded interface{ Code() int }
	if !errors.As(err, &coded) {
		return false
	}
	switch coded.Code() & 0xff {
	case 5, 6: // SQLITE_BUSY, SQLITE_LOCKED
		return true
	}
	return false
}

// Close stops the checkpointer (interrupting a checkpoint under way,
// which loses nothing: the WAL keeps every committed transaction) and
// closes the file; SQLite checkpoints the WAL as the last connection closes.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		db.stopCheckpointer()
		db.stmtMu.Lock()
		for _, st := range db.stmts {
			st.Close()
		}
		db.stmts, db.stmtsClosed = nil, true
		db.stmtMu.Unlock()
		db.closeErr = db.sql.Close()
		db.writeMu.Lock()
		vfs := db.vfs
		db.writeMu.Unlock()
		if vfs != nil {
			// A connection still in use when sql.DB.Close returned (a read
			// finishing as the engine closed) holds files of the VFS.
			db.shutConns(true)
			if err := vfs.Close(); err != nil && db.closeErr == nil {
				db.closeErr = err
			}
		}
	})
	return db.closeErr
}

// shutConns closes the pool's idle connections and, with wait, waits up to
// BusyTimeout until no connection is open: database/sql closes a busy one
// only when it is given back, and the encrypted VFS may go (its key wiped)
// only after every file opened through it is shut. With wait, it reports
// whether none is left open.
func (db *DB) shutConns(wait bool) bool {
	deadline := time.Now().Add(BusyTimeout)
	for {
		db.sql.SetMaxIdleConns(0)
		db.sql.SetMaxIdleConns(2)
		if !wait || db.sql.Stats().OpenConnections == 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// SQL exposes the handle for tests and diagnostics.
func (db *DB) SQL() *sql.DB { return db.sql }

// Tx is one transaction.
type Tx struct {
	ctx context.Context
	db  *DB
	tx  *sql.Tx
	// stmts are the statements prepared in this transaction (execStmt),
	// closed with it: a page of changes runs the same few statements
	// thousands of times, and SQLite's parser was a fifth of the cost.
	stmts map[string]*sql.Stmt
}

// write runs fn in one write transaction, committed when fn returns nil.
func (db *DB) write(ctx context.Context, fn func(*Tx) error) error {
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	if err := fn(&Tx{ctx: ctx, db: db, tx: tx}); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	kick(db.ckKick)
	return nil
}

// read runs fn in a transaction that writes nothing, so that a query of
// several statements sees one snapshot.
func (db *DB) read(ctx context.Context, fn func(*Tx) error) error {
	// A deferred read transaction would still take the write lock because
	// of _txlock=immediate; a read-only one does not.
	tx, err := db.sql.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	defer tx.Rollback()
	return fn(&Tx{ctx: ctx, db: db, tx: tx})
}

// readValue runs get in a read transaction and returns what it read.
func readValue[T any](ctx context.Context, db *DB, get func(*Tx) (T, error)) (T, error) {
	var v T
	err := db.read(ctx, func(t *Tx) error {
		var err error
		v, err = get(t)
		return err
	})
	return v, err
}

// rowScanner is a *sql.Row or the current row of a *sql.Rows.
type rowScanner interface{ Scan(...any) error }

// collect reads every row of rows with scan and closes rows.
func collect[T any](rows *sql.Rows, scan func(rowScanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		x, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

// scanAll is collect for a query that may have failed (err); what names
// the rows in errors ("sqlite: what: …").
func scanAll[T any](rows *sql.Rows, err error, what string, scan func(rowScanner) (T, error)) ([]T, error) {
	if err == nil {
		var out []T
		if out, err = collect(rows, scan); err == nil {
			return out, nil
		}
	}
	return nil, fmt.Errorf("sqlite: %s: %w", what, err)
}

// oneColumn scans a row of one column.
func oneColumn[T any](r rowScanner) (T, error) {
	var v T
	err := r.Scan(&v)
	return v, err
}

// wireRows reads rows of tbl's columns (tbl.colList) into T's, through
// their wire JSON.
func wireRows[T any](tbl *table, rows *sql.Rows, err error, what string) ([]T, error) {
	return scanAll(rows, err, what, func(r rowScanner) (T, error) {
		var v T
		raw, err := scanWire(tbl, r)
		if err == nil {
			err = json.Unmarshal(raw, &v)
		}
		return v, err
	})
}

// prepared returns the DB's prepared statement for q, preparing it on
// first use; nil when the cache is full or q does not prepare (the caller
// then runs q unprepared, which reports q's own error).
func (db *DB) prepared(ctx context.Context, q string) *sql.Stmt {
	db.stmtMu.Lock()
	st, ok := db.stmts[q]
	full := len(db.stmts) >= maxStmts
	closed := db.stmtsClosed
	db.stmtMu.Unlock()
	if ok || full || closed {
		return st
	}
	// Prepared outside the lock (it takes a connection of the pool); two
	// callers racing on a new statement both prepare it and one is kept.
	st, err := db.sql.PrepareContext(ctx, q)
	if err != nil {
		return nil
	}
	db.stmtMu.Lock()
	defer db.stmtMu.Unlock()
	if kept, ok := db.stmts[q]; ok || db.stmtsClosed {
		st.Close()
		return kept
	}
	if db.stmts == nil {
		db.stmts = map[string]*sql.Stmt{}
	}
	db.stmts[q] = st
	return st
}

// queryRow is a one-row query outside any transaction, through the
// statement cache (every act reads its author's credential so).
func (db *DB) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if st := db.prepared(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return db.sql.QueryRowContext(ctx, q, args...)
}

// stmt is q's cached statement bound to this transaction, or nil.
func (t *Tx) stmt(q string) *sql.Stmt {
	if t.db == nil {
		return nil
	}
	st := t.db.prepared(t.ctx, q)
	if st == nil {
		return nil
	}
	return t.tx.StmtContext(t.ctx, st)
}

func (t *Tx) exec(q string, args ...any) (sql.Result, error) {
	if st := t.stmt(q); st != nil {
		return st.ExecContext(t.ctx, args...)
	}
	return t.tx.ExecContext(t.ctx, q, args...)
}

// execStmt is exec for a statement run many times in one transaction: it
// is prepared on first use and reused until the transaction ends.
func (t *Tx) execStmt(q string, args ...any) (sql.Result, error) {
	st, ok := t.stmts[q]
	if !ok {
		var err error
		if st, err = t.tx.PrepareContext(t.ctx, q); err != nil {
			return nil, err
		}
		if t.stmts == nil {
			t.stmts = map[string]*sql.Stmt{}
		}
		t.stmts[q] = st
	}
	return st.ExecContext(t.ctx, args...)
}

func (t *Tx) query(q string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(q); st != nil {
		return st.QueryContext(t.ctx, args...)
	}
	return t.tx.QueryContext(t.ctx, q, args...)
}

func (t *Tx) queryRow(q string, args ...any) *sql.Row {
	if st := t.stmt(q); st != nil {
		return st.QueryRowContext(t.ctx, args...)
	}
	return t.tx.QueryRowContext(t.ctx, q, args...)
}
