// Package pgtest gives tests a real PostgreSQL: the cluster named by
// DATABASE_URL, or else the project-local one that scripts/pg.sh starts (its
// own data folder and port). Every test gets its own fresh database, cloned
// from a migrated template, so concurrent test packages cannot interfere.
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"wardsync/migrations"
)

var (
	adminOnce sync.Once
	adminURL  string
	adminErr  error
)

// AdminURL is the URL of a database on the test cluster with the right to
// create databases.
func AdminURL(tb testing.TB) string {
	tb.Helper()
	adminOnce.Do(func() {
		if u := os.Getenv("DATABASE_URL"); u != "" {
			adminURL = u
			return
		}
		root, err := repoRoot()
		if err != nil {
			adminErr = err
			return
		}
		out, err := exec.Command(filepath.Join(root, "scripts", "pg.sh"), "start").Output()
		if err != nil {
			if ee, ok := err.(*exec.ExitError); ok {
				err = fmt.Errorf("%w: %s", err, ee.Stderr)
			}
			adminErr = fmt.Errorf("start project-local PostgreSQL: %w", err)
			return
		}
		adminURL = strings.TrimSpace(string(out))
	})
	if adminErr != nil {
		tb.Fatal(adminErr)
	}
	return adminURL
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// WithDatabase returns url with its database name replaced.
func WithDatabase(u, name string) string {
	p, err := url.Parse(u)
	if err != nil {
		panic(err)
	}
	p.Path = "/" + name
	return p.String()
}

func randomName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// templateName changes whenever a migration changes, so a stale template is
// never reused.
func templateName() string {
	h := sha256.New()
	_ = fs.WalkDir(migrations.Postgres(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := fs.ReadFile(migrations.Postgres(), p)
		h.Write([]byte(p))
		h.Write(b)
		return nil
	})
	return "wardsync_tmpl_" + hex.EncodeToString(h.Sum(nil))[:16]
}

func adminConn(tb testing.TB) *pgx.Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, AdminURL(tb))
	if err != nil {
		tb.Fatalf("connect to test cluster: %v", err)
	}
	return conn
}

// ensureTemplate builds the migrated template once per cluster; an advisory
// lock serialises packages that race to build it.
func ensureTemplate(tb testing.TB) string {
	tb.Helper()
	ctx := context.Background()
	name := templateName()
	conn := adminConn(tb)
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(727272)`); err != nil {
		tb.Fatal(err)
	}
	defer conn.Exec(ctx, `SELECT pg_advisory_unlock(727272)`)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		tb.Fatal(err)
	}
	if exists {
		return name
	}
	building := name + "_b"
	_, _ = conn.Exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{building}.Sanitize()+` WITH (FORCE)`)
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{building}.Sanitize()); err != nil {
		tb.Fatal(err)
	}
	db, err := sql.Open("pgx", WithDatabase(AdminURL(tb), building))
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := migrations.UpPostgres(ctx, db); err != nil {
		db.Close()
		tb.Fatalf("migrate template: %v", err)
	}
	db.Close()
	if _, err := conn.Exec(ctx, `ALTER DATABASE `+pgx.Identifier{building}.Sanitize()+` RENAME TO `+pgx.Identifier{name}.Sanitize()); err != nil {
		tb.Fatal(err)
	}
	return name
}

// NewDatabase creates a fresh database for this test and returns its URL.
// migrated says whether it starts with every migration applied (cloned from
// the template) or empty. It is dropped when the test ends.
func NewDatabase(tb testing.TB, migrated bool) string {
	tb.Helper()
	ctx := context.Background()
	var tmpl string
	if migrated {
		tmpl = ensureTemplate(tb)
	}
	name := randomName("wardsync_t_")
	conn := adminConn(tb)
	defer conn.Close(ctx)
	q := `CREATE DATABASE ` + pgx.Identifier{name}.Sanitize()
	if tmpl != "" {
		q += ` TEMPLATE ` + pgx.Identifier{tmpl}.Sanitize()
	}
	// A template being cloned by another package at the same instant makes
	// CREATE DATABASE fail with "source database is being accessed"; retry.
	var err error
	for i := 0; i < 50; i++ {
		if _, err = conn.Exec(ctx, q); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		tb.Fatalf("create test database: %v", err)
	}
	tb.Cleanup(func() {
		c := adminConn(tb)
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), `DROP DATABASE IF EXISTS `+pgx.Identifier{name}.Sanitize()+` WITH (FORCE)`)
	})
	return WithDatabase(AdminURL(tb), name)
}

// Pool is a pool of connections to a test database. Named here so that
// test kits (internal/wardtest) hand one to tests without importing the
// driver, which only the adapters and this package may.
type Pool = pgxpool.Pool

// MustOpenDB returns a pool on a fresh, migrated database of its own.
func MustOpenDB(tb testing.TB) (*pgxpool.Pool, string) {
	tb.Helper()
	u := NewDatabase(tb, true)
	return OpenPool(tb, u), u
}

// OpenPool opens a pool on the database at u, closed when the test ends.
func OpenPool(tb testing.TB, u string) *Pool {
	tb.Helper()
	pool, err := pgxpool.New(context.Background(), u)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

// MustOpenSQL opens database/sql over pgx, for goose and catalog checks.
func MustOpenSQL(tb testing.TB, u string) *sql.DB {
	tb.Helper()
	db, err := sql.Open("pgx", u)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

var _ = stdlib.GetDefaultDriver // registers the "pgx" database/sql driver
