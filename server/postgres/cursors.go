package postgres

import (
	"context"
	"sort"
	"sync"
	"time"
)

// cursorLog batches the monitoring write of every pull (how far each device
// has got, for the admin dashboard's lag) out of the pull's way. Pull only
// notes the position; one writer goroutine, started when a note arrives and
// gone when none is left, writes every device's latest position in one
// UPDATE while the next notes pile up behind it. So a pull never waits for
// a commit of its own, and a burst of pulls (a poke to 10,000 devices, an
// initial sync's pages) costs a few writes, not one each.
type cursorLog struct {
	mu      sync.Mutex // guards pending and running
	pending map[string]cursorNote
	running bool
	// flushMu keeps writes in order: a later position is never overwritten
	// by an earlier one taken before it.
	flushMu sync.Mutex
	wg      sync.WaitGroup
}

// cursorNote is where one device's pull left it. xid and id are nil for a
// position inside the snapshot (no feed position yet).
type cursorNote struct {
	device, cursor string
	xid            *string
	id             *int64
	seen           time.Time
}

// noteCursor records n and makes sure a writer will write it.
func (db *DB) noteCursor(n cursorNote) {
	l := &db.cursors
	l.mu.Lock()
	if l.pending == nil {
		l.pending = map[string]cursorNote{}
	}
	l.pending[n.device] = n
	start := !l.running
	l.running = true
	l.mu.Unlock()
	if !start {
		return
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for db.writeCursors(context.Background(), true) {
		}
	}()
}

// take returns the pending notes; the writer (stop) is marked gone when
// there are none, under the same lock, so that no note is left unwritten.
func (l *cursorLog) take(stop bool) map[string]cursorNote {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.pending
	l.pending = nil
	if len(b) == 0 && stop {
		l.running = false
	}
	return b
}

// writeCursors writes the pending notes in one statement; false when there
// were none. Errors are dropped: the figure is monitoring only, and the
// next pull writes it again.
func (db *DB) writeCursors(ctx context.Context, writer bool) bool {
	l := &db.cursors
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	batch := l.take(writer)
	if len(batch) == 0 {
		return false
	}
	devices := make([]string, 0, len(batch))
	for d := range batch {
		devices = append(devices, d)
	}
	// One order for every writer, so that two instances' batches lock the
	// rows alike.
	sort.Strings(devices)
	cursors, xids, ids, seen := make([]string, len(devices)), make([]*string, len(devices)), make([]*int64, len(devices)), make([]time.Time, len(devices))
	for i, d := range devices {
		n := batch[d]
		cursors[i], xids[i], ids[i], seen[i] = n.cursor, n.xid, n.id, n.seen
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, _ = db.Pool.Exec(ctx, `
		UPDATE sync.clients c SET cursor = v.cursor, cursor_xid = v.xid::xid8, cursor_id = v.id, last_seen = v.seen
		  FROM (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::timestamptz[])
		          AS u(device_id, cursor, xid, id, seen) ORDER BY device_id) v
		 WHERE c.device_id = v.device_id`, devices, cursors, xids, ids, seen)
	return true
}
