package postgres

// User administration: adding and listing users, changing a role,
// resetting a password, disabling and enabling, each ending the sessions it must.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"

	"wardsync/workflow"
)

// UserInfo is a user as the admin API shows it: never the password hash.
type UserInfo struct {
	ID             string
	Name           string
	Email          string
	Role           workflow.Role
	CreatedAt      time.Time
	DisabledAt     *time.Time
	ActiveSessions int64
	// LastDisabledAt and EnabledAt keep the last disable and re-enable
	// (the full history is in the security log).
	LastDisabledAt *time.Time
	EnabledAt      *time.Time
}

const userInfoQuery = `
	SELECT u.id, u.name, u.email, u.role::text, u."createdAt", st.disabled_at,
	       (SELECT count(*) FROM sync.sessions s WHERE s.user_id = u.id AND s.revoked_at IS NULL AND s.expires_at > $1),
	       st.last_disabled_at, st.enabled_at
	  FROM users u LEFT JOIN sync.user_status st ON st.user_id = u.id`

func scanUserInfo(r pgx.Row) (UserInfo, error) {
	var u UserInfo
	err := r.Scan(&u.ID, &u.Name, &u.Email, &u.Role, &u.CreatedAt, &u.DisabledAt, &u.ActiveSessions, &u.LastDisabledAt, &u.EnabledAt)
	return u, err
}

// ListUsers lists every user, admins first, then by name.
func (db *DB) ListUsers(ctx context.Context) ([]UserInfo, error) {
	rows, err := db.Pool.Query(ctx, userInfoQuery+` ORDER BY u.role::text = 'ADMIN' DESC, lower(u.name), u.id`, db.now())
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (UserInfo, error) { return scanUserInfo(r) })
}

// User reads one user.
func (db *DB) User(ctx context.Context, id string) (*UserInfo, error) {
	u, err := scanUserInfo(db.Pool.QueryRow(ctx, userInfoQuery+` WHERE u.id = $2`, db.now(), id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, workflow.Reject(workflow.CodeNotFound, "User %s does not exist.", id)
	}
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// otherActiveAdmins counts the enabled ADMIN users other than userID.
func otherActiveAdmins(ctx context.Context, q pgx.Tx, userID string) (int64, error) {
	var n int64
	err := q.QueryRow(ctx, `
		SELECT count(*) FROM users u LEFT JOIN sync.user_status st ON st.user_id = u.id
		 WHERE u.role = 'ADMIN' AND st.disabled_at IS NULL AND u.id <> $1`, userID).Scan(&n)
	return n, err
}

// lockUser locks a user's row and returns its role and whether it is
// enabled. Admin changes that could remove the last administrator take the
// lock on every ADMIN row first, so two of them cannot race past the check.
func lockUser(ctx context.Context, tx pgx.Tx, userID string) (workflow.Role, bool, error) {
	if _, err := tx.Exec(ctx, `SELECT 1 FROM users WHERE role = 'ADMIN' OR id = $1 ORDER BY id FOR UPDATE`, userID); err != nil {
		return "", false, err
	}
	var role workflow.Role
	var disabled *time.Time
	err := tx.QueryRow(ctx, `SELECT u.role::text, st.disabled_at FROM users u LEFT JOIN sync.user_status st ON st.user_id = u.id WHERE u.id = $1`, userID).
		Scan(&role, &disabled)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, workflow.Reject(workflow.CodeNotFound, "User %s does not exist.", userID)
	}
	return role, disabled == nil, err
}

// revokeUserSessions ends every open session of a user, saying why, and
// returns how many it ended.
func revokeUserSessions(ctx context.Context, tx pgx.Tx, userID string, at time.Time, reason string) (int64, error) {
	tag, err := tx.Exec(ctx, `UPDATE sync.sessions SET revoked_at = $2, ended_reason = $3 WHERE user_id = $1 AND revoked_at IS NULL`, userID, at, reason)
	return tag.RowsAffected(), err
}

// SetUserRole changes a user's role and ends their sessions, so that every
// workstation asks them to log in again under the new role. The last
// enabled ADMIN cannot be demoted.
func (db *DB) SetUserRole(ctx context.Context, userID string, role workflow.Role) error {
	if err := checkRole("role", role); err != nil {
		return err
	}
	return db.announced(db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		cur, enabled, err := lockUser(ctx, tx, userID)
		if err != nil {
			return err
		}
		if cur == role {
			return nil
		}
		if cur == workflow.RoleAdmin && enabled {
			n, err := otherActiveAdmins(ctx, tx, userID)
			if err != nil {
				return err
			}
			if err := workflow.KeepsAnAdmin(cur, enabled, n); err != nil {
				return err
			}
		}
		now := db.now()
		if _, err := tx.Exec(ctx, `UPDATE users SET role = $2::"Role", "updatedAt" = $3 WHERE id = $1`, userID, string(role), now.Truncate(time.Millisecond)); err != nil {
			return err
		}
		n, err := revokeUserSessions(ctx, tx, userID, now, EndRoleChanged)
		if err != nil {
			return err
		}
		if err := db.logEvent(ctx, tx, SecurityEvent{Kind: EventUserRole, UserID: userID},
			map[string]any{"role": cur}, map[string]any{"role": role, "sessionsEnded": n}); err != nil {
			return err
		}
		return notifySessions(ctx, tx)
	}), feedNotice, adminNotice("users"))
}

