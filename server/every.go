package server

import (
	"context"
	"time"
)

// Every calls chore every period, and at once whenever wake receives (a nil
// wake never does), until ctx ends; ticked says the period ran out. The
// server's background chores (pruning, presence, session checks) share
// this loop.
func Every(ctx context.Context, period time.Duration, wake <-chan struct{}, chore func(ticked bool)) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
			chore(false)
		case <-t.C:
			chore(true)
		}
	}
}
