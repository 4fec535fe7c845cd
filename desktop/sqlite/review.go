package sqlite

// The workstation's side of the review queue (docs/review-queue.md): a
// rejected act stays open in the inbox until it is resolved — closed here
// with a written reason (queued as the bookkeeping act rejected.close),
// re-issued here as a new act linked to it, or resolved by the server (an
// administrator, or the outcome of this workstation's close or re-issue),
// which the changes frame's resolutions deliver. Rows are never deleted.

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"wardsync/syncproto"
	"wardsync/workflow"
)

// openRejected selects the rejected acts still waiting for someone.
const openRejected = `resolvedAt IS NULL AND closedAt IS NULL AND reissueId IS NULL`

// Review states of a rejected act.
const (
	// ReviewOpen: nobody has dealt with it yet.
	ReviewOpen = "open"
	// ReviewClosing: closed here with a reason; the server has not
	// confirmed it yet (it may be queued while offline).
	ReviewClosing = "closing"
	// ReviewReissuing: re-issued here; the new act's outcome is not known.
	ReviewReissuing = "reissuing"
	// ReviewResolved: the server recorded a resolution.
	ReviewResolved = "resolved"
)

// Review is where a rejected act stands in the review queue.
type Review struct {
	State string `json:"state"`
	// Closed here: when, by whom, why; CloseError is the server's refusal
	// of that close (e.g. an administrator had resolved it first).
	ClosedAt    *time.Time `json:"closedAt,omitempty"`
	ClosedBy    string     `json:"closedBy,omitempty"`
	CloseReason string     `json:"closeReason,omitempty"`
	CloseError  string     `json:"closeError,omitempty"`
	// ReissueID is the mutation id of the new act copied from it here.
	ReissueID string `json:"reissueId,omitempty"`
	// The server's resolution, as delivered.
	ResolvedAt     *time.Time `json:"resolvedAt,omitempty"`
	ResolvedBy     string     `json:"resolvedBy,omitempty"`
	ResolutionNote string     `json:"resolutionNote,omitempty"`
	ReissuedAs     string     `json:"reissuedAs,omitempty"`
}

const reviewColumns = `closedAt, closedByName, closeReason, closeError, reissueId, resolvedAt, resolvedBy, resolutionNote, reissuedAs`

type reviewScan struct {
	closedBy, reason, closeErr, reissueID, resolvedBy, note, reissuedAs sql.NullString
	closedAt, resolvedAt                                                *time.Time
}

func (s *reviewScan) dest() []any {
	return []any{nullTime{&s.closedAt}, &s.closedBy, &s.reason, &s.closeErr, &s.reissueID, nullTime{&s.resolvedAt}, &s.resolvedBy, &s.note, &s.reissuedAs}
}

func (s *reviewScan) review() (Review, error) {
	r := Review{ClosedBy: s.closedBy.String, CloseReason: s.reason.String, CloseError: s.closeErr.String,
		ReissueID: s.reissueID.String, ResolvedBy: s.resolvedBy.String, ResolutionNote: s.note.String, ReissuedAs: s.reissuedAs.String,
		ClosedAt: s.closedAt, ResolvedAt: s.resolvedAt}
	switch {
	case r.ResolvedAt != nil:
		r.State = ReviewResolved
	case r.ClosedAt != nil:
		r.State = ReviewClosing
	case r.ReissueID != "":
		r.State = ReviewReissuing
	default:
		r.State = ReviewOpen
	}
	return r, nil
}

// openState reads what CanResolve needs of a local rejected act; a row
// closed or re-issued here counts as resolved already.
func (t *Tx) openState(id string) (workflow.RejectedActState, error) {
	s := workflow.RejectedActState{DeviceID: "this workstation", Ref: id, Outcome: "rejected"}
	rs, err := t.rejected(`WHERE id = ?`, id)
	if err != nil || len(rs) == 0 {
		return s, err
	}
	r := rs[0]
	s.Found, s.Seq = true, r.Seq
	switch {
	case r.ResolvedAt != nil:
		s.ResolvedAt, s.ResolvedBy, s.Note = r.ResolvedAt, r.ResolvedBy, r.ResolutionNote
	case r.ClosedAt != nil:
		s.ResolvedAt, s.ResolvedBy, s.Note = r.ClosedAt, r.ClosedBy, r.CloseReason
	case r.ReissueID != "":
		s.ResolvedAt, s.ResolvedBy, s.Note = &r.RejectedAt, r.AuthorName, "re-issued here as act "+r.ReissueID
	}
	return s, nil
}

