package postgres

// Sessions that end: why (sync.sessions.ended_reason), the notification
// that tells every instance at once, expiry and the dashboards' idle
// timeout. docs/security.md, "Sessions and access".

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"wardsync/workflow"
)

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

// SessionsChannel is notified when sessions end by an administrator's or
// a user's act, so that every instance re-checks its open sockets at once.
// Only these rare account transactions notify, never a push: a NOTIFY
// inside a transaction serialises the cluster's commits (announce.go).
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
	conn, release, err := db.listenConn(ctx, SessionsChannel)
	if err != nil {
		return err
	}
	defer release()
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
