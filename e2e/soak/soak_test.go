package soak

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"wardsync/desktop/sqlite"
	"wardsync/internal/wardtest"
	"wardsync/server/postgres"
	"wardsync/workflow"
)

// shape is the size of one soak run.
type shape struct {
	stations   []([]workflow.Role) // the roles each workstation serves
	chaos      time.Duration       // how long faults strike while acting
	settle     time.Duration       // how long healing may take
	pgRestarts bool                // PostgreSQL restarted at random
}

var (
	S, A, N, D, B = workflow.RoleSecretary, workflow.RoleAdmin, workflow.RoleNurse, workflow.RoleDoctor, workflow.RoleBiologist
	all           = workflow.Roles
)

// The short form fits three seeds in make test's budget; the long one
// strikes longer, with more workstations, and restarts PostgreSQL too.
var (
	shortShape = shape{
		stations: [][]workflow.Role{all, {S, A}, {N, D}, {B, N, D}},
		chaos:    10 * time.Second,
		settle:   90 * time.Second,
	}
	longShape = shape{
		stations:   [][]workflow.Role{all, all, {S, A}, {S}, {N, D}, {B}, {D, B}},
		chaos:      45 * time.Second,
		settle:     3 * time.Minute,
		pgRestarts: true,
	}
)

// TestSoak runs the fault soak for each seed: three fresh short ones in
// make test, WARDSYNC_SOAK_SEEDS long ones in make soak, or the one given
// by -seed / WARDSYNC_SOAK_SEED (short unless WARDSYNC_SOAK_SEEDS is set).
// Each seed is a fresh database, fresh servers and fresh workstations.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("the soak runs real processes for half a minute a seed")
	}
	n, sh := 3, shortShape
	if l := longSeeds(t); l > 0 {
		n, sh = l, longShape
	}
	base := uint64(time.Now().UnixNano()) & (1<<53 - 1)
	if s := replaySeed(t); s != 0 {
		base = s
		if longSeeds(t) == 0 {
			n = 1
		}
	}
	// A cluster of our own: its restarts trouble no other test, and other
	// packages' long transactions (the xid horizon is cluster-wide) do not
	// hold back this soak's change feed. The short form falls back to the
	// shared test cluster when no PostgreSQL binaries are at hand.
	pg, err := wardtest.StartCluster()
	switch {
	case err == nil:
		defer pg.Stop()
	case sh.pgRestarts:
		t.Fatalf("a PostgreSQL cluster of our own: %v", err)
	default:
		t.Logf("no PostgreSQL cluster of our own (%v): using the shared test cluster", err)
	}
	start := time.Now()
	var sums []summary
	for i := 0; i < n; i++ {
		seed := base + uint64(i)
		ok := t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			replay := fmt.Sprintf("make soak-short SEED=%d, or go test ./e2e/soak -run TestSoak -args -seed %d", seed, seed)
			if sh.pgRestarts {
				replay = fmt.Sprintf("make soak SEED=%d, or WARDSYNC_SOAK_SEEDS=1 go test -timeout 0 ./e2e/soak -run TestSoak -args -seed %d", seed, seed)
			}
			t.Logf("soak seed %d (replay: %s)", seed, replay)
			sums = append(sums, soak(t, seed, sh, pg))
		})
		if !ok && sh.pgRestarts {
			t.Logf("stopping after the first failing seed")
			break
		}
	}
	t.Logf("%d seeds in %s", len(sums), time.Since(start).Round(time.Second))
	var total summary
	for _, s := range sums {
		total.add(s)
	}
	t.Logf("total: %s", total)
}

// summary counts what one run did.
type summary struct {
	acts, refusedLocally, killedActs, landedUnreported int
	applied                                            int
	rejected                                           map[string]int
	faults                                             map[faultKind]int
	wall, settle                                       time.Duration
}

func (s *summary) add(o summary) {
	s.acts += o.acts
	s.refusedLocally += o.refusedLocally
	s.killedActs += o.killedActs
	s.landedUnreported += o.landedUnreported
	s.applied += o.applied
	if s.rejected == nil {
		s.rejected, s.faults = map[string]int{}, map[faultKind]int{}
	}
	for k, v := range o.rejected {
		s.rejected[k] += v
	}
	for k, v := range o.faults {
		s.faults[k] += v
	}
	s.wall += o.wall
	s.settle = max(s.settle, o.settle)
}

