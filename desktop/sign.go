package desktop

import (
	"context"
	"fmt"

	"wardsync/desktop/keyfile"
	"wardsync/desktop/sqlite"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// Session signing keys (protocol 2, docs/security.md "Keys"). A user's
// acts are signed, when they are queued, with the private key of the
// session their last online login opened here. The key lives in memory
// while the user is logged in, and on disk only sealed in the user's key
// slot (keyfile.SealedSession), so it needs the password to come back.

// takeSessionKey keeps the key a slot gave back (offline login, unlock).
func (e *Engine) takeSessionKey(userID string, sk *keyfile.SessionKey) {
	if sk != nil {
		e.signKeys.Put(userID, syncproto.SessionKey{SessionID: sk.SessionID, Priv: sk.Priv})
	}
}

// dropSessionKey destroys the user's session key, in memory and sealed in
// their slot (logout).
func (e *Engine) dropSessionKey(userID string) {
	e.signKeys.Forget(userID)
	if e.cfg.Unencrypted || e.cfg.KeyFile == "" {
		return
	}
	e.keyMu.Lock()
	defer e.keyMu.Unlock()
	if err := e.updateKeys(func(kf *keyfile.File) (bool, error) { return kf.DropSession(userID), nil }); err != nil {
		e.log.Warn("logout: could not destroy the sealed session key", "err", err)
	}
}

// signer is how the act being queued for c gets signed, or the refusal
// when this workstation does not hold c's session key (a session opened
// before protocol 2, or a key lost with a damaged slot).
func (e *Engine) signer(c *sqlite.Credential) (sqlite.Author, sqlite.Signer, error) {
	a := sqlite.Author{ID: c.UserID, Name: c.Name, Role: c.Role, SessionID: c.SessionID}
	k, ok := e.signKeys.Get(c.UserID)
	if !ok || c.SessionID == "" || k.SessionID != c.SessionID {
		return a, nil, rejection(workflow.CodeUnauthenticated, fmt.Sprintf(
			"This workstation does not hold the signing key of %s's session; log in again (online) to go on working.", c.Name))
	}
	return a, func(m *syncproto.Mutation) { syncproto.SignAct(k.Priv, k.SessionID, m) }, nil
}

// signingAuthor is userID's open session here, as the author of an act
// queued now, with how that act gets signed.
func (e *Engine) signingAuthor(ctx context.Context, userID string) (*sqlite.Credential, sqlite.Author, sqlite.Signer, error) {
	c, err := e.author(ctx, userID)
	if err != nil {
		return nil, sqlite.Author{}, nil, err
	}
	author, sign, err := e.signer(c)
	return c, author, sign, err
}

// resign signs a re-hashed queued act (a renumbered queue) if its author's
// session key is still here.
func (e *Engine) resign(authorID, sessionID, hash string) string {
	k, ok := e.signKeys.Get(authorID)
	if !ok || k.SessionID != sessionID {
		return ""
	}
	m := syncproto.Mutation{Hash: hash}
	syncproto.SignAct(k.Priv, sessionID, &m)
	return m.Signature
}

// signMissing signs, as it is pushed, a queued act that lost its
// signature when the replica re-hashed it while its author's key was not
// in memory (a queue renumbered at start, before anyone logged in). Only
// the act's own session's key signs it; without it the act goes unsigned
// and the server refuses it.
func (e *Engine) signMissing(m *syncproto.Mutation) {
	if sig := e.resign(m.AuthorID, m.SessionID, m.Hash); sig != "" {
		m.Signature = sig
	}
}
