package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"wardsync/workflow"
)

// Credential is what the workstation keeps of a user who logged in online
// here: who they are and the session the server issued. The password is
// checked by opening the user's key slot (desktop/keyfile), not here.
type Credential struct {
	UserID string
	Email  string
	Name   string
	Role   workflow.Role
	Token  string // "" once revoked
	// SessionID names the session the user's acts are signed under; its
	// private key is never here (it is sealed in the user's key slot).
	SessionID string
	// ExpiresAt ends the session and with it the offline-authoring window.
	ExpiresAt     time.Time
	OnlineLoginAt time.Time
	LastLoginAt   time.Time
	LoggedOutAt   *time.Time
}

// PutCredential stores the credential of an online login, replacing the
// user's previous one and any other user's that held the same email.
func (db *DB) PutCredential(ctx context.Context, c Credential) error {
	return db.write(ctx, func(t *Tx) error {
		if _, err := t.exec(`DELETE FROM local_credentials WHERE email = ? AND userId <> ?`, c.Email, c.UserID); err != nil {
			return fmt.Errorf("sqlite: store credential: %w", err)
		}
		_, err := t.exec(`INSERT OR REPLACE INTO local_credentials (userId, email, name, role, token, expiresAt,
			onlineLoginAt, lastLoginAt, loggedOutAt, sessionId) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)`,
			c.UserID, c.Email, c.Name, string(c.Role), nullString(c.Token), FormatTime(c.ExpiresAt),
			FormatTime(c.OnlineLoginAt), FormatTime(c.LastLoginAt), nullString(c.SessionID))
		if err != nil {
			return fmt.Errorf("sqlite: store credential: %w", err)
		}
		return nil
	})
}

const credentialColumns = `userId, email, name, role, token, expiresAt, onlineLoginAt, lastLoginAt, loggedOutAt, sessionId`

func scanCredential(sc rowScanner) (Credential, error) {
	var c Credential
	var role string
	var token, expires, sid sql.NullString
	var online, last string
	if err := sc.Scan(&c.UserID, &c.Email, &c.Name, &role, &token, &expires, &online, &last, nullTime{&c.LoggedOutAt}, &sid); err != nil {
		return c, err
	}
	c.Role, c.Token, c.SessionID = workflow.Role(role), token.String, sid.String
	var err error
	if expires.Valid {
		if c.ExpiresAt, err = ParseTime(expires.String); err != nil {
			return c, err
		}
	}
	if c.OnlineLoginAt, err = ParseTime(online); err != nil {
		return c, err
	}
	c.LastLoginAt, err = ParseTime(last)
	return c, err
}

func (db *DB) credential(ctx context.Context, where string, arg any) (*Credential, error) {
	c, err := scanCredential(db.queryRow(ctx, `SELECT `+credentialColumns+` FROM local_credentials WHERE `+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("credential: %w", workflow.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: read credential: %w", err)
	}
	return &c, nil
}

// CredentialByEmail finds a user's credential by email, in any ASCII case.
func (db *DB) CredentialByEmail(ctx context.Context, email string) (*Credential, error) {
	return db.credential(ctx, `email = ?`, email)
}

// CredentialByUser finds a user's credential by user id.
func (db *DB) CredentialByUser(ctx context.Context, userID string) (*Credential, error) {
	return db.credential(ctx, `userId = ?`, userID)
}

// Credentials lists every stored credential, most recent login first.
func (db *DB) Credentials(ctx context.Context) ([]Credential, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT `+credentialColumns+` FROM local_credentials ORDER BY lastLoginAt DESC, userId`)
	return scanAll(rows, err, "read credentials", scanCredential)
}

// TouchLogin records an offline login (it ends a previous logout).
func (db *DB) TouchLogin(ctx context.Context, userID string, at time.Time) error {
	return db.write(ctx, func(t *Tx) error {
		_, err := t.exec(`UPDATE local_credentials SET lastLoginAt = ?, loggedOutAt = NULL WHERE userId = ?`, FormatTime(at), userID)
		return err
	})
}

// MarkLoggedOut records a logout; revoke also forgets the session token
// (the server revoked it, so it can no longer carry acts).
func (db *DB) MarkLoggedOut(ctx context.Context, userID string, at time.Time, revoke bool) error {
	return db.write(ctx, func(t *Tx) error {
		q := `UPDATE local_credentials SET loggedOutAt = ? WHERE userId = ?`
		if revoke {
			q = `UPDATE local_credentials SET loggedOutAt = ?, token = NULL WHERE userId = ?`
		}
		_, err := t.exec(q, FormatTime(at), userID)
		return err
	})
}

// DeleteCredential forgets a user's credential (the server refused the
// user).
func (db *DB) DeleteCredential(ctx context.Context, userID string) error {
	return db.write(ctx, func(t *Tx) error {
		_, err := t.exec(`DELETE FROM local_credentials WHERE userId = ?`, userID)
		return err
	})
}

// PendingBy counts the queued acts authored by userID.
func (db *DB) PendingBy(ctx context.Context, userID string) (int64, error) {
	var n int64
	err := db.sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE authorId = ?`, userID).Scan(&n)
	return n, err
}
