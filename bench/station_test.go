package bench

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"wardsync/bench/fixture"
	"wardsync/desktop"
	"wardsync/desktop/sqlite"
	"wardsync/desktop/sqlite/cryptvfs"
	"wardsync/internal/wardtest"
	"wardsync/server/postgres"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// wardRoles are the roles the initial-sync workstation logs in (the demo
// device serves them all): the four dashboards need them.
var wardRoles = []workflow.Role{workflow.RoleSecretary, workflow.RoleNurse, workflow.RoleDoctor, workflow.RoleBiologist}

// syncRun is one initial sync as measured: the encrypted replica (what a
// ward runs), and in the same run the same sync into an unencrypted one.
type syncRun struct {
	appointments int
	rows         int64
	stationSync
	unencrypted stationSync
	baseline    time.Duration
}

// stationSync is one station's initial sync.
type stationSync struct {
	took          time.Duration
	serverPeakMB  float64
	stationPeakMB float64
	serverCPU     float64 // seconds, from its start (the logins included)
	stationCPU    float64
	replica       keptReplica // the synced replica, closed
}

// keptReplica is a synced replica file and its data key (nil: unencrypted).
type keptReplica struct {
	path string
	key  []byte
}

// Replicas synced by BenchmarkInitialSync, by size and encryption, reused
// (copied) by the benchmarks that only act or read locally.
var (
	replicaMu sync.Mutex
	replicas  = map[replicaKind]keptReplica{}
)

type replicaKind struct {
	appointments int
	unencrypted  bool
}

// initialSync loads n appointments into a fresh database, then times a
// new workstation (the wardsync-station binary, its users logged in first)
// syncing all of it from a wardsync-server child: from starting `run`
// until the replica holds every row the device may see. Then, in the same
// run on the same rows, the baseline: COPY … TO STDOUT of every row (as
// JSON) straight into a bare SQLite table, one transaction per table.
func initialSync(b *testing.B, n int) syncRun {
	b.Helper()
	ctx := context.Background()
	dbURL, pool := wardtest.SeededDB(b, "")
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

	dir := b.TempDir()
	r.stationSync = syncStation(b, dbURL, dir, r.rows, false)
	r.unencrypted = syncStation(b, dbURL, dir, r.rows, true)

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
	logf(b, "initial sync of %d rows: ours (encrypted replica) %.1f s (%.0f rows/s; peak RSS server %.0f MB, station %.0f MB; CPU server %.1f s, station %.1f s); unencrypted replica %.1f s (station %.0f MB, CPU %.1f s); baseline COPY → SQLite %.1f s",
		r.rows, r.took.Seconds(), float64(r.rows)/r.took.Seconds(), r.serverPeakMB, r.stationPeakMB, r.serverCPU, r.stationCPU,
		r.unencrypted.took.Seconds(), r.unencrypted.stationPeakMB, r.unencrypted.stationCPU, r.baseline.Seconds())

	// Keep both replicas for the local benchmarks.
	for _, st := range []stationSync{r.stationSync, r.unencrypted} {
		plain := st.replica.key == nil
		keep := filepath.Join(benchDataDir(b), fmt.Sprintf("replica-%d-%s.db", n, map[bool]string{true: "plain", false: "sealed"}[plain]))
		if err := copyReplica(st.replica.path, keep); err != nil {
			fatalf(b, "%v", err)
		}
		replicaMu.Lock()
		replicas[replicaKind{n, plain}] = keptReplica{path: keep, key: st.replica.key}
		replicaMu.Unlock()
	}
	return r
}

