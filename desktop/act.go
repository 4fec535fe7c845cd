package desktop

import (
	"context"
	"encoding/json"
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
}

// Act performs the named act as userID: the workflow's mutator runs on the
// replica, and its effect and the outbox entry are written in one
// transaction. A refusal is the *workflow.Rejection the server would give,
// and nothing is written. The act carries the author's own session token.
func (e *Engine) Act(ctx context.Context, userID, name string, args json.RawMessage) (*Acted, error) {
	c, err := e.author(ctx, userID)
	if err != nil {
		return nil, err
	}
	id := uuid.NewString()
	at := e.cfg.Now().UTC().Truncate(time.Millisecond)
	seq, err := e.db.Act(ctx, sqlite.NewAct{ID: id, Name: name, Args: args, OccurredAt: at,
		Author: sqlite.Author{ID: c.UserID, Name: c.Name, Role: c.Role, Token: c.Token},
		Check: func(seq int64) error {
			return wireCheck(syncproto.Mutation{Seq: seq, ID: id, Name: name, Args: args, OccurredAt: at, AuthorToken: c.Token})
		}})
	if err != nil {
		return nil, err
	}
	e.refreshQuietly(ctx)
	kick(e.actKick)
	return &Acted{ID: id, Seq: seq, OccurredAt: at}, nil
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
	Seq        int64           `json:"seq"`
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Args       json.RawMessage `json:"args"`
	OccurredAt time.Time       `json:"occurredAt"`
	AuthorID   string          `json:"authorId"`
	AuthorName string          `json:"authorName"`
	// Applied: the server applied it and the replica awaits its changes.
	Applied bool `json:"applied"`
	// LikelyRejection says why the act will likely be rejected: it no
	// longer applies to the server's newer state.
	LikelyRejection *workflow.Rejection `json:"likelyRejection,omitempty"`
}

// Pending lists the queued acts in seq order.
func (e *Engine) Pending(ctx context.Context) ([]PendingAct, error) {
	entries, err := e.db.Outbox(ctx, 0, 0)
	if err != nil {
		return nil, err
	}
	out := make([]PendingAct, len(entries))
	for i, x := range entries {
		out[i] = PendingAct{Seq: x.Seq, ID: x.ID, Name: x.Name, Args: x.Args, OccurredAt: x.OccurredAt,
			AuthorID: x.Author.ID, AuthorName: x.Author.Name, Applied: x.Status == sqlite.StatusApplied, LikelyRejection: x.Conflict}
	}
	return out, nil
}

// RejectedAct is an act the server refused, with everything that was typed.
type RejectedAct = sqlite.RejectedAct

// Rejected lists the rejected acts, newest first (dismissed ones only if asked).
func (e *Engine) Rejected(ctx context.Context, includeDismissed bool) ([]RejectedAct, error) {
	return e.db.Rejected(ctx, includeDismissed)
}

// Dismiss marks a rejected act as seen. It is kept, args included.
func (e *Engine) Dismiss(ctx context.Context, id string) error {
	if err := e.db.Dismiss(ctx, id, e.cfg.Now()); err != nil {
		return err
	}
	e.refreshQuietly(ctx)
	return nil
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
