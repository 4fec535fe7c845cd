package cryptvfs

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	sqlite "modernc.org/sqlite"
	lib "modernc.org/sqlite/lib"
)

func newKey(t testing.TB) []byte {
	k := make([]byte, KeySize)
	rand.Read(k)
	return k
}

func register(t testing.TB, key []byte) *VFS {
	t.Helper()
	v, err := Register(key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := v.Close(); err != nil {
			t.Errorf("close VFS: %v", err)
		}
	})
	return v
}

func dsn(path string, v *VFS, pragmas ...string) string {
	s := "file:" + path + "?vfs=" + v.Name() + "&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
	for _, p := range pragmas {
		s += "&_pragma=" + p
	}
	return s
}

func openDB(t testing.TB, path string, v *VFS, pragmas ...string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", dsn(path, v, pragmas...))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(); err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	return db
}

func mustExec(t testing.TB, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func integrity(t testing.TB, db *sql.DB) {
	t.Helper()
	var res string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&res); err != nil || res != "ok" {
		t.Fatalf("integrity_check: %q, %v", res, err)
	}
}

// wantAuthFailure checks that err is SQLite's I/O error and that v
// recorded the authentication failure of what ("page N of path"); label
// starts the message when err is not.
func wantAuthFailure(t *testing.T, label string, err error, v *VFS, what string) {
	t.Helper()
	if sqliteCode(err)&0xff != lib.SQLITE_IOERR {
		t.Fatalf("%sgot %v (code %d), want SQLITE_IOERR", label, err, sqliteCode(err))
	}
	want := what + " failed its authentication check: the file was changed outside wardsync, or the key is not this replica's"
	if f := v.Failure(); f == nil || f.Error() != want {
		t.Fatalf("failure %v, want %q", f, want)
	}
}

func sqliteCode(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return -1
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.db")
	key := newKey(t)
	v := register(t, key)
	db := openDB(t, path, v)
	mustExec(t, db, `CREATE TABLE p (id INTEGER PRIMARY KEY, name TEXT, blob BLOB)`)
	for i := range 500 {
		mustExec(t, db, `INSERT INTO p (name, blob) VALUES (?, randomblob(?))`, fmt.Sprintf("patient %d", i), i*7%3000)
	}
	mustExec(t, db, `CREATE INDEX p_name ON p(name)`)
	mustExec(t, db, `DELETE FROM p WHERE id % 5 = 0`)
	integrity(t, db)
	// VACUUM rebuilds the file through a temp database; the reserved
	// bytes (and so the encryption) survive it.
	mustExec(t, db, `VACUUM`)
	integrity(t, db)
	var reserve int
	if err := db.QueryRow(`SELECT COUNT(*) FROM p`).Scan(&reserve); err != nil || reserve != 400 {
		t.Fatalf("after VACUUM: %d rows, %v", reserve, err)
	}
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode %q, %v", mode, err)
	}
	var ps int
	db.QueryRow(`PRAGMA page_size`).Scan(&ps)
	if ps != PageSize {
		t.Fatalf("page_size %d", ps)
	}
	db.Close()

	// A new VFS with the same key (a new process, in effect) reads it all.
	v2 := register(t, key)
	db = openDB(t, path, v2)
	defer db.Close()
	integrity(t, db)
	var n int
	var name string
	if err := db.QueryRow(`SELECT COUNT(*), (SELECT name FROM p WHERE id = 499) FROM p`).Scan(&n, &name); err != nil || n != 400 || name != "patient 498" {
		t.Fatalf("count %d max %q, %v", n, name, err)
	}
	raw, _ := os.ReadFile(path)
	if bytes.HasPrefix(raw, []byte(headerMagic)) {
		t.Fatalf("the main file starts with the SQLite header")
	}
}

func TestWrongKeyAndStockDriverCannotOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	v := register(t, newKey(t))
	db := openDB(t, path, v)
	mustExec(t, db, `CREATE TABLE p (name TEXT)`)
	mustExec(t, db, `INSERT INTO p VALUES ('Zebulon')`)
	db.Close()

	stock, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer stock.Close()
	_, err = stock.Exec(`SELECT * FROM p`)
	if sqliteCode(err) != lib.SQLITE_NOTADB {
		t.Fatalf("stock driver: got %v (code %d), want SQLITE_NOTADB", err, sqliteCode(err))
	}

	other := register(t, newKey(t))
	wrong, err := sql.Open("sqlite", dsn(path, other))
	if err != nil {
		t.Fatal(err)
	}
	defer wrong.Close()
	_, err = wrong.Exec(`SELECT * FROM p`)
	// SQLite reports the failure as an I/O error (on some paths without
	// the extended SQLITE_IOERR_DATA); the VFS says which page failed.
	wantAuthFailure(t, "wrong key: ", err, other, "page 1 of "+path)
}

