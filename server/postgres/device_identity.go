package postgres

// Device identity (docs/security.md, "Device identity"). A workstation
// makes its own Ed25519 key pair when it is claimed with its one-time code
// and registers the public half. A login from it and its websocket
// upgrade then prove possession by signing a nonce (syncproto.ProveDevice)
// the server handed out: a device id alone gets nothing.
//
// Nonces live in PostgreSQL (sync.challenges), not in one instance's
// memory, so that a challenge fetched through a load balancer from one
// instance is accepted by any other; each is taken once (DELETE …
// RETURNING) and lives ChallengeTTL. A signed timestamp with a replay
// cache was the alternative: it saves the round trip but makes a ward PC
// with a wrong clock unable to log in, and the cache would have to be
// shared in PostgreSQL anyway.

import (
	"context"
	"crypto/ed25519"
	"time"

	"wardsync/syncproto"
	"wardsync/workflow"
)

// ChallengeTTL is how long a nonce may wait for its proof.
const ChallengeTTL = time.Minute

// Sentences of the device proof's refusals (UNAUTHENTICATED, HTTP 401).
const (
	MsgNoDeviceProof  = "This workstation must prove it holds its device key (deviceProof over a nonce from POST /api/v1/auth/challenge); a device id alone gets nothing."
	MsgBadNonce       = "The challenge nonce is unknown, already used or expired; ask for a new one (POST /api/v1/auth/challenge)."
	MsgBadDeviceProof = "The device proof does not verify with the key this workstation registered when it was claimed."
)

// NewChallenge hands out a fresh single-use nonce. Expired nonces are
// dropped on the way, a bounded number at a time.
func (db *DB) NewChallenge(ctx context.Context) (string, time.Time, error) {
	now := db.now()
	nonce, until := syncproto.NewNonce(), now.Add(ChallengeTTL)
	_, err := db.Pool.Exec(ctx, `
		WITH old AS (DELETE FROM sync.challenges WHERE nonce IN (
			SELECT nonce FROM sync.challenges WHERE expires_at < $3 LIMIT 100))
		INSERT INTO sync.challenges (nonce, expires_at) VALUES ($1, $2)`, nonce, until, now)
	return nonce, until, err
}

// MsgUnclaimed refuses a login or socket from a workstation that was
// given a one-time code and never claimed with it (%q: its name).
const MsgUnclaimed = "Workstation %q has not been claimed with its one-time registration code yet; enter the code on the workstation first (an administrator issues it on the dashboard)."

// DeviceProof is what a workstation sends to prove it holds its key.
type DeviceProof struct {
	Nonce string `json:"nonce"`
	Proof string `json:"deviceProof"`
}

// CheckDeviceProof checks that dev proved possession of its key for
// purpose, using up the nonce. A device without a key passes with no
// proof unless RequireDeviceKey (then it is refused, with what to do).
func (db *DB) CheckDeviceProof(ctx context.Context, dev *Device, purpose string, p DeviceProof) error {
	keyless := len(dev.PublicKey) != ed25519.PublicKeySize
	// A workstation registered with a one-time code proves itself by
	// claiming with it first: its id alone, read off the dashboard, opens
	// nothing.
	if keyless && dev.Unclaimed {
		return workflow.Reject(workflow.CodeUnauthenticated, MsgUnclaimed, dev.Name)
	}
	if keyless && db.Config.RequireDeviceKey {
		return workflow.Reject(workflow.CodeUnauthenticated, "Workstation %q has no device key: claim it again with a new one-time code (an administrator issues one on the dashboard).", dev.Name)
	}
	if keyless && p.Nonce == "" {
		return nil
	}
	if p.Nonce == "" || (!keyless && p.Proof == "") {
		return workflow.Reject(workflow.CodeUnauthenticated, MsgNoDeviceProof)
	}
	// The nonce is used up even by a keyless device: a session proof over
	// it (the upgrade) is then fresh too.
	tag, err := db.Pool.Exec(ctx, `DELETE FROM sync.challenges WHERE nonce = $1 AND expires_at >= $2`, p.Nonce, db.now())
	if err != nil {
		return err
	}
	if tag.RowsAffected() != 1 {
		return workflow.Reject(workflow.CodeUnauthenticated, MsgBadNonce)
	}
	if keyless {
		return nil
	}
	if !syncproto.VerifyDevice(dev.PublicKey, dev.ID, purpose, p.Nonce, p.Proof) {
		return workflow.Reject(workflow.CodeUnauthenticated, MsgBadDeviceProof)
	}
	return db.NoteDeviceProof(ctx, dev.ID, db.now())
}

// MsgBadSessionProof refuses a websocket whose session proof does not
// verify.
const MsgBadSessionProof = "The session proof does not verify with the key of the session it names; log in again."

// SessionByProof resolves the session a websocket upgrade names by id and
// proves with that session's key over the upgrade's nonce (the same nonce
// the device proof used up). It refuses like Authenticate.
func (db *DB) SessionByProof(ctx context.Context, sessionID, deviceID, nonce, proof string) (*Session, error) {
	s, err := scanSession(db.Pool.QueryRow(ctx, sessionByIDQuery, sessionID))
	if err != nil {
		return nil, workflow.Reject(workflow.CodeUnauthenticated, "The session %q is not a session of this server; log in again.", sessionID)
	}
	if s.DeviceID != deviceID || !syncproto.VerifySession(s.signKey, sessionID, deviceID, nonce, proof) {
		return nil, workflow.Reject(workflow.CodeUnauthenticated, MsgBadSessionProof)
	}
	if rej := s.check(db.now(), db.Config.AdminIdle); rej != nil {
		return nil, rej
	}
	return &s.Session, nil
}
