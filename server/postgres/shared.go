package postgres

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"wardsync/syncproto"
	"wardsync/workflow"
)

// Shared pages: one feed read per change for every device at the head.
//
// After a commit every connected device used to pull the same change: 49
// repeatable-read transactions of ~8 statements each for one act (make
// bench, "propagation"). Devices known to be at the same cursor (the
// server handed them that cursor with more: false) are served instead by
// one transaction that reads the feed after the cursor and its rows once,
// projects them once per visibility class (roles → tables and columns),
// and reads every device's own members (last seq, resolutions, parked
// outcomes, revocation) in one statement each for all of them. Each page is
// what Pull(cursor) would have answered that device in the same snapshot:
// pageChanges, the ranges and the limits are Pull's own.

// PageDevice is a device to read a shared page for: its id and the roles
// it serves (what it may read).
type PageDevice struct {
	ID    string
	Roles []workflow.Role
}

// VisibilityKey names what roles may read, table by table: devices with
// equal keys receive byte-identical rows.
func VisibilityKey(roles []workflow.Role) string {
	var b strings.Builder
	for _, t := range workflow.Tables {
		b.WriteString(t)
		b.WriteByte(':')
		b.WriteString(strings.Join(workflow.VisibleColumns(roles, t), ","))
		b.WriteByte(';')
	}
	return b.String()
}

// SharedPages reads the page after cursorStr for every device in devs, in
// one snapshot. It returns, per device id, the page (From set to cursorStr,
// no requestId) that Pull(cursorStr) would answer that device now, or no
// entry for a device that must pull instead: revoked or unknown (its pull
// is refused with the sentence), a page too large for one frame, a cursor
// the feed will not follow (resync), changes after it that do not fit one
// page (more: the devices pull, page by page), or cursorStr not a feed
// cursor. A nil map (and nil error) means nothing is new after the cursor:
// a pull would hand the devices an empty page at the same cursor.
func (db *DB) SharedPages(ctx context.Context, cursorStr string, devs []PageDevice) (map[string]*syncproto.Changes, error) {
	cur, err := parseCursor(cursorStr)
	if err != nil || cur.snapshot || cursorStr == "" || len(devs) == 0 {
		return map[string]*syncproto.Changes{}, nil
	}
	ids := make([]string, len(devs))
	for i, d := range devs {
		ids[i] = d.ID
	}
	var pages map[string]*syncproto.Changes
	for attempt := 1; ; attempt++ {
		pages, err = db.sharedPages(ctx, cur, cursorStr, devs, ids)
		if err == nil || !Retryable(err) || ctx.Err() != nil || attempt == 3 {
			break
		}
		db.retries.add(retryCause(err))
	}
	if err != nil {
		return nil, err
	}
	for id, p := range pages {
		c, _ := parseCursor(p.Cursor)
		x := strconv.FormatUint(c.pos.xid, 10)
		db.noteCursor(cursorNote{device: id, cursor: p.Cursor, seen: db.now(), xid: &x, id: &c.pos.id})
	}
	return pages, nil
}

