package postgres

import (
	"context"
	"sync"

	"wardsync/syncproto"
	"wardsync/workflow"
)

// SigAhead verifies the signatures of a connection's pushes ahead of
// them. A workstation draining its backlog has its next push on the socket
// while the server applies the current one (the connection's frames are
// handled in order); the next push's Ed25519 checks, one per act, then run
// on another core meanwhile, instead of in the push's chain of round trips
// to PostgreSQL (Author). Keys are those Author found for the sessions
// earlier pushes of the connection named: the first push of a session is
// verified in Author alone, and Author checks every act whose key or
// signature the memo does not hold as it did before
// (syncproto.VerifyActMemo). One per connection; safe for concurrent use.
type SigAhead struct {
	mu   sync.Mutex
	keys map[string][]byte // session id → its public key, as Author found it
}

type sigAheadKey struct{}

// sigMemo is a push's memo and the SigAhead whose keys Author teaches.
type sigMemo struct {
	ahead *SigAhead
	memo  *syncproto.SigMemo
}

// Start verifies, in the background, the acts of muts whose session's key
// is known, and returns the memo their push is to be given (WithSigMemo).
func (a *SigAhead) Start(deviceID string, muts []syncproto.Mutation) *syncproto.SigMemo {
	memo := &syncproto.SigMemo{}
	a.mu.Lock()
	keys := make([][]byte, len(muts))
	known := 0
	for i, m := range muts {
		if k, ok := a.keys[m.SessionID]; ok {
			keys[i] = k
			known++
		}
	}
	a.mu.Unlock()
	if known == 0 {
		return memo
	}
	go func() {
		for i := range muts {
			if keys[i] != nil {
				syncproto.VerifyActMemo(memo, keys[i], deviceID, &muts[i])
			}
		}
	}()
	return memo
}

func (a *SigAhead) learn(sessionID string, key []byte) {
	if len(key) == 0 {
		return
	}
	a.mu.Lock()
	if a.keys == nil {
		a.keys = map[string][]byte{}
	}
	a.keys[sessionID] = key
	a.mu.Unlock()
}

// WithSigMemo gives a push (DB.Push with the returned context) the memo
// Start returned for it; Author takes the signatures it holds and teaches
// a (the connection's SigAhead) the sessions' keys for the next pushes.
func WithSigMemo(ctx context.Context, a *SigAhead, memo *syncproto.SigMemo) context.Context {
	return context.WithValue(ctx, sigAheadKey{}, sigMemo{a, memo})
}

// verifyAct is Author's signature check, with the push's memo if it has one.
func verifyAct(ctx context.Context, s *sessionRow, deviceID string, m *syncproto.Mutation) *workflow.Rejection {
	sm, _ := ctx.Value(sigAheadKey{}).(sigMemo)
	if sm.ahead != nil {
		sm.ahead.learn(s.ID, s.signKey)
	}
	return syncproto.VerifyActMemo(sm.memo, s.signKey, deviceID, m)
}
