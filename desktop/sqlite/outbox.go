package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"wardsync/pipeline"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// Author is who performed an act, with the session the act travels with.
// The outbox keeps the session id and the act's signature, never a bearer
// token.
type Author struct {
	ID        string
	Name      string
	Role      workflow.Role
	SessionID string
}

// Signer signs an act's chain hash with its author's session key
// (syncproto.SignAct), in the transaction that queues it.
type Signer func(m *syncproto.Mutation)

// signature is what sign gives an act whose hash is hash ("" without a
// signer: the server refuses it UNAUTHENTICATED).
func (sign Signer) signature(hash string) string {
	if sign == nil || hash == "" {
		return ""
	}
	m := syncproto.Mutation{Hash: hash}
	sign(&m)
	return m.Signature
}

// NewAct is an act to perform on the replica.
type NewAct struct {
	ID         string // the mutation's own UUID
	Name       string
	Args       json.RawMessage
	OccurredAt time.Time
	Author     Author
	// Sign signs the act once its hash is known.
	Sign Signer
	// Check, when set, vets the mutation once its seq is known and before
	// anything is written (the engine checks that it will fit on the wire).
	Check func(seq int64) error
	// ReissueOf, when set, is the id of an open rejected act this act
	// re-issues ("copy into a new entry"): the act carries it to the
	// server, and the rejected act leaves the open list meanwhile.
	ReissueOf string
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
	// ReissueOf is the rejected act this act re-issues, if any.
	ReissueOf string
	// WaitingFor is set while the act came before its predecessor
	// ("waiting for check-in at reception"): it has no local effect.
	WaitingFor string
	// Parked: the server parked the act (push result deferred); its
	// outcome comes through the feed (changes.outcomes).
	Parked bool
	// PrevHash and Hash chain the act after the device's previous one
	// (syncproto/chain.go); empty until the replica knows its device.
	PrevHash, Hash string
	// Signature is the author's session's signature over Hash.
	Signature string

	// touches are the rows the act read and wrote when it last ran here
	// (touches.go); touchesKnown is false for an act queued before they
	// were recorded.
	touches      touches
	touchesKnown bool
}

// Act runs the named mutator on the replica's rows and, in one
// transaction, writes its effect and appends the act to the outbox. A
// *workflow.Rejection is returned as the mutator gave it, and nothing is
// written.
func (db *DB) Act(ctx context.Context, a NewAct) (seq int64, err error) {
	q, err := db.Queue(ctx, a)
	return q.Seq, err
}

// Queued is what Queue did with an act.
type Queued struct {
	Seq int64
	// WaitingFor is set when the act came before its predecessor and was
	// queued without local effect (OutboxEntry.WaitingFor).
	WaitingFor string
}

// Queue is Act, also telling whether the act waits for its predecessor,
// as the transaction decided it: reading the outbox entry back afterwards
// cost an act a tenth of its time. The act goes through the pipeline's
// steps (package pipeline) against the replica; queueStore says what each
// step does here.
func (db *DB) Queue(ctx context.Context, a NewAct) (Queued, error) {
	var q Queued
	err := db.write(ctx, func(t *Tx) error {
		s := &queueStore{replicaStore: replicaStore{reader: newReader(t)}, t: t, check: a.Check, sign: a.Sign}
		act := &pipeline.Act{Mutation: syncproto.Mutation{ID: a.ID, Name: a.Name, Args: a.Args, OccurredAt: a.OccurredAt,
			SessionID: a.Author.SessionID, AuthorID: a.Author.ID, ReissueOf: a.ReissueOf},
			Actor: workflow.Actor{ID: a.Author.ID, Name: a.Author.Name, Role: a.Author.Role}}
		if _, err := pipeline.Run(ctx, s, act); err != nil {
			return err
		}
		q = s.queued
		return nil
	})
	if err != nil {
		return Queued{}, err
	}
	return q, nil
}

