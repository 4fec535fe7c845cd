package desktop

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/google/uuid"

	"wardsync/desktop/sqlite"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// Acted identifies a queued act.
type Acted struct {
	ID         string    `json:"id"`
	Seq        int64     `json:"seq"`
	OccurredAt time.Time `json:"occurredAt"`
	// WaitingFor is set when the act came before its predecessor: it is
	// queued without local effect, "waiting for check-in at reception",
	// and the server applies it when the predecessor lands.
	WaitingFor string `json:"waitingFor,omitempty"`
}

// Act performs the named act as userID: the workflow's mutator runs on the
// replica, and its effect and the outbox entry are written in one
// transaction. A refusal is the *workflow.Rejection the server would give,
// and nothing is written. The act is signed with the author's own session key.
func (e *Engine) Act(ctx context.Context, userID, name string, args json.RawMessage) (*Acted, error) {
	return e.Reissue(ctx, userID, name, args, "")
}

// Reissue is Act for an act entered from a rejected one ("copy into a new
// entry"): the new act carries reissueOf, the rejected act's id, to the
// server, which resolves the rejected act when the new one is applied.
// The rejected act must still be open here; it leaves the open list
// meanwhile, and comes back if the new act is rejected too. An empty
// reissueOf is a plain Act.
func (e *Engine) Reissue(ctx context.Context, userID, name string, args json.RawMessage, reissueOf string) (*Acted, error) {
	if workflow.IsBookkeeping(name) {
		return nil, workflow.Reject(workflow.CodeUnknownMutation, "%s is not an act; close a rejected act with CloseRejected.", name)
	}
	c, author, sign, err := e.signingAuthor(ctx, userID)
	if err != nil {
		return nil, err
	}
	id := uuid.NewString()
	at := e.cfg.Now().UTC().Truncate(time.Millisecond)
	q, err := e.db.Queue(ctx, sqlite.NewAct{ID: id, Name: name, Args: args, OccurredAt: at, ReissueOf: reissueOf,
		Author: author, Sign: sign,
		Check: func(seq int64) error {
			m := draft(c, seq, id, name, args, at)
			m.ReissueOf = reissueOf
			return wireCheck(m)
		}})
	if err != nil {
		return nil, err
	}
	acted := &Acted{ID: id, Seq: q.Seq, OccurredAt: at, WaitingFor: q.WaitingFor}
	e.refreshQuietly(ctx)
	kick(e.actKick)
	return acted, nil
}

// draft is an act of c's as it will travel, but for its hashes, which
// the queue writes (any well-formed ones check the size and shape the
// same).
func draft(c *sqlite.Credential, seq int64, id, name string, args json.RawMessage, at time.Time) syncproto.Mutation {
	return syncproto.Mutation{Seq: seq, ID: id, Name: name, Args: args, OccurredAt: at, SessionID: c.SessionID,
		AuthorID: c.UserID, PrevHash: placeholderHash, Hash: placeholderHash}
}

// wireCheck refuses an act the server could not decode: queued, it would
// block every act after it.
func wireCheck(m syncproto.Mutation) error {
	if err := m.Validate(); err != nil {
		r, _ := workflow.AsRejection(err)
		out := &workflow.Rejection{Code: workflow.CodeValidationFailed, Message: "This act cannot be sent to the server: " + err.Error()}
		if r != nil {
			out.Field = r.Field
		}
		return out
	}
	if _, err := syncproto.Encode(&syncproto.Push{RequestID: "r-0", Mutations: []syncproto.Mutation{m}}); err != nil {
		return &workflow.Rejection{Code: workflow.CodeValidationFailed,
			Message: "This act is too large to send to the server; shorten the texts or attach large content as a document."}
	}
	return nil
}