// markReissued links an open rejected act to the new act reissueID that
// re-issues it, in the act's own transaction. An act no longer open (closed
// or re-issued already, resolved) is not linked, and the new act goes on
// as a plain act: it is clinical work, never refused for its link.
func (t *Tx) markReissued(rejectedID, reissueID string) (linked bool, err error) {
	s, err := t.openState(rejectedID)
	if err != nil || workflow.CanResolve(s) != nil {
		return false, err
	}
	if _, err := t.exec(`UPDATE rejected SET reissueId = ?, closeError = NULL WHERE id = ?`, reissueID, rejectedID); err != nil {
		return false, fmt.Errorf("sqlite: link re-issue: %w", err)
	}
	return true, nil
}

// CloseAct is a rejected act to close with a written reason.
type CloseAct struct {
	ID         string // the bookkeeping act's own mutation id
	RejectedID string // the rejected act's mutation id
	Reason     string
	Author     Author
	Sign       Signer
	At         time.Time
	// Check vets the outbox entry once its seq and arguments are known,
	// before anything is written.
	Check func(seq int64, args json.RawMessage) error
}

// CloseRejected closes an open rejected act with a written reason, in one
// transaction: the act is marked closed (by its author, at c.At) and the
// bookkeeping act rejected.close is appended to the outbox, so the close
// reaches the server — with its author, time and reason — as soon as it
// can, like any act. Nothing is written when the reason is empty or the
// act is not open.
func (db *DB) CloseRejected(ctx context.Context, c CloseAct) (seq int64, err error) {
	if rej := workflow.CheckReason("reason", c.Reason); rej != nil {
		return 0, rej
	}
	args, err := json.Marshal(workflow.CloseRejectedArgs{ID: c.RejectedID, Reason: c.Reason})
	if err != nil {
		return 0, err
	}
	// The close is an act like any other (queueStore.CloseRejected):
	// chained, so that it cannot be removed unnoticed either, and with no
	// effect on a replicated row.
	var check func(int64) error
	if c.Check != nil {
		check = func(seq int64) error { return c.Check(seq, args) }
	}
	return db.Act(ctx, NewAct{ID: c.ID, Name: workflow.CloseRejected, Args: args, OccurredAt: c.At, Author: c.Author, Sign: c.Sign, Check: check})
}

// closeRefused records the server's refusal of a close. NOT_FOUND means
// the server never recorded the act (it was refused before it was
// recorded, e.g. a reused seq): there is nothing to resolve there, so the
// close stands here. Any other refusal reopens the act, with the server's
// sentence; if an administrator resolved it first, that resolution comes
// with the next pull.
func (t *Tx) closeRefused(e OutboxEntry, r syncproto.MutationResult) error {
	var a workflow.CloseRejectedArgs
	if err := json.Unmarshal(e.Args, &a); err != nil {
		return fmt.Errorf("sqlite: close act %d: %w", e.Seq, err)
	}
	var err error
	if r.Code == workflow.CodeNotFound {
		_, err = t.exec(`UPDATE rejected SET resolvedAt = closedAt, resolvedBy = closedByName, resolutionNote = closeReason, closeError = ?
			WHERE id = ? AND resolvedAt IS NULL`, r.Message, a.ID)
	} else {
		_, err = t.exec(`UPDATE rejected SET closedAt = NULL, closedById = NULL, closedByName = NULL, closeReason = NULL, closeError = ?
			WHERE id = ?`, r.Message, a.ID)
	}
	if err != nil {
		return fmt.Errorf("sqlite: record refused close: %w", err)
	}
	return nil
}

// applyResolutions records the server's resolutions of this workstation's
// rejected acts (the first one stands; unknown ids are ignored: the act
// may have been rejected before this replica existed).
func (t *Tx) applyResolutions(rs []syncproto.Resolution) error {
	for _, r := range rs {
		if _, err := t.exec(`UPDATE rejected SET resolvedAt = ?, resolvedBy = ?, resolutionNote = ?, reissuedAs = ?
			WHERE id = ? AND resolvedAt IS NULL`, FormatTime(r.ResolvedAt), r.ResolvedBy, r.Note, nullString(r.ReissuedAs), r.ID); err != nil {
			return fmt.Errorf("sqlite: record resolution: %w", err)
		}
	}
	return nil
}
