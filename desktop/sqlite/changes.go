package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"wardsync/pipeline"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// ApplyChanges applies one page of the server's change feed in one
// transaction: the rows are upserted or deleted, the outbox loses the acts
// the page says are reflected, the replica is rebased (the rows queued acts
// had touched are reset to the server's version and the still-queued acts
// replayed on top), and the cursor moves on. A page marked resync first
// drops every replicated row: the outbox and the rejected list stay. The
// first page of an initial load defers the replica's indexes until the
// pull's last page (bulkload.go).
func (db *DB) ApplyChanges(ctx context.Context, page *syncproto.Changes, now time.Time) error {
	return db.applyChanges(ctx, page, 0, now)
}

// ApplyPulled is ApplyChanges for a page this workstation pulled after it
// had received the push results of its acts up to settled: the server
// answers a push after the acts' transaction commits, and reads a page in
// a snapshot it takes when the pull arrives, so every act up to settled
// that it applied has its effect in each row of the page. When every act
// still queued after the page is such an act, nothing is replayed: a
// replay would only apply again, on the server's rows, what they already
// hold (the drain of a backlog pulls back a queue the server has just
// applied whole). Otherwise the page is rebased as ApplyChanges does.
func (db *DB) ApplyPulled(ctx context.Context, page *syncproto.Changes, settled int64, now time.Time) error {
	return db.applyChanges(ctx, page, settled, now)
}

func (db *DB) applyChanges(ctx context.Context, page *syncproto.Changes, settled int64, now time.Time) error {
	return db.write(ctx, func(t *Tx) error {
		s, err := t.state()
		if err != nil {
			return err
		}
		if page.Resync {
			for _, name := range workflow.Tables {
				if _, err := t.exec(`DELETE FROM ` + quote(name)); err != nil {
					return fmt.Errorf("sqlite: resync: %w", err)
				}
			}
			if _, err := t.exec(`DELETE FROM rebase_base`); err != nil {
				return fmt.Errorf("sqlite: resync: %w", err)
			}
		}
		if startsBulkLoad(s.Cursor, page) {
			if err := t.deferIndexes(); err != nil {
				return err
			}
		}
		// Rows reach rebase_base only through local acts, never through
		// this page: when it is empty now, no change of the page can hit
		// it, and the per-change lookup is skipped (an initial sync's case).
		var based bool
		if err := t.queryRow(`SELECT EXISTS (SELECT 1 FROM rebase_base)`).Scan(&based); err != nil {
			return fmt.Errorf("sqlite: apply changes: %w", err)
		}
		reached := newReach()
		var batch rowBatch // upserts written by bulkRows when nothing is based
		for i, c := range page.Changes {
			if !based && c.Op == syncproto.OpUpsert {
				tbl, err := lookupTable(c.Table)
				if err != nil {
					return err
				}
				if err := t.addUpsert(&batch, tbl, page, i); err != nil {
					return err
				}
			} else {
				// In page order: a delete after an upsert of its row.
				if err := t.flushRows(&batch); err != nil {
					return err
				}
				if err := t.applyChange(c, based); err != nil {
					return err
				}
			}
			reached.addRow(c.Table, c.ID)
		}
		if err := t.flushRows(&batch); err != nil {
			return err
		}
		reflected := max(s.ReflectedSeq, page.LastMutationSeq)
		// The acts this page takes out of the replay (reflected now, or
		// decided): their rows go back to the server's version.
		everyAct, err := t.leaving(reached, s.ReflectedSeq, reflected, page.Outcomes)
		if err != nil {
			return err
		}
		if err := t.applyResolutions(page.Resolutions); err != nil {
			return err
		}
		decided, err := t.applyOutcomes(page.Outcomes, now)
		if err != nil {
			return err
		}
		if !page.More {
			// Up to date: an initial load's indexes are built now (bulkload.go).
			if err := t.restoreIndexes(); err != nil {
				return err
			}
		} else {
			// The tables the snapshot has paged past get theirs now.
			if err := t.restorePassedIndexes(page); err != nil {
				return err
			}
		}
		// Acts whose outcome is still unknown stay even when reflected: the
		// next push learns it (a duplicate repeats a rejection), and a
		// rejection must reach the user.
		if _, err := t.exec(`DELETE FROM outbox WHERE seq <= ? AND status = 'applied'`, reflected); err != nil {
			return fmt.Errorf("sqlite: drop reflected acts: %w", err)
		}
		var lastSync any
		if s.LastSyncAt != nil {
			lastSync = FormatTime(*s.LastSyncAt)
		}
		if !page.More {
			lastSync = FormatTime(now)
		}
		if _, err := t.exec(`UPDATE sync_state SET cursor = ?, reflectedSeq = ?, lastSyncAt = ? WHERE singleton = 1`,
			page.Cursor, reflected, lastSync); err != nil {
			return fmt.Errorf("sqlite: move cursor: %w", err)
		}
		if len(page.Changes) == 0 && reflected == s.ReflectedSeq && !page.Resync && !decided {
			return nil // nothing the queued acts could depend on moved
		}
		if !based {
			// Nothing to reset; without an act to replay either, the
			// rebase would do nothing (every page of an initial sync).
			var queued bool
			if err := t.queryRow(`SELECT EXISTS (SELECT 1 FROM outbox WHERE seq > ?)`, reflected).Scan(&queued); err != nil {
				return fmt.Errorf("sqlite: apply changes: %w", err)
			}
			if !queued {
				return nil
			}
		}
		if page.Resync {
			return t.rebase()
		}
		if settled > 0 {
			if done, err := t.settledOnly(reflected, settled); err != nil || done {
				return err
			}
		}
		if everyAct {
			return t.rebase()
		}
		return t.rebaseSome(reached)
	})
}

