package postgres

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"wardsync/pipeline"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// Push applies a device's mutations exactly once, in seq order, in one
// transaction (group commit). Each new mutation goes through the act
// pipeline (package pipeline) against this transaction (pushStore, below):
// its link in the chain, its author, the workflow mutator against locked
// rows, its effect, its outcome in the audit log. A rejection rolls back that mutation's effect
// (savepoint; a push of one act is run again with one, effect.go) but its outcome is still recorded and the device's seq still
// advances, so a refused act can never block the ones behind it.
//
// A seq at or below the device's last is a duplicate: nothing is applied and
// the first outcome is repeated. A seq above last+1 is a gap: the whole push
// is refused with PROTOCOL_ERROR and nothing is written.
func (db *DB) Push(ctx context.Context, deviceID string, muts []syncproto.Mutation) ([]syncproto.MutationResult, error) {
	var results []syncproto.MutationResult
	// One act goes without its savepoint; refused, it goes again with it.
	bare := len(muts) == 1
	err := db.retrying(ctx, func() error {
		var err error
		results, err = db.pushOnce(ctx, deviceID, muts, bare)
		if bare && errors.Is(err, errBareRefused) {
			bare = false
			results, err = db.pushOnce(ctx, deviceID, muts, false)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	// After the commit, never before: a device that pulls on the notice
	// must find the changes.
	db.announce(pushNotices...)
	return results, nil
}

// pushNotices are what a committed push announces: the devices pull the
// changes, the dashboards re-read the audit log and the device's queue.
var pushNotices = []notice{feedNotice, adminNotice("mutations"), adminNotice("clients")}

// pushOnce is one attempt of a push: a connection of its own, on which
// push queues the BEGIN with its first reads and the COMMIT with its tail.
func (db *DB) pushOnce(ctx context.Context, deviceID string, muts []syncproto.Mutation, bare bool) ([]syncproto.MutationResult, error) {
	c, err := db.Pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	// A connection left inside a transaction is closed by the pool, not
	// handed out again.
	defer c.Release()
	tx := &batchTx{conn: c.Conn()}
	results, err := db.push(ctx, tx, deviceID, muts, bare)
	if err != nil {
		_ = tx.Rollback(ctx)
		return nil, err
	}
	if !tx.ended || tx.conn.PgConn().TxStatus() != 'I' {
		// The batch with the COMMIT was not sent: never leave it open.
		_ = tx.Rollback(ctx)
		return nil, errors.New("batchTx: the queued COMMIT was never sent")
	}
	return results, nil
}

// push runs in a transaction whose first and last round trips carry its
// bookkeeping: an online workstation pushes each act alone, and waits for
// every round trip of its push (TestOneActPushRoundTrips counts them).
func (db *DB) push(ctx context.Context, tx *batchTx, deviceID string, muts []syncproto.Mutation, bare bool) ([]syncproto.MutationResult, error) {
	// The clock is read here, once: every act of the push is judged as
	// received at this moment.
	receivedAt := db.Now().UTC()
	// The first round trip opens the transaction, locks the device's row
	// (it serialises the device's pushes, even across server instances)
	// and reads its chain head, and reads, as of that lock, what the rest
	// needs whatever the device's last seq turns out to be: the outcomes
	// the push's mutation ids already have, and the sessions its acts name.
	var last int64
	var roles []string
	var revoked *time.Time
	var chain []byte
	registered := false
	b := &pgx.Batch{}
	tx.queueBegin(b)
	b.Queue(`
		SELECT c.last_mutation_seq, d.roles, d.revoked_at, c.chain_head
		  FROM sync.clients c JOIN sync.devices d ON d.id = c.device_id
		 WHERE c.device_id = $1 FOR UPDATE OF c`, deviceID).QueryRow(func(r pgx.Row) error {
		err := r.Scan(&last, &roles, &revoked, &chain)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		registered = err == nil
		return err
	})
	ids := make([]string, len(muts))
	for i, m := range muts {
		ids[i] = m.ID
	}
	rec := queueRecorded(b, deviceID, ids)
	sessions := queueSessions(b, muts)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	if !registered {
		return nil, workflow.Reject(workflow.CodeUnauthenticated, "Workstation %s is not registered with this server.", deviceID)
	}
	if revoked != nil {
		return nil, workflow.Reject(workflow.CodeUnauthenticated, "This workstation was revoked; it can no longer synchronise.")
	}
	expect := last + 1
	for _, m := range muts {
		if m.Seq <= last {
			continue
		}
		if m.Seq != expect {
			return nil, workflow.Reject(workflow.CodeProtocolError,
				"Mutation seq %d leaves a gap: the server has everything up to %d, so the next must be %d; resend from %d.", m.Seq, last, expect, expect)
		}
		expect++
	}
	if err := claimPatientKeys(ctx, tx, muts, last); err != nil {
		return nil, err
	}
	head := chainHeadOf(deviceID, chain)
	deviceRoles := make([]workflow.Role, len(roles))
	for i, r := range roles {
		deviceRoles[i] = workflow.Role(r)
	}

	// A new seq may carry a mutation the server already has under an older
	// seq: a workstation restored from a backup renumbers its queue
	// (docs/protocol.md, "Lost state"), and the same id may even come twice
	// in one push. Such a mutation is a duplicate of its first outcome,
	// never applied again; its seq still advances.
	first, err := rec.outcomes(ctx, tx, deviceID, muts, last)
	if err != nil {
		return nil, err
	}

	st := db.newPushStore(tx, deviceID, deviceRoles, receivedAt)
	st.sessions, st.bare = sessions, bare
	results := make([]syncproto.MutationResult, 0, len(muts))
	for i, m := range muts {
		if m.Seq <= last {
			res, err := duplicateResult(ctx, tx, deviceID, m.Seq, m.ID)
			if err != nil {
				return nil, err
			}
			results = append(results, res)
			continue
		}
		if res, ok := first[m.ID]; ok {
			res.Seq, res.Status = m.Seq, syncproto.StatusDuplicate
			results = append(results, res)
			last, head = m.Seq, m.Hash
			continue
		}
		// A refusal is an outcome, recorded like any other; an error is an
		// infrastructure failure that aborts the whole push, so the client
		// resends it.
		st.begin(head)
		st.last = i == len(muts)-1 // its audit row may go with the tail
		if _, err := pipeline.Run(ctx, st, &pipeline.Act{Mutation: m}); err != nil {
			return nil, err
		}
		res := st.result
		results = append(results, res)
		first[m.ID] = res
		if res.Status == syncproto.StatusDeferred {
			// Repeated as a duplicate, a parked act says what it waits for only.
			first[m.ID] = syncproto.MutationResult{WaitingFor: res.WaitingFor, WaitTable: res.WaitTable, WaitID: res.WaitID, WaitState: res.WaitState}
		}
		// After a break too: the chain continues from the received hash,
		// so the next act is judged on its own (docs/provenance.md).
		last, head = m.Seq, m.Hash
	}
	headBytes, err := chainHeadBytes(head)
	if err != nil {
		return nil, err
	}
	b = &pgx.Batch{}
	if st.pending != nil {
		b = st.pending // the last act's audit row, left by Record
	}
	queueTail(b, tx, deviceID, last, receivedAt, headBytes)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		if st.pending != nil {
			return nil, fmt.Errorf("record mutation %d: %w", last, err)
		}
		return nil, err
	}
	return results, nil
}

// queueTail queues the push's last statements: the device's seq and chain
// head advance, and the transaction commits.
func queueTail(b *pgx.Batch, tx *batchTx, deviceID string, last int64, receivedAt time.Time, head []byte) {
	b.Queue(`UPDATE sync.clients SET last_mutation_seq = $2, last_seen = $3, chain_head = $4 WHERE device_id = $1`,
		deviceID, last, receivedAt, head)
	tx.queueCommit(b)
}

// queueSessions queues on b the read of the sessions muts name, for the
// push's first round trip; Author finds them there. An id PostgreSQL's text
// cannot hold is left to lookupSession, as is any act whose id this read
// did not cover.
func queueSessions(b *pgx.Batch, muts []syncproto.Mutation) map[string]sessionLookup {
	found := map[string]sessionLookup{}
	var ids []string
	for _, m := range muts {
		id := m.SessionID
		if _, dup := found[id]; dup || id == "" || !utf8.ValidString(id) || strings.IndexByte(id, 0) >= 0 {
			continue
		}
		found[id] = sessionLookup{} // not a session, unless the read finds it
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return found
	}
	b.Queue(sessionSelect+` WHERE s.id = ANY($1)`, ids).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			s, err := scanSession(rows)
			if err != nil {
				return err
			}
			found[s.ID] = sessionLookup{s: s, found: true}
		}
		return rows.Err()
	})
	return found
}

