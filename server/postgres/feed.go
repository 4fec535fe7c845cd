package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"wardsync/syncproto"
	"wardsync/workflow"
)

// The change feed.
//
// Triggers record every write to a seed table in sync.changes with the
// writing transaction's xid (whoever wrote: this server, another instance,
// psql). A pull runs in one REPEATABLE READ snapshot and hands out only
// changes whose xid lies below that snapshot's xmin: every transaction below
// that horizon has finished, so no change can later appear behind the
// cursor. A change carries no row image; the pull reads the row as the same
// snapshot sees it (missing: a delete), so every page is consistent.
//
// Pull returns the next page of changes after cursorStr for a device that
// serves roles, at most limit changes (0: the configured default).
func (db *DB) Pull(ctx context.Context, deviceID string, roles []workflow.Role, cursorStr string, limit int) (*syncproto.Changes, error) {
	cur, err := parseCursor(cursorStr)
	if err != nil {
		return nil, err
	}
	if limit <= 0 || limit > db.Config.PullLimit {
		limit = db.Config.PullLimit
	}
	var out *syncproto.Changes
	err = db.inTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var horizon, prunedXid uint64
		var prunedID int64
		var revoked *bool
		var epoch string
		var dbOID, changesOID uint32
		if err := tx.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint, pruned_xid::text::bigint, pruned_id,
			       (SELECT revoked_at IS NOT NULL FROM sync.devices WHERE id = $1), epoch,
			       (SELECT oid FROM pg_database WHERE datname = current_database()), 'sync.changes'::regclass::oid
			  FROM sync.feed_state`, deviceID).
			Scan(&horizon, &prunedXid, &prunedID, &revoked, &epoch, &dbOID, &changesOID); err != nil {
			return err
		}
		tag := feedTag(epoch, dbOID, changesOID)
		// A workstation revoked while connected receives nothing more.
		switch {
		case deviceID == "":
		case revoked == nil:
			return workflow.Reject(workflow.CodeUnauthenticated, "Workstation %s is not registered with this server.", deviceID)
		case *revoked:
			return workflow.Reject(workflow.CodeUnauthenticated, "This workstation was revoked; it can no longer synchronise.")
		}
		reason := resyncReason(cursorStr, cur, tag, horizon, position{prunedXid, prunedID}, db.Config.FeedRetention)
		if reason != "" {
			cur = cursor{snapshot: true, table: -1}
		}
		cur.tag = tag
		// A page must fit in one frame: with large rows, fewer of them.
		for n := limit; ; n = max(n/2, 1) {
			if cur.snapshot {
				out, err = db.snapshotPage(ctx, tx, deviceID, roles, cur, horizon, n)
			} else {
				out, err = db.feedPage(ctx, tx, deviceID, roles, cur, horizon, n)
			}
			if err != nil {
				return err
			}
			if n == 1 || pageBytes(out) <= maxPageBytes {
				break
			}
		}
		out.Resync, out.ResyncReason = reason != "", reason
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Monitoring: remember how far this device has got. Off the pull's
	// path (its commit would otherwise delay every page by an fsync) and
	// best effort: a lost update only delays a lag figure.
	if deviceID != "" {
		n := cursorNote{device: deviceID, cursor: out.Cursor, seen: db.now()}
		if c, err := parseCursor(out.Cursor); err == nil && !c.snapshot {
			x, id := strconv.FormatUint(c.pos.xid, 10), c.pos.id
			n.xid, n.id = &x, &id
		}
		db.noteCursor(n)
	}
	return out, nil
}

// resyncReason says why a cursor cannot be followed, as the sentence the
// device is told with resync, or "" when it can. A cursor is refused when
// another feed issued it (its tag differs: a restored or different
// database), when it lies ahead of this feed's head (no cursor this feed
// issued can: the horizon only grows; a database restored to an earlier
// point, or a made-up cursor), or when the changes after it were pruned.
func resyncReason(s string, c cursor, tag string, horizon uint64, pruned position, retention time.Duration) string {
	head := cursor{pos: position{horizon, 0}, tag: tag}.String()
	switch {
	case s == "":
		return ""
	case c.tag != "" && c.tag != tag:
		return fmt.Sprintf("Cursor %s was issued by another copy of the database (feed %s; this one is %s): the server's database was restored from a backup or replaced. The replica starts over from a fresh snapshot; queued acts are kept and sent again.", s, c.tag, tag)
	case c.pos.xid > horizon:
		return fmt.Sprintf("Cursor %s is ahead of this server's change feed (its head is %s): the server's database was restored to an earlier point. The replica starts over from a fresh snapshot; queued acts are kept and sent again.", s, head)
	case !c.snapshot && c.pos.less(pruned):
		return fmt.Sprintf("Cursor %s is older than the change feed keeps (changes are kept for %s): the replica starts over from a fresh snapshot; queued acts are kept.", s, retention)
	}
	return ""
}

// maxPageBytes bounds the rows of one changes frame, leaving room under
// the frame limit for the frame's other members.
const maxPageBytes = syncproto.MaxFrameBytes - 64<<10

// pageBytes is about what the changes of a page take on the wire.
func pageBytes(c *syncproto.Changes) int {
	n := 0
	for _, ch := range c.Changes {
		n += len(ch.Row) + len(ch.ID) + len(ch.Table) + 48
	}
	for _, r := range c.Resolutions {
		n += len(r.Note) + len(r.ResolvedBy) + len(r.ReissuedAs) + 160
	}
	return n
}

// lastSeqBelow is the highest seq of the device whose outcome was recorded
// by a transaction below horizon: its effects are then within the changes
// handed out up to a cursor at that horizon.
func lastSeqBelow(ctx context.Context, tx pgx.Tx, deviceID string, horizon uint64) (int64, error) {
	var seq int64
	err := tx.QueryRow(ctx, `SELECT COALESCE(max(seq), 0) FROM sync.mutations WHERE device_id = $1 AND xid < $2::text::xid8`,
		deviceID, strconv.FormatUint(horizon, 10)).Scan(&seq)
	return seq, err
}

func (db *DB) feedPage(ctx context.Context, tx pgx.Tx, deviceID string, roles []workflow.Role, cur cursor, horizon uint64, limit int) (*syncproto.Changes, error) {
	rows, err := tx.Query(ctx, `
		SELECT xid::text::bigint, id, tbl, row_id FROM sync.changes
		 WHERE (xid, id) > ($1::text::xid8, $2) AND xid < $3::text::xid8
		 ORDER BY xid, id LIMIT $4`,
		strconv.FormatUint(cur.pos.xid, 10), cur.pos.id, strconv.FormatUint(horizon, 10), limit+1)
	if err != nil {
		return nil, err
	}
	var refs []pageRef
	next := cur.pos
	n := 0
	more := false
	for rows.Next() {
		var p position
		var r pageRef
		if err := rows.Scan(&p.xid, &p.id, &r.table, &r.id); err != nil {
			rows.Close()
			return nil, err
		}
		if n == limit {
			more = true
			break
		}
		n++
		next = p
		refs = append(refs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if !more {
		// Everything below the horizon has been handed out.
		if h := (position{horizon, 0}); next.less(h) {
			next = h
		}
	}
	refs = latestRefs(refs)
	out := &syncproto.Changes{Cursor: cursor{pos: next, tag: cur.tag}.String(), More: more}
	found, err := readRefRows(ctx, tx, refs, func(t string) bool { return len(workflow.VisibleColumns(roles, t)) > 0 })
	if err != nil {
		return nil, err
	}
	if out.Changes, err = pageChanges(roles, refs, found); err != nil {
		return nil, err
	}
	// Mid-range, only transactions wholly before the cursor's are handed
	// out; at the horizon, everything below it. Resolutions follow the same
	// ranges, [cursor before, cursor after), so each is handed out once.
	var err2 error
	if out.LastMutationSeq, err2 = lastSeqBelow(ctx, tx, deviceID, next.xid); err2 != nil {
		return nil, err2
	}
	if out.Resolutions, err2 = resolutionsIn(ctx, tx, deviceID, cur.pos.xid, next.xid); err2 != nil {
		return nil, err2
	}
	// Parked acts decided in the same range (docs/deferred.md).
	out.Outcomes, err2 = outcomesBetween(ctx, tx, deviceID, cur.pos.xid, next.xid)
	return out, err2
}

// pageRef is one row a feed page names: the table and the row's id.
type pageRef struct{ table, id string }

// latestRefs keeps the last change of each row only, newest first (the
// order pageChanges lists a table's rows in).
func latestRefs(refs []pageRef) []pageRef {
	seen := make(map[pageRef]bool, len(refs))
	out := make([]pageRef, 0, len(refs))
	for i := len(refs) - 1; i >= 0; i-- {
		if r := refs[i]; !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}

// readRefRows reads, as tx sees them, the rows refs name in the tables
// wanted says, keyed by table and id: one statement per table.
func readRefRows(ctx context.Context, tx pgx.Tx, refs []pageRef, wanted func(table string) bool) (map[string]map[string]any, error) {
	byTable := map[string][]string{}
	for _, r := range refs {
		if wanted(r.table) {
			byTable[r.table] = append(byTable[r.table], r.id)
		}
	}
	found := map[string]map[string]any{}
	for _, t := range workflow.Tables {
		if ids := byTable[t]; len(ids) > 0 {
			rows, err := readRows(ctx, tx, t, `WHERE id = ANY($1)`, ids)
			if err != nil {
				return nil, err
			}
			found[t] = rows
		}
	}
	return found, nil
}

// pageChanges lists the changes a device serving roles receives for refs:
// tables in parent-first order (so parents tend to come before children),
// only those it may read, each row projected to its columns; a row found
// missing is a delete.
func pageChanges(roles []workflow.Role, refs []pageRef, found map[string]map[string]any) ([]syncproto.Change, error) {
	out := []syncproto.Change{}
	for _, t := range workflow.Tables {
		proj := projectionOf(roles, t)
		if len(proj.cols) == 0 {
			continue
		}
		for _, r := range refs {
			if r.table != t {
				continue
			}
			row, ok := found[t][r.id]
			if !ok {
				out = append(out, syncproto.Change{Table: t, Op: syncproto.OpDelete, ID: r.id})
				continue
			}
			b, err := proj.encode(row)
			if err != nil {
				return nil, err
			}
			out = append(out, syncproto.Change{Table: t, Op: syncproto.OpUpsert, ID: r.id, Row: b})
		}
	}
	return out, nil
}

func (db *DB) snapshotPage(ctx context.Context, tx pgx.Tx, deviceID string, roles []workflow.Role, cur cursor, horizon uint64, limit int) (*syncproto.Changes, error) {
	visible := workflow.VisibleTables(roles)
	isVisible := map[string]bool{}
	for _, t := range visible {
		isVisible[t] = true
	}
	if cur.table < 0 {
		// First page: fix the horizon the feed will continue from, and
		// count what is coming for the progress bar.
		cur = cursor{snapshot: true, pos: position{horizon, 0}, table: 0, tag: cur.tag}
		for _, t := range visible {
			var n int64
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{t}.Sanitize()).Scan(&n); err != nil {
				return nil, err
			}
			cur.total += n
		}
	}
	out := &syncproto.Changes{Changes: []syncproto.Change{}, Total: cur.total}
	for cur.table < len(workflow.Tables) && len(out.Changes) < limit {
		t := workflow.Tables[cur.table]
		if !isVisible[t] {
			cur.table, cur.lastID = cur.table+1, ""
			continue
		}
		rows, ids, err := readRowsAfter(ctx, tx, t, cur.lastID, limit-len(out.Changes))
		if err != nil {
			return nil, err
		}
		proj := projectionOf(roles, t)
		for i, row := range rows {
			b, err := proj.encode(row)
			if err != nil {
				return nil, err
			}
			out.AddProjected(t, ids[i], b) // Encode checks only its nesting
		}
		cur.sent += int64(len(rows))
		if len(rows) == 0 {
			cur.table, cur.lastID = cur.table+1, ""
			continue
		}
		cur.lastID = ids[len(ids)-1]
	}
	// Rows inserted while the device pages (after its position) are sent
	// too: the count taken on the first page was a lower bound.
	if cur.sent > cur.total {
		cur.total = cur.sent
	}
	out.Sent, out.Total = cur.sent, cur.total
	out.More = true
	if cur.table >= len(workflow.Tables) {
		// The snapshot is done; the feed goes on from its horizon.
		out.Cursor = cursor{pos: cur.pos, tag: cur.tag}.String()
		// Parked acts decided before the horizon (docs/deferred.md).
		var err error
		if out.Outcomes, err = outcomesBefore(ctx, tx, deviceID, cur.pos.xid); err != nil {
			return nil, err
		}
	} else {
		out.Cursor = cur.String()
	}
	var err error
	if out.LastMutationSeq, err = lastSeqBelow(ctx, tx, deviceID, cur.pos.xid); err != nil {
		return nil, err
	}
	if cur.table >= len(workflow.Tables) {
		// A fresh or resynced replica learns every resolution below the
		// snapshot's horizon (the newest ones, up to the page's bound);
		// the feed goes on with the later ones.
		out.Resolutions, err = resolutionsIn(ctx, tx, deviceID, 0, cur.pos.xid)
	}
	return out, err
}

// readRows reads rows of table matching where (with ids as $1), keyed by id.
func readRows(ctx context.Context, tx pgx.Tx, table, where string, ids []string) (map[string]any, error) {
	rows, err := tx.Query(ctx, `SELECT `+tableCols[table]+` FROM `+pgx.Identifier{table}.Sanitize()+` `+where, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]any{}
	for rows.Next() {
		id, v, err := scanners[table](rows)
		if err != nil {
			return nil, err
		}
		out[id] = v
	}
	return out, rows.Err()
}

func readRowsAfter(ctx context.Context, tx pgx.Tx, table, after string, limit int) ([]any, []string, error) {
	rows, err := tx.Query(ctx, `SELECT `+tableCols[table]+` FROM `+pgx.Identifier{table}.Sanitize()+` WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var vs []any
	var ids []string
	for rows.Next() {
		id, v, err := scanners[table](rows)
		if err != nil {
			return nil, nil, err
		}
		vs = append(vs, v)
		ids = append(ids, id)
	}
	return vs, ids, rows.Err()
}