func (s summary) String() string {
	var rej, fl []string
	nrej, nf := 0, 0
	for k, v := range s.rejected {
		rej = append(rej, fmt.Sprintf("%s %d", k, v))
		nrej += v
	}
	for k, v := range s.faults {
		fl = append(fl, fmt.Sprintf("%s %d", k, v))
		nf += v
	}
	sort.Strings(rej)
	sort.Strings(fl)
	return fmt.Sprintf("%d acts accepted by workstations (%d more refused locally, %d act processes killed, %d of those landed anyway); "+
		"server outcomes: %d applied, %d rejected [%s]; %d faults [%s]; wall %s, longest settle %s",
		s.acts, s.refusedLocally, s.killedActs, s.landedUnreported, s.applied, nrej, strings.Join(rej, ", "), nf, strings.Join(fl, ", "),
		s.wall.Round(time.Second), s.settle.Round(100*time.Millisecond))
}

// soak is one seed's run: the ward started, acts under fire, every fault
// healed, the ward settled, the books checked.
func soak(t *testing.T, seed uint64, sh shape, pg *wardtest.Cluster) summary {
	began := time.Now()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, 0x50a4))
	w := startWard(t, seed, sh, pg)
	f := actUnderFire(ctx, w, sh, pg, rng)
	heal(t, w, f)
	sum := summary{rejected: map[string]int{}, faults: f.faults, killedActs: f.killed}
	sum.settle = settle(t, w, sh.settle)
	checkBooks(t, w, f, &sum)
	sum.wall = time.Since(began)
	t.Logf("seed %d: %s; local refusals %v", seed, sum, f.refusals)
	return sum
}

// ward is what a run starts: the database, two servers on it, and the
// workstations, each with a link to each server.
type ward struct {
	pool     *pgxpool.Pool
	initial  map[string]string // each appointment's and prescription's status before the run
	servers  []*wardtest.ServerProc
	stations []*station
}

// startWard starts a seed's ward, its workstations logged in and synced
// before any fault.
func startWard(t *testing.T, seed uint64, sh shape, pg *wardtest.Cluster) *ward {
	began := time.Now()
	ctx := context.Background()
	logDir := keptLogs(t, seed)
	var url string
	var err error
	if pg != nil {
		name := fmt.Sprintf("soak_%d", seed)
		if url, err = pg.CreateDB(ctx, name); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pg.DropDB(context.Background(), name) })
	}
	url, pool := wardtest.SeededDB(t, url)
	w := &ward{pool: pool}
	if w.initial, err = readStatuses(ctx, pool); err != nil {
		t.Fatal(err)
	}

	// Two server instances on the one database, sharing one escrow key
	// (made here, before either starts, so they do not race to make it).
	escrowKeyFile := filepath.Join(logDir, "escrow.key")
	if err := os.WriteFile(escrowKeyFile, []byte("soak-escrow-key-of-32-bytes-long"), 0o600); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		w.servers = append(w.servers, &wardtest.ServerProc{Name: string(rune('A' + i)), Bin: serverBin, Addr: wardtest.FreeAddr(t), DatabaseURL: url,
			LogPath: filepath.Join(logDir, fmt.Sprintf("server-%c.log", 'A'+i)), Args: []string{"-log-level", "warn", "-escrow-key-file", escrowKeyFile}})
	}
	if err := wardtest.Parallel(len(w.servers), 0, func(i int) error { return w.servers[i].Start(ctx) }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, s := range w.servers {
			s.Stop()
		}
	})
	serversUp := time.Now()

	admin, err := postgres.Open(ctx, url, postgres.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for i, roles := range sh.stations {
		device := fmt.Sprintf("soak-%d-ward-%d", seed%1000, i)
		if _, err := admin.AddDevice(ctx, device, fmt.Sprintf("Soak ward %d (%s)", i, roleList(roles)), roles); err != nil {
			t.Fatal(err)
		}
		var links []*wardtest.Link
		for _, s := range w.servers {
			links = append(links, wardtest.NewLink(t, fmt.Sprintf("%s-to-%s", device, s.Name), s.Addr))
		}
		cli := wardtest.StationCLI{Bin: stationBin, DB: filepath.Join(logDir, device+".db"), Device: device, Unlock: roles[0]}
		p := wardtest.NewStationProc(cli, filepath.Join(logDir, device+".log"), links, i%len(w.servers))
		w.stations, names = append(w.stations, &station{StationProc: p, idx: i, roles: roles, links: links}), append(names, roleList(roles))
	}
	admin.Close(ctx)
	// Each workstation's first login creates its replica; the others
	// follow together (before any fault: nothing else touches a station).
	type login struct {
		st   *station
		role workflow.Role
	}
	var logins []login
	for _, st := range w.stations {
		for _, r := range st.roles[1:] {
			logins = append(logins, login{st, r})
		}
	}
	if err := wardtest.Parallel(len(w.stations), 0, func(i int) error { return w.stations[i].Via().Login(ctx, w.stations[i].roles[0]) }); err != nil {
		t.Fatal(err)
	}
	if err := wardtest.Parallel(len(logins), 0, func(i int) error { return logins[i].st.Via().Login(ctx, logins[i].role) }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, st := range w.stations {
			st.Stop()
		}
	})
	for _, st := range w.stations {
		if err := st.Start(st.Home()); err != nil {
			t.Fatal(err)
		}
		if st.replica, err = wardtest.OpenReplica(ctx, st.CLI.DB, st.roles[0]); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.replica.Close() })
	}
	loggedIn := time.Now()
	if why, _ := waitSettled(ctx, w, sh.settle); why != "" {
		t.Fatalf("initial sync: %s", why)
	}
	round := func(d time.Duration) time.Duration { return d.Round(100 * time.Millisecond) }
	t.Logf("setup: %d workstations (%s) on servers A and B in %s (database and servers %s, logins %s, initial sync %s)",
		len(w.stations), strings.Join(names, ", "), round(time.Since(began)), round(serversUp.Sub(began)),
		round(loggedIn.Sub(serversUp)), round(time.Since(loggedIn)))
	return w
}