// ResetPassword sets a new password (bcrypt at the seed's cost) and ends the
// user's sessions. Acts a workstation queued before the reset still count:
// a revoked session covers what happened while it was valid.
func (db *DB) ResetPassword(ctx context.Context, userID, password string) error {
	if err := workflow.CheckPassword(password); err != nil {
		return err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), BcryptCost)
	if err != nil {
		return err
	}
	return db.announced(db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		now := db.now()
		tag, err := tx.Exec(ctx, `UPDATE users SET password = $2, "updatedAt" = $3 WHERE id = $1`, userID, string(hash), now.Truncate(time.Millisecond))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return workflow.Reject(workflow.CodeNotFound, "User %s does not exist.", userID)
		}
		n, err := revokeUserSessions(ctx, tx, userID, now, EndPasswordReset)
		if err != nil {
			return err
		}
		// The log never holds a password or its hash: only that it changed.
		if err := db.logEvent(ctx, tx, SecurityEvent{Kind: EventUserPassword, UserID: userID},
			nil, map[string]any{"passwordChangedAt": now, "sessionsEnded": n}); err != nil {
			return err
		}
		return notifySessions(ctx, tx)
	}), feedNotice, adminNotice("users"))
}

// CheckCanDisable refuses to disable the last enabled administrator.
func (db *DB) CheckCanDisable(ctx context.Context, userID string) error {
	return db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		role, enabled, err := lockUser(ctx, tx, userID)
		if err != nil || role != workflow.RoleAdmin || !enabled {
			return err
		}
		n, err := otherActiveAdmins(ctx, tx, userID)
		if err != nil {
			return err
		}
		return workflow.KeepsAnAdmin(role, enabled, n)
	})
}

// EnableUser lifts a user's disablement. Their old sessions stay ended.
// The disable time is kept (last_disabled_at) beside the enable time, and
// both acts stay in the security log.
func (db *DB) EnableUser(ctx context.Context, userID string) error {
	return db.announced(db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		var was *time.Time
		err := tx.QueryRow(ctx, `SELECT disabled_at FROM sync.user_status WHERE user_id = $1 FOR UPDATE`, userID).Scan(&was)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && was == nil) {
			_, err := db.User(ctx, userID)
			return err // not disabled: nothing changes, nothing to log
		}
		if err != nil {
			return err
		}
		now := db.now()
		if _, err := tx.Exec(ctx, `UPDATE sync.user_status SET disabled_at = NULL, enabled_at = $2 WHERE user_id = $1`, userID, now); err != nil {
			return err
		}
		return db.logEvent(ctx, tx, SecurityEvent{Kind: EventUserEnable, UserID: userID},
			map[string]any{"disabled": true, "disabledAt": was}, map[string]any{"disabled": false, "enabledAt": now})
	}), adminNotice("users"))
}

