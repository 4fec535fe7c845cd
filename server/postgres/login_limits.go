package postgres

// The login limits' counters (sync.login_limits), shared by every
// instance. The policy (how many free failures, how long the delays) is
// the HTTP edge's; docs/security.md, "Login limits".

import (
	"context"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// LoginFailures is how many logins failed for a key, and when the last did.
type LoginFailures struct {
	Failures int
	Last     time.Time
}

// LoginLimitKeys are the keys a login attempt counts against: the account,
// by its e-mail as the login normalises it, and the client address.
func LoginLimitKeys(email, address string) (account, addr string) {
	return "account:" + NormalizeEmail(email), "address:" + address
}

// ReserveLoginAttempt decides for every instance at once whether a login
// attempt may have its password checked now. Under row locks on the keys
// (taken in key order), wait is given the current counts and the time and
// says how long the attempt must still wait; when it says 0 the attempt is
// counted, in advance, as a failure on every key, so that parallel
// attempts cannot all slip through between a check and a count. A success
// gives the count back (ReleaseLoginAttempt, and Login clears the
// account). Counts quieter than quiet read as zero.
func (db *DB) ReserveLoginAttempt(ctx context.Context, keys []string, quiet time.Duration,
	wait func(counts map[string]LoginFailures, now time.Time) time.Duration) (time.Duration, error) {
	keys = append([]string(nil), keys...)
	sort.Strings(keys)
	var w time.Duration
	err := db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		now := db.now()
		if _, err := tx.Exec(ctx, `INSERT INTO sync.login_limits (key, failures, last_failure_at)
			SELECT k, 0, '-infinity' FROM unnest($1::text[]) AS k ON CONFLICT (key) DO NOTHING`, keys); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT key, failures, last_failure_at FROM sync.login_limits WHERE key = ANY($1) ORDER BY key FOR UPDATE`, keys)
		if err != nil {
			return err
		}
		counts := map[string]LoginFailures{}
		for rows.Next() {
			var k string
			var f LoginFailures
			var last pgtype.Timestamptz
			if err := rows.Scan(&k, &f.Failures, &last); err != nil {
				rows.Close()
				return err
			}
			f.Last = last.Time
			if last.InfinityModifier != pgtype.Finite || f.Last.Before(now.Add(-quiet)) {
				f = LoginFailures{}
			}
			counts[k] = f
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if w = wait(counts, now); w > 0 {
			return nil
		}
		_, err = tx.Exec(ctx, `UPDATE sync.login_limits
			   SET failures = CASE WHEN last_failure_at < $2::timestamptz - make_interval(secs => $3) THEN 1 ELSE failures + 1 END, last_failure_at = $2::timestamptz
			 WHERE key = ANY($1)`, keys, now, quiet.Seconds())
		return err
	})
	return w, err
}

// ReleaseLoginAttempt gives back the count ReserveLoginAttempt took for an
// attempt that succeeded.
func (db *DB) ReleaseLoginAttempt(ctx context.Context, key string) error {
	_, err := db.Pool.Exec(ctx, `UPDATE sync.login_limits SET failures = greatest(failures - 1, 0) WHERE key = $1`, key)
	return err
}

// PruneLoginLimits drops counters quiet for longer than quiet.
func (db *DB) PruneLoginLimits(ctx context.Context, quiet time.Duration) error {
	_, err := db.Pool.Exec(ctx, `DELETE FROM sync.login_limits WHERE last_failure_at < $1`, db.now().Add(-quiet))
	return err
}

// countFailure adds one failed attempt to name's and address's counters
// (a counter quiet for longer than LoginQuiet starts again).
func (db *DB) countFailure(ctx context.Context, q execer, name, address string) error {
	acct, addr := LoginLimitKeys(name, address)
	_, err := q.Exec(ctx, `
		INSERT INTO sync.login_limits AS l (key, failures, last_failure_at)
		SELECT k, 1, $2 FROM unnest($1::text[]) AS k
		ON CONFLICT (key) DO UPDATE SET
		    failures = CASE WHEN l.last_failure_at < $2::timestamptz - make_interval(secs => $3) THEN 1 ELSE l.failures + 1 END,
		    last_failure_at = $2`, []string{acct, addr}, db.now(), db.Config.LoginQuiet.Seconds())
	return err
}

// CountLoginFailure counts one failed attempt against name's and address's
// login limits, outside a login (a refused workstation claim code).
func (db *DB) CountLoginFailure(ctx context.Context, name, address string) error {
	return db.countFailure(ctx, db.Pool, name, address)
}