// keptLogs is a folder for a run's logs, kept when the run fails.
func keptLogs(t *testing.T, seed uint64) string {
	dir, err := os.MkdirTemp("", fmt.Sprintf("wardsync-soak-%d-", seed))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs of the failed run: %s", dir)
		} else {
			os.RemoveAll(dir)
		}
	})
	return dir
}

// fired is what the workstations did while faults struck.
type fired struct {
	mu       sync.Mutex
	reported []accepted     // acts the workstations accepted and said so
	refusals map[string]int // acts refused on the workstation, by code
	killed   int            // act processes killed before they could say
	errs     []error        // the drivers' and the fault injection's
	faults   map[faultKind]int
}

// actUnderFire runs a driver on each workstation while faults strike, for
// sh.chaos.
func actUnderFire(ctx context.Context, w *ward, sh shape, pg *wardtest.Cluster, rng *rand.Rand) *fired {
	cx := &chaos{rng: rand.New(rand.NewPCG(rng.Uint64(), 1)), servers: w.servers, stations: w.stations, long: sh.pgRestarts,
		counts: map[faultKind]int{}}
	if sh.pgRestarts {
		cx.pg = pg
	}
	chaosCtx, stopChaos := context.WithTimeout(ctx, sh.chaos)
	defer stopChaos()
	f := &fired{refusals: map[string]int{}}
	var dwg sync.WaitGroup
	for _, st := range w.stations {
		d := &driver{rng: rand.New(rand.NewPCG(rng.Uint64(), uint64(st.idx))), roles: st.roles, tag: fmt.Sprintf("w%d", st.idx)}
		dwg.Go(func() { f.drive(ctx, chaosCtx, st, d) })
	}
	cx.run(chaosCtx)
	dwg.Wait()
	cx.heal()
	for _, err := range cx.errs {
		f.errs = append(f.errs, fmt.Errorf("fault injection: %w", err))
	}
	f.faults = cx.counts
	return f
}

