package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"wardsync/server/postgres"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// BenchmarkPokeLatency: cfg.PokeDevices workstations connected (hello done,
// pulled to head), each taking the pages the server pushes when it is at
// the head and answering every poke with pulls, as a workstation does
// (WARDSYNC_BENCH_POKE_PULL=1: the devices do not ask for pushed pages and
// pull on every poke, as every workstation did before them). Device A pushes one act at a time (the five acts of an
// appointment's day, over and over); the latency is the time from A
// sending the push until device B, another connection, has received the
// poke and pulled a page holding the row in its new state. Reported:
// p50-ms and p99-ms for B, p50-all-ms and p99-all-ms until every device
// but A had it; and, to see where the time goes, push-p50-ms (A has its
// pushResult) and poke-p50-ms (the poke reached B).
//
// Baseline in the same run, on the same database: a bare LISTEN/NOTIFY
// round trip (one connection commits the same kind of update, another one
// listening wakes up and reads the row): baseline-p50-ms, baseline-p99-ms.
func BenchmarkPokeLatency(b *testing.B) {
	cfg := loadConfig()
	e := startEnv(b, cfg)

	// The baseline first, while no device is connected to pull.
	base, err := rawNotifyLatency(e, cfg.Pokes)
	if err != nil {
		fatalf(b, "LISTEN/NOTIFY baseline: %v", err)
	}
	base = sortDurations(base)

	n := cfg.PokeDevices
	devs := e.devices(b, "Poke bench", n, func(i int) []workflow.Role {
		if i == 0 {
			return clinicRole // the author: secretary, nurse and doctor
		}
		return clinicRole[i%3 : i%3+1]
	})
	o := &observer{diagnose: e.oldestWriter, n: n, results: make(chan *syncproto.PushResult, 4), failed: make(chan struct{})}
	for i, d := range devs {
		d.pages = !cfg.PokePull
		e.connect(b, d)
		cur, err := pullToHead(d.ws, "")
		if err != nil {
			fatalf(b, "device %d initial pull: %v", i, err)
		}
		go o.loop(i, d, cur)
	}
	defer o.stopping.Store(true)
	a := devs[0]
	patient := uuid.NewString()
	if _, err := o.act(a, registerPatient(patient, 1)); err != nil {
		fatalf(b, "set-up act: %v", err)
	}

	var latB, latAll, acks, pokes []time.Duration
	pulls0, reads0 := serverCounts(e)
	b.ResetTimer()
	var acts []act
	for i := 0; i < b.N*cfg.Pokes; i++ {
		if len(acts) == 0 {
			acts = lifecycle(uuid.NewString(), patient, time.Now())
		}
		t, err := o.act(a, acts[0])
		if err != nil {
			fatalf(b, "act %d (%s): %v", i, acts[0].name, err)
		}
		acts = acts[1:]
		latB = append(latB, time.Duration(t.seen[1].Load()))
		acks = append(acks, time.Duration(t.acked.Load()))
		pokes = append(pokes, time.Duration(t.poked[1].Load()))
		var slowest time.Duration
		for j := 1; j < n; j++ {
			slowest = max(slowest, time.Duration(t.seen[j].Load()))
		}
		latAll = append(latAll, slowest)
	}
	b.StopTimer()
	pulls1, reads1 := serverCounts(e)
	latB, latAll, acks, pokes = sortDurations(latB), sortDurations(latAll), sortDurations(acks), sortDurations(pokes)
	mode := "pushed pages"
	if cfg.PokePull {
		mode = "pulls on every poke"
	}
	logf(b, "ours (%s): %d acts, %d devices: to device B p50 %.2f ms, p99 %.2f ms, max %.2f ms; to all %d devices p50 %.2f ms, p99 %.2f ms",
		mode, len(latB), n, percentileMS(latB, .5), percentileMS(latB, .99), percentileMS(latB, 1), n-1, percentileMS(latAll, .5), percentileMS(latAll, .99))
	logf(b, "ours, where the time goes (p50/p99): push answered to A %.2f/%.2f ms, poke reached B %.2f/%.2f ms",
		percentileMS(acks, .5), percentileMS(acks, .99), percentileMS(pokes, .5), percentileMS(pokes, .99))
	logf(b, "baseline: %d bare NOTIFY round trips: p50 %.2f ms, p99 %.2f ms", len(base), percentileMS(base, .5), percentileMS(base, .99))
	nActs := float64(len(latB))
	logf(b, "ours, per act: %.1f pulls served, %.2f shared reads of %.2f ms on average (%.2f ms of shared reads in all)",
		(pulls1.count-pulls0.count)/nActs, (reads1.count-reads0.count)/nActs, 1000*(reads1.sum-reads0.sum)/max(reads1.count-reads0.count, 1), 1000*(reads1.sum-reads0.sum)/nActs)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric((pulls1.count-pulls0.count)/nActs, "pulls/act")
	b.ReportMetric(percentileMS(latB, .5), "p50-ms")
	b.ReportMetric(percentileMS(latB, .99), "p99-ms")
	b.ReportMetric(percentileMS(latAll, .5), "p50-all-ms")
	b.ReportMetric(percentileMS(latAll, .99), "p99-all-ms")
	b.ReportMetric(percentileMS(acks, .5), "push-p50-ms")
	b.ReportMetric(percentileMS(pokes, .5), "poke-p50-ms")
	b.ReportMetric(percentileMS(base, .5), "baseline-p50-ms")
	b.ReportMetric(percentileMS(base, .99), "baseline-p99-ms")
}

