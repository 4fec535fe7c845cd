// Package pipeline runs one act through its steps in the one order the
// server and the workstation both follow: its link in the device's chain,
// its author, bookkeeping (closing a rejected act), the merged patients it
// names, the mutator with its effect or its wait, the rejected act it
// re-issues, and its outcome.
//
// The order lives here and only here. What each step reads and writes is
// the Store's: server/postgres checks a pushed act against the device's
// chain and its author's session and keeps an audit row; desktop/sqlite
// makes the link, queues the act in its outbox, and replays queued acts on
// the server's rows (the rebase). A check that both sides must make alike
// is written once, in this package.
package pipeline

import (
	"context"
	"encoding/json"

	"wardsync/syncproto"
	"wardsync/workflow"
)

// Act is one act on its way through the steps.
type Act struct {
	// Mutation is the act as the workstation sent (or queues) it: its seq
	// and chain link, its name and arguments as entered, its author's
	// claim and credentials, the rejected act it re-issues.
	syncproto.Mutation
	// Actor is who performed it, once the author step has said so.
	Actor workflow.Actor
	// Applied are the arguments the mutator runs with: Args, with every
	// merged patient followed to the record that survives.
	Applied json.RawMessage
	// Repoints say which merged patients the act was sent on to.
	Repoints []Repoint
	// Online is set for an act performed on the server itself (the
	// dashboard's patient.merge), never for one a workstation sent.
	Online bool
}

// Repoint is an act sent to a merge's survivor instead of the merged
// patient it named.
type Repoint struct {
	Field    string
	From, To string
}

// Outcome is what became of an act.
type Outcome struct {
	// Rejection is nil when the act applied. With Wait set, it is the
	// refusal that says why the act must wait instead.
	Rejection *workflow.Rejection
	// Wait is set when the act came before its predecessor and waits for
	// it (docs/deferred.md).
	Wait *workflow.Wait
}

// Applied reports whether the act applied.
func (o Outcome) Applied() bool { return o.Rejection == nil }

// Store is where an act runs: the rows the mutator reads (workflow.Reader)
// and what each step needs of the store. Every method runs inside the one
// transaction the caller holds for the act. A returned error is an
// infrastructure failure that aborts that transaction; a refusal is a
// *workflow.Rejection result.
type Store interface {
	workflow.Reader
	// Chain checks (server) or makes (workstation) the act's link to the
	// device's act before it.
	Chain(ctx context.Context, a *Act) (*workflow.Rejection, error)
	// Author says who performed the act, and whether they could act from
	// where it comes and when it claims: it sets a.Actor.
	Author(ctx context.Context, a *Act) (*workflow.Rejection, error)
	// CloseRejected applies the bookkeeping act that closes one of the
	// device's rejected acts with a reason.
	CloseRejected(ctx context.Context, a *Act) (*workflow.Rejection, error)
	// MergeOf says where a merged patient went, following chains of
	// merges; nil when the patient was never merged.
	MergeOf(ctx context.Context, patientID string) (*workflow.Merge, error)
	// WriteEffect writes an accepted act's effect. A write the store
	// refuses (a constraint another writer's race tripped) is a rejection,
	// and none of the act's writes remains.
	WriteEffect(ctx context.Context, a *Act, eff workflow.Effect) (*workflow.Rejection, error)
	// LockWait holds the row a too-early act waits on until the
	// transaction ends; again says whether the row may have moved before
	// the lock, so that the act must run once more.
	LockWait(ctx context.Context, w *workflow.Wait) (again bool, err error)
	// Reissue settles the rejected act that a re-issuing act replaces,
	// given the outcome so far.
	Reissue(ctx context.Context, a *Act, o Outcome) error
	// Record keeps the act's outcome.
	Record(ctx context.Context, a *Act, o Outcome) error
	// Park keeps a waiting act until its predecessor lands.
	Park(ctx context.Context, a *Act, w *workflow.Wait) error
	// Wake returns the parked acts the transaction's writes woke (those
	// of an applied act, or of woken acts applied before), for the
	// pipeline to retry; none once every woken act is decided. Record
	// then keeps each one's new outcome: applied, refused, or still
	// waiting.
	Wake(ctx context.Context, a *Act) ([]*Act, error)
}

// Run takes one act through every step, in order, and returns its
// outcome. An error is an infrastructure failure (or the Store's own
// refusal to keep the outcome): nothing of the act may be committed then.
func Run(ctx context.Context, s Store, a *Act) (Outcome, error) {
	o, err := judge(ctx, s, a)
	if err != nil {
		return o, err
	}
	if err := s.Record(ctx, a, o); err != nil {
		return o, err
	}
	switch {
	case o.Wait != nil:
		err = s.Park(ctx, a, o.Wait)
	case o.Applied():
		err = Wake(ctx, s, a)
	}
	return o, err
}

