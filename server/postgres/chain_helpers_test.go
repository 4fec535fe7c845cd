package postgres

import (
	"context"
	"encoding/hex"
	"testing"

	"wardsync/syncproto"
)

// testKeys are the session keys of mustLogin's sessions, by token: the
// tests name an act's session by the token their login returned
// (SessionID: tok), and chained swaps in the session id and signs, as a
// workstation would.
var testKeys syncproto.Keyring

// chained returns muts as an honest workstation would send them: authorId
// set to the session's user, the seqs the server does not have yet
// chained after the device's recorded head, and each signed with its
// session's key.
func chained(t *testing.T, db *DB, deviceID string, muts []syncproto.Mutation) []syncproto.Mutation {
	t.Helper()
	ctx := context.Background()
	var last int64
	var head []byte
	_ = db.Pool.QueryRow(ctx, `SELECT last_mutation_seq, chain_head FROM sync.clients WHERE device_id = $1`, deviceID).Scan(&last, &head)
	out := append([]syncproto.Mutation(nil), muts...)
	for i := range out {
		if out[i].AuthorID == "" {
			var uid string
			if err := db.Pool.QueryRow(ctx, `SELECT user_id FROM sync.sessions WHERE token_hash = $1`, hashToken(out[i].SessionID)).Scan(&uid); err != nil {
				uid = "unknown-author"
			}
			out[i].AuthorID = uid
		}
	}
	h := hex.EncodeToString(head)
	for i := range out {
		if out[i].Seq <= last {
			if _, err := syncproto.Chain(deviceID, "", out[i:i+1]); err != nil {
				t.Fatal(err)
			}
			continue
		}
		var err error
		if h, err = syncproto.Chain(deviceID, h, out[i:i+1]); err != nil {
			t.Fatal(err)
		}
	}
	signAll(out)
	return out
}

// signAll signs each of muts named by a login's token with that session's
// key (testKeys); an act named otherwise is left unsigned.
func signAll(muts []syncproto.Mutation) {
	for i := range muts {
		if k, ok := testKeys.Get(muts[i].SessionID); ok {
			syncproto.SignAct(k.Priv, k.SessionID, &muts[i])
		}
	}
}
