package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"wardsync/pipeline"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// pushStore is the server's pipeline.Store: the pipeline decides the order
// of an act's steps, these methods decide the SQL, and batch it where they
// can (an act's savepoint is released with its audit row, in one round
// trip). One pushStore serves the acts of one push, in its transaction;
// the server's own acts (parked acts retried, the dashboard's merge) use
// one without a device. The methods are in the files of their step:
// chain.go (Chain), author.go (Author), review.go (CloseRejected,
// Reissue), merge.go (MergeOf), effect.go (WriteEffect), deferred.go
// (LockWait, Park, Wake) and record.go (Record); applyHere, below, is the
// apply step alone for the acts the server decides itself.
type pushStore struct {
	txReader
	db         *DB
	deviceID   string
	roles      []workflow.Role
	receivedAt time.Time
	// sessions are the sessions the push's author tokens resolved to: a
	// push of 200 acts typically carries a handful of authors, and each
	// token is looked up once per push (one transaction: the acts are
	// judged as of one moment either way).
	sessions map[string]sessionLookup
	// head is the device's chain head before the current act.
	head string
	// last: the current act is the push's last. When nothing of the
	// transaction follows its audit row, Record leaves the row's batch in
	// pending, and the push sends it with its own last statements (the
	// seq's advance and the COMMIT): one round trip less for every push of
	// one act, and no step calls back into the push.
	last    bool
	pending *pgx.Batch

	// What the steps of the current act leave for the later ones.
	chainBreak syncproto.ChainBreak
	sessionID  string
	open       bool // the act's savepoint awaits its release (effect.go)
	woken      bool // its audit row found parked acts woken (record.go)
	// asleep: the act's writes were sent (for the push's last act) with
	// the check that no parked act is woken; none was.
	asleep bool
	result syncproto.MutationResult
}

func (db *DB) newPushStore(tx pgx.Tx, deviceID string, roles []workflow.Role, receivedAt time.Time) *pushStore {
	return &pushStore{txReader: txReader{tx}, db: db, deviceID: deviceID, roles: roles, receivedAt: receivedAt,
		sessions: map[string]sessionLookup{}}
}

// begin readies the store for the next act of the push, whose link must
// follow head.
func (st *pushStore) begin(head string) {
	st.head = head
	st.chainBreak, st.sessionID, st.open, st.woken, st.asleep = "", "", false, false, false
	st.result = syncproto.MutationResult{}
}

// applyHere runs an act the server decides itself through the apply step
// (pipeline.Apply) and releases its savepoint: a parked act retried, the
// dashboard's merge.
func (st *pushStore) applyHere(ctx context.Context, a *pipeline.Act) (*workflow.Rejection, error) {
	rej, err := pipeline.Apply(ctx, st, a)
	if err != nil || rej != nil {
		return rej, err
	}
	return nil, st.release(ctx)
}

// release releases an applied act's savepoint when no audit row carries it
// (an act the server decides itself).
func (st *pushStore) release(ctx context.Context) error {
	if !st.open {
		return nil
	}
	st.open = false
	_, err := st.tx.Exec(ctx, releaseAct)
	return err
}
