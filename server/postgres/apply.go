package postgres

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"wardsync/pipeline"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// Push applies a device's mutations exactly once, in seq order, in one
// transaction (group commit). Each new mutation goes through the act
// pipeline (package pipeline) against this transaction (pushStore, store.go):
// its link in the chain, its author, the workflow mutator against locked
// rows, its effect, its outcome in the audit log. A rejection rolls back that mutation's effect
// (savepoint) but its outcome is still recorded and the device's seq still
// advances, so a refused act can never block the ones behind it.
//
// A seq at or below the device's last is a duplicate: nothing is applied and
// the first outcome is repeated. A seq above last+1 is a gap: the whole push
// is refused with PROTOCOL_ERROR and nothing is written.
func (db *DB) Push(ctx context.Context, deviceID string, muts []syncproto.Mutation) ([]syncproto.MutationResult, error) {
	var results []syncproto.MutationResult
	err := db.inBatchTx(ctx, func(tx *batchTx) error {
		var err error
		results, err = db.push(ctx, tx, deviceID, muts)
		return err
	})
	if err != nil {
		return nil, err
	}
	// After the commit: the devices pull the changes, the dashboards
	// re-read the audit log and the device's queue.
	db.announce(feedNotice, adminNotice("mutations"), adminNotice("clients"))
	return results, nil
}

// push runs in a transaction whose first and last round trips carry its
// bookkeeping: an online workstation pushes each act alone, and waits for
// every round trip of its push (TestOneActPushRoundTrips counts them).
func (db *DB) push(ctx context.Context, tx *batchTx, deviceID string, muts []syncproto.Mutation) ([]syncproto.MutationResult, error) {
	receivedAt := db.now()
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
	st.sessions = sessions
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