// queueStore is the workstation's pipeline.Store for a new act: it makes
// the act's link in the chain, runs it on the replica's rows (recording
// what it touched, touches.go) and appends it to the outbox, all in
// Queue's one transaction. A refused act is returned as its
// *workflow.Rejection and nothing is written: the user is still at the
// form, and the act never leaves the workstation.
type queueStore struct {
	replicaStore
	t     *Tx
	check func(seq int64) error
	sign  Signer
	// What the steps leave for the record.
	reissueOf string // the rejected act linked, when it was still open
	queued    Queued
}

// Chain gives the act the next seq and links it after the device's last
// act (chain.go); the server checks the link.
func (s *queueStore) Chain(_ context.Context, a *pipeline.Act) (*workflow.Rejection, error) {
	st, err := s.t.state()
	if err != nil {
		return nil, err
	}
	a.Seq = st.LastSeq + 1
	a.PrevHash, a.Hash, err = s.t.actHash(st, syncproto.ActContent{Seq: a.Seq, MutationID: a.ID, Name: a.Name, Args: a.Args,
		OccurredAt: a.OccurredAt, AuthorID: a.AuthorID})
	return nil, err
}

// Author: the author is the user logged in here (a.Actor, set by Queue's
// caller); the server checks their session when the act arrives.
func (s *queueStore) Author(context.Context, *pipeline.Act) (*workflow.Rejection, error) {
	return nil, nil
}

// CloseRejected marks the rejected act closed, by its author, with their
// reason, when it is still open: the close then reaches the server like
// any act.
func (s *queueStore) CloseRejected(_ context.Context, a *pipeline.Act) (*workflow.Rejection, error) {
	args, rej := workflow.DecodeCloseRejected(a.Args)
	if rej != nil {
		return rej, nil
	}
	st, err := s.t.openState(args.ID)
	if err != nil {
		return nil, err
	}
	if rej := workflow.CanResolve(st); rej != nil {
		return rej, nil
	}
	s.closing = true
	_, err = s.t.exec(`UPDATE rejected SET closedAt = ?, closedById = ?, closedByName = ?, closeReason = ?, closeError = NULL WHERE id = ?`,
		FormatTime(a.OccurredAt), a.Actor.ID, a.Actor.Name, args.Reason, args.ID)
	return nil, err
}

// Reissue links the open rejected act the new act re-issues ("copy into a
// new entry"): it leaves the open list meanwhile.
func (s *queueStore) Reissue(_ context.Context, a *pipeline.Act, _ pipeline.Outcome) error {
	linked, err := s.t.markReissued(a.ReissueOf, a.ID)
	if linked {
		s.reissueOf = a.ReissueOf
	}
	return err
}

