package postgres

// The security log (sync.security_events, append-only by trigger) and the
// session bookkeeping that feeds it: who logged in, failed, logged out or
// expired, and every administrative act with who, what, before and after.
// An event is written in the same transaction as the change it records, so
// the log never claims a change that did not happen, nor misses one that
// did.

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"wardsync/workflow"
)

// Kinds of security event. docs/security.md, "Security log", lists them.
const (
	EventLogin          = "login"
	EventLoginFailed    = "login_failed"
	EventLogout         = "logout"
	EventSessionExpired = "session_expired"
	EventUserCreate     = "user_create"
	EventUserDisable    = "user_disable"
	EventUserEnable     = "user_enable"
	EventUserRole       = "user_role"
	EventUserPassword   = "user_password"
	EventDeviceRegister = "device_register"
	EventDeviceCode     = "device_code"
	EventDeviceClaim    = "device_claim"
	EventDeviceRevoke   = "device_revoke"
	EventPatientMerge   = "patient_merge"
	EventDuplicateClear = "duplicate_dismiss"
	EventReviewResolve  = "review_resolve"
)

// EventKinds lists every kind, in the order the dashboard offers them.
var EventKinds = []string{
	EventLogin, EventLoginFailed, EventLogout, EventSessionExpired,
	EventUserCreate, EventUserDisable, EventUserEnable, EventUserRole, EventUserPassword,
	EventDeviceRegister, EventDeviceCode, EventDeviceClaim, EventDeviceRevoke,
	EventPatientMerge, EventDuplicateClear, EventReviewResolve,
}

// Session end reasons (sync.sessions.ended_reason).
const (
	EndLogout        = "logout"
	EndDisabled      = "disabled"
	EndRoleChanged   = "role_changed"
	EndPasswordReset = "password_reset"
	EndDeviceRevoked = "device_revoked"
	EndExpired       = "expired"
	EndIdle          = "idle"
)

// Who is the person and address behind a request. The HTTP edge puts it in
// the request's context (WithWho), as it does the deadline; the methods
// that change accounts read it to say who did it in the security log. A
// context without one is the command line on the server itself.
type Who struct {
	UserID  string
	Name    string
	Address string
}

type whoKey struct{}

// WithWho returns ctx carrying w.
func WithWho(ctx context.Context, w Who) context.Context {
	return context.WithValue(ctx, whoKey{}, w)
}

func whoOf(ctx context.Context) Who {
	w, _ := ctx.Value(whoKey{}).(Who)
	return w
}

// SecurityEvent is one entry of the security log.
type SecurityEvent struct {
	ID        int64
	At        time.Time
	Kind      string
	ActorID   string
	ActorName string
	UserID    string
	UserEmail string
	DeviceID  string
	Address   string
	Reason    string
	Target    string
	Before    json.RawMessage
	After     json.RawMessage
}

type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func jsonOrNil(v any) any {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return string(b)
}

// logEvent appends e, its actor taken from ctx when e names none. The
// actor's name is looked up in the same statement, so the log reads as
// words even after the user is renamed.
func (db *DB) logEvent(ctx context.Context, q execer, e SecurityEvent, before, after any) error {
	if e.At.IsZero() {
		e.At = db.now()
	}
	return appendEvent(ctx, q, e, before, after)
}

// appendEvent is logEvent for an event whose time is set.
func appendEvent(ctx context.Context, q execer, e SecurityEvent, before, after any) error {
	// What a stranger typed (an e-mail at a failed login) is kept, but not
	// at any length.
	e.UserEmail, e.Reason, e.Target = clipText(e.UserEmail), clipText(e.Reason), clipText(e.Target)
	who := whoOf(ctx)
	if e.ActorID == "" {
		e.ActorID, e.ActorName = who.UserID, who.Name
	}
	if e.Address == "" {
		e.Address = who.Address
	}
	_, err := q.Exec(ctx, `
		INSERT INTO sync.security_events (at, kind, actor_id, actor_name, user_id, user_email, device_id, address, reason, target, before, after)
		VALUES ($1, $2, $3, COALESCE($4, (SELECT name FROM users WHERE id = $3)), $5,
		        COALESCE($6, (SELECT email FROM users WHERE id = $5)), $7, $8, $9, $10, $11::jsonb, $12::jsonb)`,
		e.At, e.Kind, nullable(e.ActorID), nullable(e.ActorName), nullable(e.UserID), nullable(e.UserEmail),
		nullable(e.DeviceID), nullable(e.Address), nullable(e.Reason), nullable(e.Target), jsonOrNil(before), jsonOrNil(after))
	return err
}