// sharedPages is one attempt of SharedPages, on one connection of the pool.
func (db *DB) sharedPages(ctx context.Context, cur cursor, cursorStr string, devs []PageDevice, ids []string) (map[string]*syncproto.Changes, error) {
	limit := db.Config.PullLimit
	from := strconv.FormatUint(cur.pos.xid, 10)
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	committed := false
	defer func() {
		if !committed {
			// Ended early, or a statement failed and aborted it: end the
			// transaction before the connection goes back to the pool.
			c, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if _, err := conn.Exec(c, `ROLLBACK`); err != nil {
				_ = conn.Conn().Close(c) // the pool drops a closed connection
			}
		}
	}()
	var pages map[string]*syncproto.Changes
	err = func() error {
		// Two round trips: the transaction starts in the same batch as
		// every statement that does not need the feed's row ids, and each
		// of those bounds its range by the snapshot's horizon itself (a
		// repeatable-read transaction has one snapshot, taken at its first
		// statement); the rows and the commit are the second batch.
		const horizon = `pg_snapshot_xmin(pg_current_snapshot())`
		b := &pgx.Batch{}
		b.Queue(`BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`)
		b.Queue(`SELECT ` + horizon + `::text::bigint, pruned_xid::text::bigint, pruned_id, epoch,
			       (SELECT oid FROM pg_database WHERE datname = current_database()), 'sync.changes'::regclass::oid
			  FROM sync.feed_state`)
		b.Queue(`SELECT xid::text::bigint, id, tbl, row_id FROM sync.changes
			 WHERE (xid, id) > ($1::text::xid8, $2) AND xid < `+horizon+`
			 ORDER BY xid, id LIMIT $3`, from, cur.pos.id, limit+1)
		b.Queue(`SELECT id, revoked_at IS NOT NULL FROM sync.devices WHERE id = ANY($1)`, ids)
		// lastSeqBelow, resolutionsIn and outcomesBetween of every device,
		// with the range [cursor, horizon) of a page that reaches the head.
		b.Queue(`SELECT d, COALESCE((SELECT max(seq) FROM sync.mutations WHERE device_id = d AND xid < `+horizon+`), 0)
			  FROM unnest($1::text[]) d`, ids)
		b.Queue(`SELECT d, x.mutation_id, x.seq, x.kind, x.resolved_at, x.name, x.note, x.by_seq
			  FROM unnest($1::text[]) d, LATERAL (
			    SELECT r.xid, m.mutation_id, r.seq, r.kind, r.resolved_at, COALESCE(u.name, '') AS name, r.note, r.by_seq
			      FROM sync.rejection_resolutions r
			      JOIN sync.mutations m ON m.device_id = r.device_id AND m.seq = r.seq
			      LEFT JOIN users u ON u.id = r.resolved_by
			     WHERE r.device_id = d AND r.xid >= $2::text::xid8 AND r.xid < `+horizon+`
			     ORDER BY r.xid DESC, r.seq DESC LIMIT $3) x
			 ORDER BY d, x.xid, x.seq`, ids, from, maxResolutionsPerPage)
		b.Queue(`SELECT d, x.seq, x.mutation_id, x.outcome, x.code, x.message, x.field
			  FROM unnest($1::text[]) d, LATERAL (
			    SELECT d2.seq, m.mutation_id, d2.outcome, COALESCE(m.code, '') AS code, COALESCE(m.message, '') AS message, COALESCE(m.field, '') AS field
			      FROM sync.deferred d2 JOIN sync.mutations m USING (device_id, seq)
			     WHERE d2.device_id = d AND d2.decided_xid >= $2::text::xid8 AND d2.decided_xid < `+horizon+`
			     ORDER BY d2.seq LIMIT $3) x
			 ORDER BY d, x.seq`, ids, from, syncproto.MaxPullLimit)
		br := conn.SendBatch(ctx, b)
		_, err := br.Exec()
		var sh *shared
		if err == nil {
			sh, err = readShared(br, limit)
		}
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		tag := feedTag(sh.epoch, sh.dbOID, sh.changesOID)
		if resyncReason(cursorStr, cur, tag, sh.horizon, sh.pruned, db.Config.FeedRetention) != "" || sh.more {
			pages = map[string]*syncproto.Changes{} // each device pulls and is told
			return nil
		}
		next := position{sh.horizon, 0}
		if !cur.pos.less(next) || len(sh.refs) == 0 && len(sh.resolutions) == 0 && len(sh.outcomes) == 0 {
			// Nothing new: a pull would answer an empty page (the horizon
			// moved past other transactions only). The devices stay where
			// they are; the next page carries the same range and more.
			return nil
		}
		refs := latestRefs(sh.refs)
		classes := map[string]bool{}
		for _, d := range devs {
			classes[VisibilityKey(d.Roles)] = true
		}
		// The rows any of the devices may read, read once.
		found, err := readRowsAndCommit(ctx, conn.Conn(), refs, func(t string) bool {
			for _, d := range devs {
				if len(workflow.VisibleColumns(d.Roles, t)) > 0 {
					return true
				}
			}
			return false
		})
		if err != nil {
			return err
		}
		committed = true
		next.xid = sh.horizon
		cursorOut := cursor{pos: next, tag: tag}.String()
		byClass := map[string][]syncproto.Change{}
		// Devices of one class whose own members are alike share one
		// page value, so that the server encodes it once.
		type alike struct {
			class   string
			lastSeq int64
		}
		common := map[alike]*syncproto.Changes{}
		pages = make(map[string]*syncproto.Changes, len(devs))
		for _, d := range devs {
			revoked, known := sh.revoked[d.ID]
			if !known || revoked {
				continue
			}
			key := VisibilityKey(d.Roles)
			changes, ok := byClass[key]
			if !ok {
				if changes, err = pageChanges(d.Roles, refs, found); err != nil {
					return err
				}
				byClass[key] = changes
			}
			own := len(sh.resolutions[d.ID]) > 0 || len(sh.outcomes[d.ID]) > 0
			k := alike{key, sh.lastSeq[d.ID]}
			if p := common[k]; p != nil && !own {
				pages[d.ID] = p
				continue
			}
			p := &syncproto.Changes{From: cursorStr, Cursor: cursorOut, Changes: changes,
				LastMutationSeq: sh.lastSeq[d.ID], Resolutions: sh.resolutions[d.ID], Outcomes: sh.outcomes[d.ID]}
			if pageBytes(p) > maxPageBytes {
				continue // Pull would split it: the device pulls
			}
			if !own {
				common[k] = p
			}
			pages[d.ID] = p
		}
		return nil
	}()
	return pages, err
}

