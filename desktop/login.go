package desktop

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"wardsync/desktop/keyfile"
	"wardsync/desktop/remote"
	"wardsync/desktop/sqlite"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// User is a user who logged in on this workstation.
type User struct {
	ID    string        `json:"id"`
	Name  string        `json:"name"`
	Email string        `json:"email"`
	Role  workflow.Role `json:"role"`
}

// Session is a user's login on this workstation.
type Session struct {
	User User `json:"user"`
	// ExpiresAt ends the session, and with it offline authoring.
	ExpiresAt time.Time `json:"expiresAt"`
	// Offline says this login opened the user's key slot on this
	// workstation because the server could not be reached.
	Offline     bool      `json:"offline"`
	LastLoginAt time.Time `json:"lastLoginAt"`
}

func sessionOf(c *sqlite.Credential, offline bool) *Session {
	return &Session{User: User{ID: c.UserID, Name: c.Name, Email: c.Email, Role: c.Role},
		ExpiresAt: c.ExpiresAt, Offline: offline, LastLoginAt: c.LastLoginAt}
}

// Messages of offline login, kept as constants so the UI and tests agree.
const (
	MsgNeverOnline   = "You have never logged in online on this workstation; connect to the network once first."
	MsgWrongPassword = "Wrong password. The server cannot be reached, so this workstation checked it against your last online login here."
	MsgMissingLogin  = "Enter your email and password."
	// MsgWrongPasswordLimited is MsgWrongPassword when the server answered
	// but held logins back for its limits.
	MsgWrongPasswordLimited = "Wrong password. The server is holding logins back after failed attempts, so this workstation checked it against your last online login here."
)