// projection is the columns of one table a device serving some roles may
// read (need to know: the filter is applied here, on the server, before
// anything leaves it), worked out once for a page's rows: listing them
// per row was a quarter of projecting a snapshot page (1M initial sync,
// server profile).
type projection struct {
	cols []string
	full bool // every column: the row's own encoding as it is
}

func projectionOf(roles []workflow.Role, table string) projection {
	cols := workflow.VisibleColumns(roles, table)
	return projection{cols: cols, full: len(cols) == len(workflow.Columns(table)) && table != workflow.TableUsers}
}

// encode writes row with only the projection's columns.
func (p projection) encode(row any) (json.RawMessage, error) {
	full, err := json.Marshal(row)
	if err != nil {
		return nil, err
	}
	if p.full {
		return full, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(full, &m); err != nil {
		return nil, err
	}
	keep := make(map[string]json.RawMessage, len(p.cols))
	for _, c := range p.cols {
		if v, ok := m[c]; ok {
			keep[c] = v
		}
	}
	return json.Marshal(keep)
}

// Head is the newest change's position number, and whether some committed
// or running changes still sit above the horizon (not yet deliverable).
func (db *DB) Head(ctx context.Context) (head int64, held bool, err error) {
	head, _, held, err = db.head(ctx)
	return head, held, err
}

func (db *DB) head(ctx context.Context) (head int64, horizon uint64, held bool, err error) {
	err = db.Pool.QueryRow(ctx, `
		SELECT COALESCE((SELECT max(id) FROM sync.changes), 0),
		       pg_snapshot_xmin(pg_current_snapshot())::text::bigint,
		       EXISTS (SELECT 1 FROM sync.changes WHERE xid >= pg_snapshot_xmin(pg_current_snapshot()))`).Scan(&head, &horizon, &held)
	return head, horizon, held, err
}

// Prune drops changes older than the retention and moves the horizon below
// which cursors must resync.
func (db *DB) Prune(ctx context.Context) (int64, error) {
	cutoff := db.now().Add(-db.Config.FeedRetention)
	var n int64
	err := db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		var x *string
		var id *int64
		if err := tx.QueryRow(ctx, `
			SELECT xid::text, id FROM sync.changes
			 WHERE at < $1 AND xid < pg_snapshot_xmin(pg_current_snapshot())
			 ORDER BY xid DESC, id DESC LIMIT 1`, cutoff).Scan(&x, &id); err != nil {
			if err == pgx.ErrNoRows {
				return nil
			}
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM sync.changes WHERE (xid, id) <= ($1::xid8, $2)`, *x, *id)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		_, err = tx.Exec(ctx, `UPDATE sync.feed_state SET pruned_xid = $1::xid8, pruned_id = $2`, *x, *id)
		return err
	})
	return n, err
}

// Listen calls fn with the head whenever a change is committed by anyone:
// by this instance (announced in-process, announce.go), by another instance
// or another program (LISTEN/NOTIFY), and again, with backoff, while
// changes sit above the horizon behind some unrelated open transaction,
// until they are released: a device must not wait for the next commit to
// see a change. It returns when ctx ends; on a lost connection it
// reconnects.
func (db *DB) Listen(ctx context.Context, fn func(head int64)) error {
	// Subscribed once, for every connection: an announcement made while
	// reconnecting waits in the channel.
	wake, unsubscribe := db.ann.wakeOn(ChannelChanges)
	defer unsubscribe()
	for ctx.Err() == nil {
		err := db.listenOnce(ctx, wake, fn)
		if ctx.Err() != nil {
			return nil
		}
		_ = err
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return nil
}

// maxRecheck bounds the wait between re-checks while changes are held
// above the horizon: the extra delay a device may see after the holder ends.
const maxRecheck = 400 * time.Millisecond

func (db *DB) listenOnce(ctx context.Context, wake <-chan struct{}, fn func(int64)) error {
	conn, release, err := db.listenConn(ctx, ChannelChanges)
	if err != nil {
		return err
	}
	defer release()
	var (
		lastHorizon uint64
		lastHeld    bool
	)
	// Poke when something new may be deliverable: on every notification (a
	// commit of changes, whoever wrote them), and when the horizon moves
	// while changes were held above it. The head alone cannot tell: an
	// older transaction's changes, with lower ids, may commit after a
	// younger one's were handed out.
	check := func(notified bool) (bool, error) {
		head, horizon, held, err := db.head(ctx)
		if err != nil {
			return false, err
		}
		if notified || (lastHeld && horizon != lastHorizon) {
			fn(head)
		}
		lastHorizon, lastHeld = horizon, held
		return held, nil
	}
	// A (re)connected listener may have missed notifications: poke once.
	held, err := check(true)
	if err != nil {
		return err
	}
	backoff := 5 * time.Millisecond
	for {
		wait := time.Minute
		if held {
			wait = backoff
		}
		heard, timedOut, err := db.ann.waitNotice(ctx, conn.Conn(), wake, wait)
		if err != nil {
			return err
		}
		wasHeld := held
		if held, err = check(heard); err != nil {
			return err
		}
		switch {
		case !held:
			backoff = 5 * time.Millisecond
		case timedOut && wasHeld:
			backoff = min(backoff*2, maxRecheck)
		}
	}
}
