package sqlite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"runtime"
	"strings"
)

// A replica written by a version before encryption is a plain SQLite file.
// The first unlock under a data key copies it into a new encrypted replica
// and removes the plaintext: the steps below are ordered so that a crash at
// any point leaves either the plaintext replica (converted again at the
// next unlock) or the encrypted one (and at most a plaintext copy that the
// next unlock overwrites and removes).

// plainMagic is how every unencrypted SQLite database file begins; an
// encrypted replica's first 16 bytes are its random salt instead.
const plainMagic = "SQLite format 3\x00"

// IsPlaintext reports whether the file at path is an unencrypted SQLite
// database (false when there is no file, or it is empty).
func IsPlaintext(path string) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sqlite: %w", err)
	}
	defer f.Close()
	head := make([]byte, len(plainMagic))
	if _, err := io.ReadFull(f, head); err != nil {
		return false, nil // shorter than a header: not a database of either kind
	}
	return bytes.Equal(head, []byte(plainMagic)), nil
}

// plainAside and converting are where a conversion keeps the plaintext
// replica while the encrypted one takes its place, and builds the latter.
func plainAside(path string) string { return path + ".plaintext" }
func converting(path string) string { return path + ".converting" }

// convertPlaintext turns the unencrypted replica at path, if it is one,
// into an encrypted replica under key, with the same rows, and removes the
// plaintext files. It reports whether it converted anything.
func convertPlaintext(ctx context.Context, path string, key []byte) (bool, error) {
	aside := plainAside(path)
	// A crash after the plaintext was moved aside and before the encrypted
	// copy took its place: put it back and start again.
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Stat(aside); err == nil {
			if err := os.Rename(aside, path); err != nil {
				return false, fmt.Errorf("sqlite: %w", err)
			}
		}
	}
	plain, err := IsPlaintext(path)
	if err != nil {
		return false, err
	}
	if !plain {
		// A crash after the swap, before the plaintext copy was removed.
		if _, err := os.Stat(aside); err == nil {
			return false, shredFiles(aside)
		}
		return false, nil
	}
	tmp := converting(path)
	if err := RemoveFiles(tmp); err != nil { // an interrupted conversion's leftovers
		return false, err
	}
	// 1. The plaintext replica, migrated to this version's schema; closing
	// it merges its -wal into the file.
	old, err := OpenUnencrypted(ctx, path)
	if err != nil {
		return false, fmt.Errorf("sqlite: open the unencrypted replica %s to encrypt it: %w", path, err)
	}
	if err := old.Close(); err != nil {
		return false, err
	}
	if err := noLog(path); err != nil {
		return false, err
	}
	// 2. A new encrypted replica, migrated the same, and every row copied.
	nu, err := open(ctx, tmp, key, -1, walRestartFrames, nil)
	if err != nil {
		return false, err
	}
	if err := copyReplica(ctx, nu, path); err != nil {
		nu.Close()
		RemoveFiles(tmp)
		return false, fmt.Errorf("sqlite: encrypt the replica %s: %w", path, err)
	}
	if err := nu.Close(); err != nil {
		return false, err
	}
	if err := noLog(tmp); err != nil {
		return false, err
	}
	// 3. The encrypted copy takes the replica's place; then the plaintext
	// is overwritten and removed.
	if err := os.Rename(path, aside); err != nil {
		return false, fmt.Errorf("sqlite: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return false, fmt.Errorf("sqlite: %w", err)
	}
	return true, shredFiles(aside)
}

// noLog makes sure that the closed database at path has everything in its
// main file: its -wal, merged at close, is gone or empty (and is removed
// with the -shm), so that the file can be moved alone.
func noLog(path string) error {
	if st, err := os.Stat(path + "-wal"); err == nil && st.Size() > 0 {
		return fmt.Errorf("sqlite: %s-wal still holds writes after closing; is another process using the replica?", path)
	}
	for _, f := range []string{path + "-wal", path + "-shm"} {
		if err := shred(f); err != nil {
			return err
		}
	}
	return nil
}

// copyReplica copies every table of the unencrypted replica at src (same
// schema version) into db, replacing what db's migrations put there.
func copyReplica(ctx context.Context, db *DB, src string) error {
	c, err := db.sql.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	// Rows are copied table by table, in no order their foreign keys know.
	if _, err := c.ExecContext(ctx, `PRAGMA foreign_keys = OFF`); err != nil {
		return err
	}
	defer c.ExecContext(context.Background(), `PRAGMA foreign_keys = ON`)
	uri := "file:" + (&url.URL{Path: src}).EscapedPath() + "?mode=ro&vfs=" + osVFS()
	if _, err := c.ExecContext(ctx, `ATTACH DATABASE ? AS plain`, uri); err != nil {
		return fmt.Errorf("attach %s: %w", src, err)
	}
	defer c.ExecContext(context.Background(), `DETACH DATABASE plain`)
	rows, err := c.QueryContext(ctx, `SELECT name FROM plain.sqlite_schema WHERE type = 'table' AND (name NOT LIKE 'sqlite_%' OR name = 'sqlite_sequence') ORDER BY name`)
	if err != nil {
		return err
	}
	tables, err := collect(rows, oneColumn[string])
	if err != nil {
		return err
	}
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, tbl := range tables {
		q := `"` + strings.ReplaceAll(tbl, `"`, `""`) + `"`
		if _, err := tx.ExecContext(ctx, `DELETE FROM main.`+q); err != nil {
			return fmt.Errorf("table %s: %w", tbl, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO main.`+q+` SELECT * FROM plain.`+q); err != nil {
			return fmt.Errorf("table %s: %w", tbl, err)
		}
	}
	return tx.Commit()
}

// osVFS is the name of SQLite's own VFS on this system, through which the
// plaintext replica is read.
func osVFS() string {
	if runtime.GOOS == "windows" {
		return "win32"
	}
	return "unix"
}

// shredFiles overwrites each existing file with zeros, syncs it and
// removes it, so that the plaintext does not stay readable in the freed
// blocks of the file system. A copy-on-write or journaling file system, or
// an SSD's wear levelling, may still keep old blocks: full-disk encryption
// covers those (docs/security.md).
func shredFiles(paths ...string) error {
	for _, p := range paths {
		for _, f := range []string{p, p + "-wal", p + "-shm", p + "-journal"} {
			if err := shred(f); err != nil {
				return err
			}
		}
	}
	return nil
}

func shred(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	st, err := f.Stat()
	if err == nil {
		zeros := make([]byte, 64<<10)
		for left := st.Size(); left > 0 && err == nil; {
			n := min(left, int64(len(zeros)))
			_, err = f.Write(zeros[:n])
			left -= n
		}
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sqlite: overwrite %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return nil
}
