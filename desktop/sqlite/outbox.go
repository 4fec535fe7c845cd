package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"wardsync/syncproto"
	"wardsync/workflow"
)

// Author is who performed an act, with the session token the act travels with.
type Author struct {
	ID    string
	Name  string
	Role  workflow.Role
	Token string
}

// NewAct is an act to perform on the replica.
type NewAct struct {
	ID         string // the mutation's own UUID
	Name       string
	Args       json.RawMessage
	OccurredAt time.Time
	Author     Author
	// Check, when set, vets the mutation once its seq is known and before
	// anything is written (the engine checks that it will fit on the wire).
	Check func(seq int64) error
}

// Outbox statuses.
const (
	StatusQueued  = "queued"
	StatusApplied = "applied"
)

// OutboxEntry is one queued act.
type OutboxEntry struct {
	Seq        int64
	ID         string
	Name       string
	Args       json.RawMessage
	OccurredAt time.Time
	Author     Author
	// Status is StatusQueued (outcome unknown) or StatusApplied (the server
	// applied it; the replica keeps its effect until a pull reflects it).
	Status string
	// Conflict is set when the act no longer applies to the server's newer
	// state: it will likely be rejected, for this reason.
	Conflict *workflow.Rejection
	// PrevHash and Hash chain the act after the device's previous one
	// (syncproto/chain.go); empty until the replica knows its device.
	PrevHash, Hash string
}

