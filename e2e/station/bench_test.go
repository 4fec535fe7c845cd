package station

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"wardsync/desktop"
	"wardsync/server/postgres"
	"wardsync/workflow"
)

// The benchmarks run server and workstation in this one test process, on
// the shared 2-core machine; memory figures are the process's (both sides).
//
//	go test -run '^$' -bench . ./e2e/station                 100k appointments
//	WARDSYNC_BENCH_APPOINTMENTS=5000 go test -run '^$' -bench . ./e2e/station   a smoke run
//	WARDSYNC_LONG=1 go test -run '^$' -bench InitialSync -timeout 2h ./e2e/station   adds 1M

// peak RSS: VmHWM of this process, reset through /proc/self/clear_refs.
var vmRE = regexp.MustCompile(`(?m)^(VmHWM|VmRSS):\s+(\d+) kB`)

func memKB() (hwm, rss int64) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	for _, m := range vmRE.FindAllStringSubmatch(string(b), -1) {
		n, _ := strconv.ParseInt(m[2], 10, 64)
		if m[1] == "VmHWM" {
			hwm = n
		} else {
			rss = n
		}
	}
	return hwm, rss
}

// resetPeak returns the process's RSS once the heap is trimmed and the
// high-water mark reset to it.
func resetPeak() int64 {
	runtime.GC()
	debug.FreeOSMemory()
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	_, rss := memKB()
	return rss
}

// Fixtures: pristine synced replicas by size, kept in workDir for the
// benchmarks that only read or act locally.
var (
	fixtureMu sync.Mutex
	fixtures  = map[int]string{}
)

type syncRun struct {
	took           time.Duration
	rows           int64
	baseKB, peakKB int64
}