// Record appends an accepted (or waiting) act to the outbox; a refused
// one is returned as its rejection, so that nothing is written.
func (s *queueStore) Record(_ context.Context, a *pipeline.Act, o pipeline.Outcome) error {
	if o.Rejection != nil && o.Wait == nil {
		return o.Rejection
	}
	if s.check != nil {
		if err := s.check(a.Seq); err != nil {
			return err
		}
	}
	t := s.t
	if _, err := t.exec(`UPDATE sync_state SET lastSeq = ? WHERE singleton = 1`, a.Seq); err != nil {
		return fmt.Errorf("sqlite: assign seq: %w", err)
	}
	var waiting, touches any
	if o.Wait != nil {
		waiting, s.queued.WaitingFor = o.Wait.Sentence, o.Wait.Sentence
	}
	if !s.closing {
		touches = touched(s.seen, s.eff).encode()
	}
	_, err := t.exec(`INSERT INTO outbox (seq, id, name, args, occurredAt, authorId, authorName, authorRole, sessionId, signature,
			reissueOf, waitingFor, prevHash, hash, touches)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, a.Seq, a.ID, a.Name, string(a.Args), FormatTime(a.OccurredAt),
		a.Actor.ID, a.Actor.Name, string(a.Actor.Role), a.SessionID, s.sign.signature(a.Hash), nullString(s.reissueOf), waiting, a.PrevHash, a.Hash,
		touches)
	if err != nil {
		return fmt.Errorf("sqlite: append to outbox: %w", err)
	}
	s.queued.Seq = a.Seq
	return nil
}

// Park: a waiting act is kept in the outbox, flagged (Record).
func (s *queueStore) Park(context.Context, *pipeline.Act, *workflow.Wait) error { return nil }

// Wake: the server decides the acts waiting on a row; the replica learns
// their outcome from its feed.
func (s *queueStore) Wake(context.Context, *pipeline.Act) ([]*pipeline.Act, error) { return nil, nil }

const outboxColumns = `seq, id, name, args, occurredAt, authorId, authorName, authorRole, sessionId, status,
	conflictCode, conflictMessage, conflictField, reissueOf, waitingFor, parked, prevHash, hash, touches, signature`

func scanOutbox(rows rowScanner) (OutboxEntry, error) {
	var e OutboxEntry
	var args, at, role string
	var code, msg, field, reissueOf, waiting, touches sql.NullString
	if err := rows.Scan(&e.Seq, &e.ID, &e.Name, &args, &at, &e.Author.ID, &e.Author.Name, &role, &e.Author.SessionID,
		&e.Status, &code, &msg, &field, &reissueOf, &waiting, &e.Parked, &e.PrevHash, &e.Hash, &touches, &e.Signature); err != nil {
		return e, err
	}
	if touches.Valid {
		var err error
		if e.touches, err = decodeTouches(touches.String); err != nil {
			return e, err
		}
		e.touchesKnown = true
	}
	e.ReissueOf = reissueOf.String
	e.WaitingFor = waiting.String
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
	return scanAll(rows, err, "read outbox", scanOutbox)
}

// Outbox lists up to limit queued acts with seq ≥ from, in seq order
// (limit ≤ 0: all of them).
func (db *DB) Outbox(ctx context.Context, from int64, limit int) ([]OutboxEntry, error) {
	if limit <= 0 {
		limit = -1
	}
	return readValue(ctx, db, func(t *Tx) ([]OutboxEntry, error) {
		return t.outbox(`WHERE seq >= ? ORDER BY seq LIMIT ?`, from, limit)
	})
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
	// Waiting counts acts waiting for their predecessor (queued or parked
	// on the server).
	Waiting int64
	// Rejected counts rejected acts still open: not resolved by the server,
	// not closed or re-issued here.
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
		(SELECT COUNT(*) FROM outbox WHERE waitingFor IS NOT NULL),
		(SELECT COUNT(*) FROM rejected WHERE ` + openRejected + `)
	FROM sync_state s WHERE s.singleton = 1`

// Counts reads the queue counts.
func (db *DB) Counts(ctx context.Context) (Counts, error) {
	return readValue(ctx, db, (*Tx).counts)
}

// CountsAndState reads the queue counts and the sync state from one
// snapshot: the status line needs both after every act, and one read
// transaction costs half of two.
func (db *DB) CountsAndState(ctx context.Context) (Counts, State, error) {
	var c Counts
	var s State
	err := db.read(ctx, func(t *Tx) error {
		var err error
		if c, err = t.counts(); err != nil {
			return err
		}
		s, err = t.state()
		return err
	})
	return c, s, err
}

func (t *Tx) counts() (Counts, error) {
	var c Counts
	err := t.queryRow(countsQuery).Scan(&c.Pending, nullTime{&c.OldestPendingAt}, &c.Unreflected, &c.LikelyRejected, &c.Waiting, &c.Rejected)
	if err != nil {
		return c, fmt.Errorf("sqlite: count queues: %w", err)
	}
	return c, nil
}

// QueuedAct is what the UI lists of an act this workstation queued,
// whatever became of it: the act as entered and who entered it. The
// pending list (desktop.PendingAct) and the rejected list (RejectedAct)
// embed it, so both say an act the same way.
type QueuedAct struct {
	Seq        int64           `json:"seq"`
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Args       json.RawMessage `json:"args"`
	OccurredAt time.Time       `json:"occurredAt"`
	AuthorID   string          `json:"authorId"`
	AuthorName string          `json:"authorName"`
}

// Queued is the entry as the UI lists it.
func (e OutboxEntry) Queued() QueuedAct {
	return QueuedAct{Seq: e.Seq, ID: e.ID, Name: e.Name, Args: e.Args, OccurredAt: e.OccurredAt,
		AuthorID: e.Author.ID, AuthorName: e.Author.Name}
}

// RejectedAct is an act the server refused, kept with everything the user
// entered.
type RejectedAct struct {
	QueuedAct
	AuthorRole workflow.Role      `json:"authorRole"`
	Rejection  workflow.Rejection `json:"rejection"`
	RejectedAt time.Time          `json:"rejectedAt"`
	// DismissedAt is a dismissal made before the review queue (migration
	// 00006); it resolved nothing.
	DismissedAt *time.Time `json:"dismissedAt,omitempty"`
	Review
	// Subject names the patient and visit the act concerns; the engine
	// fills it from the replica when it lists the acts.
	Subject *workflow.ActSubject `json:"subject,omitempty"`
}

// Outcome is what RecordResults did.
type Outcome struct {
	Applied  []int64
	Rejected []RejectedAct
	// Deferred lists the seqs the server parked.
	Deferred []int64
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
		parked := false
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
			if r.WaitingFor != "" && !rejected {
				// Parked on the server: no local effect, the flag says
				// what it waits for, the feed brings the outcome.
				if _, err := t.exec(`UPDATE outbox SET parked = 1, waitingFor = ?, conflictCode = NULL, conflictMessage = NULL, conflictField = NULL
					WHERE seq = ?`, r.WaitingFor, r.Seq); err != nil {
					return fmt.Errorf("sqlite: record deferred act: %w", err)
				}
				out.Deferred = append(out.Deferred, r.Seq)
				parked = true
				continue
			}
			if !rejected {
				// Applied by the server, perhaps after waiting there: it
				// waits no more.
				// A parked act had no local effect; touches = NULL makes
				// the next rebase replay everything, this act included.
				if _, err := t.exec(`UPDATE outbox SET status = 'applied', parked = 0, waitingFor = NULL,
					touches = CASE WHEN parked = 1 THEN NULL ELSE touches END WHERE seq = ?`, r.Seq); err != nil {
					return fmt.Errorf("sqlite: record result: %w", err)
				}
				out.Applied = append(out.Applied, r.Seq)
				continue
			}
			ra, ok, err := t.moveToRejected(r.Seq, "", workflow.Rejection{Code: r.Code, Message: r.Message, Field: r.Field}, now)
			if err != nil {
				return err
			}
			if ok {
				out.Rejected = append(out.Rejected, ra)
			}
		}
		if _, err := t.exec(`UPDATE sync_state SET ackedSeq = ? WHERE singleton = 1`, acked); err != nil {
			return err
		}
		// Acts a pull already reflected, kept only until their outcome
		// was known.
		if _, err := t.exec(`DELETE FROM outbox WHERE seq <= ? AND status = 'applied'`, s.ReflectedSeq); err != nil {
			return err
		}
		if len(out.Rejected) > 0 || parked {
			return t.rebase()
		}
		return nil
	})
	return out, err
}

