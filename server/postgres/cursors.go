package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"wardsync/workflow"
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

// A cursor is a position (xid, id) in the order the feed is read: every
// change at or before it has been handed out, and none can still appear
// there. A fresh device first pages through a snapshot of the tables
// ("s" cursors), remembering the horizon it started at, then follows the
// feed from that horizon: changes made while it paged come again, which is
// harmless because each carries the current row.
//
// Every cursor also carries the tag of the feed that issued it (feedTag):
// a cursor from another copy of the database (restored from a backup, a
// different server) is answered with a resync, as is one ahead of the
// feed's head, rather than accepted and left to skip changes.

type position struct {
	xid uint64
	id  int64
}

func (p position) less(q position) bool {
	return p.xid < q.xid || (p.xid == q.xid && p.id < q.id)
}

type cursor struct {
	snapshot bool
	pos      position // feed position, or the snapshot's starting horizon
	table    int      // snapshot: index in workflow.Tables
	lastID   string   // snapshot: last row id sent in that table
	total    int64
	sent     int64
	// tag identifies the feed that issued the cursor (feedTag); "" in
	// cursors issued before tags existed, which are checked against the
	// feed's head only.
	tag string
}

func (c cursor) String() string {
	switch {
	case c.snapshot && c.tag == "":
		return fmt.Sprintf("s.%d.%d.%d.%d.%s", c.pos.xid, c.table, c.total, c.sent, c.lastID)
	case c.snapshot:
		return fmt.Sprintf("s.%d.%d.%d.%d.%s.%s", c.pos.xid, c.table, c.total, c.sent, c.tag, c.lastID)
	case c.tag == "":
		return fmt.Sprintf("f.%d.%d", c.pos.xid, c.pos.id)
	}
	return fmt.Sprintf("f.%d.%d.%s", c.pos.xid, c.pos.id, c.tag)
}

// feedTag is the identity of a feed as cursors carry it: 8 hex digits of a
// hash of the epoch drawn at migrate, the database's oid and the oid of
// sync.changes (00019_feed_epoch.sql). A restore recreates the table, so the
// tag changes although the epoch is restored with the data.
func feedTag(epoch string, dbOID, changesOID uint32) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s/%d/%d", epoch, dbOID, changesOID))
	return hex.EncodeToString(h[:4])
}

func isTag(s string) bool {
	if len(s) != 8 {
		return false
	}
	for _, r := range s {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}

func badCursor(s string) error {
	return workflow.Reject(workflow.CodeProtocolError, "Cursor %q is not one this server issued; pull with an empty cursor to start over.", s)
}

func parseCursor(s string) (cursor, error) {
	if s == "" {
		return cursor{snapshot: true, table: -1}, nil
	}
	parts := strings.SplitN(s, ".", 7)
	num := func(i int) (int64, bool) {
		if i >= len(parts) {
			return 0, false
		}
		n, err := strconv.ParseInt(parts[i], 10, 64)
		return n, err == nil && n >= 0
	}
	switch {
	case parts[0] == "f" && (len(parts) == 3 || len(parts) == 4 && isTag(parts[3])):
		x, ok1 := num(1)
		id, ok2 := num(2)
		if ok1 && ok2 {
			c := cursor{pos: position{uint64(x), id}}
			if len(parts) == 4 {
				c.tag = parts[3]
			}
			return c, nil
		}
	case parts[0] == "s" && len(parts) >= 6:
		x, ok1 := num(1)
		t, ok2 := num(2)
		total, ok3 := num(3)
		sent, ok4 := num(4)
		if ok1 && ok2 && ok3 && ok4 && int(t) < len(workflow.Tables) {
			c := cursor{snapshot: true, pos: position{uint64(x), 0}, table: int(t), total: total, sent: sent, lastID: parts[5]}
			if len(parts) == 7 {
				if !isTag(parts[5]) {
					break
				}
				c.tag, c.lastID = parts[5], parts[6]
			}
			return c, nil
		}
	}
	return cursor{}, badCursor(s)
}