// Wake retries the parked acts that a's writes woke, until the store wakes
// none: each goes through the apply step alone (it was judged when it
// was parked, and its author is the one it was parked with) and its
// outcome is recorded. A woken act that applies moves its row, which may
// wake others: the store returns them on the next call. The server's
// sweeper calls it with a nil act for the acts other writers woke.
func Wake(ctx context.Context, s Store, a *Act) error {
	for {
		woken, err := s.Wake(ctx, a)
		if err != nil || len(woken) == 0 {
			return err
		}
		for _, w := range woken {
			rej, err := Apply(ctx, s, w)
			if err != nil {
				return err
			}
			o := Outcome{Rejection: rej}
			if rej != nil {
				o.Wait = rej.Wait
			}
			if err := s.Record(ctx, w, o); err != nil {
				return err
			}
		}
	}
}

// judge runs the steps up to the outcome's record.
func judge(ctx context.Context, s Store, a *Act) (Outcome, error) {
	if rej, err := s.Chain(ctx, a); err != nil || rej != nil {
		return Outcome{Rejection: rej}, err
	}
	if rej, err := s.Author(ctx, a); err != nil || rej != nil {
		return Outcome{Rejection: rej}, err
	}
	if rej := authorClaim(a); rej != nil {
		return Outcome{Rejection: rej}, nil
	}
	var o Outcome
	if workflow.IsBookkeeping(a.Name) {
		// Not a clinical act: the device closes one of its rejected acts.
		rej, err := s.CloseRejected(ctx, a)
		if err != nil {
			return o, err
		}
		o.Rejection = rej
	} else {
		rej, err := followMerges(ctx, s, a)
		if err != nil {
			return o, err
		}
		o.Rejection = rej
		if rej == nil {
			if o, err = applyOrWait(ctx, s, a); err != nil {
				return o, err
			}
		}
	}
	if a.ReissueOf != "" && (o.Applied() || o.Wait != nil) {
		if err := s.Reissue(ctx, a, o); err != nil {
			return o, err
		}
	}
	return o, nil
}

// authorClaim refuses an act whose hashed author is not the user the
// author step found: the chain must name who really acted.
func authorClaim(a *Act) *workflow.Rejection {
	if a.Actor.ID == "" || a.Actor.ID == a.AuthorID {
		return nil
	}
	return workflow.Reject(workflow.CodeUnauthenticated,
		"The act names %s as its author, but it was signed in a session of %s.", a.AuthorID, a.Actor.Name)
}

// followMerges looks at the arguments that name a patient. When one names
// a merged patient, the act is either sent on to the survivor (a.Applied
// and a.Repoints say so) or refused with workflow.MergedAway's sentence.
func followMerges(ctx context.Context, s Store, a *Act) (*workflow.Rejection, error) {
	a.Applied, a.Repoints = a.Args, nil
	refs := workflow.PatientArgs(a.Name)
	if len(refs) == 0 {
		return nil, nil
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(a.Args, &fields) != nil {
		return nil, nil // the mutator says what is wrong with them
	}
	args := a.Args
	for _, ref := range refs {
		var id string
		if json.Unmarshal(fields[ref.Field], &id) != nil || !workflow.IsUUID(id) {
			continue
		}
		merge, err := s.MergeOf(ctx, id)
		if err != nil {
			return nil, err
		}
		if merge == nil {
			continue
		}
		if !ref.Follows {
			return workflow.MergedAway(a.Name, ref, *merge), nil
		}
		if args, err = workflow.WithArg(args, ref.Field, merge.SurvivorID); err != nil {
			return nil, err
		}
		a.Repoints = append(a.Repoints, Repoint{Field: ref.Field, From: id, To: merge.SurvivorID})
	}
	a.Applied = args
	return nil, nil
}

// applyOrWait runs the mutator; when it says the act only came too early,
// the row waited on is locked and the act run once more, so that the
// answer (applied, still waiting, refused) holds until commit.
func applyOrWait(ctx context.Context, s Store, a *Act) (Outcome, error) {
	rej, err := Apply(ctx, s, a)
	if err != nil || rej == nil || rej.Wait == nil {
		return Outcome{Rejection: rej}, err
	}
	again, err := s.LockWait(ctx, rej.Wait)
	if err != nil {
		return Outcome{}, err
	}
	if again {
		rej, err = Apply(ctx, s, a)
		if err != nil || rej == nil || rej.Wait == nil {
			return Outcome{Rejection: rej}, err
		}
	}
	return Outcome{Rejection: rej, Wait: rej.Wait}, nil
}

// Apply is the apply step alone: the mutator, then the effect's write. A
// parked act retried when its row moves (Wake), and an act performed on
// the server itself (patient.merge from the dashboard), were judged by the
// other steps already, or need none of them.
func Apply(ctx context.Context, s Store, a *Act) (*workflow.Rejection, error) {
	args := a.Applied
	if args == nil {
		args = a.Args
	}
	m := workflow.Mutation{ID: a.ID, Name: a.Name, Args: args, Actor: a.Actor, OccurredAt: a.OccurredAt, Online: a.Online}
	eff, err := workflow.Apply(ctx, s, m)
	if err != nil {
		if r, ok := workflow.AsRejection(err); ok {
			return r, nil
		}
		return nil, err
	}
	return s.WriteEffect(ctx, a, eff)
}
