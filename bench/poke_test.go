package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/jackc/pgx/v5"

	"wardsync/internal/wardtest"
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
	e := benchServer(b)

	// The baseline first, while no device is connected to pull.
	base, err := rawNotifyLatency(e, cfg.Pokes)
	if err != nil {
		fatalf(b, "LISTEN/NOTIFY baseline: %v", err)
	}
	base = sortDurations(base)

	n := cfg.PokeDevices
	devs := devices(b, e, "Poke bench", n, func(i int) []workflow.Role {
		if i == 0 {
			return clinicRole // the author: secretary, nurse and doctor
		}
		return clinicRole[i%3 : i%3+1]
	})
	o := &observer{diagnose: func() string { return oldestWriter(e) }, n: n, results: make(chan *syncproto.PushResult, 4), failed: make(chan struct{})}
	for i, d := range devs {
		d.pages = !cfg.PokePull
		connect(b, e, d)
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
func serverCounts(e *wardtest.Server) (pulls, reads histo) {
	mfs, err := e.HTTP.Registry.Gather()
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
func oldestWriter(e *wardtest.Server) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var db, state, query string
	var age float64
	err := e.DB.Pool.QueryRow(ctx, `
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
func rawNotifyLatency(e *wardtest.Server, acts int) ([]time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	listener, err := pgx.Connect(ctx, e.DatabaseURL)
	if err != nil {
		return nil, err
	}
	defer listener.Close(context.Background())
	writer, err := pgx.Connect(ctx, e.DatabaseURL)
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

// BenchmarkConnections: cfg.Conns idle devices (each its own registered
// workstation serving NURSE, its own session) hold a websocket to one
// wardsync-server child process, hello done. Reported: the server's peak
// RSS (VmHWM) with all of them connected and poked, the time to connect
// them, and the time from committing one change (an appointment update by
// SQL: the capture trigger notifies) until the poke for it has reached
// every device (poke-all-ms; poke-p50-ms for the median device). The
// devices only read: they do not pull after the poke.
//
// Baseline in the same run, in this process: cfg.Conns bare
// gorilla/websocket connections to a bare server that writes one message
// to each, one after the other; baseline-ms until all have it.
//
// The open-file limit of this process is raised to its hard limit; the
// server child inherits it.
func BenchmarkConnections(b *testing.B) {
	cfg := loadConfig()
	ctx := context.Background()
	need := uint64(cfg.Conns + 1000)
	limit, err := raiseNoFile(need)
	if err != nil {
		fatalf(b, "raise RLIMIT_NOFILE: %v", err)
	}
	if limit < need {
		fatalf(b, "the open-file hard limit is %d; %d connections need %d (ulimit -Hn)", limit, cfg.Conns, need)
	}

	base, err := bareBroadcast(b, cfg.Conns)
	if err != nil {
		fatalf(b, "baseline: %v", err)
	}

	dbURL, pool := wardtest.SeededDB(b, "")
	// cfg.Conns devices, each with a session whose token is its id (the
	// token is stored hashed, as a login stores it): logging 10,000 users
	// in through bcrypt would take longer than the rest of the run.
	nurse := postgres.SeedID("user:nurse@hospital.com")
	for _, q := range []string{
		`INSERT INTO sync.devices (id, name, roles) SELECT 'conn-' || g, 'Idle ' || g, ARRAY['NURSE'] FROM generate_series(1, $1::int) g`,
		`INSERT INTO sync.sessions (id, token_hash, user_id, device_id, issued_at, expires_at)
		 SELECT 'conn-' || g, sha256(convert_to('conn-' || g, 'UTF8')), $2, 'conn-' || g, now(), now() + interval '7 days'
		   FROM generate_series(1, $1::int) g`,
	} {
		args := []any{cfg.Conns}
		if strings.Contains(q, "$2") {
			args = append(args, nurse)
		}
		if _, err := pool.Exec(ctx, q, args...); err != nil {
			fatalf(b, "prepare devices: %v", err)
		}
	}
	apptID := uuid.NewString()
	if _, err := pool.Exec(ctx, `
		INSERT INTO appointments (id, date, motif, status, "createdAt", "updatedAt", "patientId", "doctorId", "billingStatus")
		VALUES ($1, now(), 'connections bench', 'SCHEDULED', now(), now(), $2, $3, 'PENDING')`, apptID, postgres.SeedID("patient:1"), doctorID); err != nil {
		fatalf(b, "prepare appointment: %v", err)
	}

	srv, url := startServer(b, dbURL)
	var connectTook, pokeAll, pokeP50 time.Duration
	var peakMB, rssMB float64
	for i := 0; i < b.N; i++ {
		fleet := &idleFleet{}
		start := time.Now()
		if err := fleet.connect(url, cfg.Conns); err != nil {
			fleet.close()
			fatalf(b, "%v", err)
		}
		connectTook = time.Since(start)
		var head int64
		if err := pool.QueryRow(ctx, `SELECT COALESCE(max(id), 0) FROM sync.changes`).Scan(&head); err != nil {
			fatalf(b, "%v", err)
		}
		fleet.arm(head)
		t0 := time.Now()
		if _, err := pool.Exec(ctx, `UPDATE appointments SET motif = motif || '.', "updatedAt" = now() WHERE id = $1`, apptID); err != nil {
			fatalf(b, "%v", err)
		}
		lat, err := fleet.wait(t0, 2*time.Minute)
		peakMB, rssMB = memMB(srv.Cmd.Process.Pid)
		fleet.close()
		if err != nil {
			fatalf(b, "%v", err)
		}
		lat = sortDurations(lat)
		pokeAll, pokeP50 = lat[len(lat)-1], lat[len(lat)/2]
	}
	logf(b, "connections: %d devices connected in %.1f s; server RSS %.0f MB (peak %.0f MB); poke reached all in %.1f ms (median device %.1f ms); baseline bare broadcast %.1f ms",
		cfg.Conns, connectTook.Seconds(), rssMB, peakMB, ms(pokeAll), ms(pokeP50), ms(base))
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(cfg.Conns), "conns")
	b.ReportMetric(peakMB, "server-peak-MB")
	b.ReportMetric(connectTook.Seconds(), "connect-s")
	b.ReportMetric(ms(pokeAll), "poke-all-ms")
	b.ReportMetric(ms(pokeP50), "poke-p50-ms")
	b.ReportMetric(ms(base), "baseline-ms")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// idleFleet is many idle devices: each connection's reader waits for the
// poke of the armed head.
type idleFleet struct {
	conns []*wardtest.Conn
	after atomic.Int64 // a poke counts when its head is above this; -1 unarmed
	t0    atomic.Int64 // unix ns of the change
	got   []atomic.Int64
	left  atomic.Int64
	done  chan struct{}
	fail  chan error
	wg    sync.WaitGroup
}

// smallBuf keeps each idle connection's buffers small, so that the
// benchmark's own side of 10,000 connections stays light.
const smallBuf = 1024

func (f *idleFleet) connect(baseURL string, n int) error {
	f.after.Store(-1)
	f.got = make([]atomic.Int64, n)
	f.left.Store(int64(n))
	f.done, f.fail = make(chan struct{}), make(chan error, 1)
	f.conns = make([]*wardtest.Conn, n)
	err := wardtest.Parallel(n, 64, func(i int) error {
		id := "conn-" + strconv.Itoa(i+1)
		ws, _, err := wardtest.DialHello(baseURL, id, smallBuf, syncproto.Hello{DeviceID: id})
		if err != nil {
			return fmt.Errorf("device %s: %w", id, err)
		}
		f.conns[i] = ws
		return nil
	})
	if err != nil {
		return err
	}
	for i, ws := range f.conns {
		f.wg.Add(1)
		go f.read(i, ws)
	}
	return nil
}

func (f *idleFleet) read(i int, ws *wardtest.Conn) {
	defer f.wg.Done()
	for {
		_, data, err := ws.WS.ReadMessage()
		if err != nil {
			if f.left.Load() > 0 && f.after.Load() >= 0 {
				select {
				case f.fail <- fmt.Errorf("device %d lost its connection before the poke: %w", i+1, err):
				default:
				}
			}
			return
		}
		fr, err := syncproto.DecodeFromServer(data)
		if err != nil {
			continue
		}
		p, ok := fr.(*syncproto.Poke)
		if !ok {
			continue
		}
		after := f.after.Load()
		if h, err := strconv.ParseInt(p.Head, 10, 64); err != nil || after < 0 || h <= after {
			continue
		}
		if f.got[i].CompareAndSwap(0, max(time.Now().UnixNano()-f.t0.Load(), 1)) && f.left.Add(-1) == 0 {
			close(f.done)
		}
	}
}

// arm makes pokes above head count from now on.
func (f *idleFleet) arm(head int64) {
	f.t0.Store(time.Now().UnixNano())
	f.after.Store(head)
}

// wait returns each device's latency from t0 once all have the poke.
func (f *idleFleet) wait(t0 time.Time, timeout time.Duration) ([]time.Duration, error) {
	// The readers measured from arm; t0 (the change) is a moment later.
	skew := t0.UnixNano() - f.t0.Load()
	select {
	case <-f.done:
	case err := <-f.fail:
		return nil, err
	case <-time.After(timeout):
		return nil, fmt.Errorf("%d of %d devices had no poke after %s", f.left.Load(), len(f.got), timeout)
	}
	out := make([]time.Duration, len(f.got))
	for i := range f.got {
		out[i] = time.Duration(max(f.got[i].Load()-skew, 0))
	}
	return out, nil
}

func (f *idleFleet) close() {
	f.after.Store(-1)
	for _, ws := range f.conns {
		if ws != nil {
			ws.WS.Close()
		}
	}
	f.wg.Wait()
}

// bareBroadcast is the connections' floor: n bare websockets to a bare
// gorilla/websocket server (this test binary re-run as a child process, so
// that each side has its own descriptors, as with ours), which writes one
// small message to each in turn; the time from telling it to until every
// client has read it.
func bareBroadcast(b *testing.B, n int) (time.Duration, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(self, "-test.run=^$")
	cmd.Env = append(os.Environ(), bareServerEnv+"=1")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return 0, err
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	p, err := wardtest.StartProc(cmd, "", "")
	if err != nil {
		return 0, err
	}
	defer func() {
		in.Close()
		p.Kill()
	}()
	out := bufio.NewScanner(outPipe)
	line := func() (string, error) {
		if !out.Scan() {
			return "", fmt.Errorf("bare server: no answer (%v)", out.Err())
		}
		return out.Text(), nil
	}
	addr, err := line()
	if err != nil {
		return 0, err
	}

	var left atomic.Int64
	left.Store(int64(n))
	done := make(chan struct{})
	clients := make([]*websocket.Conn, 0, n)
	defer func() {
		for _, ws := range clients {
			ws.Close()
		}
	}()
	u := "ws://" + addr + "/"
	for i := 0; i < n; i++ {
		ws, _, err := (&websocket.Dialer{HandshakeTimeout: time.Minute, ReadBufferSize: smallBuf, WriteBufferSize: smallBuf}).Dial(u, nil)
		if err != nil {
			return 0, fmt.Errorf("bare dial %d: %w", i, err)
		}
		clients = append(clients, ws)
		go func() {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
			if left.Add(-1) == 0 {
				close(done)
			}
		}()
	}
	if _, err := fmt.Fprintf(in, "%d\n", n); err != nil {
		return 0, err
	}
	if l, err := line(); err != nil || l != "ready" {
		return 0, fmt.Errorf("bare server: %q, %v", l, err)
	}
	start := time.Now()
	if _, err := fmt.Fprintln(in, "go"); err != nil {
		return 0, err
	}
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		return 0, fmt.Errorf("%d of %d bare clients had nothing after 2 minutes", left.Load(), n)
	}
	return time.Since(start), nil
}

// bareServerEnv makes TestMain run bareServer instead of the benchmarks.
const bareServerEnv = "WARDSYNC_BENCH_BARE_SERVER"

// bareServer is the baseline's server process: it prints its address,
// reads n, prints "ready" once n websockets are open, then on "go" writes
// one poke-sized message to each, one after the other.
func bareServer() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	up := websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 1024}
	var mu sync.Mutex
	var conns []*websocket.Conn
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		mu.Lock()
		conns = append(conns, ws)
		mu.Unlock()
	}))
	fmt.Println(ln.Addr().String())
	in := bufio.NewScanner(os.Stdin)
	if !in.Scan() {
		return 1
	}
	n, _ := strconv.Atoi(in.Text())
	for {
		mu.Lock()
		k := len(conns)
		mu.Unlock()
		if k >= n {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Println("ready")
	if !in.Scan() {
		return 1
	}
	msg, _ := syncproto.Encode(&syncproto.Poke{Head: "1"})
	mu.Lock()
	defer mu.Unlock()
	for _, ws := range conns {
		if err := ws.WriteMessage(websocket.TextMessage, msg); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	in.Scan() // until the benchmark closes stdin
	return 0
}

// raiseNoFile lifts this process's open-file limit (children inherit it)
// to at least want when it may (root may raise the hard limit too), else
// to the hard limit: 10,000 websockets need 10,000 descriptors on each
// side.
func raiseNoFile(want uint64) (uint64, error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, err
	}
	if r.Max < want {
		raised := syscall.Rlimit{Cur: want, Max: want}
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised) == nil {
			return want, nil
		}
	}
	r.Cur = r.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, err
	}
	return r.Cur, nil
}