// settledOnly handles the rebase of a pulled page when every act queued
// past reflected is settled (ApplyPulled): applied by the server, per its
// push result, with a seq up to settled. The page's rows hold their
// effects, and the rows the page does not bring keep the effects the acts
// had here (a reset would take back, until their page comes, the effects
// of acts applied after the row was delivered), so no act is replayed and
// no row reset until the queue is all reflected; flags a replay once
// put on them go, as a replay now would clear them (an applied act is
// never flagged for failing on a part-reflected replica). Acts whose local
// effect is not known to be in the replica (touches not recorded: queued
// before they were, or parked, which has no local effect) are not
// settled. done is false when some queued act is not settled.
func (t *Tx) settledOnly(reflected, settled int64) (done bool, err error) {
	var queued, unsettled bool
	if err := t.queryRow(`SELECT EXISTS (SELECT 1 FROM outbox WHERE seq > ?), EXISTS (SELECT 1 FROM outbox WHERE seq > ?
		AND (seq > ? OR status != 'applied' OR parked = 1 OR (touches IS NULL AND name != ?)))`,
		reflected, reflected, settled, workflow.CloseRejected).Scan(&queued, &unsettled); err != nil {
		return false, fmt.Errorf("sqlite: apply changes: %w", err)
	}
	switch {
	case unsettled:
		return false, nil
	case !queued:
		// Every act is reflected: the rows they touched are the server's
		// as delivered (rebase_base), and the base is emptied, as the
		// rebase of an empty queue does.
		return true, t.rebase()
	}
	if _, err := t.exec(`UPDATE outbox SET conflictCode = NULL, conflictMessage = NULL, conflictField = NULL, waitingFor = NULL
		WHERE seq > ? AND (conflictCode IS NOT NULL OR waitingFor IS NOT NULL)`, reflected); err != nil {
		return false, fmt.Errorf("sqlite: unflag settled acts: %w", err)
	}
	return true, nil
}

