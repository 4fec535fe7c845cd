package wardtest

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"wardsync/desktop/sqlite"
	"wardsync/internal/pgtest"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// State is rows as a device sees them: table → id → column → value.
type State map[string]map[string]map[string]any

// Replica is what a device has pulled: table → id → row.
type Replica struct {
	Rows    map[string]map[string]json.RawMessage
	Cursor  string
	LastSeq int64
}

// NewReplica is an empty replica.
func NewReplica() *Replica { return &Replica{Rows: map[string]map[string]json.RawMessage{}} }

// Apply takes one page of changes.
func (r *Replica) Apply(ch *syncproto.Changes) {
	if ch.Resync {
		r.Rows = map[string]map[string]json.RawMessage{}
	}
	for _, c := range ch.Changes {
		m := r.Rows[c.Table]
		if m == nil {
			m = map[string]json.RawMessage{}
			r.Rows[c.Table] = m
		}
		switch c.Op {
		case syncproto.OpUpsert:
			m[c.ID] = c.Row
		case syncproto.OpDelete:
			delete(m, c.ID)
		}
	}
	r.Cursor, r.LastSeq = ch.Cursor, ch.LastMutationSeq
}

// PGState is every row PostgreSQL holds, as a device serving roles sees it.
func PGState(tb testing.TB, pool *pgtest.Pool, roles []workflow.Role) State {
	tb.Helper()
	st, err := ReadPGState(context.Background(), pool, roles)
	check(tb, err)
	return st
}

// ReadPGState is PGState for code that reports instead of failing.
func ReadPGState(ctx context.Context, pool *pgtest.Pool, roles []workflow.Role) (State, error) {
	return readState(roles, func(table string) (map[string]json.RawMessage, error) {
		var js []byte
		err := pool.QueryRow(ctx, `SELECT COALESCE(jsonb_object_agg(id, to_jsonb(t.*)), '{}')::text FROM `+table+` t`).Scan(&js)
		m := map[string]json.RawMessage{}
		if err == nil {
			err = json.Unmarshal(js, &m)
		}
		return m, err
	})
}

// SQLiteState reads every row of a workstation's replica through
// desktop/sqlite's Row (the wire form the engine keeps), limited to the
// columns roles may read, normalised as PGState.
func SQLiteState(ctx context.Context, db *sqlite.DB, roles []workflow.Role) (State, error) {
	return readState(roles, func(table string) (map[string]json.RawMessage, error) {
		rows, err := db.SQL().QueryContext(ctx, `SELECT "id" FROM "`+table+`"`)
		if err != nil {
			return nil, err
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			ids = append(ids, id)
		}
		rows.Close()
		m := map[string]json.RawMessage{}
		for _, id := range ids {
			raw, err := db.Row(ctx, table, id)
			if err != nil {
				return nil, err
			}
			if raw != nil { // nil: deleted in between
				m[id] = raw
			}
		}
		return m, nil
	})
}

// readState reads the rows of every table roles may see with rowsOf.
func readState(roles []workflow.Role, rowsOf func(table string) (map[string]json.RawMessage, error)) (State, error) {
	all := map[string]map[string]json.RawMessage{}
	for _, table := range workflow.VisibleTables(roles) {
		m, err := rowsOf(table)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", table, err)
		}
		all[table] = m
	}
	return replicaState(all, roles)
}

// ReplicaState normalises a replica's rows as PGState does; with roles,
// only the columns they may read are kept.
func ReplicaState(tb testing.TB, rows map[string]map[string]json.RawMessage, roles []workflow.Role) State {
	tb.Helper()
	st, err := replicaState(rows, roles)
	check(tb, err)
	return st
}

func replicaState(rows map[string]map[string]json.RawMessage, roles []workflow.Role) (State, error) {
	out := State{}
	for table, rs := range rows {
		if len(rs) == 0 {
			continue
		}
		var keep []string
		if roles != nil {
			keep = workflow.VisibleColumns(roles, table)
		}
		m := map[string]map[string]any{}
		for id, row := range rs {
			var err error
			if m[id], err = normalize(row, keep); err != nil {
				return nil, err
			}
		}
		out[table] = m
	}
	return out, nil
}

