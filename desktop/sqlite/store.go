package sqlite

import (
	"context"

	"wardsync/pipeline"
	"wardsync/workflow"
)

// replicaStore is what the replica's two pipeline stores share: queueStore
// runs a new act, replayStore runs a queued one again on the server's newer
// rows (the rebase). Both read through reader, which notes the rows the
// mutator asks for, and keep the effect they wrote for the act's touches.
type replicaStore struct {
	*reader
	eff     workflow.Effect
	closing bool // a bookkeeping act: it touches no replicated row
}

// MergeOf: the replica does not know of merges; the server follows them
// when the act arrives.
func (s *replicaStore) MergeOf(context.Context, string) (*workflow.Merge, error) { return nil, nil }

// WriteEffect writes the act's effect on the replica's rows, keeping their
// server version for the rebase (rows.go). The mutator accepted it, so the
// replica must take it; if it cannot, the file is inconsistent and nothing
// may be committed.
func (s *replicaStore) WriteEffect(_ context.Context, _ *pipeline.Act, eff workflow.Effect) (*workflow.Rejection, error) {
	s.eff = eff
	return nil, s.t.applyEffect(eff)
}

// LockWait: no other writer moves the replica's rows meanwhile, so the
// act need not run again. A new act is queued without local effect,
// flagged with what it waits for: the predecessor is on another
// workstation, and the server applies the act when it lands
// (docs/deferred.md). Showing its effect now would show a state the ward
// has not reached.
func (s *replicaStore) LockWait(context.Context, *workflow.Wait) (bool, error) { return false, nil }
