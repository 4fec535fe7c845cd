package sqlite

import (
	"context"
	"fmt"
	"time"
)

// The checkpointer. In WAL mode a commit only appends to the -wal file; a
// checkpoint later copies those pages into the database file. SQLite's
// automatic checkpoint runs inside whichever commit crosses 1,000 WAL
// pages, so every ~50th act paid for the copy and two fsyncs: the local
// act row's p99 (docs/bench.md). The replica's connections switch it off
// (DSN: wal_autocheckpoint(0)) and one goroutine per DB runs PASSIVE
// checkpoints instead, soon after writes, at most once per CheckpointEvery.
//
// Durability does not depend on it: a transaction is committed once its
// frames are in the WAL (synchronous NORMAL, unchanged), a checkpoint
// only moves committed pages, and a crash in the middle of one is
// recovered from the WAL on the next open. PASSIVE never takes the write
// lock and never waits for readers: acts and queries go on meanwhile. The
// WAL restarts from its beginning after a checkpoint that backfilled
// everything, so it stays bounded by what is written between two
// checkpoints.

// CheckpointEvery is the shortest time between two background checkpoints:
// long enough that one checkpoint covers many acts (its fsyncs are paid
// once for all of them), short enough that the WAL stays small.
const CheckpointEvery = time.Second

// CheckpointResult is what a PASSIVE checkpoint reported.
type CheckpointResult struct {
	// Busy: the checkpoint could not run to completion (another
	// connection held the checkpoint lock).
	Busy bool
	// Frames in the WAL, and how many of them are now in the file.
	WALFrames, Checkpointed int
}

// Checkpoint copies the WAL's committed pages into the database file
// (PASSIVE: as far as readers allow, without blocking anyone).
func (db *DB) Checkpoint(ctx context.Context) (CheckpointResult, error) {
	var r CheckpointResult
	var busy int
	if err := db.sql.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &r.WALFrames, &r.Checkpointed); err != nil {
		return r, fmt.Errorf("sqlite: checkpoint: %w", err)
	}
	r.Busy = busy != 0
	return r, nil
}

// startCheckpointer starts the background checkpointer; Close stops it.
func (db *DB) startCheckpointer(every time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	db.ckKick, db.ckStop, db.ckDone, db.ckEvery = make(chan struct{}, 1), cancel, make(chan struct{}), every
	go db.checkpointLoop(ctx)
}

func (db *DB) stopCheckpointer() {
	if db.ckStop == nil {
		return
	}
	db.ckStop()
	<-db.ckDone
}

func (db *DB) checkpointLoop(ctx context.Context) {
	defer close(db.ckDone)
	pause := time.NewTimer(db.ckEvery)
	pause.Stop()
	defer pause.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-db.ckKick:
		}
		r, err := db.Checkpoint(ctx)
		if ctx.Err() != nil {
			return // interrupted by Close: the closing connection checkpoints
		}
		// A failed checkpoint loses nothing (the WAL still holds every
		// page) and the next write retries it; only tests look.
		if db.checkpoint != nil {
			db.checkpoint(r, err)
		}
		// Writes during the pause leave their kick in the channel: the
		// next checkpoint covers all of them.
		pause.Reset(db.ckEvery)
		select {
		case <-ctx.Done():
			return
		case <-pause.C:
		}
	}
}

// kick wakes a goroutine without ever blocking: one pending wake-up is
// as good as many.
func kick(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