// recorded gathers the first outcomes of a push's mutation ids that the
// device's mutations already hold, over its whole history (indexed by
// 00012). It is read before the device's last seq is known, so it asks for
// every id of the push and outcomes keeps those of the new seqs.
type recorded struct {
	out map[string]syncproto.MutationResult
	// parked are those whose first outcome is a parked act: a duplicate
	// repeats what it waits for now.
	parked map[string]int64
}

// queueRecorded queues the read of ids' first outcomes on b.
func queueRecorded(b *pgx.Batch, deviceID string, ids []string) *recorded {
	r := &recorded{out: map[string]syncproto.MutationResult{}, parked: map[string]int64{}}
	if len(ids) == 0 {
		return r
	}
	b.Queue(`SELECT mutation_id, seq, outcome, COALESCE(code, ''), COALESCE(message, ''), COALESCE(field, '') FROM sync.mutations
		 WHERE device_id = $1 AND mutation_id = ANY($2) ORDER BY seq`, deviceID, ids).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var id, code, outcome string
			var seq int64
			var res syncproto.MutationResult
			if err := rows.Scan(&id, &seq, &outcome, &code, &res.Message, &res.Field); err != nil {
				return err
			}
			res.Code = workflow.Code(code)
			if _, seen := r.out[id]; !seen {
				r.out[id] = res
				if outcome == "deferred" {
					r.parked[id] = seq
				}
			}
		}
		return rows.Err()
	})
	return r
}