// syncStation times a new workstation (the wardsync-station binary, its
// users logged in first) syncing the database from a wardsync-server child
// of its own: from starting `run` until the replica holds all rows.
func syncStation(b *testing.B, dbURL, dir string, rows int64, unencrypted bool) stationSync {
	b.Helper()
	ctx := context.Background()
	// StationCLI's key slots are cheap: `run` opens the replica with one
	// before it syncs, and Argon2id's deliberate cost (keyfile's
	// BenchmarkUnwrap) is not sync time.
	name, global := "replica-sealed", []string(nil)
	if unencrypted {
		name, global = "replica-plain", []string{"-unencrypted"}
	}
	// $WARDSYNC_CPUPROFILE=P: each child of the timed sync writes its own
	// profile (P-replica-sealed-server, P-replica-sealed-station, …); the
	// logins write none.
	prof := os.Getenv("WARDSYNC_CPUPROFILE")
	profEnv := func(who string) string {
		if prof == "" {
			return "WARDSYNC_CPUPROFILE="
		}
		return "WARDSYNC_CPUPROFILE=" + prof + "-" + name + "-" + who
	}
	srv, url := startServer(b, dbURL, profEnv("server"))
	replica := filepath.Join(dir, name+".db")
	cli := wardtest.StationCLI{Bin: stationBin, DB: replica, Server: url, Device: postgres.DemoDeviceID, Unlock: wardRoles[0],
		Env: []string{"WARDSYNC_CPUPROFILE="}}
	for _, role := range wardRoles {
		lctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		err := cli.Login(lctx, role, global...)
		cancel()
		if err != nil {
			fatalf(b, "%v", err)
		}
	}
	var key []byte
	if !unencrypted {
		var err error
		if key, err = wardtest.ReplicaKey(replica, wardRoles[0]); err != nil {
			fatalf(b, "%v", err)
		}
	}
	// A bare handle: sqlite.Open would migrate and run a checkpointer of
	// its own beside the station's.
	rdb, closeRDB := bareReplica(b, replica, key)
	rdb.SetMaxOpenConns(1)
	defer closeRDB()

	poll := 100 * time.Millisecond
	if rows > 250_000 {
		poll = time.Second
	}
	var r stationSync
	start := time.Now()
	cli.Env = []string{profEnv("station")}
	st, err := wardtest.StartProc(cli.Command(ctx, append(global, "run")...), filepath.Join(dir, name+".log"), "run")
	if err != nil {
		fatalf(b, "start the station: %v", err)
	}
	b.Cleanup(func() { _ = st.Stop(30 * time.Second) })
	for {
		got, err := replicaRows(ctx, rdb)
		if err != nil {
			fatalf(b, "count the replica's rows: %v", err)
		}
		if got >= rows {
			break
		}
		select {
		case <-st.Done:
			log, _ := os.ReadFile(filepath.Join(dir, name+".log"))
			fatalf(b, "wardsync-station run exited (%v) with %d of %d rows\n%s", st.Err, got, rows, tail(log, 2000))
		case <-time.After(poll):
		}
	}
	r.took = time.Since(start)
	r.stationPeakMB, _ = memMB(st.Cmd.Process.Pid)
	r.serverPeakMB, _ = memMB(srv.Cmd.Process.Pid)
	if err := st.Stop(30 * time.Second); err != nil {
		logf(b, "wardsync-station run: %v", err)
	}
	_ = srv.Stop(30 * time.Second)
	r.stationCPU, r.serverCPU = cpuSeconds(st), cpuSeconds(srv)
	closeRDB()
	r.replica = keptReplica{path: replica, key: key}
	return r
}