// leaving adds to r the touches of the queued acts that a page takes out
// of the replay: those it reflects (seq in (from, to]) and those it
// decides. every is true when one of them has no touches recorded.
func (t *Tx) leaving(r *reach, from, to int64, outcomes []syncproto.Outcome) (every bool, err error) {
	var entries []OutboxEntry
	if to > from {
		if entries, err = t.outbox(`WHERE seq > ? AND seq <= ?`, from, to); err != nil {
			return false, err
		}
	}
	for _, o := range outcomes {
		if o.Seq <= to && o.Seq > from {
			continue
		}
		more, err := t.outbox(`WHERE seq = ?`, o.Seq)
		if err != nil {
			return false, err
		}
		entries = append(entries, more...)
	}
	for _, e := range entries {
		if workflow.IsBookkeeping(e.Name) {
			continue
		}
		if !e.touchesKnown {
			return true, nil
		}
		r.take(e.touches)
	}
	return false, nil
}

// applyChange applies one change; based says whether rebase_base holds
// any row (if not, the change cannot be one a queued act has touched).
func (t *Tx) applyChange(c syncproto.Change, based bool) error {
	tbl, err := lookupTable(c.Table)
	if err != nil {
		return err
	}
	var row any
	switch c.Op {
	case syncproto.OpUpsert:
		row = string(c.Row)
	case syncproto.OpDelete:
	default:
		return fmt.Errorf("sqlite: change op %q", c.Op)
	}
	// A row a queued act has changed: the server's version goes to the
	// rebase base, and the rebase below rebuilds the visible row from it.
	if based {
		res, err := t.execStmt(`UPDATE rebase_base SET row = ? WHERE tbl = ? AND id = ?`, row, c.Table, c.ID)
		if err != nil {
			return fmt.Errorf("sqlite: apply change: %w", err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			if c.Op == syncproto.OpUpsert {
				// Checked now, so that a bad row fails this page, not a later rebase.
				return t.putWire(tbl, c.ID, c.Row)
			}
			return nil
		}
	}
	if c.Op == syncproto.OpDelete {
		return t.deleteRow(tbl, c.ID)
	}
	return t.putWire(tbl, c.ID, c.Row)
}

// rebase rebuilds the replica as "server state + queued acts": every row a
// queued act had touched goes back to the server's version, then each act
// not yet reflected is run again, in seq order, with its original author
// and time. An act that no longer applies stays queued, flagged with the
// reason; one that applies again loses its flag.
func (t *Tx) rebase() error {
	type base struct {
		tbl, id string
		row     sql.NullString
	}
	rows, err := t.query(`SELECT tbl, id, row FROM rebase_base`)
	bases, err := scanAll(rows, err, "rebase", func(r rowScanner) (base, error) {
		var b base
		err := r.Scan(&b.tbl, &b.id, &b.row)
		return b, err
	})
	if err != nil {
		return err
	}
	for _, b := range bases {
		if err := t.resetRow(b.tbl, b.id, b.row); err != nil {
			return err
		}
	}
	if _, err := t.exec(`DELETE FROM rebase_base`); err != nil {
		return fmt.Errorf("sqlite: rebase: %w", err)
	}
	// Acts at or below reflectedSeq that are still here only wait for
	// their outcome; their effect, if any, is in the server's rows.
	entries, err := t.unreflected()
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Parked {
			// The server holds it; its outcome, and the rows it changes,
			// come through the feed.
			continue
		}
		if _, err := t.replay(e); err != nil {
			return err
		}
	}
	return nil
}

// unreflected is the outbox past reflectedSeq, in seq order: the acts a
// rebase replays on the server's rows.
func (t *Tx) unreflected() ([]OutboxEntry, error) {
	s, err := t.state()
	if err != nil {
		return nil, err
	}
	return t.outbox(`WHERE seq > ? ORDER BY seq`, s.ReflectedSeq)
}

// resetRow puts a row back to the server's version recorded in
// rebase_base (row NULL: the server has none).
func (t *Tx) resetRow(table, id string, row sql.NullString) error {
	tbl, err := lookupTable(table)
	if err != nil {
		return err
	}
	if !row.Valid {
		return t.deleteRow(tbl, id)
	}
	return t.putWire(tbl, id, []byte(row.String))
}

