package postgres

import (
	"context"

	"wardsync/pipeline"
	"wardsync/workflow"
)

// applyHere runs an act the server decides itself through the apply step
// (pipeline.Apply) and releases its savepoint: a parked act retried, the
// dashboard's merge.
func (st *pushStore) applyHere(ctx context.Context, a *pipeline.Act) (*workflow.Rejection, error) {
	rej, err := pipeline.Apply(ctx, st, a)
	if err != nil || rej != nil {
		return rej, err
	}
	return nil, st.release(ctx)
}

// release releases an applied act's savepoint when no audit row carries it
// (an act the server decides itself).
func (st *pushStore) release(ctx context.Context) error {
	if !st.open {
		return nil
	}
	st.open = false
	_, err := st.tx.Exec(ctx, releaseAct)
	return err
}