// Login logs a user in: online when the server answers (which opens the
// replica if it is locked, and wraps its data key in a key slot for this
// user and password), or offline by opening the user's key slot when the
// server cannot be reached. A refusal by the server (wrong password,
// disabled user, workstation not serving the role or revoked) is final: it
// never falls back to offline. A refusal for the server's login limits
// alone (RATE_LIMITED) did not judge the password: a user who logged in
// here before logs in offline instead, and one who never did hears the
// server's sentence. Every refusal is a
// *workflow.Rejection.
func (e *Engine) Login(ctx context.Context, email, password string) (*Session, error) {
	email = strings.TrimSpace(email)
	if email == "" || password == "" {
		return nil, rejection(workflow.CodeUnauthenticated, MsgMissingLogin)
	}
	var err error = errors.New("no server URL configured")
	if e.cfg.ServerURL != "" && e.cfg.DeviceID != "" {
		var res *remote.LoginResult
		pub, priv := syncproto.NewKey()
		res, err = remote.Login(ctx, e.cfg.HTTPClient, e.cfg.ServerURL, email, password, e.cfg.DeviceID, pub, e.deviceKey())
		if err == nil {
			return e.onlineLogin(ctx, email, password, res, priv)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if remote.RateLimited(err) {
			e.log.Info("server refused for its login limits, trying offline login", "err", err)
			sess, oerr := e.offlineLogin(ctx, email, password)
			if r, ok := workflow.AsRejection(oerr); ok {
				switch r.Message {
				case MsgNeverOnline:
					if r, ok := workflow.AsRejection(err); ok {
						return nil, &workflow.Rejection{Code: r.Code, Message: r.Message, Field: r.Field}
					}
				case MsgWrongPassword:
					return nil, rejection(workflow.CodeUnauthenticated, MsgWrongPasswordLimited)
				}
			}
			return sess, oerr
		}
		if !remote.Unreachable(err) {
			if wiped := e.onRefusedLogin(ctx, email, password, err); wiped != nil {
				return nil, wiped
			}
			if r, ok := workflow.AsRejection(err); ok {
				return nil, &workflow.Rejection{Code: r.Code, Message: r.Message, Field: r.Field}
			}
			return nil, err
		}
	}
	e.log.Info("server unreachable, trying offline login", "err", err)
	s, offErr := e.offlineLogin(ctx, email, password)
	if offErr != nil {
		return nil, securityFirst(err, offErr)
	}
	return s, nil
}

func (e *Engine) onlineLogin(ctx context.Context, email, password string, res *remote.LoginResult, priv ed25519.PrivateKey) (*Session, error) {
	sk := &keyfile.SessionKey{SessionID: res.SessionID, Priv: priv}
	e.keyMu.Lock()
	defer e.keyMu.Unlock()
	if e.cfg.Unencrypted {
		if err := e.unlockLocked(ctx, nil); err != nil {
			return nil, err
		}
	} else {
		kf, err := e.loadKeys()
		if err != nil {
			return nil, err
		}
		key, err := e.keyForOnlineLogin(kf, email, password, res.ReplicaKey)
		if err != nil {
			return nil, err
		}
		if err := e.unlockLocked(ctx, key); err != nil {
			return nil, err
		}
		if err := e.putSlot(res.User.ID, email, password, sk); err != nil {
			return nil, err
		}
	}
	e.update(func(s *Status) { s.Wiped = "" })
	now := e.cfg.Now().UTC()
	expires := res.ExpiresAt
	if expires.IsZero() {
		expires = now.Add(e.cfg.OfflineWindow)
	}
	c := sqlite.Credential{UserID: res.User.ID, Email: email, Name: res.User.Name, Role: res.User.Role,
		Token: res.Token, SessionID: res.SessionID, ExpiresAt: expires, OnlineLoginAt: now, LastLoginAt: now}
	if err := e.db.PutCredential(ctx, c); err != nil {
		return nil, err
	}
	e.signKeys.Put(c.UserID, syncproto.SessionKey{SessionID: sk.SessionID, Priv: sk.Priv})
	if err := e.setIdleLock(ctx, res.IdleLock()); err != nil {
		return nil, err
	}
	if err := e.requeueKept(ctx); err != nil {
		e.log.Warn("could not queue again the acts kept at the wipe", "err", err)
	}
	e.endLockedSessionLocked(ctx, c.UserID)
	kick(e.loginKick)
	return sessionOf(&c, false), nil
}

// onRefusedLogin acts on a refusal that means offline login must stop
// working too: a revoked workstation (the server says so when asked after
// a 401 or 403) wipes its keys, and the answer is why; a disabled user or a
// role the workstation no longer serves (403), or a password changed at
// the server (401 for the very password the slot still opens), loses the
// user's slot.
func (e *Engine) onRefusedLogin(ctx context.Context, email, password string, err error) error {
	var he *remote.HTTPError
	if !errors.As(err, &he) || (he.Status != http.StatusUnauthorized && he.Status != http.StatusForbidden) {
		return nil
	}
	// The server checks the password before the workstation, so a revoked
	// workstation may hear 401 as well as 403. Revoked and locked, the
	// queued acts can be kept apart only from an open replica: the user's
	// password, if it opens a slot, opens it.
	if w := e.checkRevoked(ctx, func() { e.Unlock(ctx, email, password) }); w != nil {
		return w
	}
	if he.Status == http.StatusForbidden {
		e.forgetUser(ctx, email)
		return nil
	}
	e.keyMu.Lock()
	kf, lerr := e.loadKeys()
	e.keyMu.Unlock()
	if lerr != nil {
		return nil
	}
	s := kf.Slot(email)
	if s == nil {
		return nil
	}
	if _, uerr := s.Unwrap(password); uerr != nil {
		return nil // a typo: the slot is still right
	}
	e.forgetUser(ctx, email)
	return nil
}

func (e *Engine) offlineLogin(ctx context.Context, email, password string) (*Session, error) {
	if err := e.openSlot(ctx, email, password); err != nil {
		return nil, err
	}
	c, err := e.db.CredentialByEmail(ctx, email)
	if sqlite.IsNotFound(err) {
		return nil, rejection(workflow.CodeUnauthenticated, MsgNeverOnline)
	}
	if err != nil {
		return nil, err
	}
	if c.Token == "" {
		return nil, rejection(workflow.CodeUnauthenticated,
			"Your session on this workstation was closed at the server; connect to the network to log in again.")
	}
	now := e.cfg.Now()
	if !now.Before(c.ExpiresAt) {
		return nil, rejection(workflow.CodeUnauthenticated, fmt.Sprintf(
			"Your last online login on this workstation was on %s; offline work was allowed until %s. Connect to the network to log in again.",
			c.OnlineLoginAt.In(e.cfg.Location).Format("2006-01-02 15:04"), c.ExpiresAt.In(e.cfg.Location).Format("2006-01-02 15:04")))
	}
	if err := e.db.TouchLogin(ctx, c.UserID, now); err != nil {
		return nil, err
	}
	e.endLockedSession(ctx, c.UserID)
	c.LastLoginAt = now.UTC()
	return sessionOf(c, true), nil
}

// Logout ends a user's session on this workstation. The server's session
// is revoked too when nothing the user did is still waiting to be
// uploaded; otherwise the token must keep carrying those acts, and stays
// until it expires.
func (e *Engine) Logout(ctx context.Context, userID string) error {
	c, err := e.db.CredentialByUser(ctx, userID)
	if err != nil {
		return err
	}
	// No act can be signed here for this session any more: its key
	// leaves memory now. Acts already queued carry their signatures and
	// still go.
	e.signKeys.Forget(userID)
	pending, err := e.db.PendingBy(ctx, userID)
	if err != nil {
		return err
	}
	revoke := pending == 0 && c.Token != "" && e.cfg.ServerURL != ""
	if revoke {
		if err := remote.Logout(ctx, e.cfg.HTTPClient, e.cfg.ServerURL, c.Token); err != nil {
			// Offline: the token stays usable for offline login until it
			// expires, as if the user had not logged out at the server.
			revoke = !remote.Unreachable(err)
			e.log.Info("logout at the server failed", "err", err)
		}
	}
	// The sealed key lives as long as the session at the server. Once the
	// server has ended it, the key is destroyed: nothing can be authored
	// for it again, backdated or not. A logout the server cannot hear yet
	// (offline, or acts still queued) leaves the session open there, as
	// the token always did: the key stays sealed under the user's password
	// alone, so that the same user logging in again offline during an
	// outage can go on working (docs/security.md, "Session keys").
	if revoke {
		e.dropSessionKey(userID)
	}
	return e.db.MarkLoggedOut(ctx, userID, e.cfg.Now(), revoke)
}

// Sessions lists the users who logged in on this workstation and whose
// session is still open, most recent login first. A locked workstation
// lists none: nobody can act before a login opens the replica.
func (e *Engine) Sessions(ctx context.Context) ([]Session, error) {
	if !e.db.Unlocked() {
		return []Session{}, nil
	}
	creds, err := e.db.Credentials(ctx)
	if err != nil {
		return nil, err
	}
	now := e.cfg.Now()
	out := []Session{}
	for i := range creds {
		c := &creds[i]
		if c.Token == "" || c.LoggedOutAt != nil || !now.Before(c.ExpiresAt) {
			continue
		}
		out = append(out, *sessionOf(c, false))
	}
	return out, nil
}

// SessionByEmail returns the open session of the user with that email.
func (e *Engine) SessionByEmail(ctx context.Context, email string) (*Session, error) {
	c, err := e.db.CredentialByEmail(ctx, strings.TrimSpace(email))
	if sqlite.IsNotFound(err) {
		return nil, rejection(workflow.CodeUnauthenticated, fmt.Sprintf("%s has not logged in on this workstation.", email))
	}
	if err != nil {
		return nil, err
	}
	if _, err := e.author(ctx, c.UserID); err != nil {
		return nil, err
	}
	return sessionOf(c, false), nil
}

// author returns the acting user's credential if their session allows
// acting now.
func (e *Engine) author(ctx context.Context, userID string) (*sqlite.Credential, error) {
	c, err := e.db.CredentialByUser(ctx, userID)
	if sqlite.IsNotFound(err) {
		return nil, rejection(workflow.CodeUnauthenticated, "Nobody with that user id has logged in on this workstation; log in first.")
	}
	if err != nil {
		return nil, err
	}
	switch now := e.cfg.Now(); {
	case c.LoggedOutAt != nil:
		return nil, rejection(workflow.CodeUnauthenticated, c.Name+" has logged out; log in again.")
	case c.Token == "":
		return nil, rejection(workflow.CodeUnauthenticated, "The session of "+c.Name+" was closed at the server; log in again online.")
	case !now.Before(c.ExpiresAt):
		return nil, rejection(workflow.CodeUnauthenticated, fmt.Sprintf("The session of %s ended at %s; log in again online to go on working.",
			c.Name, c.ExpiresAt.In(e.cfg.Location).Format("2006-01-02 15:04")))
	}
	return c, nil
}