// rebaseSome is rebase for a page of changes, replaying only the acts the
// page can affect. r holds the rows the page changed and the touches of the
// acts it took out of the replay (reflected, decided). An act is affected
// when it touched (read or wrote) a row of r; its touches then join r, so
// that every act sharing a row with it is replayed too, and each of those
// rows goes back to the server's version first. The other acts read and
// wrote none of those rows, so their effects stand as they are. Should a
// replayed act now touch a row outside r (its outcome or its reads
// changed), the selective pass is undone and everything is replayed.
// Without every queued act's touches known (queued before they were
// recorded, renumbered after a restored server, released from parking),
// or with a parked act, it is the full rebase.
func (t *Tx) rebaseSome(r *reach) error {
	entries, err := t.unreflected()
	if err != nil {
		return err
	}
	for _, e := range entries {
		if workflow.IsBookkeeping(e.Name) {
			continue
		}
		if e.Parked || !e.touchesKnown {
			return t.rebase()
		}
	}
	// The last act (by index) that wrote each row, and a row of each table.
	lastWrite, lastTable := map[string]int{}, map[string]int{}
	for i, e := range entries {
		for _, k := range e.touches.Writes {
			table, _ := splitTouch(k)
			lastWrite[k], lastTable[table] = i, i
		}
	}
	writtenAfter := func(k string, i int) bool {
		table, id := splitTouch(k)
		if id == wildcard {
			last, ok := lastTable[table]
			return ok && last > i
		}
		last, ok := lastWrite[k]
		return ok && last > i
	}
	affected := make([]bool, len(entries))
	for r.changed {
		r.changed = false
		for i, e := range entries {
			if workflow.IsBookkeeping(e.Name) {
				continue
			}
			if !affected[i] && r.meets(e.touches) {
				affected[i] = true
				r.take(e.touches)
			}
			if !affected[i] {
				continue
			}
			// A row it read that a later act writes is rebuilt too, so
			// that the replay reads it as it was at this act's turn.
			for _, k := range e.touches.Reads {
				if !r.has(k) && writtenAfter(k, i) {
					r.takeRead(k)
				}
			}
		}
	}
	if _, err := t.exec(`SAVEPOINT rebase_some`); err != nil {
		return fmt.Errorf("sqlite: rebase: %w", err)
	}
	done, err := t.rebaseRows(r, entries, affected, writtenAfter)
	if err != nil {
		return err
	}
	if !done {
		if _, err := t.exec(`ROLLBACK TO rebase_some`); err != nil {
			return fmt.Errorf("sqlite: rebase: %w", err)
		}
	}
	if _, err := t.exec(`RELEASE rebase_some`); err != nil {
		return fmt.Errorf("sqlite: rebase: %w", err)
	}
	if !done {
		return t.rebase()
	}
	return nil
}