// clipText bounds a free-text field of the log to 500 characters.
// PostgreSQL's text holds neither NUL nor invalid UTF-8.
func clipText(v string) string {
	v = strings.ToValidUTF8(strings.ReplaceAll(v, "\x00", ""), "")
	if r := []rune(v); len(r) > 500 {
		return string(r[:500]) + "…"
	}
	return v
}

// LogSecurityEvent appends one event on its own (a refusal that changed
// nothing else, such as a login held back by the limits).
func (db *DB) LogSecurityEvent(ctx context.Context, e SecurityEvent) error {
	return db.logEvent(ctx, db.Pool, e, nil, nil)
}

// SessionsChannel is notified when sessions end by an administrator's or
// a user's act, so that every instance re-checks its open sockets at once.
// Only these rare account transactions notify: never a push (DESIGN §9).
const SessionsChannel = "wardsync_sessions"

func notifySessions(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `SELECT pg_notify('`+SessionsChannel+`', '')`)
	return err
}

// ListenSessions calls fn on every notification of SessionsChannel, and
// once after each (re)connection (one may have been missed), until ctx
// ends. It holds one pooled connection while listening.
func (db *DB) ListenSessions(ctx context.Context, fn func()) {
	for ctx.Err() == nil {
		err := db.listenSessionsOnce(ctx, fn)
		if ctx.Err() != nil {
			return
		}
		_ = err // reconnect below
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (db *DB) listenSessionsOnce(ctx context.Context, fn func()) error {
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `LISTEN `+SessionsChannel); err != nil {
		return err
	}
	defer func() {
		c, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, _ = conn.Exec(c, `UNLISTEN *`)
	}()
	fn()
	for {
		if _, err := conn.Conn().WaitForNotification(ctx); err != nil {
			return err
		}
		fn()
	}
}

// SessionEnd is why a session can no longer be used: the sentence the
// workstation is told, and whether it is because its workstation was
// revoked (which closes sockets with their own code).
type SessionEnd struct {
	*workflow.Rejection
	DeviceRevoked bool
}

// EndedSessions says, of the sessions ids, which have ended now and why.
// Sessions that expired or went idle are marked ended and logged on the
// way.
func (db *DB) EndedSessions(ctx context.Context, ids []string) (map[string]SessionEnd, error) {
	out := map[string]SessionEnd{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := db.Pool.Query(ctx, sessionSelect+` WHERE s.id = ANY($1)`, ids)
	if err != nil {
		return nil, err
	}
	ss, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*sessionRow, error) { return scanSession(r) })
	if err != nil {
		return nil, err
	}
	now := db.now()
	for _, s := range ss {
		if rej := s.check(now, db.Config.AdminIdle); rej != nil {
			out[s.ID] = SessionEnd{Rejection: rej, DeviceRevoked: s.deviceRevoked != nil}
		}
	}
	if _, err := db.ExpireSessions(ctx); err != nil {
		return out, err
	}
	return out, nil
}