// Act runs the named mutator on the replica's rows and, in one
// transaction, writes its effect and appends the act to the outbox. A
// *workflow.Rejection is returned as the mutator gave it, and nothing is
// written.
func (db *DB) Act(ctx context.Context, a NewAct) (seq int64, err error) {
	err = db.write(ctx, func(t *Tx) error {
		m := workflow.Mutation{ID: a.ID, Name: a.Name, Args: a.Args, OccurredAt: a.OccurredAt,
			Actor: workflow.Actor{ID: a.Author.ID, Name: a.Author.Name, Role: a.Author.Role}}
		eff, err := workflow.Apply(ctx, reader{t}, m)
		if err != nil {
			return err
		}
		s, err := t.state()
		if err != nil {
			return err
		}
		seq = s.LastSeq + 1
		if a.Check != nil {
			if err := a.Check(seq); err != nil {
				return err
			}
		}
		if err := t.applyEffect(eff); err != nil {
			return err
		}
		if _, err := t.exec(`UPDATE sync_state SET lastSeq = ? WHERE singleton = 1`, seq); err != nil {
			return fmt.Errorf("sqlite: assign seq: %w", err)
		}
		prev, hash, err := t.actHash(s, syncproto.ActContent{Seq: seq, MutationID: a.ID, Name: a.Name, Args: a.Args,
			OccurredAt: a.OccurredAt, AuthorID: a.Author.ID})
		if err != nil {
			return err
		}
		_, err = t.exec(`INSERT INTO outbox (seq, id, name, args, occurredAt, authorId, authorName, authorRole, authorToken, prevHash, hash)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, seq, a.ID, a.Name, string(a.Args), FormatTime(a.OccurredAt),
			a.Author.ID, a.Author.Name, string(a.Author.Role), a.Author.Token, prev, hash)
		if err != nil {
			return fmt.Errorf("sqlite: append to outbox: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return seq, nil
}

const outboxColumns = `seq, id, name, args, occurredAt, authorId, authorName, authorRole, authorToken, status,
	conflictCode, conflictMessage, conflictField, prevHash, hash`

func scanOutbox(rows *sql.Rows) (OutboxEntry, error) {
	var e OutboxEntry
	var args, at, role string
	var code, msg, field sql.NullString
	if err := rows.Scan(&e.Seq, &e.ID, &e.Name, &args, &at, &e.Author.ID, &e.Author.Name, &role, &e.Author.Token,
		&e.Status, &code, &msg, &field, &e.PrevHash, &e.Hash); err != nil {
		return e, err
	}
	e.Args = json.RawMessage(args)
	e.Author.Role = workflow.Role(role)
	var err error
	if e.OccurredAt, err = ParseTime(at); err != nil {
		return e, err
	}
	if code.Valid {
		e.Conflict = &workflow.Rejection{Code: workflow.Code(code.String), Message: msg.String, Field: field.String}
	}
	return e, nil
}

func (t *Tx) outbox(where string, args ...any) ([]OutboxEntry, error) {
	rows, err := t.query(`SELECT `+outboxColumns+` FROM outbox `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read outbox: %w", err)
	}
	defer rows.Close()
	var out []OutboxEntry
	for rows.Next() {
		e, err := scanOutbox(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: read outbox: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Outbox lists up to limit queued acts with seq ≥ from, in seq order
// (limit ≤ 0: all of them).
func (db *DB) Outbox(ctx context.Context, from int64, limit int) ([]OutboxEntry, error) {
	if limit <= 0 {
		limit = -1
	}
	var out []OutboxEntry
	err := db.read(ctx, func(t *Tx) error {
		var err error
		out, err = t.outbox(`WHERE seq >= ? ORDER BY seq LIMIT ?`, from, limit)
		return err
	})
	return out, err
}

// Counts summarises the queues for the status line.
type Counts struct {
	// Pending counts acts whose outcome the server has not told yet.
	Pending         int64
	OldestPendingAt *time.Time
	// Unreflected counts every act in the outbox, pending or applied but
	// not yet seen in a pull.
	Unreflected int64
	// LikelyRejected counts queued acts that no longer apply locally.
	LikelyRejected int64
	// Rejected counts rejected acts not dismissed.
	Rejected int64
}

// countsQuery reads the queue counts. It runs after every act, so no part
// may walk the outbox's own rows (the arguments make them large): the
// pending acts are all acts less the few acknowledged ones still waiting
// for a pull, and the indexes of migration 00003 serve the rest.
const countsQuery = `SELECT
		(SELECT COUNT(*) FROM outbox) - (SELECT COUNT(*) FROM outbox WHERE seq <= s.ackedSeq),
		(SELECT MIN(occurredAt) FROM outbox WHERE seq > s.ackedSeq),
		(SELECT COUNT(*) FROM outbox),
		(SELECT COUNT(*) FROM outbox WHERE conflictCode IS NOT NULL),
		(SELECT COUNT(*) FROM rejected WHERE dismissedAt IS NULL)
	FROM sync_state s WHERE s.singleton = 1`

// Counts reads the queue counts.
func (db *DB) Counts(ctx context.Context) (Counts, error) {
	var c Counts
	err := db.read(ctx, func(t *Tx) error {
		var oldest sql.NullString
		err := t.queryRow(countsQuery).Scan(&c.Pending, &oldest, &c.Unreflected, &c.LikelyRejected, &c.Rejected)
		if err != nil {
			return fmt.Errorf("sqlite: count queues: %w", err)
		}
		c.OldestPendingAt, err = parseNullTime(oldest)
		return err
	})
	return c, err
}

// RejectedAct is an act the server refused, kept with everything the user
// entered.
type RejectedAct struct {
	ID          string             `json:"id"`
	Seq         int64              `json:"seq"`
	Name        string             `json:"name"`
	Args        json.RawMessage    `json:"args"`
	OccurredAt  time.Time          `json:"occurredAt"`
	AuthorID    string             `json:"authorId"`
	AuthorName  string             `json:"authorName"`
	AuthorRole  workflow.Role      `json:"authorRole"`
	Rejection   workflow.Rejection `json:"rejection"`
	RejectedAt  time.Time          `json:"rejectedAt"`
	DismissedAt *time.Time         `json:"dismissedAt,omitempty"`
}

// Outcome is what RecordResults did.
type Outcome struct {
	Applied  []int64
	Rejected []RejectedAct
}

// RecordResults records the server's outcome of pushed acts, in one
// transaction. An applied act stays in the outbox (status applied) until a
// pull reflects it, so that its effect does not flicker away in between. A
// rejected one moves, with its args, to the rejected list, and the replica
// is rebased so that its effect disappears.
func (db *DB) RecordResults(ctx context.Context, results []syncproto.MutationResult, now time.Time) (Outcome, error) {
	var out Outcome
	err := db.write(ctx, func(t *Tx) error {
		out = Outcome{}
		s, err := t.state()
		if err != nil {
			return err
		}
		acked := s.AckedSeq
		for _, r := range results {
			acked = max(acked, r.Seq)
		}
		// The pending acts' chain now hangs from the last act with an
		// outcome: remember its hash before the rejected ones leave.
		if acked > s.AckedSeq {
			if h, ok, err := t.ackedHashOf(acked); err != nil {
				return err
			} else if ok {
				if _, err := t.exec(`UPDATE sync_state SET ackedHash = ? WHERE singleton = 1`, h); err != nil {
					return err
				}
			}
		}
		for _, r := range results {
			acked = max(acked, r.Seq)
			rejected := r.Status == syncproto.StatusRejected || (r.Status == syncproto.StatusDuplicate && r.Code != "")
			if !rejected {
				if _, err := t.exec(`UPDATE outbox SET status = 'applied' WHERE seq = ?`, r.Seq); err != nil {
					return fmt.Errorf("sqlite: record result: %w", err)
				}
				out.Applied = append(out.Applied, r.Seq)
				continue
			}
			entries, err := t.outbox(`WHERE seq = ?`, r.Seq)
			if err != nil {
				return err
			}
			if len(entries) == 0 {
				continue // already gone: nothing left to keep
			}
			e := entries[0]
			ra := RejectedAct{ID: e.ID, Seq: e.Seq, Name: e.Name, Args: e.Args, OccurredAt: e.OccurredAt,
				AuthorID: e.Author.ID, AuthorName: e.Author.Name, AuthorRole: e.Author.Role,
				Rejection: workflow.Rejection{Code: r.Code, Message: r.Message, Field: r.Field}, RejectedAt: now}
			_, err = t.exec(`INSERT OR REPLACE INTO rejected (id, seq, name, args, occurredAt, authorId, authorName, authorRole,
				code, message, field, rejectedAt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				e.ID, e.Seq, e.Name, string(e.Args), FormatTime(e.OccurredAt), e.Author.ID, e.Author.Name, string(e.Author.Role),
				string(r.Code), r.Message, nullString(r.Field), FormatTime(now))
			if err != nil {
				return fmt.Errorf("sqlite: record rejection: %w", err)
			}
			if _, err := t.exec(`DELETE FROM outbox WHERE seq = ?`, r.Seq); err != nil {
				return fmt.Errorf("sqlite: record rejection: %w", err)
			}
			out.Rejected = append(out.Rejected, ra)
		}
		if _, err := t.exec(`UPDATE sync_state SET ackedSeq = ? WHERE singleton = 1`, acked); err != nil {
			return err
		}
		// Acts a pull already reflected, kept only until their outcome
		// was known.
		if _, err := t.exec(`DELETE FROM outbox WHERE seq <= ? AND status = 'applied'`, s.ReflectedSeq); err != nil {
			return err
		}
		if len(out.Rejected) > 0 {
			return t.rebase()
		}
		return nil
	})
	return out, err
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Rejected lists rejected acts, newest first; dismissed ones only when asked.
func (db *DB) Rejected(ctx context.Context, includeDismissed bool) ([]RejectedAct, error) {
	where := `WHERE dismissedAt IS NULL`
	if includeDismissed {
		where = ``
	}
	var out []RejectedAct
	err := db.read(ctx, func(t *Tx) error {
		var err error
		out, err = t.rejected(where + ` ORDER BY rejectedAt DESC, seq DESC`)
		return err
	})
	return out, err
}

// RejectedByID returns one rejected act, dismissed or not.
func (db *DB) RejectedByID(ctx context.Context, id string) (*RejectedAct, error) {
	var out []RejectedAct
	err := db.read(ctx, func(t *Tx) error {
		var err error
		out, err = t.rejected(`WHERE id = ?`, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("rejected act %s: %w", id, workflow.ErrNotFound)
	}
	return &out[0], nil
}

func (t *Tx) rejected(where string, args ...any) ([]RejectedAct, error) {
	rows, err := t.query(`SELECT id, seq, name, args, occurredAt, authorId, authorName, authorRole, code, message, field,
		rejectedAt, dismissedAt FROM rejected `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read rejected: %w", err)
	}
	defer rows.Close()
	var out []RejectedAct
	for rows.Next() {
		var r RejectedAct
		var args, at, role, code, rejAt string
		var field, dismissed sql.NullString
		if err := rows.Scan(&r.ID, &r.Seq, &r.Name, &args, &at, &r.AuthorID, &r.AuthorName, &role, &code,
			&r.Rejection.Message, &field, &rejAt, &dismissed); err != nil {
			return nil, fmt.Errorf("sqlite: read rejected: %w", err)
		}
		r.Args, r.AuthorRole, r.Rejection.Code, r.Rejection.Field = json.RawMessage(args), workflow.Role(role), workflow.Code(code), field.String
		if r.OccurredAt, err = ParseTime(at); err != nil {
			return nil, err
		}
		if r.RejectedAt, err = ParseTime(rejAt); err != nil {
			return nil, err
		}
		if r.DismissedAt, err = parseNullTime(dismissed); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Dismiss marks a rejected act as seen; it is kept (with its args) but no
// longer counted or listed by default.
func (db *DB) Dismiss(ctx context.Context, id string, now time.Time) error {
	return db.write(ctx, func(t *Tx) error {
		res, err := t.exec(`UPDATE rejected SET dismissedAt = COALESCE(dismissedAt, ?) WHERE id = ?`, FormatTime(now), id)
		if err != nil {
			return fmt.Errorf("sqlite: dismiss: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("rejected act %s: %w", id, workflow.ErrNotFound)
		}
		return nil
	})
}

// ErrNotFound is workflow's, re-exported for callers of this package.
var ErrNotFound = workflow.ErrNotFound

// IsNotFound reports whether err means a missing row.
func IsNotFound(err error) bool { return errors.Is(err, workflow.ErrNotFound) }
