package postgres

import (
	"context"
	"encoding/hex"
	"testing"

	"wardsync/syncproto"
)

// chained returns muts as an honest workstation would send them: authorId
// set to the session's user, and the seqs the server does not have yet
// chained after the device's recorded head.
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
			if err := db.Pool.QueryRow(ctx, `SELECT user_id FROM sync.sessions WHERE token_hash = $1`, hashToken(out[i].AuthorToken)).Scan(&uid); err != nil {
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
	return out
}
