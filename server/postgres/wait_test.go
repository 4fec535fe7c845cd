package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"wardsync/internal/pgtest"
)

// TestWaitReachable: a server started before its database waits for it;
// one pointed at a database that refuses it does not.
func TestWaitReachable(t *testing.T) {
	t.Parallel()
	_, dbURL := pgtest.MustOpenDB(t)
	real, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	// freePort is a loopback port nothing listens on (yet).
	freePort := func(t *testing.T) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return addr
	}
	withHost := func(host string) string {
		u := *real
		u.Host = host
		return u.String()
	}
	open := func(t *testing.T, u string) *DB {
		db, err := Open(context.Background(), u, DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close(context.Background()) })
		return db
	}
	ctx := context.Background()

	t.Run("reachable", func(t *testing.T) {
		var tries int
		if err := open(t, dbURL).WaitReachable(ctx, time.Second, func(error, time.Duration) { tries++ }); err != nil {
			t.Fatal(err)
		}
		if tries != 0 {
			t.Fatalf("%d retries against a running database", tries)
		}
	})

	t.Run("comes up late", func(t *testing.T) {
		addr := freePort(t)
		db := open(t, withHost(addr))
		var tries int
		var first error
		retrying := func(err error, _ time.Duration) {
			if tries == 0 {
				first = err
				// Only now does something listen there: a forwarder to
				// the real PostgreSQL, as if it had just started.
				go forward(t, addr, real.Host)
			}
			tries++
		}
		if err := db.WaitReachable(ctx, time.Minute, retrying); err != nil {
			t.Fatal(err)
		}
		if tries == 0 || !unreachable(first) {
			t.Fatalf("tries %d, first error %v: want a retry after an unreachable database", tries, first)
		}
	})

	t.Run("never comes up", func(t *testing.T) {
		db := open(t, withHost(freePort(t)))
		err := db.WaitReachable(ctx, 300*time.Millisecond, nil)
		if err == nil || !strings.Contains(err.Error(), "PostgreSQL was still unreachable after 300ms") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("missing database fails at once", func(t *testing.T) {
		u := *real
		u.Path = "/wardsync_no_such_database"
		var tries int
		err := open(t, u.String()).WaitReachable(ctx, time.Minute, func(error, time.Duration) { tries++ })
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "3D000" || !strings.HasPrefix(err.Error(), "connect to PostgreSQL: ") {
			t.Fatalf("err = %v, want connect to PostgreSQL: … SQLSTATE 3D000", err)
		}
		if tries != 0 {
			t.Fatalf("%d retries for a database that does not exist", tries)
		}
	})
}

// forward accepts connections on addr and pipes each to target.
func forward(t *testing.T, addr, target string) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Errorf("listen %s: %v", addr, err)
		return
	}
	t.Cleanup(func() { l.Close() })
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			s, err := net.Dial("tcp", target)
			if err != nil {
				return
			}
			defer s.Close()
			go io.Copy(s, c)
			io.Copy(c, s)
		}()
	}
}