// histo is a histogram's count and sum (seconds) as the server's
// registry reports it.
type histo struct{ count, sum float64 }

// serverCounts reads the server's pull and shared-read histograms.
func serverCounts(e *env) (pulls, reads histo) {
	mfs, err := e.srv.Registry.Gather()
	if err != nil {
		return
	}
	for _, mf := range mfs {
		var h *histo
		switch mf.GetName() {
		case "wardsync_pull_duration_seconds":
			h = &pulls
		case "wardsync_shared_page_read_duration_seconds":
			h = &reads
		default:
			continue
		}
		for _, m := range mf.GetMetric() {
			h.count += float64(m.GetHistogram().GetSampleCount())
			h.sum += m.GetHistogram().GetSampleSum()
		}
	}
	return
}

// observer runs the read loops of every device and tells the author when
// the current target row has reached them.
type observer struct {
	diagnose func() string
	n        int
	cur      atomic.Pointer[target]
	results  chan *syncproto.PushResult // device 0's push results
	failed   chan struct{}
	failErr  atomic.Pointer[error]
	stopping atomic.Bool
}

// target is the row state the devices wait for after one act.
type target struct {
	table, rowID, status string
	t0                   time.Time
	seen                 []atomic.Int64 // per device: latency in ns, 0 until seen
	poked                []atomic.Int64 // per device: first poke after t0, ns
	acked                atomic.Int64   // the author's pushResult, ns
	left                 atomic.Int32   // devices other than the author still to see it
	done                 chan struct{}
}

func (o *observer) fail(err error) {
	if o.stopping.Load() {
		return
	}
	if o.failErr.CompareAndSwap(nil, &err) {
		close(o.failed)
	}
}

// actTimeout bounds one act: generous, because a long transaction anywhere
// in the cluster holds every change back (see oldestWriter).
const actTimeout = 2 * time.Minute

// act pushes one act from device a and waits until every other device has
// pulled the row it wrote.
func (o *observer) act(a *device, ac act) (*target, error) {
	t := &target{table: ac.table, rowID: ac.rowID, status: ac.status, seen: make([]atomic.Int64, o.n),
		poked: make([]atomic.Int64, o.n), done: make(chan struct{})}
	t.left.Store(int32(o.n - 1))
	m := a.mutation(ac)
	reqID := "a" + strconv.FormatInt(m.Seq, 10)
	t.t0 = time.Now()
	o.cur.Store(t)
	if err := a.ws.Send(&syncproto.Push{RequestID: reqID, Mutations: []syncproto.Mutation{m}}); err != nil {
		return nil, err
	}
	timeout := time.NewTimer(actTimeout)
	defer timeout.Stop()
	select {
	case r := <-o.results:
		t.acked.Store(int64(time.Since(t.t0)))
		if err := allApplied([]syncproto.Mutation{m}, r.Results); err != nil {
			return nil, err
		}
	case <-o.failed:
		return nil, *o.failErr.Load()
	case <-timeout.C:
		return nil, fmt.Errorf("no pushResult within %s", actTimeout)
	}
	select {
	case <-t.done:
		return t, nil
	case <-o.failed:
		return nil, *o.failErr.Load()
	case <-timeout.C:
		return nil, fmt.Errorf("%d devices had not pulled %s %s within %s%s", t.left.Load(), ac.table, ac.rowID, actTimeout, o.diagnose())
	}
}

