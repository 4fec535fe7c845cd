package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"wardsync/workflow"
)

func TestReplicaFilesArePrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ward")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ward.db")
	db, err := Open(context.Background(), path, testKey)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	seed(t, db)
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("folder mode %v, %v; want 0700", fi.Mode().Perm(), err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s mode %v, %v; want 0600", p, fi.Mode().Perm(), err)
		}
	}
}

func TestWrongKeyIsUnreadable(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ward.db")
	db, err := Open(ctx, path, testKey)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	other := []byte("another-key-of-thirty-two-bytes!")
	_, err = Open(ctx, path, other)
	var u *Unreadable
	if !errors.As(err, &u) {
		t.Fatalf("open with another key: %v, want *Unreadable", err)
	}
	want := "sqlite: the replica " + path + " cannot be read: page 1 of " + path +
		" failed its authentication check: the file was changed outside wardsync, or the key is not this replica's"
	if err.Error() != want {
		t.Fatalf("got %q\nwant %q", err, want)
	}
	if _, err := Open(ctx, path, []byte("short")); err == nil || err.Error() != "sqlite: open "+path+": the data key is 5 bytes, want 32" {
		t.Fatalf("short key: %v", err)
	}

	// The stock driver, as sqlite3 would, sees no database.
	stock, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer stock.Close()
	if _, err := stock.Exec(`SELECT COUNT(*) FROM outbox`); err == nil || !isNotADB(err) {
		t.Fatalf("stock driver: %v, want SQLITE_NOTADB", err)
	}
}

func isNotADB(err error) bool {
	var coded interface{ Code() int }
	return errors.As(err, &coded) && coded.Code() == 26
}

func TestLockedReplicaRefusesUntilUnlocked(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ward.db")
	db, err := OpenLocked(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Unlocked() {
		t.Fatal("a new locked replica says it is unlocked")
	}
	_, err = db.Credentials(ctx)
	if r, ok := workflow.AsRejection(err); !ok || r.Code != workflow.CodeUnauthenticated ||
		r.Message != "This workstation is locked: log in to open its replica." {
		t.Fatalf("locked: %v", err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Fatal("a locked replica created its file")
	}
	if err := db.Unlock(ctx, testKey); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Credentials(ctx); err != nil {
		t.Fatalf("unlocked: %v", err)
	}
	if err := db.Unlock(ctx, testKey); err != nil {
		t.Fatalf("unlocking again with the same key: %v", err)
	}
	err = db.Unlock(ctx, []byte("another-key-of-thirty-two-bytes!"))
	if err == nil || err.Error() != "sqlite: the replica "+path+" cannot be read: it is open under another key" {
		t.Fatalf("another key: %v", err)
	}
}

// A connection still in use when Close is called (a read another goroutine
// is finishing) closes when it is given back: Close waits for it and then
// unregisters the VFS, instead of failing with files still open.
func TestCloseWaitsForAConnectionInUse(t *testing.T) {
	db := openTest(t)
	tx, err := db.SQL().BeginTx(context.Background(), &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := tx.QueryRow(`SELECT count(*) FROM sqlite_master`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		tx.Rollback()
	}()
	if err := db.Close(); err != nil {
		t.Fatalf("close with a read finishing: %v", err)
	}
}
