package postgres

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

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
	err := db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
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

func (db *DB) push(ctx context.Context, tx pgx.Tx, deviceID string, muts []syncproto.Mutation) ([]syncproto.MutationResult, error) {
	receivedAt := db.now()
	// The device's row serialises its pushes, even across server instances.
	// Its chain head comes with it: a push of one act (an online
	// workstation's) pays every round trip of the push's own bookkeeping.
	var last int64
	var roles []string
	var revoked *time.Time
	var chain []byte
	err := tx.QueryRow(ctx, `
		SELECT c.last_mutation_seq, d.roles, d.revoked_at, c.chain_head
		  FROM sync.clients c JOIN sync.devices d ON d.id = c.device_id
		 WHERE c.device_id = $1 FOR UPDATE OF c`, deviceID).Scan(&last, &roles, &revoked, &chain)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, workflow.Reject(workflow.CodeUnauthenticated, "Workstation %s is not registered with this server.", deviceID)
	}
	if err != nil {
		return nil, err
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
	var newIDs []string
	for _, m := range muts {
		if m.Seq > last {
			newIDs = append(newIDs, m.ID)
		}
	}
	first, err := recordedByID(ctx, tx, deviceID, newIDs)
	if err != nil {
		return nil, err
	}

	st := db.newPushStore(tx, deviceID, deviceRoles, receivedAt)
	results := make([]syncproto.MutationResult, 0, len(muts))
	for _, m := range muts {
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
	if _, err := tx.Exec(ctx, `UPDATE sync.clients SET last_mutation_seq = $2, last_seen = $3, chain_head = $4 WHERE device_id = $1`,
		deviceID, last, receivedAt, headBytes); err != nil {
		return nil, err
	}
	return results, nil
}

// recordedByID returns the first outcomes of those of ids the device's
// mutations already hold, over its whole history (indexed by 00012).
func recordedByID(ctx context.Context, tx pgx.Tx, deviceID string, ids []string) (map[string]syncproto.MutationResult, error) {
	out := map[string]syncproto.MutationResult{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := tx.Query(ctx, `SELECT mutation_id, seq, outcome, COALESCE(code, ''), COALESCE(message, ''), COALESCE(field, '') FROM sync.mutations
		 WHERE device_id = $1 AND mutation_id = ANY($2) ORDER BY seq`, deviceID, ids)
	if err != nil {
		return nil, err
	}
	var parkedSeqs = map[string]int64{}
	for rows.Next() {
		var id, code, outcome string
		var seq int64
		var r syncproto.MutationResult
		if err := rows.Scan(&id, &seq, &outcome, &code, &r.Message, &r.Field); err != nil {
			rows.Close()
			return nil, err
		}
		r.Code = workflow.Code(code)
		if _, seen := out[id]; !seen {
			out[id] = r
			if outcome == "deferred" {
				parkedSeqs[id] = seq
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for id, seq := range parkedSeqs {
		r, err := duplicateOfParked(ctx, tx, deviceID, seq, syncproto.MutationResult{})
		if err != nil {
			return nil, err
		}
		out[id] = r
	}
	return out, nil
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
