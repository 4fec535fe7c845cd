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

// walRestartFrames is the WAL's size (4 KB pages) past which the
// checkpointer catches up with the write lock held (checkpointOnce):
// 16 MB, four times what SQLite's automatic checkpoint allowed.
const walRestartFrames = 4096

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
	row := db.sql.QueryRowContext
	if db.ckConn != nil {
		row = db.ckConn.QueryRowContext
	}
	if err := row(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &r.WALFrames, &r.Checkpointed); err != nil {
		return r, fmt.Errorf("sqlite: checkpoint: %w", err)
	}
	r.Busy = busy != 0
	return r, nil
}

// checkpointOnce is one background checkpoint. SQLite starts the WAL over
// only when a write begins with every frame checkpointed; under a steady
// stream of writes (a backlog of acts, an initial sync) some always
// commit while a checkpoint runs, and the WAL would grow without end.
// So once it is past restartFrames, a second pass copies what those
// writes added with this process's writers held off — a short wait, the
// first pass did the bulk — and the next write starts the WAL over.
func (db *DB) checkpointOnce(ctx context.Context) (CheckpointResult, error) {
	r, err := db.Checkpoint(ctx)
	if err != nil || r.Busy || r.WALFrames < db.ckRestart {
		return r, err
	}
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	return db.Checkpoint(ctx)
}

// startCheckpointer starts the background checkpointer (unless every < 0,
// for tests that checkpoint by hand); Close stops it.
func (db *DB) startCheckpointer(every time.Duration, restartFrames int) {
	db.ckRestart = restartFrames
	db.ckKick = make(chan struct{}, 1)
	if every < 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	// A connection of its own: taking one from the pool now and then made
	// the pool keep one more, and the writes rotate through the pool's
	// connections, each filling a 64 MB page cache of its own (the
	// initial sync's station RSS went from 150 to 240 MB). A checkpoint
	// reads no page through the cache. Without one, the pool serves.
	if c, err := db.sql.Conn(ctx); err == nil {
		db.ckConn = c
	}
	db.ckStop, db.ckDone, db.ckEvery = cancel, make(chan struct{}), every
	go db.checkpointLoop(ctx)
}

func (db *DB) stopCheckpointer() {
	if db.ckStop == nil {
		return
	}
	db.ckStop()
	<-db.ckDone
	if db.ckConn != nil {
		db.ckConn.Close()
	}
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
		r, err := db.checkpointOnce(ctx)
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