// moveToRejected moves the outbox entry seq (whose mutation id is id, when
// given) to the rejected list with everything the user typed. ok is false
// when there is no such entry any more.
func (t *Tx) moveToRejected(seq int64, id string, rej workflow.Rejection, now time.Time) (RejectedAct, bool, error) {
	entries, err := t.outbox(`WHERE seq = ?`, seq)
	if err != nil {
		return RejectedAct{}, false, err
	}
	if len(entries) == 0 || (id != "" && entries[0].ID != id) {
		return RejectedAct{}, false, nil // already gone: nothing left to keep
	}
	e := entries[0]
	if workflow.IsBookkeeping(e.Name) {
		// A refused close is not a clinical act: it reopens (or settles)
		// the rejected act it named and never lands in the inbox itself.
		if err := t.closeRefused(e, syncproto.MutationResult{Seq: e.Seq, Status: syncproto.StatusRejected,
			Code: rej.Code, Message: rej.Message, Field: rej.Field}); err != nil {
			return RejectedAct{}, false, err
		}
		if _, err := t.exec(`DELETE FROM outbox WHERE seq = ?`, seq); err != nil {
			return RejectedAct{}, false, fmt.Errorf("sqlite: record rejection: %w", err)
		}
		return RejectedAct{}, false, nil
	}
	if e.ReissueOf != "" {
		// The re-issue failed: the act it replaced is open again.
		if _, err := t.exec(`UPDATE rejected SET reissueId = NULL WHERE id = ? AND reissueId = ?`, e.ReissueOf, e.ID); err != nil {
			return RejectedAct{}, false, fmt.Errorf("sqlite: reopen re-issued act: %w", err)
		}
	}
	ra := RejectedAct{QueuedAct: e.Queued(), AuthorRole: e.Author.Role, Rejection: rej, RejectedAt: now}
	_, err = t.exec(`INSERT OR REPLACE INTO rejected (id, seq, name, args, occurredAt, authorId, authorName, authorRole,
		code, message, field, rejectedAt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.Seq, e.Name, string(e.Args), FormatTime(e.OccurredAt), e.Author.ID, e.Author.Name, string(e.Author.Role),
		string(rej.Code), rej.Message, nullString(rej.Field), FormatTime(now))
	if err != nil {
		return RejectedAct{}, false, fmt.Errorf("sqlite: record rejection: %w", err)
	}
	if _, err := t.exec(`DELETE FROM outbox WHERE seq = ?`, seq); err != nil {
		return RejectedAct{}, false, fmt.Errorf("sqlite: record rejection: %w", err)
	}
	return ra, true, nil
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Rejected lists rejected acts, newest first: the open ones, or all of
// them (resolved, closed and re-issued ones too) when asked.
func (db *DB) Rejected(ctx context.Context, includeResolved bool) ([]RejectedAct, error) {
	where := `WHERE ` + openRejected
	if includeResolved {
		where = ``
	}
	return readValue(ctx, db, func(t *Tx) ([]RejectedAct, error) {
		return t.rejected(where + ` ORDER BY rejectedAt DESC, seq DESC`)
	})
}

// RejectedByID returns one rejected act, dismissed or not.
func (db *DB) RejectedByID(ctx context.Context, id string) (*RejectedAct, error) {
	out, err := readValue(ctx, db, func(t *Tx) ([]RejectedAct, error) { return t.rejected(`WHERE id = ?`, id) })
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
		rejectedAt, dismissedAt, `+reviewColumns+` FROM rejected `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read rejected: %w", err)
	}
	defer rows.Close()
	var out []RejectedAct
	for rows.Next() {
		var r RejectedAct
		var args, at, role, code, rejAt string
		var field sql.NullString
		var rv reviewScan
		if err := rows.Scan(append([]any{&r.ID, &r.Seq, &r.Name, &args, &at, &r.AuthorID, &r.AuthorName, &role, &code,
			&r.Rejection.Message, &field, &rejAt, nullTime{&r.DismissedAt}}, rv.dest()...)...); err != nil {
			return nil, fmt.Errorf("sqlite: read rejected: %w", err)
		}
		if r.Review, err = rv.review(); err != nil {
			return nil, err
		}
		r.Args, r.AuthorRole, r.Rejection.Code, r.Rejection.Field = json.RawMessage(args), workflow.Role(role), workflow.Code(code), field.String
		if r.OccurredAt, err = ParseTime(at); err != nil {
			return nil, err
		}
		if r.RejectedAt, err = ParseTime(rejAt); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