// readRowsAndCommit reads, in one round trip, the rows refs name in the
// tables wanted says (as readRefRows does) and commits.
func readRowsAndCommit(ctx context.Context, conn *pgx.Conn, refs []pageRef, wanted func(table string) bool) (map[string]map[string]any, error) {
	byTable := map[string][]string{}
	for _, r := range refs {
		if wanted(r.table) {
			byTable[r.table] = append(byTable[r.table], r.id)
		}
	}
	b := &pgx.Batch{}
	var tables []string
	for _, t := range workflow.Tables {
		if ids := byTable[t]; len(ids) > 0 {
			tables = append(tables, t)
			b.Queue(`SELECT `+tableCols[t]+` FROM `+pgx.Identifier{t}.Sanitize()+` WHERE id = ANY($1)`, ids)
		}
	}
	b.Queue(`COMMIT`)
	br := conn.SendBatch(ctx, b)
	found := map[string]map[string]any{}
	err := func() error {
		for _, t := range tables {
			rows, err := br.Query()
			if err != nil {
				return err
			}
			m := map[string]any{}
			for rows.Next() {
				id, v, err := scanners[t](rows)
				if err != nil {
					rows.Close()
					return err
				}
				m[id] = v
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			found[t] = m
		}
		_, err := br.Exec()
		return err
	}()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return found, err
}

// shared is what the batch of SharedPages read.
type shared struct {
	horizon     uint64
	pruned      position
	epoch       string
	dbOID       uint32
	changesOID  uint32
	refs        []pageRef
	more        bool
	revoked     map[string]bool
	lastSeq     map[string]int64
	resolutions map[string][]syncproto.Resolution
	outcomes    map[string][]syncproto.Outcome
}

func readShared(br pgx.BatchResults, limit int) (*shared, error) {
	sh := &shared{revoked: map[string]bool{}, lastSeq: map[string]int64{},
		resolutions: map[string][]syncproto.Resolution{}, outcomes: map[string][]syncproto.Outcome{}}
	if err := br.QueryRow().Scan(&sh.horizon, &sh.pruned.xid, &sh.pruned.id, &sh.epoch, &sh.dbOID, &sh.changesOID); err != nil {
		return nil, err
	}
	err := batchRows(br, func(rows pgx.Rows) error {
		var p position
		var r pageRef
		if err := rows.Scan(&p.xid, &p.id, &r.table, &r.id); err != nil {
			return err
		}
		if len(sh.refs) == limit {
			sh.more = true
			return nil
		}
		sh.refs = append(sh.refs, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := batchInto(br, sh.revoked); err != nil {
		return nil, err
	}
	if err := batchInto(br, sh.lastSeq); err != nil {
		return nil, err
	}
	err = batchRows(br, func(rows pgx.Rows) error {
		var (
			id    string
			r     syncproto.Resolution
			bySeq *int64
		)
		if err := rows.Scan(&id, &r.ID, &r.Seq, &r.Kind, &r.ResolvedAt, &r.ResolvedBy, &r.Note, &bySeq); err != nil {
			return err
		}
		r.ResolvedAt = r.ResolvedAt.UTC()
		if r.Kind == syncproto.ResolutionReissued && bySeq != nil {
			r.ReissuedAs = id + "/" + strconv.FormatInt(*bySeq, 10)
		}
		sh.resolutions[id] = append(sh.resolutions[id], r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = batchRows(br, func(rows pgx.Rows) error {
		var id, status, code string
		var o syncproto.Outcome
		if err := rows.Scan(&id, &o.Seq, &o.ID, &status, &code, &o.Message, &o.Field); err != nil {
			return err
		}
		o.Status, o.Code = syncproto.Status(status), workflow.Code(code)
		sh.outcomes[id] = append(sh.outcomes[id], o)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return sh, nil
}

// batchRows reads the batch's next result row by row, handing each row to
// read. The rows are closed before it returns, so the batch can move on to
// its next result; the first error (query, read or the rows' own) stops it.
// batchInto reads the batch's next result, rows of (key, value), into m.
func batchInto[V any](br pgx.BatchResults, m map[string]V) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	return scanInto(rows, m)
}

func batchRows(br pgx.BatchResults, read func(pgx.Rows) error) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	for rows.Next() {
		if err := read(rows); err != nil {
			rows.Close()
			return err
		}
	}
	rows.Close()
	return rows.Err()
}