// PendingAct is a queued act as the UI lists it.
type PendingAct struct {
	sqlite.QueuedAct
	// Applied: the server applied it and the replica awaits its changes.
	Applied bool `json:"applied"`
	// LikelyRejection says why the act will likely be rejected: it no
	// longer applies to the server's newer state.
	LikelyRejection *workflow.Rejection `json:"likelyRejection,omitempty"`
	// WaitingFor says what the act waits for ("waiting for check-in at
	// reception"): it came before its predecessor and has no local effect
	// yet. Parked: the server holds it and will apply or reject it.
	WaitingFor string `json:"waitingFor,omitempty"`
	Parked     bool   `json:"parked"`
	// Subject names the patient and visit the act concerns.
	Subject *workflow.ActSubject `json:"subject,omitempty"`
}

// Pending lists the queued acts in seq order.
func (e *Engine) Pending(ctx context.Context) ([]PendingAct, error) {
	entries, err := e.db.Outbox(ctx, 0, 0)
	if err != nil {
		return nil, err
	}
	out := make([]PendingAct, len(entries))
	for i, x := range entries {
		out[i] = PendingAct{QueuedAct: x.Queued(), Applied: x.Status == sqlite.StatusApplied, LikelyRejection: x.Conflict,
			WaitingFor: x.WaitingFor, Parked: x.Parked}
	}
	return named(ctx, e, out, func(x *PendingAct) (string, json.RawMessage, **workflow.ActSubject) {
		return x.Name, x.Args, &x.Subject
	})
}

// named returns acts with the patient and visit each concerns: act gives
// an act's name and arguments and where its subject goes (nil for an act
// that names none).
func named[T any](ctx context.Context, e *Engine, acts []T, act func(*T) (string, json.RawMessage, **workflow.ActSubject)) ([]T, error) {
	refs := make([]workflow.ActRefs, len(acts))
	for i := range acts {
		name, args, _ := act(&acts[i])
		refs[i] = workflow.RefsOf(name, args)
	}
	found, err := e.db.Subjects(ctx, refs)
	if err != nil {
		return nil, err
	}
	for i := range acts {
		_, _, subject := act(&acts[i])
		*subject = nil
		if i < len(found) && found[i].Known() {
			*subject = &found[i]
		}
	}
	return acts, nil
}

// RejectedAct is an act the server refused, with everything that was typed.
type RejectedAct = sqlite.RejectedAct

// Rejected lists the rejected acts, newest first: the open ones, or all
// of them (closed, re-issued, resolved) when asked.
func (e *Engine) Rejected(ctx context.Context, includeResolved bool) ([]RejectedAct, error) {
	out, err := e.db.Rejected(ctx, includeResolved)
	if err != nil {
		return nil, err
	}
	return named(ctx, e, out, func(x *RejectedAct) (string, json.RawMessage, **workflow.ActSubject) {
		return x.Name, x.Args, &x.Subject
	})
}

// CloseRejected closes an open rejected act with a written reason, as
// userID. It is kept (args included) and queued to the server as the
// bookkeeping act rejected.close, which records who closed it, when and
// why; while offline it waits in the outbox like any act.
func (e *Engine) CloseRejected(ctx context.Context, userID, id, reason string) (*Acted, error) {
	c, author, sign, err := e.signingAuthor(ctx, userID)
	if err != nil {
		return nil, err
	}
	mid := uuid.NewString()
	at := e.cfg.Now().UTC().Truncate(time.Millisecond)
	seq, err := e.db.CloseRejected(ctx, sqlite.CloseAct{ID: mid, RejectedID: id, Reason: reason, At: at,
		Author: author, Sign: sign,
		Check: func(seq int64, args json.RawMessage) error {
			return wireCheck(draft(c, seq, mid, workflow.CloseRejected, args, at))
		}})
	if err != nil {
		return nil, err
	}
	e.refreshQuietly(ctx)
	kick(e.actKick)
	return &Acted{ID: mid, Seq: seq, OccurredAt: at}, nil
}

// CopyRejected returns a rejected act's name and args, to prefill a new
// entry with what the user typed.
func (e *Engine) CopyRejected(ctx context.Context, id string) (name string, args json.RawMessage, err error) {
	r, err := e.db.RejectedByID(ctx, id)
	if err != nil {
		return "", nil, err
	}
	return r.Name, append(json.RawMessage(nil), r.Args...), nil
}

var placeholderHash = strings.Repeat("0", syncproto.HashHexLen)
