package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"sync"
)

// Lock closes the replica's files and forgets its key: every call fails
// with ErrLocked again until Unlock. It waits (up to BusyTimeout) for
// calls under way to give their connections back.
func (db *DB) Lock() error {
	db.stopCheckpointer()
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	db.ckStop, db.ckConn = nil, nil
	db.stmtMu.Lock()
	for _, st := range db.stmts {
		st.Close()
	}
	db.stmts = nil
	db.stmtMu.Unlock()
	db.conn.set("")
	if !db.shutConns(db.vfs != nil) {
		return fmt.Errorf("sqlite: lock %s: connections still in use after %s", db.path, BusyTimeout)
	}
	if db.vfs != nil {
		if err := db.vfs.Close(); err != nil {
			return err
		}
	}
	clear(db.key)
	db.vfs, db.key = nil, nil
	return nil
}

// RemoveFiles deletes the replica's files (main, -wal, -shm, -journal).
// The replica must be locked.
func RemoveFiles(path string) error {
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("sqlite: %w", err)
		}
	}
	return nil
}

// MoveFiles renames the replica's files (main and -wal; -shm and
// -journal go) from path to dst. The replica must be locked.
func MoveFiles(path, dst string) error {
	for _, suffix := range []string{"", "-wal"} {
		err := os.Rename(path+suffix, dst+suffix)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("sqlite: %w", err)
		}
	}
	return RemoveFiles(path)
}

// attachKept attaches the kept-acts file at path, sealed under the
// replica's key (a database of its own, with its own salt), as "kept".
func (db *DB) attachKept(ctx context.Context, path string) (func(), *sql.Conn, error) {
	if db.vfs == nil {
		return nil, nil, errors.New("sqlite: kept acts need an encrypted replica")
	}
	c, err := db.sql.Conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	uri := "file:" + (&url.URL{Path: path}).EscapedPath() + "?vfs=" + url.QueryEscape(db.vfs.Name())
	if _, err := c.ExecContext(ctx, `ATTACH DATABASE ? AS kept`, uri); err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("sqlite: attach kept acts %s: %w", path, err)
	}
	var once sync.Once
	done := func() {
		once.Do(func() {
			c.ExecContext(context.Background(), `DETACH DATABASE kept`)
			c.Close()
		})
	}
	return done, c, nil
}

// KeepOutbox copies the queued acts into a separate file at path, sealed
// under the replica's key, before a wipe deletes the replica: they are all
// a revoked workstation keeps. It returns how many acts it kept.
func (db *DB) KeepOutbox(ctx context.Context, path string) (int, error) {
	if err := RemoveFiles(path); err != nil {
		return 0, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, fmt.Errorf("sqlite: %w", err)
	}
	f.Close()
	done, c, err := db.attachKept(ctx, path)
	if err != nil {
		return 0, err
	}
	defer done()
	if _, err := c.ExecContext(ctx, `CREATE TABLE kept.outbox AS SELECT * FROM main.outbox`); err != nil {
		return 0, fmt.Errorf("sqlite: keep queued acts: %w", err)
	}
	var n int
	err = c.QueryRowContext(ctx, `SELECT COUNT(*) FROM kept.outbox`).Scan(&n)
	return n, err
}

// RequeueKept puts the acts kept by KeepOutbox (or in a whole replica
// moved there by MoveFiles) back into the outbox (an act already there
// stays as it is) and deletes the file. No file: 0.
func (db *DB) RequeueKept(ctx context.Context, path string) (int, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	done, c, err := db.attachKept(ctx, path)
	if err != nil {
		return 0, err
	}
	defer done()
	// The columns both tables have, in case the replica's schema moved on.
	rows, err := c.QueryContext(ctx, `SELECT k.name FROM pragma_table_info('outbox', 'kept') k
		JOIN pragma_table_info('outbox', 'main') m ON m.name = k.name ORDER BY k.cid`)
	if err != nil {
		return 0, fmt.Errorf("sqlite: requeue kept acts: %w", err)
	}
	var cols []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return 0, err
		}
		cols = append(cols, `"`+name+`"`)
	}
	rows.Close()
	if len(cols) == 0 {
		return 0, errors.New("sqlite: requeue kept acts: the kept file has no outbox")
	}
	list := strings.Join(cols, ", ")
	res, err := c.ExecContext(ctx, `INSERT OR IGNORE INTO main.outbox (`+list+`) SELECT `+list+` FROM kept.outbox ORDER BY seq`)
	if err != nil {
		return 0, fmt.Errorf("sqlite: requeue kept acts: %w", err)
	}
	n, _ := res.RowsAffected()
	done() // the file is closed before it goes
	if err := RemoveFiles(path); err != nil {
		return int(n), err
	}
	kick(db.ckKick)
	return int(n), nil
}
