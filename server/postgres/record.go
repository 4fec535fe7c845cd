package postgres

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/jackc/pgx/v5"

	"wardsync/pipeline"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// Record writes the act's audit row, with its link in the chain (chain.go),
// and the result the push answers. One round trip: the applied act's
// savepoint is released with it, and the answer says whether an act parked
// on a row is now woken (Wake, deferred.go). An applied act that was sent
// on to a merge's survivor notes which patient it was applied to.
func (st *pushStore) Record(ctx context.Context, a *pipeline.Act, o pipeline.Outcome) error {
	if p, ok := st.waking.acts[a]; ok {
		return st.decideWoken(ctx, p, o) // a parked act Wake handed out
	}
	m, rej := a.Mutation, o.Rejection
	res := syncproto.MutationResult{Seq: m.Seq, Status: syncproto.StatusApplied}
	outcome := "applied"
	var code, msg, field any
	switch {
	case o.Wait != nil:
		// Early, not wrong: parked (Park), once its audit row exists.
		res = deferredResult(m.Seq, rej)
		outcome, msg = "deferred", res.Message
	case rej != nil:
		// A field path names the keys sent, and PostgreSQL's text cannot
		// hold NUL: the result says what the audit log can keep, so that a
		// duplicate repeats it exactly.
		res.Status, res.Code, res.Message, res.Field = syncproto.StatusRejected, rej.Code, pgText(rej.Message), pgText(rej.Field)
		outcome, code, msg = "rejected", string(rej.Code), res.Message
		if res.Field != "" {
			field = res.Field
		}
	}
	var targetTable, targetID any
	if t, id, err := workflow.Targets(m.Name, m.Args); err == nil {
		targetTable, targetID = t, id
	}
	var author, sess any
	if a.Actor.ID != "" {
		author, sess = a.Actor.ID, st.sessionID
	}
	args := auditArgs(m.Args)
	var reissueOf any
	if m.ReissueOf != "" {
		reissueOf = m.ReissueOf
	}
	c := chainColumns(m, st.chainBreak)
	b := &pgx.Batch{}
	if st.open {
		b.Queue(releaseAct)
		st.open = false
	}
	// The push's last act: when nothing follows its audit row in the
	// transaction (no act to park or re-point, none woken to retry), the
	// push sends the row with its tail, which commits.
	last := st.last
	st.last = false // whatever follows is never an act Wake retries
	withTail := last && o.Wait == nil && len(a.Repoints) == 0 && (rej != nil || st.asleep)
	var woken bool
	insert := `
		INSERT INTO sync.mutations (device_id, seq, mutation_id, name, args, author_id, session_id, occurred_at, received_at,
		                            outcome, code, message, field, target_table, target_id, reissue_of,
		                            prev_hash, hash, chain_author, chain_args, chain_break)
		VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)`
	if !withTail {
		// Only an act something follows asks whether parked acts woke.
		insert += `
		RETURNING EXISTS (SELECT 1 FROM sync.deferred WHERE outcome IS NULL AND woken)`
	}
	q := b.Queue(insert, st.deviceID, m.Seq, m.ID, m.Name, string(args), author, sess, m.OccurredAt, st.receivedAt,
		outcome, code, msg, field, targetTable, targetID, reissueOf,
		c.prev, c.hash, c.author, c.args, c.brk)
	st.result = res
	if withTail {
		// Nothing is woken by this transaction's writes; acts that other
		// transactions woke meanwhile are theirs to retry, or the deferred
		// sweeper's (docs/deferred.md).
		st.pending, st.woken = b, false
		return nil
	}
	q.QueryRow(func(r pgx.Row) error { return r.Scan(&woken) })
	if err := st.tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("record mutation %d: %w", m.Seq, err)
	}
	st.woken = woken
	if rej != nil {
		return nil
	}
	for _, rp := range a.Repoints {
		if _, err := st.tx.Exec(ctx, `
			INSERT INTO sync.merge_repoints (device_id, seq, mutation_id, field, from_patient, to_patient, at)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
			st.deviceID, m.Seq, m.ID, rp.Field, rp.From, rp.To, st.receivedAt); err != nil {
			return fmt.Errorf("record re-pointed act %d: %w", m.Seq, err)
		}
	}
	return nil
}

// deferredResult is the push result of a parked act.
func deferredResult(seq int64, rej *workflow.Rejection) syncproto.MutationResult {
	w := rej.Wait
	return syncproto.MutationResult{Seq: seq, Status: syncproto.StatusDeferred, Message: pgText(rej.Message),
		WaitingFor: pgText(w.Sentence), WaitTable: w.Table, WaitID: w.ID, WaitState: waitState(w)}
}

// chainCols are the act's link as its audit row stores it (Record
// writes them with the row).
type chainCols struct {
	prev, hash, brk any
	author, args    string
}

func chainColumns(m syncproto.Mutation, b syncproto.ChainBreak) chainCols {
	prev, _ := hex.DecodeString(m.PrevHash)
	hash, _ := hex.DecodeString(m.Hash)
	c := chainCols{prev: nilIfEmpty(prev), hash: nilIfEmpty(hash), author: m.AuthorID, args: string(syncproto.CanonicalArgs(m.Args))}
	if b != "" {
		c.brk = string(b)
	}
	return c
}

func nilIfEmpty(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}