// ExpireSessions marks every session past its end (lifetime, or a
// dashboard's idle timeout) as ended and logs each once, whichever
// instance sees it first. It returns how many it ended.
func (db *DB) ExpireSessions(ctx context.Context) (int64, error) {
	idle := db.Config.AdminIdle.Seconds()
	tag, err := db.Pool.Exec(ctx, `
		WITH due AS (
			SELECT id FROM sync.sessions
			 WHERE revoked_at IS NULL
			   AND (expires_at < $1 OR (device_id IS NULL AND $2 > 0 AND COALESCE(last_active_at, issued_at) + make_interval(secs => $2) < $1))
			 ORDER BY expires_at LIMIT 1000 FOR UPDATE SKIP LOCKED
		), ended AS (
			UPDATE sync.sessions s
			   SET ended_reason = CASE WHEN s.expires_at < $1 THEN 'expired' ELSE 'idle' END,
			       revoked_at = CASE WHEN s.expires_at < $1 THEN s.expires_at
			                         ELSE COALESCE(s.last_active_at, s.issued_at) + make_interval(secs => $2) END
			  FROM due WHERE s.id = due.id
			RETURNING s.id, s.user_id, s.device_id, s.ended_reason, s.revoked_at
		)
		INSERT INTO sync.security_events (at, kind, actor_id, actor_name, user_id, user_email, device_id, reason, target)
		SELECT e.revoked_at, 'session_expired', e.user_id, u.name, e.user_id, u.email, e.device_id,
		       CASE e.ended_reason WHEN 'idle' THEN 'dashboard idle timeout' ELSE 'session lifetime reached' END, 'session ' || e.id
		  FROM ended e JOIN users u ON u.id = e.user_id`, db.now(), idle)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// NoteActivity records that a dashboard session's administrator was active
// at at (the idle timeout counts from the last activity).
func (db *DB) NoteActivity(ctx context.Context, sessionID string, at time.Time) error {
	_, err := db.Pool.Exec(ctx, `UPDATE sync.sessions SET last_active_at = $2
		 WHERE id = $1 AND revoked_at IS NULL AND (last_active_at IS NULL OR last_active_at < $2)`, sessionID, at)
	return err
}

// ---- reading the log ----

// SecurityFilter selects security events; empty fields do not filter.
type SecurityFilter struct {
	Kind string
	// User matches the actor or the user the event is about, by id or
	// e-mail.
	User         string
	Since, Until *time.Time
	Limit        int
	// After continues from the Next of a previous page (newest first).
	After string
}

// MaxSecurityPage bounds one page of the security log.
const MaxSecurityPage = 1000

// SecurityEvents lists events newest first, and the key of the next page
// ("" at the end).
func (db *DB) SecurityEvents(ctx context.Context, f SecurityFilter) ([]SecurityEvent, string, error) {
	if f.Kind != "" {
		known := false
		for _, k := range EventKinds {
			known = known || k == f.Kind
		}
		if !known {
			return nil, "", &workflow.Rejection{Code: workflow.CodeValidationFailed, Field: "kind",
				Message: fmt.Sprintf("%q is not a kind of security event; kinds are %s.", f.Kind, strings.Join(EventKinds, ", "))}
		}
	}
	limit := f.Limit
	if limit <= 0 || limit > MaxSecurityPage {
		limit = 200
	}
	var conds []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Kind != "" {
		conds = append(conds, "kind = "+arg(f.Kind))
	}
	if f.User != "" {
		p := arg(strings.ToLower(strings.TrimSpace(f.User)))
		conds = append(conds, "(actor_id = "+p+" OR user_id = "+p+" OR lower(user_email) = "+p+
			" OR actor_id IN (SELECT id FROM users WHERE lower(email) = "+p+"))")
	}
	if f.Since != nil {
		conds = append(conds, "at >= "+arg(*f.Since))
	}
	if f.Until != nil {
		conds = append(conds, "at < "+arg(*f.Until))
	}
	if f.After != "" {
		id, err := strconv.ParseInt(f.After, 10, 64)
		if err != nil || id < 1 {
			return nil, "", &workflow.Rejection{Code: workflow.CodeValidationFailed, Field: "after", Message: "after must be the next key of a previous page."}
		}
		conds = append(conds, "id < "+arg(id))
	}
	q := `SELECT id, at, kind, COALESCE(actor_id, ''), COALESCE(actor_name, ''), COALESCE(user_id, ''), COALESCE(user_email, ''),
	             COALESCE(device_id, ''), COALESCE(address, ''), COALESCE(reason, ''), COALESCE(target, ''), before, after
	        FROM sync.security_events`
	if len(conds) > 0 {
		q += " WHERE " + strings.Join(conds, " AND ")
	}
	q += " ORDER BY id DESC LIMIT " + arg(limit+1)
	rows, err := db.Pool.Query(ctx, q, args...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var out []SecurityEvent
	for rows.Next() {
		var e SecurityEvent
		var before, after []byte
		if err := rows.Scan(&e.ID, &e.At, &e.Kind, &e.ActorID, &e.ActorName, &e.UserID, &e.UserEmail,
			&e.DeviceID, &e.Address, &e.Reason, &e.Target, &before, &after); err != nil {
			return nil, "", err
		}
		e.Before, e.After = before, after
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = strconv.FormatInt(out[limit-1].ID, 10)
	}
	return out, next, nil
}

// ---- login limits ----

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

// refuseLogin logs a refused login and returns rej. The login limits are
// counted by the HTTP edge (ReserveLoginAttempt), not here.
func (db *DB) refuseLogin(ctx context.Context, email, userID, deviceID, reason string, rej *workflow.Rejection) error {
	if err := db.LogSecurityEvent(ctx, SecurityEvent{Kind: EventLoginFailed, ActorID: userID, UserID: userID, UserEmail: email,
		DeviceID: deviceID, Reason: reason}); err != nil {
		return err
	}
	return rej
}

// CountLoginFailure counts one failed attempt against name's and address's
// login limits, outside a login (a refused workstation claim code).
func (db *DB) CountLoginFailure(ctx context.Context, name, address string) error {
	return db.countFailure(ctx, db.Pool, name, address)
}

// SecurityEventCounts counts the security log's events by kind.
func (db *DB) SecurityEventCounts(ctx context.Context) (map[string]int64, error) {
	rows, err := db.Pool.Query(ctx, `SELECT kind, count(*) FROM sync.security_events GROUP BY kind`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var k string
		var n int64
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[k] = n
	}
	return out, rows.Err()
}
