package postgres

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"

	"wardsync/syncproto"
	"wardsync/workflow"
)

// BcryptCost is the seed's cost for password hashes.
const BcryptCost = 10

// Session is an authenticated bearer token's meaning.
type Session struct {
	ID        string
	UserID    string
	UserName  string
	Role      workflow.Role
	DeviceID  string // empty for an admin dashboard session
	IssuedAt  time.Time
	ExpiresAt time.Time
	// LastActiveAt is a dashboard session's last activity (idle timeout).
	LastActiveAt time.Time
}

func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

func newToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// MsgNoSignKey refuses a workstation's login that brings no session
// signing key: a workstation of protocol 1.
const MsgNoSignKey = "This login from a workstation carries no session signing key (signKey, 32 bytes); the workstation speaks protocol 1 and must be updated."

var errBadCredentials = workflow.Reject(workflow.CodeUnauthenticated, "Wrong e-mail or password.")

// dummyHash lets a login for an unknown e-mail cost as much as one for a
// known e-mail, so response time does not reveal which accounts exist.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("wardsync-dummy-password"), BcryptCost)

// NormalizeEmail is the one form of an e-mail that logins, accounts and
// the login limits' keys use: trimmed and lower-cased.
func NormalizeEmail(email string) string {
	return strings.TrimSpace(strings.ToLower(email))
}