// bareReplica opens a replica file with a bare database/sql handle, with
// the replica's pragmas (sqlite.DSN), through the encrypting VFS when key
// is set. close closes it once.
func bareReplica(b *testing.B, path string, key []byte) (*sql.DB, func()) {
	b.Helper()
	dsn := sqlite.DSN(path)
	var v *cryptvfs.VFS
	if key != nil {
		var err error
		if v, err = cryptvfs.Register(key); err != nil {
			fatalf(b, "%v", err)
		}
		dsn += "&vfs=" + v.Name()
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		fatalf(b, "open %s: %v", path, err)
	}
	var once sync.Once
	return db, func() {
		once.Do(func() {
			db.Close()
			if v != nil {
				v.Close()
			}
		})
	}
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
	// ".keys": the users' key slots, which seal their sessions' signing
	// keys (openOffline logs them in offline).
	for _, suffix := range []string{"", "-wal", "-shm", ".keys"} {
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
// a replica synced with n appointments (encrypted, or not), syncing one
// first if this run has none yet (e.g. -bench LocalAct alone).
func hospitalReplica(b *testing.B, n int, unencrypted bool) keptReplica {
	b.Helper()
	replicaMu.Lock()
	src, ok := replicas[replicaKind{n, unencrypted}]
	replicaMu.Unlock()
	if !ok {
		initialSync(b, n)
		replicaMu.Lock()
		src = replicas[replicaKind{n, unencrypted}]
		replicaMu.Unlock()
	}
	dst := filepath.Join(b.TempDir(), "replica.db")
	if err := copyReplica(src.path, dst); err != nil {
		fatalf(b, "%v", err)
	}
	return keptReplica{path: dst, key: src.key}
}

// openOffline opens a replica without a server: acts queue, queries answer.
func openOffline(b *testing.B, r keptReplica) (*desktop.Engine, map[workflow.Role]string) {
	b.Helper()
	ctx := context.Background()
	cfg := desktop.Config{DBPath: r.path, ServerURL: "http://127.0.0.1:9", DataKey: r.key, Unencrypted: r.key == nil}
	if r.key == nil {
		// The unencrypted baseline keeps no slots to unseal its sessions'
		// keys from: it signs with keys of its own, at the same cost (its
		// acts are never sent).
		cfg.SessionKeys = map[string]syncproto.SessionKey{}
		if db, err := sqlite.OpenUnencrypted(ctx, r.path); err == nil {
			creds, _ := db.Credentials(ctx)
			for _, c := range creds {
				_, priv := syncproto.NewKey()
				cfg.SessionKeys[c.UserID] = syncproto.SessionKey{SessionID: c.SessionID, Priv: priv}
			}
			db.Close()
		}
	}
	e := openEngine(b, cfg)
	creds, err := e.DB().Credentials(ctx)
	if err != nil {
		fatalf(b, "%v", err)
	}
	users := map[workflow.Role]string{}
	for _, c := range creds {
		users[c.Role] = c.UserID
		// An offline login gives the engine the session's signing key,
		// sealed in the user's slot: without it no act can be signed.
		if r.key != nil {
			if _, err := e.Login(ctx, wardtest.Email(c.Role), wardtest.Password(c.Role)); err != nil {
				fatalf(b, "offline login of %s: %v", c.Email, err)
			}
		}
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
	b.ReportMetric(r.unencrypted.took.Seconds(), "unencrypted-s")
	b.ReportMetric(r.unencrypted.stationPeakMB, "unencrypted-station-peak-MB")
	b.ReportMetric(r.unencrypted.stationCPU, "unencrypted-station-cpu-s")
}

// BenchmarkLocalAct: cfg.LocalActs acts on a copy of the synced replica
// (cfg.SyncAppointments appointments), offline: each act is the mutator
// on the replica's rows, its effect and the outbox entry in one SQLite
// transaction (check-in, vitals, consultation and close of scheduled
// appointments, the outbox growing). p50/p99 per act, on the encrypted
// replica (ours) and, in the same run, on an unencrypted copy of the same
// sync (unencrypted-*). Baseline on the unencrypted file with the same
// pragmas: a bare INSERT of a row of an outbox entry's size and its
// commit, as many times.
func BenchmarkLocalAct(b *testing.B) {
	cfg := loadConfig()
	ctx := context.Background()
	var lat, plain, base []time.Duration
	var took, plainTook time.Duration
	for i := 0; i < b.N; i++ {
		b.ResetTimer()
		lat, took, _ = localActs(b, cfg, false)
		plain, plainTook, _ = localActs(b, cfg, true)
		b.StopTimer()
		path := hospitalReplica(b, cfg.SyncAppointments, true).path
		var err error
		if base, err = bareInserts(ctx, path, cfg.LocalActs); err != nil {
			fatalf(b, "baseline: %v", err)
		}
	}
	sorted, splain, sbase := sortDurations(lat), sortDurations(plain), sortDurations(base)
	logf(b, "local act: %d acts in %s: p50 %.2f ms, p99 %.2f ms, max %.2f ms (encrypted replica); unencrypted %s: p50 %.2f ms, p99 %.2f ms; baseline bare INSERT+commit p50 %.3f ms, p99 %.3f ms",
		len(lat), took.Round(time.Millisecond), percentileMS(sorted, .5), percentileMS(sorted, .99), percentileMS(sorted, 1),
		plainTook.Round(time.Millisecond), percentileMS(splain, .5), percentileMS(splain, .99),
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
	b.ReportMetric(percentileMS(splain, .5), "unencrypted-p50-ms")
	b.ReportMetric(percentileMS(splain, .99), "unencrypted-p99-ms")
	b.ReportMetric(percentileMS(sbase, .5), "baseline-p50-ms")
	b.ReportMetric(percentileMS(sbase, .99), "baseline-p99-ms")
}

// localActs runs cfg.LocalActs acts offline on a copy of the synced
// replica (encrypted or not) and returns each act's latency.
func localActs(b *testing.B, cfg config, unencrypted bool) ([]time.Duration, time.Duration, string) {
	ctx := context.Background()
	r := hospitalReplica(b, cfg.SyncAppointments, unencrypted)
	e, users := openOffline(b, r)
	defer e.Close(ctx)
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
	lat := make([]time.Duration, 0, cfg.LocalActs)
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
			if _, err := e.Act(ctx, users[st.Role], st.Name, wardtest.MustJSON(st.Args)); err != nil {
				fatalf(b, "%s: %v", st.Name, err)
			}
			lat = append(lat, time.Since(t0))
		}
	}
	return lat, time.Since(start), r.path
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
// over every call, on the encrypted replica (ours) and, in the same run,
// on an unencrypted copy (unencrypted-*). Baseline on the unencrypted
// file: the very same statements (sqlite.DashboardSQL) through a bare
// database/sql connection, rows scanned as raw bytes, one read
// transaction per dashboard.
func BenchmarkDashboards(b *testing.B) {
	cfg := loadConfig()
	ctx := context.Background()
	var lat, plain, base []time.Duration
	var perRole map[workflow.Role][]time.Duration
	for i := 0; i < b.N; i++ {
		b.ResetTimer()
		lat, perRole = dashboards(b, cfg, false)
		plain, _ = dashboards(b, cfg, true)
		b.StopTimer()
		r := hospitalReplica(b, cfg.SyncAppointments, true)
		e, users := openOffline(b, r)
		e.Close(ctx)
		now := time.Now().UTC()
		day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
		var err error
		if base, err = rawDashboards(ctx, r.path, users, day, cfg.DashboardRounds); err != nil {
			fatalf(b, "baseline: %v", err)
		}
	}
	sorted, splain, sbase := sortDurations(lat), sortDurations(plain), sortDurations(base)
	var roles []string
	for _, role := range wardRoles {
		s := sortDurations(perRole[role])
		roles = append(roles, fmt.Sprintf("%s %.2f/%.2f", role, percentileMS(s, .5), percentileMS(s, .99)))
	}
	logf(b, "dashboards: %d calls: p50 %.2f ms, p99 %.2f ms (encrypted replica; p50/p99 by role: %s); unencrypted p50 %.2f ms, p99 %.2f ms; baseline same SQL raw p50 %.2f ms, p99 %.2f ms",
		len(lat), percentileMS(sorted, .5), percentileMS(sorted, .99), strings.Join(roles, ", "),
		percentileMS(splain, .5), percentileMS(splain, .99), percentileMS(sbase, .5), percentileMS(sbase, .99))
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(percentileMS(sorted, .5), "p50-ms")
	b.ReportMetric(percentileMS(sorted, .99), "p99-ms")
	b.ReportMetric(percentileMS(splain, .5), "unencrypted-p50-ms")
	b.ReportMetric(percentileMS(splain, .99), "unencrypted-p99-ms")
	b.ReportMetric(percentileMS(sbase, .5), "baseline-p50-ms")
	b.ReportMetric(percentileMS(sbase, .99), "baseline-p99-ms")
}

// dashboards times cfg.DashboardRounds rounds of the four dashboards on a
// copy of the synced replica (encrypted or not).
func dashboards(b *testing.B, cfg config, unencrypted bool) ([]time.Duration, map[workflow.Role][]time.Duration) {
	ctx := context.Background()
	e, users := openOffline(b, hospitalReplica(b, cfg.SyncAppointments, unencrypted))
	defer e.Close(ctx)
	var lat []time.Duration
	perRole := map[workflow.Role][]time.Duration{}
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
	return lat, perRole
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

// startServer runs `wardsync-server serve` on a free loopback port against
// dbURL and returns it with its base URL. Escrow on, as a hospital runs
// it: each station process logs its users in one by one, and only the
// first finds no replica to open. One escrow key for the whole run
// (servers restart on the same data).
func startServer(b *testing.B, dbURL string, env ...string) (*wardtest.Proc, string) {
	b.Helper()
	s := &wardtest.ServerProc{Name: "bench", Bin: serverBin, Addr: wardtest.FreeAddr(b), DatabaseURL: dbURL,
		LogPath: filepath.Join(b.TempDir(), "server.log"),
		Env:     append([]string{"WARDSYNC_LOG_LEVEL=warn", "WARDSYNC_ESCROW_KEY_FILE=" + filepath.Join(benchDataDir(b), "escrow.key")}, env...)}
	if err := s.Start(context.Background()); err != nil {
		fatalf(b, "%v", err)
	}
	b.Cleanup(s.Stop)
	return s.Proc(), s.URL()
}

var vmRE = regexp.MustCompile(`(?m)^(VmHWM|VmRSS):\s+(\d+) kB`)

// memMB reads a live process's peak (VmHWM) and current (VmRSS) resident
// set from /proc, in MB.
func memMB(pid int) (peak, rss float64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, m := range vmRE.FindAllStringSubmatch(string(b), -1) {
		n, _ := strconv.ParseFloat(m[2], 64)
		if m[1] == "VmHWM" {
			peak = n / 1024
		} else {
			rss = n / 1024
		}
	}
	return peak, rss
}

// cpuSeconds is the CPU time (user + system) p used, once it has ended:
// with the wall time, it tells waiting (for a core, for the disk, for the
// other side) from working.
func cpuSeconds(p *wardtest.Proc) float64 {
	<-p.Done
	ru, ok := p.Cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