// drive acts on st as d picks until chaosCtx ends. Now and then the act
// itself crashes at a random instant (the workstation's UI process killed
// while it writes).
func (f *fired) drive(ctx, chaosCtx context.Context, st *station, d *driver) {
	for chaosCtx.Err() == nil {
		v, err := readView(ctx, st.replica.SQL())
		if err != nil {
			f.mu.Lock()
			f.errs = append(f.errs, fmt.Errorf("%s: read replica: %w", st.CLI.Device, err))
			f.mu.Unlock()
			return
		}
		p, ok := d.pick(v, time.Now())
		if !ok {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		var kill time.Duration
		if d.rng.IntN(20) == 0 {
			kill = time.Duration(1+d.rng.IntN(60_000)) * time.Microsecond
		}
		out, skipped, err := st.Act(ctx, p.role, p.name, p.args, kill)
		f.mu.Lock()
		switch {
		case err != nil:
			f.errs = append(f.errs, err)
		case out.Refusal != nil:
			f.refusals[string(out.Refusal.Code)]++
		case out.Killed:
			f.killed++
		case !skipped:
			f.reported = append(f.reported, accepted{device: st.CLI.Device, id: out.ID, name: p.name, seq: out.Seq})
		}
		f.mu.Unlock()
		if skipped {
			time.Sleep(100 * time.Millisecond)
		} else {
			time.Sleep(time.Duration(d.rng.IntN(60)) * time.Millisecond)
		}
	}
}

// heal brings every process back once the faults are undone. A process
// that died without being killed is a crash.
func heal(t *testing.T, w *ward, f *fired) {
	checkCrashes(t, w, "")
	ctx := context.Background()
	for _, s := range w.servers {
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, st := range w.stations {
		if err := st.Start(st.Home()); err != nil {
			t.Fatal(err)
		}
	}
	for _, err := range f.errs {
		t.Error(err)
	}
}

// checkCrashes fails for each process that exited on its own (when: ""
// during the run, or " while settling", when only workstations are asked).
func checkCrashes(t *testing.T, w *ward, when string) {
	if when == "" {
		for _, s := range w.servers {
			if n := s.Crashed(); n > 0 {
				t.Errorf("server %s exited on its own %d time(s); the end of its log:\n%s", s.Name, n, tail(s.LogPath, 30))
			}
		}
	}
	for _, st := range w.stations {
		if n := st.Crashed(); n > 0 {
			t.Errorf("workstation %s's sync process exited on its own %d time(s)%s; the end of its log:\n%s", st.CLI.Device, n, when, tail(st.LogPath, 30))
		}
	}
}

// settle waits until every workstation has drained its outbox, pulled to
// the feed's head and equals PostgreSQL, and returns how long that took.
func settle(t *testing.T, w *ward, timeout time.Duration) time.Duration {
	ctx := context.Background()
	healed := time.Now()
	why, settledAt := waitSettled(ctx, w, timeout)
	if why != "" {
		t.Errorf("not settled %s after healing (a device is stuck): %s", timeout, why)
		for _, st := range w.stations {
			if s, err := st.replica.State(ctx); err == nil {
				c, _ := st.replica.Counts(ctx)
				t.Logf("%s: home %s, last seq %d, acked %d, reflected %d, cursor %s, counts %+v", st.CLI.Device, w.servers[st.Home()].Name, s.LastSeq, s.AckedSeq, s.ReflectedSeq, s.Cursor, c)
			}
		}
	}
	took := time.Since(healed)
	if took > 10*time.Second {
		var slowest *station
		for _, st := range w.stations {
			if slowest == nil || settledAt[st.CLI.Device] > settledAt[slowest.CLI.Device] {
				slowest = st
			}
		}
		t.Logf("slow settle (%s): %s settled last, after %s; the end of its log:\n%s", took.Round(100*time.Millisecond),
			slowest.CLI.Device, settledAt[slowest.CLI.Device].Round(100*time.Millisecond), tail(slowest.LogPath, 25))
	}
	checkCrashes(t, w, " while settling")
	return took
}

// waitSettled waits up to timeout for every workstation to be settled
// (settledWhy), and says why the first one is not, and when (since the
// wait began) each settled for good.
func waitSettled(ctx context.Context, w *ward, timeout time.Duration) (string, map[string]time.Duration) {
	start := time.Now()
	settledAt := map[string]time.Duration{}
	why := waitUntil(timeout, func() string {
		first := ""
		for _, st := range w.stations {
			why := settledWhy(ctx, w.pool, st)
			if why == "" {
				if _, ok := settledAt[st.CLI.Device]; !ok {
					settledAt[st.CLI.Device] = time.Since(start)
				}
			} else {
				delete(settledAt, st.CLI.Device)
				if first == "" {
					first = why
				}
			}
		}
		return first
	})
	return why, settledAt
}

// checkBooks checks the audit log against what the workstations reported,
// the workflow's rules against PostgreSQL, and the logs for panics, and
// counts the outcomes into sum.
func checkBooks(t *testing.T, w *ward, f *fired, sum *summary) {
	ctx := context.Background()
	audit, err := readAudit(ctx, w.pool)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range checkDelivery(ctx, w.pool, w.stations, f.reported, audit) {
		t.Error(p)
	}
	for _, p := range checkForbidden(ctx, w.pool) {
		t.Errorf("PostgreSQL holds what the workflow forbids: %s", p)
	}
	for _, p := range checkTransitions(ctx, w.pool, audit, w.initial) {
		t.Error(p)
	}
	reportedIDs := map[string]bool{}
	for _, r := range f.reported {
		reportedIDs[r.id] = true
	}
	for _, a := range audit {
		if a.outcome == "applied" {
			sum.applied++
		} else {
			sum.rejected[a.code]++
		}
		if !reportedIDs[a.id] {
			sum.landedUnreported++
		}
	}
	for _, s := range w.servers {
		if panicked(s.LogPath) {
			t.Errorf("server %s panicked: see %s", s.Name, s.LogPath)
		}
	}
	for _, st := range w.stations {
		if panicked(st.LogPath) {
			t.Errorf("workstation %s panicked: see %s", st.CLI.Device, st.LogPath)
		}
	}
	sum.acts = len(f.reported)
	for _, n := range f.refusals {
		sum.refusedLocally += n
	}
}

func panicked(log string) bool {
	b, err := os.ReadFile(log)
	return err == nil && strings.Contains(string(b), "panic")
}

// waitUntil polls cond until it returns "" or timeout passes, and returns
// the last reason.
func waitUntil(timeout time.Duration, cond func() string) string {
	deadline := time.Now().Add(timeout)
	delay := 20 * time.Millisecond
	for {
		why := cond()
		if why == "" || time.Now().After(deadline) {
			return why
		}
		time.Sleep(delay)
		delay = min(delay*2, 500*time.Millisecond)
	}
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// The binaries under test, built once by TestMain into binDir (removed
// when the tests end).
var stationBin, serverBin, binDir string

var seedFlag = flag.Uint64("seed", 0, "replay one soak seed (also WARDSYNC_SOAK_SEED); 0 draws new ones")

func TestMain(m *testing.M) {
	flag.Parse()
	// toxiproxy's toxics log through zerolog's global logger.
	zerolog.SetGlobalLevel(zerolog.Disabled)
	os.Exit(wardtest.BuildAndRun(m, &binDir, map[string]*string{
		"desktop/cmd/wardsync-station": &stationBin, "server/cmd/wardsync-server": &serverBin}))
}

// longSeeds is how many seeds the long form runs (WARDSYNC_SOAK_SEEDS);
// 0 means the short form.
func longSeeds(tb testing.TB) int {
	v := os.Getenv("WARDSYNC_SOAK_SEEDS")
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		tb.Fatalf("WARDSYNC_SOAK_SEEDS=%q is not a count", v)
	}
	return n
}

// replaySeed is the seed asked for by -seed or WARDSYNC_SOAK_SEED (0: none).
func replaySeed(tb testing.TB) uint64 {
	if *seedFlag != 0 {
		return *seedFlag
	}
	if v := os.Getenv("WARDSYNC_SOAK_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			tb.Fatalf("WARDSYNC_SOAK_SEED=%q is not a seed", v)
		}
		return n
	}
	return 0
}

func roleList(rs []workflow.Role) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, "+")
}

// station is one workstation of the ward: its processes, the roles it
// serves, and the test's own handle on its replica, for reading.
type station struct {
	*wardtest.StationProc
	idx     int
	roles   []workflow.Role
	links   []*wardtest.Link // one per server
	replica *sqlite.DB
}