// outcomes are the first outcomes of the ids of muts above last, once the
// batch that read them has been sent.
func (r *recorded) outcomes(ctx context.Context, tx pgx.Tx, deviceID string, muts []syncproto.Mutation, last int64) (map[string]syncproto.MutationResult, error) {
	fresh := make(map[string]bool, len(muts))
	for _, m := range muts {
		if m.Seq > last {
			fresh[m.ID] = true
		}
	}
	for id := range r.out {
		if !fresh[id] {
			delete(r.out, id)
			delete(r.parked, id)
		}
	}
	for id, seq := range r.parked {
		res, err := duplicateOfParked(ctx, tx, deviceID, seq, syncproto.MutationResult{})
		if err != nil {
			return nil, err
		}
		r.out[id] = res
	}
	return r.out, nil
}

// duplicateOfParked answers a duplicate of an act still parked: it repeats
// what the act waits for (no code: it is not refused).
func duplicateOfParked(ctx context.Context, tx pgx.Tx, deviceID string, seq int64, res syncproto.MutationResult) (syncproto.MutationResult, error) {
	w, _, err := parkedWait(ctx, tx, deviceID, seq)
	w.Seq, w.Status = res.Seq, res.Status
	return w, err
}

// duplicateResult answers a seq the server already has. The first outcome
// is repeated, so a workstation that lost the reply still learns of a
// rejection. A different mutation id under a known seq means the
// workstation lost its numbering (a restored backup): that act was never
// applied, and it is refused rather than silently acknowledged.
func duplicateResult(ctx context.Context, tx pgx.Tx, deviceID string, seq int64, id string) (syncproto.MutationResult, error) {
	res := syncproto.MutationResult{Seq: seq, Status: syncproto.StatusDuplicate}
	var code, msg, field *string
	var known, outcome string
	var knownSeq int64
	err := tx.QueryRow(ctx, `SELECT mutation_id, seq, outcome, code, message, field FROM sync.mutations WHERE device_id = $1 AND seq = $2`, deviceID, seq).
		Scan(&known, &knownSeq, &outcome, &code, &msg, &field)
	if errors.Is(err, pgx.ErrNoRows) {
		// The seq advanced over a duplicate by id: repeat that id's first
		// outcome, so a workstation that lost the reply still learns it.
		err = tx.QueryRow(ctx, `SELECT mutation_id, seq, outcome, code, message, field FROM sync.mutations WHERE device_id = $1 AND mutation_id = $2 ORDER BY seq LIMIT 1`,
			deviceID, id).Scan(&known, &knownSeq, &outcome, &code, &msg, &field)
		if errors.Is(err, pgx.ErrNoRows) {
			return res, nil
		}
	}
	if err != nil {
		return res, err
	}
	if known == id && outcome == "deferred" {
		return duplicateOfParked(ctx, tx, deviceID, knownSeq, res)
	}
	if known != id {
		res.Status, res.Code = syncproto.StatusRejected, workflow.CodeProtocolError
		res.Message = fmt.Sprintf("Seq %d of this workstation already belongs to another act (%s); this act (%s) was not applied. Resend it with a new seq after %d.", seq, known, id, seq)
		return res, nil
	}
	if code != nil {
		res.Code = workflow.Code(*code)
	}
	if msg != nil {
		res.Message = *msg
	}
	if field != nil {
		res.Field = *field
	}
	return res, nil
}