// rebaseRows resets r's rows and replays the affected acts; done is false
// when a replayed act touched a row outside r.
func (t *Tx) rebaseRows(r *reach, entries []OutboxEntry, affected []bool, writtenAfter func(string, int) bool) (done bool, err error) {
	var row sql.NullString
	for k := range r.rows {
		table, id := splitTouch(k)
		err := t.queryRow(`SELECT row FROM rebase_base WHERE tbl = ? AND id = ?`, table, id).Scan(&row)
		if errors.Is(err, sql.ErrNoRows) {
			continue // no queued act wrote it: it is the server's already
		}
		if err != nil {
			return false, fmt.Errorf("sqlite: rebase: %w", err)
		}
		if err := t.resetRow(table, id, row); err != nil {
			return false, err
		}
		if _, err := t.execStmt(`DELETE FROM rebase_base WHERE tbl = ? AND id = ?`, table, id); err != nil {
			return false, fmt.Errorf("sqlite: rebase: %w", err)
		}
	}
	for table := range r.allOf {
		type base struct {
			id  string
			row sql.NullString
		}
		rows, err := t.query(`SELECT id, row FROM rebase_base WHERE tbl = ?`, table)
		bases, err := scanAll(rows, err, "rebase", func(r rowScanner) (base, error) {
			var b base
			err := r.Scan(&b.id, &b.row)
			return b, err
		})
		if err != nil {
			return false, err
		}
		for _, b := range bases {
			if err := t.resetRow(table, b.id, b.row); err != nil {
				return false, err
			}
		}
		if _, err := t.exec(`DELETE FROM rebase_base WHERE tbl = ?`, table); err != nil {
			return false, fmt.Errorf("sqlite: rebase: %w", err)
		}
	}
	for i, e := range entries {
		if !affected[i] {
			continue
		}
		now, err := t.replay(e)
		if err != nil {
			return false, err
		}
		// What it wrote must be rebuilt rows; what it read, rebuilt rows
		// or rows no later act writes.
		for _, k := range now.Writes {
			if !r.has(k) {
				return false, nil
			}
		}
		for _, k := range now.Reads {
			if !r.has(k) && writtenAfter(k, i) {
				return false, nil
			}
		}
	}
	return true, nil
}

// replay runs a queued act again on the replica as it is, through the
// pipeline's steps (replayStore says what each does here), and records its
// flags and its touches. It returns the touches.
func (t *Tx) replay(e OutboxEntry) (touches, error) {
	s := &replayStore{replicaStore: replicaStore{reader: newReader(t)}, t: t, e: e}
	a := &pipeline.Act{Mutation: syncproto.Mutation{Seq: e.Seq, ID: e.ID, Name: e.Name, Args: e.Args, OccurredAt: e.OccurredAt,
		AuthorID: e.Author.ID, PrevHash: e.PrevHash, Hash: e.Hash},
		Actor: workflow.Actor{ID: e.Author.ID, Name: e.Author.Name, Role: e.Author.Role}}
	if _, err := pipeline.Run(t.ctx, s, a); err != nil {
		return touches{}, fmt.Errorf("sqlite: rebase act %d: %w", e.Seq, err)
	}
	return s.now, nil
}

// replayStore is the workstation's pipeline.Store for a queued act run
// again on the server's newer rows (the rebase). The act was linked,
// authored and its re-issue linked when it was queued; what is new is its
// effect, or the reason it no longer applies, which flags it.
type replayStore struct {
	replicaStore
	t   *Tx
	e   OutboxEntry
	now touches
}

func (s *replayStore) Chain(context.Context, *pipeline.Act) (*workflow.Rejection, error) {
	return nil, nil
}
func (s *replayStore) Author(context.Context, *pipeline.Act) (*workflow.Rejection, error) {
	return nil, nil
}

// CloseRejected: a close changes no replicated row (review.go); it was
// recorded here when it was queued.
func (s *replayStore) CloseRejected(context.Context, *pipeline.Act) (*workflow.Rejection, error) {
	s.closing = true
	return nil, nil
}

func (s *replayStore) Reissue(context.Context, *pipeline.Act, pipeline.Outcome) error { return nil }
func (s *replayStore) Park(context.Context, *pipeline.Act, *workflow.Wait) error      { return nil }
func (s *replayStore) Wake(context.Context, *pipeline.Act) ([]*pipeline.Act, error)   { return nil, nil }

