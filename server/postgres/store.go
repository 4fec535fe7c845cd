package postgres

import (
	"time"

	"github.com/jackc/pgx/v5"

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
// (LockWait, Park, Wake) and record.go (Record).
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
	// tail queues the push's own last statements (the seq's advance and
	// the COMMIT) on a batch; the push sets it for its last act. When
	// nothing of the transaction follows that act's audit row, Record
	// sends them together: one round trip less for every push of one act.
	tail func(*pgx.Batch)
	// tailSent: Record sent the tail; the transaction has committed.
	tailSent bool

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