// loop is one device's read loop: a poke starts a pull unless one is in
// flight (then one more follows it); pages are followed while more. A
// pushed page is applied when it starts at the device's cursor and no pull
// is in flight, as the desktop engine does; otherwise it counts as a poke.
func (o *observer) loop(i int, d *device, cursor string) {
	pulling, again, n := false, false, 0
	pull := func() error {
		n++
		pulling = true
		return d.ws.Send(&syncproto.Pull{RequestID: "l" + strconv.Itoa(n), Cursor: cursor})
	}
	for {
		f, err := d.ws.Read(0)
		if err != nil {
			o.fail(fmt.Errorf("device %d: %w", i, err))
			return
		}
		switch f := f.(type) {
		case *syncproto.Poke:
			if t := o.cur.Load(); t != nil {
				t.poked[i].CompareAndSwap(0, int64(max(time.Since(t.t0), 1)))
			}
			if pulling {
				again = true
			} else if err := pull(); err != nil {
				o.fail(err)
				return
			}
		case *syncproto.Changes:
			if f.From != "" { // pushed: it is the poke too
				if t := o.cur.Load(); t != nil {
					t.poked[i].CompareAndSwap(0, int64(max(time.Since(t.t0), 1)))
				}
				switch {
				case pulling:
					again = true
					continue
				case f.From != cursor:
					if err := pull(); err != nil {
						o.fail(err)
						return
					}
					continue
				}
				cursor = f.Cursor
				o.saw(i, f.Changes)
				if f.More {
					if err := pull(); err != nil {
						o.fail(err)
						return
					}
				}
				continue
			}
			cursor = f.Cursor
			o.saw(i, f.Changes)
			if f.More || again {
				again = false
				if err := pull(); err != nil {
					o.fail(err)
					return
				}
			} else {
				pulling = false
			}
		case *syncproto.PushResult:
			o.results <- f
		case *syncproto.Error:
			o.fail(fmt.Errorf("device %d: error frame %s: %s", i, f.Code, f.Message))
			return
		}
	}
}

func (o *observer) saw(i int, changes []syncproto.Change) {
	t := o.cur.Load()
	if t == nil {
		return
	}
	for _, c := range changes {
		if c.Table != t.table || c.ID != t.rowID || c.Op != syncproto.OpUpsert {
			continue
		}
		if t.status != "" {
			var row struct {
				Status string `json:"status"`
			}
			if json.Unmarshal(c.Row, &row) != nil || row.Status != t.status {
				continue
			}
		}
		if t.seen[i].CompareAndSwap(0, int64(max(time.Since(t.t0), 1))) && i != 0 {
			if t.left.Add(-1) == 0 {
				close(t.done)
			}
		}
	}
}

// oldestWriter names the oldest transaction holding an xid anywhere in the
// cluster: the feed's horizon is cluster-wide, so a long transaction in any
// database (another test's bulk insert, say) holds every change back.
func (e *env) oldestWriter() string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var db, state, query string
	var age float64
	err := e.db.Pool.QueryRow(ctx, `
		SELECT COALESCE(datname, ''), COALESCE(state, ''), extract(epoch FROM now() - xact_start)::float8,
		       left(regexp_replace(COALESCE(query, ''), '\s+', ' ', 'g'), 100)
		  FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()
		 ORDER BY age(backend_xid) DESC LIMIT 1`).Scan(&db, &state, &age, &query)
	if err != nil {
		return ""
	}
	return fmt.Sprintf(" (the feed horizon is cluster-wide: the oldest open writer is in database %s, %s for %.1f s: %s)", db, state, age, query)
}

// rawNotifyLatency is the database's own floor under a poke: one
// connection commits an update of an appointment (the capture trigger
// writes the feed and notifies), another, listening, wakes up and reads the
// row in its new state.
func rawNotifyLatency(e *env, acts int) ([]time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	listener, err := pgx.Connect(ctx, e.dbURL)
	if err != nil {
		return nil, err
	}
	defer listener.Close(context.Background())
	writer, err := pgx.Connect(ctx, e.dbURL)
	if err != nil {
		return nil, err
	}
	defer writer.Close(context.Background())
	id := uuid.NewString()
	if _, err := writer.Exec(ctx, `
		INSERT INTO appointments (id, date, motif, status, "createdAt", "updatedAt", "patientId", "doctorId", "billingStatus")
		VALUES ($1, now(), 'notify baseline', 'SCHEDULED', now(), now(), $2, $3, 'PENDING')`, id, postgres.SeedID("patient:1"), doctorID); err != nil {
		return nil, err
	}
	if _, err := listener.Exec(ctx, `LISTEN wardsync_changes`); err != nil {
		return nil, err
	}
	var out []time.Duration
	statuses := []string{"CHECKED_IN", "SCHEDULED"}
	for k := 0; k < acts; k++ {
		want := statuses[k%2]
		t0 := time.Now()
		if _, err := writer.Exec(ctx, `UPDATE appointments SET status = $2::"AppointmentStatus", "updatedAt" = now() WHERE id = $1`, id, want); err != nil {
			return nil, err
		}
		for {
			wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
			_, err := listener.WaitForNotification(wctx)
			wcancel()
			if err != nil {
				return nil, fmt.Errorf("no notification: %w", err)
			}
			var got string
			if err := listener.QueryRow(ctx, `SELECT status::text FROM appointments WHERE id = $1`, id).Scan(&got); err != nil {
				return nil, err
			}
			if got == want {
				break
			}
		}
		out = append(out, time.Since(t0))
	}
	return out, nil
}