// chainHeadOf is the hash of the device's last recorded act
// (sync.clients.chain_head, read with the device's row), or its genesis
// when none was hashed yet.
func chainHeadOf(deviceID string, stored []byte) string {
	if stored == nil {
		return syncproto.Genesis(deviceID)
	}
	return hex.EncodeToString(stored)
}

// chainHeadBytes is the head as sync.clients.chain_head stores it.
func chainHeadBytes(head string) ([]byte, error) {
	b, err := hex.DecodeString(head)
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("chain head %q is not a hash", head)
	}
	return b, nil
}

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
	// last: the current act is the push's last. When nothing of the
	// transaction follows its audit row, Record leaves the row's batch in
	// pending, and the push sends it with its own last statements (the
	// seq's advance and the COMMIT): one round trip less for every push of
	// one act, and no step calls back into the push.
	last    bool
	pending *pgx.Batch
	// written are the rows the transaction's applied acts wrote: a later
	// act reads them without locking them again (readRow, rows.go).
	written map[rowKey]bool
	// bare: the push's only act reads and writes without a savepoint
	// (WriteEffect); cleared by its first write.
	bare bool

	// What the steps of the current act leave for the later ones.
	chainBreak syncproto.ChainBreak
	sessionID  string
	open       bool // the act's savepoint, opened by its first read or its writes, awaits its release (effect.go)
	woken      bool // its audit row found parked acts woken (record.go)
	// asleep: the act's writes were sent (for the push's last act) with
	// the check that no parked act is woken; none was.
	asleep bool
	result syncproto.MutationResult
	// waking: the parked acts Wake handed the pipeline (deferred.go).
	waking waking
}

func (db *DB) newPushStore(tx pgx.Tx, deviceID string, roles []workflow.Role, receivedAt time.Time) *pushStore {
	st := &pushStore{db: db, deviceID: deviceID, roles: roles, receivedAt: receivedAt, sessions: map[string]sessionLookup{}}
	st.txReader = txReader{tx: tx, st: st}
	return st
}

// begin readies the store for the next act of the push, whose link must
// follow head.
func (st *pushStore) begin(head string) {
	st.head = head
	st.chainBreak, st.sessionID, st.open, st.woken, st.asleep = "", "", false, false, false
	st.result = syncproto.MutationResult{}
}

// batchTx is a transaction whose BEGIN travels in one round trip with its
// first statements, and whose COMMIT with its last: pgx.Tx sends each on
// its own, and an online workstation's push of one act waits for every
// round trip of its transaction (two of its five). The caller queues them
// (queueBegin, queueCommit); in between it is an ordinary pgx.Tx.
type batchTx struct {
	conn *pgx.Conn
	// begun: BEGIN was queued; ended: COMMIT was queued, or the
	// transaction was rolled back.
	begun, ended bool
}

var errNotBegun = errors.New("batchTx: a statement was sent before the transaction's BEGIN")

// queueBegin opens the transaction as b's first statement: b must be
// empty, and sent before any other statement of the transaction.
func (tx *batchTx) queueBegin(b *pgx.Batch) {
	b.Queue(`BEGIN`)
	tx.begun = true
}

// queueCommit ends b with the transaction's COMMIT: once b is sent and
// closed without error, the transaction has committed.
func (tx *batchTx) queueCommit(b *pgx.Batch) {
	b.Queue(`COMMIT`).Exec(func(tag pgconn.CommandTag) error {
		if tag.String() == "ROLLBACK" {
			return pgx.ErrTxCommitRollback
		}
		return nil
	})
	tx.ended = true
}

// Begin would nest a transaction; the push path never does.
func (tx *batchTx) Begin(context.Context) (pgx.Tx, error) {
	return nil, errors.New("batchTx: nested transactions are not supported")
}

// Commit commits a transaction whose COMMIT was not queued.
func (tx *batchTx) Commit(ctx context.Context) error {
	if !tx.begun || tx.ended {
		return pgx.ErrTxClosed
	}
	tx.ended = true
	tag, err := tx.conn.Exec(ctx, `COMMIT`)
	if err != nil {
		return err
	}
	if tag.String() == "ROLLBACK" {
		return pgx.ErrTxCommitRollback
	}
	return nil
}

// Rollback ends the transaction if it is still open on the connection (a
// COMMIT that failed in its batch has ended it already).
func (tx *batchTx) Rollback(ctx context.Context) error {
	tx.ended = true
	if tx.conn.PgConn().TxStatus() == 'I' {
		return nil
	}
	_, err := tx.conn.Exec(ctx, `ROLLBACK`)
	return err
}