var (
	timestampRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?$`)
	zoneRE      = regexp.MustCompile(`(Z|[+-]\d\d:\d\d)$`)
	decimalRE   = regexp.MustCompile(`^-?\d+\.\d\d$`)
)

// normalize decodes a row; keep, when not nil, limits it to those columns
// (a missing one is null). Numbers become their text and timestamps UTC
// RFC 3339 with milliseconds, so that PostgreSQL's to_jsonb and the wire's
// encoding compare equal.
func normalize(js []byte, keep []string) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("row %s: %w", js, err)
	}
	if keep != nil {
		k := map[string]any{}
		for _, c := range keep {
			k[c] = m[c]
		}
		m = k
	}
	for c, v := range m {
		m[c] = normalizeValue(v)
	}
	return m, nil
}

func normalizeValue(v any) any {
	switch x := v.(type) {
	case json.Number:
		return "num:" + x.String()
	case string:
		if timestampRE.MatchString(x) {
			s := x
			if !zoneRE.MatchString(s) {
				s += "Z"
			}
			if tm, err := time.Parse(time.RFC3339Nano, s); err == nil {
				return "time:" + tm.UTC().Format("2006-01-02T15:04:05.000Z")
			}
		}
		// Decimals travel as text ("45.00"), PostgreSQL's to_jsonb writes numbers.
		if decimalRE.MatchString(x) {
			return "num:" + x
		}
		return x
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeValue(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normalizeValue(e)
		}
		return x
	}
	return v
}

// Diff says how a replica's state differs from PostgreSQL's ("" when
// equal), in at most twenty lines.
func Diff(replica, pg State) string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	tables := maps.Clone(pg)
	maps.Copy(tables, replica)
	for _, table := range slices.Sorted(maps.Keys(tables)) {
		g, w := replica[table], pg[table]
		if len(g) != len(w) {
			add("%s: replica has %d rows, PostgreSQL %d", table, len(g), len(w))
		}
		for id, wr := range w {
			gr, ok := g[id]
			if !ok {
				add("%s %s missing from the replica", table, id)
			}
			for col := range wr {
				if ok && !reflect.DeepEqual(gr[col], wr[col]) {
					add("%s %s.%s: replica %v, PostgreSQL %v", table, id, col, gr[col], wr[col])
				}
			}
			for col := range gr {
				if _, ok := wr[col]; !ok {
					add("%s %s: replica has column %s PostgreSQL does not give", table, id, col)
				}
			}
		}
		for id := range g {
			if _, ok := w[id]; !ok {
				add("%s %s in the replica but not in PostgreSQL", table, id)
			}
		}
	}
	if len(out) > 20 {
		out = append(out[:20], "…")
	}
	return strings.Join(out, "\n")
}

// TableCounts counts the rows of every seed table and of the audit log.
func TableCounts(tb testing.TB, pool *pgtest.Pool) map[string]int64 {
	tb.Helper()
	out := map[string]int64{}
	for _, table := range append(append([]string{}, workflow.Tables...), "sync.mutations", "sync.changes") {
		out[table] = Count(tb, pool, `SELECT count(*) FROM `+table)
	}
	return out
}

// Follower keeps a replica up to date the way a workstation does
// (desktop/sync.go): a poke makes it pull to the end; a pushed page (a
// hello with pages) whose from is its cursor is applied as it is, any
// other makes it pull. One goroutine owns the connection's frames.
type Follower struct {
	c        *Client
	selfPull time.Duration

	// Lock it to read the fields below while it follows.
	sync.Mutex
	Replica     *Replica
	Outcomes    []syncproto.Outcome
	Resolutions []syncproto.Resolution
	// pushed pages applied; skipped: pushed pages not applied (not from
	// its cursor, or while it pulled). Read through Counts.
	pushed, skipped, pulls, pokes int
	err                           error
	stop, done                    chan struct{}
}

// Follow pulls c to the head, then follows it until the test ends.
// selfPull, when positive, makes it also pull on its own this often, so
// that its pulls race the server's pushed pages.
func Follow(tb testing.TB, c *Client, selfPull time.Duration) *Follower {
	tb.Helper()
	f := &Follower{c: c, selfPull: selfPull, Replica: NewReplica(), stop: make(chan struct{}), done: make(chan struct{})}
	c.PullAll(tb, f.Replica, 0)
	c.DrainPokes()
	go f.loop()
	tb.Cleanup(f.Close)
	return f
}

func (f *Follower) loop() {
	defer close(f.done)
	pulling, again := false, false
	fail := func(err error) {
		f.Lock()
		f.err = cmp.Or(f.err, err)
		f.Unlock()
	}
	pull := func() {
		f.Lock()
		cur := f.Replica.Cursor
		f.pulls++
		f.Unlock()
		if err := f.c.Send(&syncproto.Pull{RequestID: f.c.NextID("follow"), Cursor: cur}); err != nil {
			fail(err)
		}
		pulling = true
	}
	var tick <-chan time.Time
	if f.selfPull > 0 {
		t := time.NewTicker(f.selfPull)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-tick:
			if !pulling {
				pull()
			}
		case <-f.stop:
			return
		case <-f.c.Closed():
			fail(fmt.Errorf("connection closed: %v", f.c.CloseError()))
			return
		case <-f.c.pokes:
			f.Lock()
			f.pokes++
			f.Unlock()
			if pulling {
				again = true
			} else {
				pull()
			}
		case r := <-f.c.Frames:
			ch, ok := r.F.(*syncproto.Changes)
			if !ok {
				fail(fmt.Errorf("unexpected frame %s", Clip(r.Raw)))
				return
			}
			f.Lock()
			pushed, applies := ch.From != "", ch.From == "" || (!pulling && ch.From == f.Replica.Cursor)
			if applies {
				f.Replica.Apply(ch)
				f.Outcomes = append(f.Outcomes, ch.Outcomes...)
				f.Resolutions = append(f.Resolutions, ch.Resolutions...)
			}
			if pushed && applies {
				f.pushed++
			} else if pushed {
				f.skipped++
			}
			f.Unlock()
			switch {
			case pushed && pulling:
				again = true
			case pushed && (!applies || ch.More):
				pull()
			case pushed:
			case ch.More || again:
				again = false
				pull()
			default:
				pulling = false
			}
		}
	}
}

// Close stops following.
func (f *Follower) Close() {
	select {
	case <-f.stop:
	default:
		close(f.stop)
	}
	<-f.done
}

// Counts are the pushed pages applied and skipped, the pulls and pokes.
func (f *Follower) Counts() (pushed, skipped, pulls, pokes int) {
	f.Lock()
	defer f.Unlock()
	return f.pushed, f.skipped, f.pulls, f.pokes
}

// Converges waits until the follower holds what PostgreSQL holds for roles.
func (f *Follower) Converges(tb testing.TB, pool *pgtest.Pool, roles []workflow.Role, d time.Duration) {
	tb.Helper()
	Eventually(tb, d, func() string {
		f.Lock()
		got, err := ReplicaState(tb, f.Replica.Rows, nil), f.err
		f.Unlock()
		if err != nil {
			tb.Fatalf("follower stopped: %v", err)
		}
		return Diff(got, PGState(tb, pool, roles))
	})
}

// CaughtUp waits until the follower's cursor is past every change made so
// far, so that no row image it receives later can be one it was owed.
func (f *Follower) CaughtUp(tb testing.TB, pool *pgtest.Pool) {
	tb.Helper()
	Eventually(tb, WaitTimeout, func() string {
		f.Lock()
		cur := f.Replica.Cursor
		f.Unlock()
		var x int64
		if _, err := fmt.Sscanf(cur, "f.%d.", &x); err != nil {
			return "cursor " + cur
		}
		if x <= Count(tb, pool, `SELECT COALESCE(max(xid)::text::bigint, 0) FROM sync.changes`) {
			return "the follower's cursor is not past the last change"
		}
		return ""
	})
}
