package bench

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"wardsync/bench/fixture"
	"wardsync/desktop"
	"wardsync/desktop/sqlite"
	"wardsync/internal/pgtest"
	"wardsync/server/postgres"
	"wardsync/workflow"
)

// wardRoles are the roles the initial-sync workstation logs in (the demo
// device serves them all): the four dashboards need them.
var wardRoles = []workflow.Role{workflow.RoleSecretary, workflow.RoleNurse, workflow.RoleDoctor, workflow.RoleBiologist}

var seedLogin = func() map[workflow.Role]postgres.SeedUser {
	m := map[workflow.Role]postgres.SeedUser{}
	for _, u := range postgres.SeedUsers {
		m[u.Role] = u
	}
	return m
}()

// syncRun is one initial sync as measured.
type syncRun struct {
	appointments  int
	rows          int64
	took          time.Duration
	serverPeakMB  float64
	stationPeakMB float64
	serverCPU     float64 // seconds, from its start (the logins included)
	stationCPU    float64
	baseline      time.Duration
	replica       string // the synced replica, closed
}

// Replicas synced by BenchmarkInitialSync, by size, reused (copied) by the
// benchmarks that only act or read locally.
var (
	replicaMu sync.Mutex
	replicas  = map[int]string{}
)

// initialSync loads n appointments into a fresh database, then times a
// new workstation (the wardsync-station binary, its users logged in first)
// syncing all of it from a wardsync-server child: from starting `run`
// until the replica holds every row the device may see. Then, in the same
// run on the same rows, the baseline: COPY … TO STDOUT of every row (as
// JSON) straight into a bare SQLite table, one transaction per table.
func initialSync(b *testing.B, n int) syncRun {
	b.Helper()
	ctx := context.Background()
	pool, dbURL := pgtest.MustOpenDB(b)
	db, err := postgres.Open(ctx, dbURL, postgres.DefaultConfig())
	if err != nil {
		fatalf(b, "open database: %v", err)
	}
	defer db.Close(context.Background())
	if _, err := db.Seed(ctx); err != nil {
		fatalf(b, "seed: %v", err)
	}
	exec := func(ctx context.Context, q string, args ...any) error {
		_, err := pool.Exec(ctx, q, args...)
		return err
	}
	loadStart := time.Now()
	if _, err := fixture.LoadHospital(ctx, exec, n, time.Now()); err != nil {
		fatalf(b, "%v", err)
	}
	r := syncRun{appointments: n}
	if err := pool.QueryRow(ctx, fixture.RowsVisibleSQL).Scan(&r.rows); err != nil {
		fatalf(b, "count rows: %v", err)
	}
	logf(b, "initial sync: loaded %d appointments (%d rows a full device receives) in %s", n, r.rows, time.Since(loadStart).Round(time.Millisecond))
	_, _ = pool.Exec(ctx, `CHECKPOINT`)

	_, stationBin := binaries(b)
	srv, url := startServer(b, dbURL)
	dir := b.TempDir()
	replica := filepath.Join(dir, "replica.db")
	env := []string{"WARDSYNC_DB=" + replica, "WARDSYNC_SERVER=" + url, "WARDSYNC_DEVICE=" + postgres.DemoDeviceID}
	for _, role := range wardRoles {
		u := seedLogin[role]
		lctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		err := runStation(lctx, stationBin, append(env, "WARDSYNC_PASSWORD="+u.Password), "login", "-email", u.Email)
		cancel()
		if err != nil {
			fatalf(b, "%v", err)
		}
	}
	// A bare handle: sqlite.Open would migrate and run a checkpointer of
	// its own beside the station's.
	rdb, err := sql.Open("sqlite", sqlite.DSN(replica))
	if err != nil {
		fatalf(b, "open the replica to watch it: %v", err)
	}
	rdb.SetMaxOpenConns(1)
	defer rdb.Close()

	poll := 100 * time.Millisecond
	if n > 200_000 {
		poll = time.Second
	}
	start := time.Now()
	st, _ := startChild(b, filepath.Join(dir, "station.log"), env, stationBin, "run")
	for {
		got, err := replicaRows(ctx, rdb)
		if err != nil {
			fatalf(b, "count the replica's rows: %v", err)
		}
		if got >= r.rows {
			break
		}
		select {
		case err := <-st.done:
			log, _ := os.ReadFile(filepath.Join(dir, "station.log"))
			fatalf(b, "wardsync-station run exited (%v) with %d of %d rows\n%s", err, got, r.rows, tail(log, 2000))
		case <-time.After(poll):
		}
	}
	r.took = time.Since(start)
	r.stationPeakMB, _ = memMB(st.pid())
	r.serverPeakMB, _ = memMB(srv.pid())
	if err := st.stop(); err != nil {
		logf(b, "wardsync-station run: %v", err)
	}
	_ = srv.stop()
	r.stationCPU, r.serverCPU = st.cpuSeconds(), srv.cpuSeconds()
	rdb.Close()
	r.replica = replica

	// The baseline on the same rows.
	bstart := time.Now()
	copied, err := copyRowsToSQLite(ctx, pool, filepath.Join(dir, "baseline.db"))
	if err != nil {
		fatalf(b, "baseline: %v", err)
	}
	r.baseline = time.Since(bstart)
	if copied != r.rows {
		fatalf(b, "baseline copied %d rows, the device receives %d", copied, r.rows)
	}
	logf(b, "initial sync of %d rows: ours %.1f s (%.0f rows/s; peak RSS server %.0f MB, station %.0f MB; CPU server %.1f s, station %.1f s); baseline COPY → SQLite %.1f s",
		r.rows, r.took.Seconds(), float64(r.rows)/r.took.Seconds(), r.serverPeakMB, r.stationPeakMB, r.serverCPU, r.stationCPU, r.baseline.Seconds())

	// Keep the replica for the local benchmarks.
	keep := filepath.Join(benchDataDir(b), fmt.Sprintf("replica-%d.db", n))
	if err := copyReplica(replica, keep); err != nil {
		fatalf(b, "%v", err)
	}
	replicaMu.Lock()
	replicas[n] = keep
	replicaMu.Unlock()
	return r
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// replicaRows counts the replica's rows once its initial load is over,
// and is 0 before: counting six tables every poll while the station loads
// them took CPU and I/O from the station being measured. The load is over
// when the replica's cursor is a feed position ("f.…",
// server/postgres/feed.go) and the indexes deferred during the snapshot
// are built again (deferred_indexes is empty, desktop/sqlite/bulkload.go):
// a replica without them is not ready for work, and the local act and
// dashboard rows run on a copy of this one.
func replicaRows(ctx context.Context, db *sql.DB) (int64, error) {
	var cursor string
	var deferred int
	if err := db.QueryRowContext(ctx, `SELECT COALESCE((SELECT cursor FROM sync_state), ''), (SELECT count(*) FROM deferred_indexes)`).Scan(&cursor, &deferred); err != nil {
		return 0, err
	}
	if !strings.HasPrefix(cursor, "f.") || deferred > 0 {
		return 0, nil
	}
	parts := make([]string, len(fixture.ReplicaTables))
	for i, t := range fixture.ReplicaTables {
		parts[i] = `(SELECT count(*) FROM "` + t + `")`
	}
	var n int64
	err := db.QueryRowContext(ctx, `SELECT `+strings.Join(parts, " + ")).Scan(&n)
	return n, err
}

// copyRowsToSQLite is the initial sync's floor: every row the device
// receives, read by COPY (SELECT id, to_jsonb(t) …) TO STDOUT and inserted
// into a bare SQLite table (same pragmas as a replica) in one transaction
// per table. It returns how many rows it copied.
func copyRowsToSQLite(ctx context.Context, pool *pgxpool.Pool, path string) (int64, error) {
	db, err := sql.Open("sqlite", sqlite.DSN(path))
	if err != nil {
		return 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Release()
	var total int64
	for _, table := range fixture.ReplicaTables {
		if _, err := db.ExecContext(ctx, `CREATE TABLE "`+table+`" (id TEXT PRIMARY KEY, row TEXT NOT NULL)`); err != nil {
			return total, err
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return total, err
		}
		ins, err := tx.PrepareContext(ctx, `INSERT INTO "`+table+`" (id, row) VALUES (?, ?)`)
		if err != nil {
			tx.Rollback()
			return total, err
		}
		pr, pw := io.Pipe()
		copyErr := make(chan error, 1)
		go func() {
			_, err := conn.Conn().PgConn().CopyTo(ctx, pw, `COPY (SELECT id, to_jsonb(t)::text FROM "`+table+`" t) TO STDOUT`)
			pw.CloseWithError(err)
			copyErr <- err
		}()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			id, row, _ := bytes.Cut(sc.Bytes(), []byte{'\t'})
			if _, err := ins.ExecContext(ctx, string(id), string(row)); err != nil {
				pr.CloseWithError(err)
				<-copyErr
				tx.Rollback()
				return total, err
			}
			total++
		}
		if err := sc.Err(); err != nil {
			tx.Rollback()
			return total, err
		}
		if err := <-copyErr; err != nil {
			tx.Rollback()
			return total, err
		}
		ins.Close()
		if err := tx.Commit(); err != nil {
			return total, err
		}
	}
	return total, nil
}

var (
	dataDirOnce sync.Once
	dataDir     string
)

// benchDataDir holds the replicas kept between benchmarks (removed by TestMain).
func benchDataDir(b *testing.B) string {
	dataDirOnce.Do(func() {
		dataDir, _ = os.MkdirTemp("", "wardsync-bench-data-")
	})
	if dataDir == "" {
		fatalf(b, "no temporary folder for the replicas")
	}
	return dataDir
}

func copyReplica(src, dst string) error {
	for _, suffix := range []string{"", "-wal", "-shm"} {
		in, err := os.Open(src + suffix)
		if os.IsNotExist(err) && suffix != "" {
			os.Remove(dst + suffix)
			continue
		}
		if err != nil {
			return err
		}
		out, err := os.Create(dst + suffix)
		if err != nil {
			in.Close()
			return err
		}
		_, err = io.Copy(out, in)
		in.Close()
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// hospitalReplica returns a copy, in the benchmark's temporary folder, of
// a replica synced with n appointments, syncing one first if this run has
// none yet (e.g. -bench LocalAct alone).
func hospitalReplica(b *testing.B, n int) string {
	b.Helper()
	replicaMu.Lock()
	src, ok := replicas[n]
	replicaMu.Unlock()
	if !ok {
		src = initialSync(b, n).replica
	}
	dst := filepath.Join(b.TempDir(), "replica.db")
	if err := copyReplica(src, dst); err != nil {
		fatalf(b, "%v", err)
	}
	return dst
}

// openOffline opens a replica without a server: acts queue, queries answer.
func openOffline(b *testing.B, path string) (*desktop.Engine, map[workflow.Role]string) {
	b.Helper()
	ctx := context.Background()
	e, err := desktop.Open(ctx, desktop.Config{DBPath: path, ServerURL: "http://127.0.0.1:9",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Location: time.UTC})
	if err != nil {
		fatalf(b, "open %s: %v", path, err)
	}
	b.Cleanup(func() { e.Close(context.Background()) })
	creds, err := e.DB().Credentials(ctx)
	if err != nil {
		fatalf(b, "%v", err)
	}
	users := map[workflow.Role]string{}
	for _, c := range creds {
		users[c.Role] = c.UserID
	}
	return e, users
}

// BenchmarkInitialSync100k: a new workstation serving every role syncs a
// database of cfg.SyncAppointments appointments (100,000: about 114,000
// rows of six tables) from nothing. Both sides are real processes:
// seconds, rows/s, and each one's peak RSS. Baseline: the same rows by
// COPY TO STDOUT into a bare SQLite table (baseline-s).
func BenchmarkInitialSync100k(b *testing.B) {
	benchInitialSync(b, loadConfig().SyncAppointments)
}

// BenchmarkInitialSync1M is the same with 1,000,000 appointments; it runs
// with BENCH_LARGE=1 only (it takes far longer than the rest together).
func BenchmarkInitialSync1M(b *testing.B) {
	if os.Getenv("BENCH_LARGE") != "1" {
		b.Skip("the 1,000,000-appointment initial sync runs with BENCH_LARGE=1")
	}
	benchInitialSync(b, 1_000_000)
}

func benchInitialSync(b *testing.B, n int) {
	var r syncRun
	for i := 0; i < b.N; i++ {
		r = initialSync(b, n)
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(r.took.Seconds(), "s")
	b.ReportMetric(float64(r.rows), "rows")
	b.ReportMetric(float64(r.rows)/r.took.Seconds(), "rows/s")
	b.ReportMetric(r.serverPeakMB, "server-peak-MB")
	b.ReportMetric(r.stationPeakMB, "station-peak-MB")
	b.ReportMetric(r.serverCPU, "server-cpu-s")
	b.ReportMetric(r.stationCPU, "station-cpu-s")
	b.ReportMetric(r.baseline.Seconds(), "baseline-s")
}

// BenchmarkLocalAct: cfg.LocalActs acts on a copy of the synced replica
// (cfg.SyncAppointments appointments), offline: each act is the mutator
// on the replica's rows, its effect and the outbox entry in one SQLite
// transaction (check-in, vitals, consultation and close of scheduled
// appointments, the outbox growing). p50/p99 per act. Baseline on the
// same file with the same pragmas: a bare INSERT of a row of an outbox
// entry's size and its commit, as many times.
func BenchmarkLocalAct(b *testing.B) {
	cfg := loadConfig()
	ctx := context.Background()
	var lat, base []time.Duration
	var took time.Duration
	for i := 0; i < b.N; i++ {
		path := hospitalReplica(b, cfg.SyncAppointments)
		e, users := openOffline(b, path)
		rows, err := e.DB().SQL().QueryContext(ctx, `SELECT "id" FROM "appointments" WHERE "status" = 'SCHEDULED' ORDER BY "date", "id" LIMIT ?`, (cfg.LocalActs+3)/4)
		if err != nil {
			fatalf(b, "%v", err)
		}
		var ids []string
		for rows.Next() {
			var id string
			rows.Scan(&id)
			ids = append(ids, id)
		}
		rows.Close()
		if len(ids)*4 < cfg.LocalActs {
			fatalf(b, "only %d scheduled appointments to act on, want %d", len(ids), (cfg.LocalActs+3)/4)
		}
		lat = lat[:0]
		b.ResetTimer()
		start := time.Now()
		for _, id := range ids {
			for _, st := range []fixture.Step{
				{Role: workflow.RoleSecretary, Name: "appointment.checkIn", Args: map[string]any{"id": id}},
				{Role: workflow.RoleNurse, Name: "appointment.recordVitals", Args: map[string]any{"id": id, "vitals": fixture.Vitals(37.1, 122), "medicalHistoryNotes": "RAS"}},
				{Role: workflow.RoleDoctor, Name: "appointment.completeConsultation", Args: map[string]any{"id": id, "consultationNotes": "Examen normal."}},
				{Role: workflow.RoleSecretary, Name: "appointment.close", Args: map[string]any{"id": id, "billingAmount": "45.00", "billingStatus": "PENDING"}},
			} {
				if len(lat) == cfg.LocalActs {
					break
				}
				t0 := time.Now()
				if _, err := e.Act(ctx, users[st.Role], st.Name, mustJSON(st.Args)); err != nil {
					fatalf(b, "%s: %v", st.Name, err)
				}
				lat = append(lat, time.Since(t0))
			}
		}
		took = time.Since(start)
		b.StopTimer()
		e.Close(ctx)
		if base, err = bareInserts(ctx, path, cfg.LocalActs); err != nil {
			fatalf(b, "baseline: %v", err)
		}
	}
	sorted, sbase := sortDurations(lat), sortDurations(base)
	logf(b, "local act: %d acts in %s: p50 %.2f ms, p99 %.2f ms, max %.2f ms; baseline bare INSERT+commit p50 %.3f ms, p99 %.3f ms",
		len(lat), took.Round(time.Millisecond), percentileMS(sorted, .5), percentileMS(sorted, .99), percentileMS(sorted, 1),
		percentileMS(sbase, .5), percentileMS(sbase, .99))
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(percentileMS(sorted, .5), "p50-ms")
	b.ReportMetric(percentileMS(sorted, .99), "p99-ms")
	b.ReportMetric(percentileMS(sorted, 1), "max-ms")
	b.ReportMetric(float64(len(lat))/took.Seconds(), "acts/s")
	if k := len(lat) / 10; k > 0 {
		// Whether an act slows down as the outbox grows.
		b.ReportMetric(percentileMS(sortDurations(lat[:k]), .5), "first10%-p50-ms")
		b.ReportMetric(percentileMS(sortDurations(lat[len(lat)-k:]), .5), "last10%-p50-ms")
	}
	b.ReportMetric(percentileMS(sbase, .5), "baseline-p50-ms")
	b.ReportMetric(percentileMS(sbase, .99), "baseline-p99-ms")
}

// bareInserts is the local act's floor: on the same file, with the same
// connection pragmas, n single-row transactions each inserting a row the
// size of an outbox entry (args, token, ids: ~600 bytes) and committing.
func bareInserts(ctx context.Context, path string, n int) ([]time.Duration, error) {
	db, err := sql.Open("sqlite", sqlite.DSN(path))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `CREATE TABLE bench_bare (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, body TEXT NOT NULL)`); err != nil {
		return nil, err
	}
	body := strings.Repeat("x", 600)
	out := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		t0 := time.Now()
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return nil, err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO bench_bare (id, body) VALUES (?, ?)`, fmt.Sprintf("m-%d", i), body); err != nil {
			tx.Rollback()
			return nil, err
		}
		if err := tx.Commit(); err != nil {
			return nil, err
		}
		out = append(out, time.Since(t0))
	}
	return out, nil
}

// BenchmarkDashboards: the seed's four dashboard queries (secretary,
// nurse, doctor, biologist: Engine.Dashboard of each role, every queue of
// the role's home screen) on a copy of the synced replica
// (cfg.SyncAppointments appointments), cfg.DashboardRounds rounds; p50/p99
// over every call. Baseline on the same file: the very same statements
// (sqlite.DashboardSQL) through a bare database/sql connection, rows
// scanned as raw bytes, one read transaction per dashboard.
func BenchmarkDashboards(b *testing.B) {
	cfg := loadConfig()
	ctx := context.Background()
	var lat, base []time.Duration
	perRole := map[workflow.Role][]time.Duration{}
	for i := 0; i < b.N; i++ {
		path := hospitalReplica(b, cfg.SyncAppointments)
		e, users := openOffline(b, path)
		b.ResetTimer()
		for r := 0; r < cfg.DashboardRounds; r++ {
			for _, role := range wardRoles {
				t0 := time.Now()
				d, err := e.Dashboard(ctx, users[role])
				dt := time.Since(t0)
				if err != nil {
					fatalf(b, "%s's dashboard: %v", role, err)
				}
				lat = append(lat, dt)
				perRole[role] = append(perRole[role], dt)
				if r == 0 && len(d.ToCheckIn)+len(d.ToPrepare)+len(d.Consultations)+len(d.SamplesReceived) == 0 {
					fatalf(b, "%s's dashboard is empty", role)
				}
			}
		}
		b.StopTimer()
		now := time.Now().UTC()
		day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
		var err error
		if base, err = rawDashboards(ctx, path, users, day, cfg.DashboardRounds); err != nil {
			fatalf(b, "baseline: %v", err)
		}
	}
	sorted, sbase := sortDurations(lat), sortDurations(base)
	var roles []string
	for _, role := range wardRoles {
		s := sortDurations(perRole[role])
		roles = append(roles, fmt.Sprintf("%s %.2f/%.2f", role, percentileMS(s, .5), percentileMS(s, .99)))
	}
	logf(b, "dashboards: %d calls: p50 %.2f ms, p99 %.2f ms (p50/p99 by role: %s); baseline same SQL raw p50 %.2f ms, p99 %.2f ms",
		len(lat), percentileMS(sorted, .5), percentileMS(sorted, .99), strings.Join(roles, ", "), percentileMS(sbase, .5), percentileMS(sbase, .99))
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(percentileMS(sorted, .5), "p50-ms")
	b.ReportMetric(percentileMS(sorted, .99), "p99-ms")
	b.ReportMetric(percentileMS(sbase, .5), "baseline-p50-ms")
	b.ReportMetric(percentileMS(sbase, .99), "baseline-p99-ms")
}

// rawDashboards runs each role's dashboard statements through database/sql
// with nothing of ours around them; one latency per dashboard.
func rawDashboards(ctx context.Context, path string, users map[workflow.Role]string, day time.Time, rounds int) ([]time.Duration, error) {
	db, err := sql.Open("sqlite", sqlite.DSN(path))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var out []time.Duration
	for r := 0; r < rounds; r++ {
		for _, role := range wardRoles {
			stmts := sqlite.DashboardSQL(role, users[role], day, day.AddDate(0, 0, 1), 0)
			t0 := time.Now()
			tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
			if err != nil {
				return nil, err
			}
			for _, s := range stmts {
				rows, err := tx.QueryContext(ctx, s.SQL, s.Args...)
				if err != nil {
					tx.Rollback()
					return nil, err
				}
				cols, _ := rows.Columns()
				vals := make([]sql.RawBytes, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				for rows.Next() {
					if err := rows.Scan(ptrs...); err != nil {
						rows.Close()
						tx.Rollback()
						return nil, err
					}
				}
				rows.Close()
			}
			if err := tx.Commit(); err != nil {
				return nil, err
			}
			out = append(out, time.Since(t0))
		}
	}
	return out, nil
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
