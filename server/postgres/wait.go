package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// WaitReachable waits, for at most wait, until PostgreSQL accepts a
// connection. A server started beside its database (a host booting, the
// database restarting) should not exit because it came up first. Only a
// database that cannot be reached yet is waited for: nothing listening, or
// PostgreSQL still starting or shutting down. A refused login or a database
// that does not exist is an error at once. retrying is told each failed
// attempt before the pause that follows it.
func (db *DB) WaitReachable(ctx context.Context, wait time.Duration, retrying func(err error, next time.Duration)) error {
	deadline := time.Now().Add(wait)
	pause := 100 * time.Millisecond
	for {
		err := db.Pool.Ping(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !unreachable(err) {
			return fmt.Errorf("connect to PostgreSQL: %w", err)
		}
		if !time.Now().Add(pause).Before(deadline) {
			return fmt.Errorf("PostgreSQL was still unreachable after %s: %w", wait, err)
		}
		if retrying != nil {
			retrying(err, pause)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
		pause = min(pause*2, 2*time.Second)
	}
}

// unreachable says whether err means the database cannot be reached for
// now, by its SQLSTATE or its network error, never by its text:
// 57P03 cannot_connect_now (starting up), 57P01/57P02 (shutting down), and
// a connection refused, reset or timed out on the way.
func unreachable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "57P03" || pe.Code == "57P01" || pe.Code == "57P02"
	}
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &oe) || (errors.As(err, &ne) && ne.Timeout())
}