// Record keeps what the act touched this time and its flags: waiting
// (still before its predecessor: no effect), likely to be refused (with
// the reason), or neither.
func (s *replayStore) Record(_ context.Context, _ *pipeline.Act, o pipeline.Outcome) error {
	if s.closing {
		return nil
	}
	t, e := s.t, s.e
	if o.Applied() {
		s.now = touched(s.seen, s.eff)
	} else {
		s.now = touched(s.seen, workflow.Effect{})
	}
	if err := t.noteTouches(e, s.now); err != nil {
		return err
	}
	switch {
	case o.Wait != nil && e.Status != StatusApplied:
		if e.WaitingFor != o.Wait.Sentence || e.Conflict != nil {
			if _, err := t.exec(`UPDATE outbox SET waitingFor = ?, conflictCode = NULL, conflictMessage = NULL, conflictField = NULL WHERE seq = ?`,
				o.Wait.Sentence, e.Seq); err != nil {
				return fmt.Errorf("sqlite: flag waiting act: %w", err)
			}
		}
	case !o.Applied() && e.Status == StatusApplied:
		// The server applied it; a page that reflects only part of
		// its effect can make it fail here for a moment. That is no
		// reason to warn anyone.
		if e.Conflict == nil {
			return nil
		}
		if _, err := t.exec(`UPDATE outbox SET conflictCode = NULL, conflictMessage = NULL, conflictField = NULL WHERE seq = ?`,
			e.Seq); err != nil {
			return fmt.Errorf("sqlite: unflag act: %w", err)
		}
	case !o.Applied():
		rej := o.Rejection
		if _, err := t.exec(`UPDATE outbox SET conflictCode = ?, conflictMessage = ?, conflictField = ?, waitingFor = NULL WHERE seq = ?`,
			string(rej.Code), rej.Message, nullString(rej.Field), e.Seq); err != nil {
			return fmt.Errorf("sqlite: flag act: %w", err)
		}
	case e.Conflict != nil || e.WaitingFor != "":
		if _, err := t.exec(`UPDATE outbox SET conflictCode = NULL, conflictMessage = NULL, conflictField = NULL, waitingFor = NULL WHERE seq = ?`,
			e.Seq); err != nil {
			return fmt.Errorf("sqlite: unflag act: %w", err)
		}
	}
	return nil
}

// noteTouches records what a replay touched. The outbox keeps the union
// of every run's touches: a superset only makes a later rebase replay
// more, never less, and the outbox row is written only when a run
// touched something new (a replay that is now refused touches fewer rows,
// and writing that down for every act of every page cost more than it
// saved).
func (t *Tx) noteTouches(e OutboxEntry, now touches) error {
	if e.touchesKnown {
		if subset(now.Reads, e.touches.Reads) && subset(now.Writes, e.touches.Writes) {
			return nil
		}
		now = touches{Reads: union(e.touches.Reads, now.Reads), Writes: union(e.touches.Writes, now.Writes)}
	}
	if _, err := t.execStmt(`UPDATE outbox SET touches = ? WHERE seq = ?`, now.encode(), e.Seq); err != nil {
		return fmt.Errorf("sqlite: record touches: %w", err)
	}
	return nil
}

// applyOutcomes records the outcomes the server decided after their push
// (parked acts): applied ones leave the outbox (their rows are in this page
// or an earlier one), rejected ones move to the rejected list with what
// the user typed. An outcome for an act no longer here is ignored: it was
// learned before (a duplicate push repeats decided outcomes). decided
// reports whether the outbox changed.
func (t *Tx) applyOutcomes(outcomes []syncproto.Outcome, now time.Time) (decided bool, err error) {
	for _, o := range outcomes {
		switch o.Status {
		case syncproto.StatusApplied:
			res, err := t.exec(`DELETE FROM outbox WHERE seq = ? AND id = ?`, o.Seq, o.ID)
			if err != nil {
				return decided, fmt.Errorf("sqlite: record outcome: %w", err)
			}
			if n, _ := res.RowsAffected(); n > 0 {
				decided = true
			}
		case syncproto.StatusRejected:
			_, ok, err := t.moveToRejected(o.Seq, o.ID, workflow.Rejection{Code: o.Code, Message: o.Message, Field: o.Field}, now)
			if err != nil {
				return decided, err
			}
			decided = decided || ok
		default:
			return decided, fmt.Errorf("sqlite: outcome of seq %d has status %q", o.Seq, o.Status)
		}
	}
	return decided, nil
}