// syncHospital loads n appointments into a fresh database and times a new
// workstation's initial sync of it (loading and logging in excluded). The
// replica becomes the size's fixture.
func syncHospital(b *testing.B, n int) syncRun {
	b.StopTimer()
	env := newEnv(b, true)
	loadHospital(b, env.pool, n)
	var r syncRun
	r.rows = rowsVisible(b, env.pool)
	s := env.station(postgres.DemoDeviceID)
	s.loginAll(wardRoles...)
	r.baseKB = resetPeak()
	b.StartTimer()
	start := time.Now()
	s.run()
	deadline := time.Now().Add(2 * time.Hour)
	for {
		st := s.e.Status()
		if st.Online && st.LastSyncAt != nil && st.InitialSync == nil && !st.Syncing {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("initial sync of %d appointments not done: %+v", n, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.took = time.Since(start)
	b.StopTimer()
	r.peakKB, _ = memKB()
	s.stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.e.Close(ctx); err != nil {
		b.Fatal(err)
	}
	dst := filepath.Join(workDir, fmt.Sprintf("replica-%d.db", n))
	copyReplica(b, s.cfg.DBPath, dst)
	fixtureMu.Lock()
	fixtures[n] = dst
	fixtureMu.Unlock()
	return r
}

func copyReplica(tb testing.TB, src, dst string) {
	tb.Helper()
	for _, suffix := range []string{"", "-wal", "-shm"} {
		in, err := os.Open(src + suffix)
		if os.IsNotExist(err) && suffix != "" {
			os.Remove(dst + suffix)
			continue
		}
		if err != nil {
			tb.Fatal(err)
		}
		out, err := os.Create(dst + suffix)
		if err != nil {
			tb.Fatal(err)
		}
		_, err = io.Copy(out, in)
		in.Close()
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// hospitalReplica returns a copy (in the benchmark's temporary folder) of
// a replica synced with n appointments, syncing one first if needed.
func hospitalReplica(b *testing.B, n int) string {
	fixtureMu.Lock()
	src, ok := fixtures[n]
	fixtureMu.Unlock()
	if !ok {
		syncHospital(b, n)
		src = fixtures[n]
	}
	dst := filepath.Join(b.TempDir(), "replica.db")
	copyReplica(b, src, dst)
	return dst
}

// openOffline opens a replica without a server: acts queue, queries answer.
func openOffline(b *testing.B, path string) (*desktop.Engine, map[workflow.Role]string) {
	b.Helper()
	ctx := context.Background()
	e, err := desktop.Open(ctx, desktop.Config{DBPath: path, ServerURL: "http://127.0.0.1:9", Logger: testLogger(), Location: time.UTC})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close(context.Background()) })
	creds, err := e.DB().Credentials(ctx)
	if err != nil {
		b.Fatal(err)
	}
	users := map[workflow.Role]string{}
	for _, c := range creds {
		users[c.Role] = c.UserID
	}
	return e, users
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p)
	return s[i]
}

// benchSize is the benchmarks' database: 100,000 appointments, or
// $WARDSYNC_BENCH_APPOINTMENTS for a quick smoke run.
func benchSize() int {
	if n, err := strconv.Atoi(os.Getenv("WARDSYNC_BENCH_APPOINTMENTS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkInitialSync: a new workstation serving every role syncs a
// database of 100,000 appointments (1,000,000 with WARDSYNC_LONG=1) from
// nothing: time, rows/s, and the process's peak RSS (server and
// workstation together) above the RSS it started from.
func BenchmarkInitialSync(b *testing.B) {
	sizes := []int{benchSize()}
	if long() {
		sizes = append(sizes, 1_000_000)
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("appointments=%d", n), func(b *testing.B) {
			var r syncRun
			for i := 0; i < b.N; i++ {
				r = syncHospital(b, n)
			}
			b.ReportMetric(r.took.Seconds(), "s/sync")
			b.ReportMetric(float64(r.rows)/r.took.Seconds(), "rows/s")
			b.ReportMetric(float64(r.rows), "rows")
			b.ReportMetric(float64(r.peakKB)/1024, "peak-RSS-MB")
			b.ReportMetric(float64(r.baseKB)/1024, "start-RSS-MB")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkDashboards: the seed's four dashboard queries (secretary,
// nurse, doctor, biologist: Engine.Dashboard of each role, every queue of
// the role's home screen) on a replica of 100,000 appointments; 200 rounds.
func BenchmarkDashboards(b *testing.B) {
	path := hospitalReplica(b, benchSize())
	e, users := openOffline(b, path)
	ctx := context.Background()
	roles := []workflow.Role{sec, nur, doc, bio}
	lat := map[workflow.Role][]time.Duration{}
	const rounds = 200
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for r := 0; r < rounds; r++ {
			for _, role := range roles {
				t0 := time.Now()
				d, err := e.Dashboard(ctx, users[role])
				lat[role] = append(lat[role], time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
				if r == 0 && i == 0 {
					n := len(d.ToCheckIn) + len(d.ToPrepare) + len(d.Consultations) + len(d.SamplesReceived)
					if n == 0 {
						b.Fatalf("%s's dashboard is empty", role)
					}
				}
			}
		}
	}
	b.StopTimer()
	for _, role := range roles {
		name := map[workflow.Role]string{sec: "secretary", nur: "nurse", doc: "doctor", bio: "biologist"}[role]
		b.ReportMetric(ms(percentile(lat[role], 0.50)), name+"-p50-ms")
		b.ReportMetric(ms(percentile(lat[role], 0.99)), name+"-p99-ms")
	}
	b.ReportMetric(0, "ns/op")
}

// BenchmarkLocalAct: 10,000 acts on a replica of 100,000 appointments,
// offline (each act: the mutator on the replica's rows, its effect and the
// outbox entry in one SQLite transaction): check-in, vitals, consultation
// and close of 2,500 scheduled appointments, the outbox growing to 10,000.
func BenchmarkLocalAct(b *testing.B) {
	const acts = 10_000
	ctx := context.Background()
	var lat []time.Duration
	var took time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e, users := openOffline(b, hospitalReplica(b, benchSize()))
		rows, err := e.DB().SQL().QueryContext(ctx, `SELECT "id" FROM "appointments" WHERE "status" = 'SCHEDULED' ORDER BY "date" LIMIT ?`, acts/4)
		if err != nil {
			b.Fatal(err)
		}
		var ids []string
		for rows.Next() {
			var id string
			rows.Scan(&id)
			ids = append(ids, id)
		}
		rows.Close()
		if len(ids) == 0 {
			b.Fatal("no scheduled appointment to act on")
		}
		steps := func(id string) []step {
			return []step{
				{sec, "appointment.checkIn", map[string]any{"id": id}},
				{nur, "appointment.recordVitals", map[string]any{"id": id, "vitals": vitals(37.1, 122), "medicalHistoryNotes": "RAS"}},
				{doc, "appointment.completeConsultation", map[string]any{"id": id, "consultationNotes": "Examen normal."}},
				{sec, "appointment.close", map[string]any{"id": id, "billingAmount": "45.00", "billingStatus": "PENDING"}},
			}
		}
		lat = lat[:0]
		b.StartTimer()
		start := time.Now()
		for _, id := range ids {
			for _, st := range steps(id) {
				t0 := time.Now()
				if _, err := e.Act(ctx, users[st.role], st.name, mustJSON(st.args)); err != nil {
					b.Fatalf("%s: %v", st.name, err)
				}
				lat = append(lat, time.Since(t0))
			}
		}
		took = time.Since(start)
		b.StopTimer()
		e.Close(ctx)
	}
	b.ReportMetric(ms(percentile(lat, 0.50)), "p50-ms")
	b.ReportMetric(ms(percentile(lat, 0.99)), "p99-ms")
	b.ReportMetric(ms(percentile(lat, 1)), "max-ms")
	b.ReportMetric(float64(len(lat))/took.Seconds(), "acts/s")
	// Whether an act slows down as the outbox grows.
	if k := len(lat) / 10; k > 0 {
		b.ReportMetric(ms(percentile(lat[:k], 0.50)), "first10%-p50-ms")
		b.ReportMetric(ms(percentile(lat[len(lat)-k:], 0.50)), "last10%-p50-ms")
	}
	b.ReportMetric(0, "ns/op")
}

// BenchmarkDrain: a workstation that queued 10,000 acts of the whole
// workflow offline reconnects; the time until its outbox is empty (every act
// pushed, applied, and reflected by a pull).
func BenchmarkDrain(b *testing.B) {
	const acts = 10_000
	var took time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		env := newEnv(b, true)
		s := env.station(postgres.DemoDeviceID)
		s.loginAll(wardRoles...)
		s.run()
		waitFor(b, waitTimeout, s.synced)
		s.stop()
		if _, err := s.perform(wardScript("drain", acts, time.Now())); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		s.run()
		waitFor(b, 30*time.Minute, s.synced)
		took = time.Since(start)
		b.StopTimer()
		if n := env.count(`SELECT count(*) FROM sync.mutations WHERE device_id = $1 AND outcome = 'applied'`, postgres.DemoDeviceID); n != acts {
			b.Fatalf("%d acts applied, want %d", n, acts)
		}
		s.stop()
	}
	b.ReportMetric(took.Seconds(), "s/drain")
	b.ReportMetric(acts/took.Seconds(), "acts/s")
	b.ReportMetric(0, "ns/op")
}
