package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

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
		for _, c := range page.Changes {
			if err := t.applyChange(c, based); err != nil {
				return err
			}
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
		}
		reflected := max(s.ReflectedSeq, page.LastMutationSeq)
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
		return t.rebase()
	})
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
	if err != nil {
		return fmt.Errorf("sqlite: rebase: %w", err)
	}
	var bases []base
	for rows.Next() {
		var b base
		if err := rows.Scan(&b.tbl, &b.id, &b.row); err != nil {
			rows.Close()
			return fmt.Errorf("sqlite: rebase: %w", err)
		}
		bases = append(bases, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: rebase: %w", err)
	}
	for _, b := range bases {
		tbl, err := lookupTable(b.tbl)
		if err != nil {
			return err
		}
		if !b.row.Valid {
			err = t.deleteRow(tbl, b.id)
		} else {
			err = t.putWire(tbl, b.id, []byte(b.row.String))
		}
		if err != nil {
			return err
		}
	}
	if _, err := t.exec(`DELETE FROM rebase_base`); err != nil {
		return fmt.Errorf("sqlite: rebase: %w", err)
	}
	s, err := t.state()
	if err != nil {
		return err
	}
	// Acts at or below reflectedSeq that are still here only wait for
	// their outcome; their effect, if any, is in the server's rows.
	entries, err := t.outbox(`WHERE seq > ? ORDER BY seq`, s.ReflectedSeq)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if workflow.IsBookkeeping(e.Name) {
			continue // changes no replicated row (review.go)
		}
		if e.Parked {
			// The server holds it; its outcome, and the rows it changes,
			// come through the feed.
			continue
		}
		m := workflow.Mutation{ID: e.ID, Name: e.Name, Args: e.Args, OccurredAt: e.OccurredAt,
			Actor: workflow.Actor{ID: e.Author.ID, Name: e.Author.Name, Role: e.Author.Role}}
		eff, err := workflow.Apply(t.ctx, reader{t}, m)
		if w, ok := workflow.Deferrable(err); ok && e.Status != StatusApplied {
			// Still before its predecessor: no effect, flagged as waiting.
			if e.WaitingFor != w.Sentence || e.Conflict != nil {
				if _, err := t.exec(`UPDATE outbox SET waitingFor = ?, conflictCode = NULL, conflictMessage = NULL, conflictField = NULL WHERE seq = ?`,
					w.Sentence, e.Seq); err != nil {
					return fmt.Errorf("sqlite: flag waiting act: %w", err)
				}
			}
			continue
		}
		if rej, ok := workflow.AsRejection(err); ok && e.Status == StatusApplied {
			// The server applied it; a page that reflects only part of
			// its effect can make it fail here for a moment. That is no
			// reason to warn anyone.
			if e.Conflict == nil {
				continue
			}
			if _, err := t.exec(`UPDATE outbox SET conflictCode = NULL, conflictMessage = NULL, conflictField = NULL WHERE seq = ?`,
				e.Seq); err != nil {
				return fmt.Errorf("sqlite: unflag act: %w", err)
			}
			continue
		} else if ok {
			if _, err := t.exec(`UPDATE outbox SET conflictCode = ?, conflictMessage = ?, conflictField = ?, waitingFor = NULL WHERE seq = ?`,
				string(rej.Code), rej.Message, nullString(rej.Field), e.Seq); err != nil {
				return fmt.Errorf("sqlite: flag act: %w", err)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("sqlite: rebase act %d: %w", e.Seq, err)
		}
		if err := t.applyEffect(eff); err != nil {
			// The mutator accepted it, so the replica must take it; if it
			// cannot, the file is inconsistent and nothing may be committed.
			return fmt.Errorf("sqlite: rebase act %d: %w", e.Seq, err)
		}
		if e.Conflict != nil || e.WaitingFor != "" {
			if _, err := t.exec(`UPDATE outbox SET conflictCode = NULL, conflictMessage = NULL, conflictField = NULL, waitingFor = NULL WHERE seq = ?`,
				e.Seq); err != nil {
				return fmt.Errorf("sqlite: unflag act: %w", err)
			}
		}
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