// Login checks a user's password and issues a session bound to deviceID
// (or, with an empty deviceID, an admin dashboard session, ADMIN only).
//
// Every outcome goes to the security log with the address of the request
// (WithWho). The login limits are the HTTP edge's (ReserveLoginAttempt); a
// success clears its account's counter.
//
// A workstation's login (deviceID set) gives signKey, the public half of
// the Ed25519 key the session's acts are signed with (protocol 2): without
// one it is refused, as a workstation of protocol 1.
//
// proof is the workstation's proof that it holds its device key
// (device_identity.go); a dashboard login has none.
func (db *DB) Login(ctx context.Context, email, password, deviceID string, signKey []byte, proof DeviceProof) (string, *Session, error) {
	email = NormalizeEmail(email)
	var (
		s        Session
		hash     string
		disabled *time.Time
	)
	err := db.Pool.QueryRow(ctx, `
		SELECT u.id, u.name, u.role::text, u.password, st.disabled_at
		  FROM users u LEFT JOIN sync.user_status st ON st.user_id = u.id
		 WHERE lower(u.email) = $1`, email).Scan(&s.UserID, &s.UserName, &s.Role, &hash, &disabled)
	if errors.Is(err, pgx.ErrNoRows) {
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return "", nil, db.refuseLogin(ctx, email, "", deviceID, "unknown e-mail", errBadCredentials)
	}
	if err != nil {
		return "", nil, err
	}
	refuse := func(reason string, rej *workflow.Rejection) (string, *Session, error) {
		return "", nil, db.refuseLogin(ctx, email, s.UserID, deviceID, reason, rej)
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil {
		return "", nil, db.refuseLogin(ctx, email, s.UserID, deviceID, "wrong password", errBadCredentials)
	}
	if disabled != nil {
		return refuse("account disabled", workflow.Reject(workflow.CodeForbidden, "This account was disabled on %s; ask an administrator.", disabled.UTC().Format("2006-01-02")))
	}
	ttl := db.Config.SessionTTL
	if deviceID == "" {
		if !workflow.MayUseDashboard(s.Role) {
			return refuse("not an administrator", workflow.Reject(workflow.CodeForbidden, "Only an ADMIN may open the admin dashboard; a %s works on a registered workstation.", s.Role))
		}
		if db.Config.AdminSessionTTL > 0 {
			ttl = db.Config.AdminSessionTTL
		}
	} else {
		dev, err := db.Device(ctx, deviceID)
		if err != nil {
			if rej, ok := workflow.AsRejection(err); ok {
				return refuse("workstation not registered", rej)
			}
			return "", nil, err
		}
		if dev.RevokedAt != nil {
			return refuse("workstation revoked", workflow.Reject(workflow.CodeForbidden, "Workstation %q was revoked; ask an administrator to register it again.", dev.Name))
		}
		if !dev.Serves(s.Role) {
			return refuse("role not served by the workstation", workflow.Reject(workflow.CodeForbidden, "Workstation %q serves %s, not %s; log in on a workstation of your service.", dev.Name, joinRoles(dev.Roles), s.Role))
		}
		if err := db.CheckDeviceProof(ctx, dev, syncproto.PurposeLogin, proof); err != nil {
			if rej, ok := workflow.AsRejection(err); ok {
				return refuse("device proof refused", rej)
			}
			return "", nil, err
		}
		if len(signKey) != ed25519.PublicKeySize {
			return refuse("no session signing key", workflow.Reject(workflow.CodeUnauthenticated, MsgNoSignKey))
		}
		s.DeviceID = deviceID
	}
	if deviceID == "" {
		signKey = nil // a dashboard signs no act
	}
	token := newToken()
	s.ID = uuid.NewString()
	s.IssuedAt = db.now().Truncate(time.Millisecond)
	s.ExpiresAt = s.IssuedAt.Add(ttl)
	s.LastActiveAt = s.IssuedAt
	var dev any
	if s.DeviceID != "" {
		dev = s.DeviceID
	}
	acct, _ := LoginLimitKeys(email, "")
	err = db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
			INSERT INTO sync.sessions (id, token_hash, user_id, device_id, issued_at, expires_at, last_active_at, sign_key)
			VALUES ($1, $2, $3, $4, $5, $6, $5, $7)`, s.ID, hashToken(token), s.UserID, dev, s.IssuedAt, s.ExpiresAt, signKey); err != nil {
			return err
		}
		// The right password ends the account's delays; the address's
		// counter stays (one good account must not launder an address).
		if _, err := tx.Exec(ctx, `DELETE FROM sync.login_limits WHERE key = $1`, acct); err != nil {
			return err
		}
		return db.logEvent(ctx, tx, SecurityEvent{Kind: EventLogin, ActorID: s.UserID, ActorName: s.UserName, UserID: s.UserID,
			UserEmail: email, DeviceID: s.DeviceID, Target: "session " + s.ID}, nil, map[string]any{"role": s.Role, "expiresAt": s.ExpiresAt})
	})
	if err != nil {
		return "", nil, err
	}
	return token, &s, nil
}

func joinRoles(rs []workflow.Role) string {
	ss := make([]string, len(rs))
	for i, r := range rs {
		ss[i] = string(r)
	}
	return strings.Join(ss, ", ")
}

// sessionSelect reads a session with its user and device standing.
const sessionSelect = `
	SELECT s.id, s.user_id, u.name, u.role::text, COALESCE(s.device_id, ''), s.issued_at, s.expires_at,
	       s.revoked_at, COALESCE(s.ended_reason, ''), COALESCE(s.last_active_at, s.issued_at), st.disabled_at, d.revoked_at, s.sign_key
	  FROM sync.sessions s
	  JOIN users u ON u.id = s.user_id
	  LEFT JOIN sync.user_status st ON st.user_id = s.user_id
	  LEFT JOIN sync.devices d ON d.id = s.device_id`

// sessionQuery reads the session of a token.
const sessionQuery = sessionSelect + ` WHERE s.token_hash = $1`

// sessionByIDQuery reads a session by its id: an act names its session
// by id and proves it with a signature (protocol 2).
const sessionByIDQuery = sessionSelect + ` WHERE s.id = $1`

type sessionRow struct {
	Session
	revoked, disabled, deviceRevoked *time.Time
	endedReason                      string
	signKey                          []byte
}

func scanSession(r pgx.Row) (*sessionRow, error) {
	var s sessionRow
	err := r.Scan(&s.ID, &s.UserID, &s.UserName, &s.Role, &s.DeviceID, &s.IssuedAt, &s.ExpiresAt,
		&s.revoked, &s.endedReason, &s.LastActiveAt, &s.disabled, &s.deviceRevoked, &s.signKey)
	return &s, err
}

// check says why a session may not be used (at time at), or nil; idle is
// a dashboard session's idle timeout (0: none). The cause comes first:
// disabling a user or revoking a workstation also ends its sessions, and
// "ended" alone would hide why. These sentences are what a workstation
// whose socket is closed is told (docs/protocol.md, "Access that ends").
func (s *sessionRow) check(at time.Time, idle time.Duration) *workflow.Rejection {
	when := func(t *time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") }
	switch {
	case s.disabled != nil:
		return workflow.Reject(workflow.CodeUnauthenticated, "The account of %s is disabled.", s.UserName)
	case s.deviceRevoked != nil:
		return workflow.Reject(workflow.CodeUnauthenticated, "This workstation was revoked; it can no longer synchronise.")
	case s.revoked != nil:
		switch s.endedReason {
		case EndLogout:
			return workflow.Reject(workflow.CodeUnauthenticated, "%s logged out at %s UTC; log in again.", s.UserName, when(s.revoked))
		case EndRoleChanged:
			return workflow.Reject(workflow.CodeUnauthenticated, "The role of %s was changed at %s UTC; log in again.", s.UserName, when(s.revoked))
		case EndPasswordReset:
			return workflow.Reject(workflow.CodeUnauthenticated, "The password of %s was reset at %s UTC; log in again with the new password.", s.UserName, when(s.revoked))
		case EndExpired:
			return workflow.Reject(workflow.CodeUnauthenticated, "The session of %s expired at %s UTC; log in again.", s.UserName, when(&s.ExpiresAt))
		case EndIdle:
			return workflow.Reject(workflow.CodeUnauthenticated, "The dashboard session of %s ended after %s without activity; sign in again.", s.UserName, idle)
		}
		return workflow.Reject(workflow.CodeUnauthenticated, "This session was ended on %s; log in again.", s.revoked.UTC().Format("2006-01-02 15:04"))
	case at.After(s.ExpiresAt):
		return workflow.Reject(workflow.CodeUnauthenticated, "The session of %s expired at %s UTC; log in again.", s.UserName, when(&s.ExpiresAt))
	case s.DeviceID == "" && idle > 0 && at.Sub(s.LastActiveAt) > idle:
		return workflow.Reject(workflow.CodeUnauthenticated, "The dashboard session of %s ended after %s without activity; sign in again.", s.UserName, idle)
	}
	return nil
}

// Authenticate resolves a bearer token into a live session. A session
// found past its end is marked ended and logged (session_expired).
func (db *DB) Authenticate(ctx context.Context, token string) (*Session, error) {
	if token == "" {
		return nil, workflow.Reject(workflow.CodeUnauthenticated, "No token was given; log in first.")
	}
	s, err := scanSession(db.Pool.QueryRow(ctx, sessionQuery, hashToken(token)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, workflow.Reject(workflow.CodeUnauthenticated, "The token is not valid; log in again.")
	}
	if err != nil {
		return nil, err
	}
	if rej := s.check(db.now(), db.Config.AdminIdle); rej != nil {
		if s.revoked == nil {
			if _, err := db.ExpireSessions(ctx); err != nil {
				return nil, err
			}
		}
		return nil, rej
	}
	return &s.Session, nil
}

// Logout ends the session of token. Acts of that session that reach the
// server afterwards are refused (docs/protocol.md, "Access that ends").
func (db *DB) Logout(ctx context.Context, token string) error {
	return db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		var id, userID string
		var deviceID *string
		err := tx.QueryRow(ctx, `UPDATE sync.sessions SET revoked_at = $2, ended_reason = 'logout'
			 WHERE token_hash = $1 AND revoked_at IS NULL RETURNING id, user_id, device_id`, hashToken(token), db.now()).
			Scan(&id, &userID, &deviceID)
		if errors.Is(err, pgx.ErrNoRows) {
			return workflow.Reject(workflow.CodeUnauthenticated, "The token is not valid; log in again.")
		}
		if err != nil {
			return err
		}
		dev := ""
		if deviceID != nil {
			dev = *deviceID
		}
		if err := db.logEvent(ctx, tx, SecurityEvent{Kind: EventLogout, ActorID: userID, UserID: userID, DeviceID: dev, Target: "session " + id}, nil, nil); err != nil {
			return err
		}
		return notifySessions(ctx, tx)
	})
}
