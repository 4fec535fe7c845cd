package bench

import (
	"bufio"
	"context"
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

	"wardsync/internal/pgtest"
	"wardsync/internal/wardtest"
	"wardsync/server/postgres"
	"wardsync/syncproto"
)

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

	pool, dbURL := pgtest.MustOpenDB(b)
	db, err := postgres.Open(ctx, dbURL, postgres.DefaultConfig())
	if err != nil {
		fatalf(b, "open database: %v", err)
	}
	defer db.Close(context.Background())
	if _, err := db.Seed(ctx); err != nil {
		fatalf(b, "seed: %v", err)
	}
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
	jobs := make(chan int)
	errs := make(chan error, 64)
	var wg sync.WaitGroup
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				id := "conn-" + strconv.Itoa(i+1)
				ws, _, err := wardtest.DialConn(baseURL, id, smallBuf)
				if err == nil {
					_, err = ws.Request(&syncproto.Hello{RequestID: "hello", Protocol: syncproto.Version, DeviceID: id}, 2*time.Minute)
				}
				if err == nil {
					err = ws.WS.SetReadDeadline(time.Time{})
				}
				if err != nil {
					select {
					case errs <- fmt.Errorf("device %s: %w", id, err):
					default:
					}
					if ws != nil {
						ws.WS.Close()
					}
					continue
				}
				f.conns[i] = ws
			}
		}()
	}
	for i := 0; i < n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
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
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return 0, err
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() {
		in.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
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