func (tx *batchTx) CopyFrom(ctx context.Context, table pgx.Identifier, cols []string, src pgx.CopyFromSource) (int64, error) {
	if !tx.begun {
		return 0, errNotBegun
	}
	return tx.conn.CopyFrom(ctx, table, cols, src)
}

func (tx *batchTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	return tx.conn.SendBatch(ctx, b)
}

// LargeObjects are not used by the push path; pgx offers no way to make
// them on another Tx.
func (tx *batchTx) LargeObjects() pgx.LargeObjects { return pgx.LargeObjects{} }

func (tx *batchTx) Prepare(ctx context.Context, name, sql string) (*pgconn.StatementDescription, error) {
	return tx.conn.Prepare(ctx, name, sql)
}

func (tx *batchTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if !tx.begun {
		return pgconn.CommandTag{}, errNotBegun
	}
	return tx.conn.Exec(ctx, sql, args...)
}

func (tx *batchTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if !tx.begun {
		return nil, errNotBegun
	}
	return tx.conn.Query(ctx, sql, args...)
}

func (tx *batchTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return tx.conn.QueryRow(ctx, sql, args...)
}

func (tx *batchTx) Conn() *pgx.Conn { return tx.conn }

// Retryable says whether a failed transaction may simply be run again:
// serialization failures and deadlocks (PostgreSQL class 40), and lost
// connections. Decided by SQLSTATE, never by message text.
func Retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "40001" || pe.Code == "40P01" || strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P03"
	}
	return pgconn.SafeToRetry(err)
}

// Unavailable says whether err means PostgreSQL was out of reach: no
// connection could be made (refused, timed out, the server starting up or
// shutting down: 57P03), or the server ended or lost the connection
// (admin_shutdown 57P01, crash_shutdown 57P02, class 08, a broken socket).
// What the request wrote did not commit, or its answer was lost with the
// connection; either way it may be sent again (a push's acts are recorded
// once, by their ids), and the edges answer UNAVAILABLE instead of
// INTERNAL. A refusal by PostgreSQL itself (a wrong password, a constraint)
// is not: it says so by its SQLSTATE. Decided by type and SQLSTATE, never
// by message text.
func Unavailable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return err != nil && (errors.As(err, &ce) || pgconn.SafeToRetry(err) || errors.As(err, &ne) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, pgconn.ErrConnClosed))
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// retrying runs one attempt of a transaction (inTx, Push) until it
// succeeds, fails for good, or the attempts run out.
func (db *DB) retrying(ctx context.Context, attempt func() error) error {
	const attempts = 8
	var err error
	for n := 1; ; n++ {
		err = attempt()
		if err == nil || !Retryable(err) || ctx.Err() != nil {
			return err
		}
		if n == attempts {
			break
		}
		db.retries.add(retryCause(err))
		time.Sleep(time.Duration(n) * 5 * time.Millisecond)
	}
	return &RetriesExhaustedError{Attempts: attempts, SQLState: pgCode(err), Err: err}
}

// RetriesExhaustedError is a transaction that failed transiently on every
// attempt (a deadlock storm, a serialization failure that kept recurring).
type RetriesExhaustedError struct {
	Attempts int
	SQLState string // of the last attempt; "" for a lost connection
	Err      error
}

func (e *RetriesExhaustedError) Error() string {
	return fmt.Sprintf("transaction failed %d times in a row (last SQLSTATE %q): %v", e.Attempts, e.SQLState, e.Err)
}

func (e *RetriesExhaustedError) Unwrap() error { return e.Err }

// retryCause names a retried failure for the retry counter: its SQLSTATE
// (40P01 deadlock, 40001 serialization failure, 08xxx connection), or
// "connection" for a network error without one.
func retryCause(err error) string {
	if c := pgCode(err); c != "" {
		return c
	}
	return "connection"
}

// retryCounts counts transaction retries by cause.
type retryCounts struct {
	mu sync.Mutex
	n  map[string]uint64
}

func (r *retryCounts) add(cause string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == nil {
		r.n = map[string]uint64{}
	}
	r.n[cause]++
}

// Retries returns how many transactions this handle retried, by cause
// (SQLSTATE such as 40P01 for a deadlock, or "connection").
func (db *DB) Retries() map[string]uint64 {
	db.retries.mu.Lock()
	defer db.retries.mu.Unlock()
	out := make(map[string]uint64, len(db.retries.n))
	for k, v := range db.retries.n {
		out[k] = v
	}
	return out
}