// TestMarkerInNoByte writes a marker through every kind of file SQLite
// uses (main, WAL, rollback journal, statement journal, temp tables,
// sorter) and checks that no byte handed to the OS, and no byte left in
// the folder, holds it.
func TestMarkerInNoByte(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.db")
	v := register(t, newKey(t))
	marker := []byte("MARKER-7f3a9c-Zebulon")
	var mu sync.Mutex
	kinds := map[string]int{}
	var leaked []string
	v.observe = func(name string, b []byte) {
		mu.Lock()
		defer mu.Unlock()
		k := "temp"
		switch {
		case strings.HasSuffix(name, "-wal"):
			k = "wal"
		case strings.HasSuffix(name, "-journal"):
			k = "journal"
		case name == path:
			k = "main"
		}
		kinds[k]++
		if bytes.Contains(b, marker) || bytes.Contains(b, []byte("SQLite format 3")) {
			leaked = append(leaked, name)
		}
	}
	// Small caches push temp tables and sorts out to temp files.
	db := openDB(t, path, v, "cache_size(10)", "temp_store(1)")
	db.SetMaxOpenConns(1)
	mustExec(t, db, `PRAGMA temp.cache_size = 10`)
	mustExec(t, db, `CREATE TABLE p (id INTEGER PRIMARY KEY, note TEXT UNIQUE)`)
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3000 {
		if _, err := tx.Exec(`INSERT INTO p (note) VALUES (?)`, fmt.Sprintf("%s %d %s", marker, i, strings.Repeat("x", 600))); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	// A multi-row update that fails on its last row, inside a transaction,
	// rolls back through the statement journal.
	tx, err = db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	mustTx := func(q string) {
		if _, err := tx.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	mustTx(`UPDATE p SET note = note || ' first' WHERE id = 1`)
	if _, err := tx.Exec(`UPDATE p SET note = CASE WHEN id = 3000 THEN (SELECT note FROM p WHERE id = 1) ELSE note || ' changed' END`); err == nil {
		t.Fatal("the update should have failed on the unique note")
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, `CREATE TEMP TABLE tp AS SELECT * FROM p`)
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM (SELECT note FROM tp ORDER BY substr(note, 30) DESC)`).Scan(&n); err != nil || n != 3000 {
		t.Fatalf("sorted %d, %v", n, err)
	}
	mustExec(t, db, `PRAGMA wal_checkpoint(TRUNCATE)`)
	// A rollback journal: leave WAL mode and write.
	mustExec(t, db, `PRAGMA journal_mode=DELETE`)
	mustExec(t, db, `UPDATE p SET note = note || ' again' WHERE id < 100`)
	mustExec(t, db, `PRAGMA journal_mode=WAL`)
	mustExec(t, db, `UPDATE p SET note = note || ' wal' WHERE id < 100`)
	integrity(t, db)
	// The folder while the database is open, then after it closed.
	scan := func() {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, marker) {
				t.Errorf("%s holds the marker", e.Name())
			}
		}
	}
	scan()
	db.Close()
	scan()
	mu.Lock()
	defer mu.Unlock()
	if len(leaked) > 0 {
		t.Fatalf("plain text written to %v", leaked)
	}
	for _, k := range []string{"main", "wal", "journal", "temp"} {
		if kinds[k] == 0 {
			t.Errorf("no write to a %s file: the test did not exercise it (%v)", k, kinds)
		}
	}
	t.Logf("writes by kind: %v", kinds)
}

func TestTamperedByteIsAClearError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	key := newKey(t)
	v := register(t, key)
	db := openDB(t, path, v)
	mustExec(t, db, `CREATE TABLE p (name TEXT)`)
	mustExec(t, db, `INSERT INTO p VALUES ('Zebulon')`)
	db.Close() // the last close checkpoints: the row is in page 2 of the main file

	raw, err := os.ReadFile(path)
	if err != nil || len(raw) != 2*PageSize {
		t.Fatalf("file %d bytes, %v", len(raw), err)
	}
	raw[PageSize+100] ^= 1
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	v2 := register(t, key)
	db = openDB(t, path, v2)
	defer db.Close()
	var name string
	err = db.QueryRow(`SELECT name FROM p`).Scan(&name)
	wantAuthFailure(t, "", err, v2, "page 2 of "+path)
}

// TestSwappedPagesFail: a sealed page copied over another fails, though
// each is a valid sealed page.
func TestSwappedPagesFail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	key := newKey(t)
	v := register(t, key)
	db := openDB(t, path, v)
	mustExec(t, db, `CREATE TABLE a (x TEXT)`)
	mustExec(t, db, `CREATE TABLE b (x TEXT)`)
	mustExec(t, db, `INSERT INTO a VALUES ('one')`)
	mustExec(t, db, `INSERT INTO b VALUES ('two')`)
	db.Close()
	raw, _ := os.ReadFile(path)
	copy(raw[PageSize:2*PageSize], raw[2*PageSize:3*PageSize])
	os.WriteFile(path, raw, 0o600)
	v2 := register(t, key)
	db = openDB(t, path, v2)
	defer db.Close()
	var x string
	if err := db.QueryRow(`SELECT x FROM a`).Scan(&x); sqliteCode(err)&0xff != lib.SQLITE_IOERR || v2.Failure() == nil {
		t.Fatalf("got %q, %v; want SQLITE_IOERR", x, err)
	}
}

const childEnv = "CRYPTVFS_CRASH_CHILD"

// TestCrashChild is the writer that TestKillDuringWrites kills; it does
// nothing in a normal run.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(childEnv)
	if path == "" {
		t.Skip("run by TestKillDuringWrites")
	}
	key, _ := strconv.Unquote(os.Getenv(childEnv + "_KEY"))
	v, err := Register([]byte(key))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	db, err := sql.Open("sqlite", dsn(path, v, "wal_autocheckpoint(50)"))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	db.SetMaxOpenConns(1)
	out := bufio.NewWriter(os.Stdout)
	var start int
	if err := db.QueryRow(`SELECT (COALESCE(MAX(n), -1) + 20) / 20 FROM w`).Scan(&start); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	for i := start; ; i++ {
		// Each transaction: a batch of rows, some updates and deletes, so
		// that pages split, move and are freed while checkpoints run.
		tx, err := db.Begin()
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		for j := range 20 {
			if _, err := tx.Exec(`INSERT INTO w (n, pad) VALUES (?, randomblob(300))`, i*20+j); err != nil {
				fmt.Println("error", err)
				os.Exit(1)
			}
		}
		if _, err := tx.Exec(`DELETE FROM w WHERE n % 7 = 0 AND n < ?`, i*20-100); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		if err := tx.Commit(); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Fprintln(out, "committed", i)
		out.Flush()
	}
}

// TestKillDuringWrites kills a writing child process (kill -9) at random
// moments, several times, and checks after each that the database opens,
// passes integrity_check, and holds every transaction the child reported
// committed.
func TestKillDuringWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	key := newKey(t)
	v := register(t, key)
	db := openDB(t, path, v)
	mustExec(t, db, `CREATE TABLE w (n INTEGER PRIMARY KEY, pad BLOB)`)
	db.Close()
	last := -1
	for round := range 4 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), childEnv+"="+path, childEnv+"_KEY="+strconv.Quote(string(key)))
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		committed := -1
		stopAt := last + 30 + round*10
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "error") {
				t.Fatalf("child: %s", line)
			}
			if n, ok := strings.CutPrefix(line, "committed "); ok {
				committed, _ = strconv.Atoi(n)
				if committed >= stopAt {
					break
				}
			}
		}
		// Kill in the middle of the next transactions.
		time.Sleep(time.Duration(round) * 3 * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if committed < 0 {
			t.Fatalf("round %d: the child committed nothing", round)
		}
		v2 := register(t, key)
		db := openDB(t, path, v2)
		integrity(t, db)
		// Every transaction the child reported holds row i*20+19.
		var have int
		for i := range committed + 1 {
			var n int
			if err := db.QueryRow(`SELECT COUNT(*) FROM w WHERE n BETWEEN ? AND ?`, i*20, i*20+19).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				t.Fatalf("round %d: transaction %d (reported committed) is lost", round, i)
			}
			have++
		}
		db.Close()
		t.Logf("round %d: %d transactions committed before kill -9, all present", round, have)
		last = committed
	}
}