// AddUser creates a user with a bcrypt hash of password (the seed's cost).
func (db *DB) AddUser(ctx context.Context, name, email, password string, role workflow.Role) (string, error) {
	if err := checkName("user", name); err != nil {
		return "", err
	}
	if !strings.Contains(email, "@") || len(email) > 320 {
		return "", &workflow.Rejection{Code: workflow.CodeValidationFailed, Field: "email", Message: fmt.Sprintf("%q is not an e-mail address.", email)}
	}
	if err := workflow.CheckPassword(password); err != nil {
		return "", err
	}
	if err := checkRole("role", role); err != nil {
		return "", err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), BcryptCost)
	if err != nil {
		return "", err
	}
	id := uuid.NewString()
	now := db.now()
	email = NormalizeEmail(email)
	err = db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO users (id, name, email, password, role, "createdAt", "updatedAt") VALUES ($1, $2, $3, $4, $5::"Role", $6, $6)`,
			id, name, email, string(hash), string(role), now); err != nil {
			return err
		}
		return db.logEvent(ctx, tx, SecurityEvent{Kind: EventUserCreate, UserID: id, UserEmail: email, Target: "user " + email}, nil,
			map[string]any{"name": name, "email": email, "role": role})
	})
	if pgCode(err) == "23505" {
		return "", &workflow.Rejection{Code: workflow.CodeDuplicateID, Field: "email", Message: fmt.Sprintf("A user with e-mail %s already exists.", email)}
	}
	return id, db.announced(err, feedNotice, adminNotice("users"))
}

// DisableUser disables a user and ends every session of theirs.
func (db *DB) DisableUser(ctx context.Context, userID string) error {
	return db.announced(db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		now := db.now()
		var was *time.Time
		found := false
		if err := tx.QueryRow(ctx, `SELECT true, st.disabled_at FROM users u LEFT JOIN sync.user_status st ON st.user_id = u.id WHERE u.id = $1 FOR UPDATE OF u`, userID).
			Scan(&found, &was); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if !found {
			return workflow.Reject(workflow.CodeNotFound, "User %s does not exist.", userID)
		}
		if was != nil {
			return nil // already disabled: nothing changes, nothing to log
		}
		if _, err := tx.Exec(ctx, `INSERT INTO sync.user_status (user_id, disabled_at, last_disabled_at) VALUES ($1, $2, $2)
			ON CONFLICT (user_id) DO UPDATE SET disabled_at = EXCLUDED.disabled_at, last_disabled_at = EXCLUDED.disabled_at`, userID, now); err != nil {
			return err
		}
		n, err := revokeUserSessions(ctx, tx, userID, now, EndDisabled)
		if err != nil {
			return err
		}
		if err := db.logEvent(ctx, tx, SecurityEvent{Kind: EventUserDisable, UserID: userID, Target: "user " + userID},
			map[string]any{"disabled": false}, map[string]any{"disabled": true, "disabledAt": now, "sessionsEnded": n}); err != nil {
			return err
		}
		return notifySessions(ctx, tx)
	}), adminNotice("users"))
}

// checkName refuses the name of a user or a workstation (what) that is
// blank or longer than the 200 characters the dashboard's lists show.
func checkName(what, name string) error {
	if strings.TrimSpace(name) == "" || len([]rune(name)) > 200 {
		return &workflow.Rejection{Code: workflow.CodeValidationFailed, Field: "name", Message: "A " + what + " needs a name of 1 to 200 characters."}
	}
	return nil
}

// checkRole refuses a role that is not one of the five, naming them.
func checkRole(field string, r workflow.Role) error {
	if r.Valid() {
		return nil
	}
	return &workflow.Rejection{Code: workflow.CodeValidationFailed, Field: field,
		Message: fmt.Sprintf("%q is not a role; roles are ADMIN, DOCTOR, BIOLOGIST, NURSE, SECRETARY.", r)}
}
