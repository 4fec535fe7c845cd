package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"wardsync/internal/wardtest"
	httpserver "wardsync/server/http"
	"wardsync/server/postgres"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// config sizes a run. The full figures are the brief's; smoke shrinks them
// so that `make test` keeps the benchmarks working in a few seconds.
type config struct {
	Smoke bool
	// Push throughput: devices pushing at once, batches each per round,
	// appointments per batch (5 acts each: 10 appointments = 50 mutations).
	Devices       int
	Batches       int
	ApptsPerBatch int
	// The pgbench baseline: seconds; its clients equal Devices.
	PgbenchSeconds int
	// Poke latency: devices connected, acts pushed per round; PokePull
	// makes the devices pull on every poke instead of taking pushed pages
	// (WARDSYNC_BENCH_POKE_PULL=1: the path of a workstation that does not
	// ask for them, and of every workstation before pushed pages).
	PokeDevices int
	Pokes       int
	PokePull    bool
	// Station side: appointments of the initial-sync database (whose
	// replica LocalAct and Dashboards reuse), acts timed locally, dashboard
	// rounds, acts queued offline then drained, idle connections.
	SyncAppointments int
	LocalActs        int
	DashboardRounds  int
	DrainActs        int
	Conns            int
}

func loadConfig() config {
	c := config{Devices: 20, Batches: 30, ApptsPerBatch: 10, PgbenchSeconds: 10, PokeDevices: 50, Pokes: 500,
		SyncAppointments: 100_000, LocalActs: 10_000, DashboardRounds: 250, DrainActs: 10_000, Conns: 10_000}
	if os.Getenv("WARDSYNC_BENCH_SMOKE") == "1" {
		c = config{Smoke: true, Devices: 2, Batches: 2, ApptsPerBatch: 10, PgbenchSeconds: 2, PokeDevices: 5, Pokes: 20,
			SyncAppointments: 1_000, LocalActs: 40, DashboardRounds: 3, DrainActs: 60, Conns: 20}
	}
	for name, p := range map[string]*int{
		"WARDSYNC_BENCH_DEVICES":         &c.Devices,
		"WARDSYNC_BENCH_BATCHES":         &c.Batches,
		"WARDSYNC_BENCH_POKE_DEVICES":    &c.PokeDevices,
		"WARDSYNC_BENCH_POKES":           &c.Pokes,
		"WARDSYNC_BENCH_PGBENCH_SECONDS": &c.PgbenchSeconds,
		"WARDSYNC_BENCH_APPOINTMENTS":    &c.SyncAppointments,
		"WARDSYNC_BENCH_LOCAL_ACTS":      &c.LocalActs,
		"WARDSYNC_BENCH_DRAIN_ACTS":      &c.DrainActs,
		"WARDSYNC_BENCH_CONNS":           &c.Conns,
	} {
		if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
			*p = v
		}
	}
	c.PokePull = os.Getenv("WARDSYNC_BENCH_POKE_PULL") == "1"
	if c.PokeDevices < 2 {
		c.PokeDevices = 2 // an author and an observer
	}
	return c
}

// smokeT, when set (by TestBenchSmoke), also receives failure messages:
// testing.Benchmark discards a benchmark's own output.
var (
	smokeMu sync.Mutex
	smokeT  *testing.T
)

func smokeLog(format string, args ...any) {
	smokeMu.Lock()
	defer smokeMu.Unlock()
	if smokeT != nil {
		smokeT.Logf(format, args...)
	}
}

func fatalf(b testing.TB, format string, args ...any) {
	b.Helper()
	smokeLog(format, args...)
	b.Fatalf(format, args...)
}

func logf(b testing.TB, format string, args ...any) {
	b.Helper()
	smokeLog(format, args...)
	b.Logf(format, args...)
}

// env is a real server on loopback in front of a fresh, migrated and seeded
// database of its own.
type env struct {
	cfg   config
	dbURL string
	db    *postgres.DB
	srv   *httpserver.Server
	http  *http.Client
}

var (
	doctorID   = postgres.SeedID("user:doctor@hospital.com")
	clinicRole = []workflow.Role{workflow.RoleSecretary, workflow.RoleNurse, workflow.RoleDoctor}
)

func startEnv(b testing.TB, cfg config) *env {
	b.Helper()
	s := wardtest.StartServer(b, wardtest.Options{
		// The production pool size: the benchmarks measure the server as deployed.
		Config: func(c *postgres.Config) { c.MaxConns = postgres.DefaultConfig().MaxConns },
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		// Every simulated device logs its users in within the same minute.
		LoginPerEmail: 1_000_000, LoginPerIP: 1_000_000,
	})
	return &env{cfg: cfg, dbURL: s.DatabaseURL, db: s.DB, srv: s.HTTP, http: &http.Client{Timeout: 30 * time.Second}}
}

// checkpoint flushes dirty pages before a measured phase so that neither
// side pays for the other's checkpoint; best effort (needs a privileged role).
func (e *env) checkpoint() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, _ = e.db.Pool.Exec(ctx, `CHECKPOINT`)
}

// login logs role's seeded user in on a device through the auth API.
func (e *env) login(role workflow.Role, deviceID string) (string, error) {
	return wardtest.TryLogin(e.http, e.srv.URL(), wardtest.Email(role), wardtest.Password(role), deviceID)
}

// device is one simulated workstation: registered, its users logged in.
type device struct {
	id     string
	tokens map[workflow.Role]string
	seq    int64
	// chain links its acts as a workstation would; the hashing is part of
	// what a workstation pays per act, not of the server's push cost.
	chain syncproto.Chainer
	ws    *wsClient
	// pages: the hello asks for pushed pages (docs/protocol.md).
	pages bool
}

// devices registers n workstations serving SECRETARY, NURSE and DOCTOR and
// logs roles in on each (bcrypt makes logins slow: a few at a time).
func (e *env) devices(b testing.TB, prefix string, n int, roles func(i int) []workflow.Role) []*device {
	b.Helper()
	ctx := context.Background()
	devs := make([]*device, n)
	for i := range devs {
		id := uuid.NewString()
		if _, err := e.db.AddDevice(ctx, id, fmt.Sprintf("%s %d", prefix, i+1), clinicRole); err != nil {
			fatalf(b, "add device: %v", err)
		}
		devs[i] = &device{id: id, tokens: map[workflow.Role]string{}}
	}
	type job struct {
		d    *device
		role workflow.Role
	}
	jobs := make(chan job)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				tok, err := e.login(j.role, j.d.id)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				j.d.tokens[j.role] = tok
				mu.Unlock()
			}
		}()
	}
	for i, d := range devs {
		for _, r := range roles(i) {
			jobs <- job{d, r}
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		fatalf(b, "%v", firstErr)
	}
	return devs
}

// connect opens the device's websocket and says hello.
func (e *env) connect(b testing.TB, d *device) {
	b.Helper()
	var tok string
	for _, r := range clinicRole {
		if t := d.tokens[r]; t != "" {
			tok = t
			break
		}
	}
	ws, err := dial(e.srv.URL(), tok)
	if err != nil {
		fatalf(b, "device %s: %v", d.id, err)
	}
	b.Cleanup(func() { ws.close() })
	d.ws = ws
	if err := ws.send(&syncproto.Hello{RequestID: "hello", Protocol: syncproto.Version, DeviceID: d.id, LastMutationSeq: d.seq, Pages: d.pages}); err != nil {
		fatalf(b, "hello: %v", err)
	}
	for {
		f, err := ws.read()
		if err != nil {
			fatalf(b, "hello: %v", err)
		}
		switch f := f.(type) {
		case *syncproto.Welcome:
			d.seq = f.LastMutationSeq
			return
		case *syncproto.Error:
			fatalf(b, "hello refused: %s %s", f.Code, f.Message)
		}
	}
}

// wsClient is the workstation end of /sync.
type wsClient struct {
	ws  *websocket.Conn
	wmu sync.Mutex
}

func dial(baseURL, token string) (*wsClient, error) {
	u := "ws" + strings.TrimPrefix(baseURL, "http") + "/sync"
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 64 << 10, WriteBufferSize: 64 << 10}
	h := http.Header{}
	wardtest.Bearer(h, token)
	ws, resp, err := d.Dial(u, h)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial /sync: %w (HTTP %d)", err, resp.StatusCode)
		}
		return nil, fmt.Errorf("dial /sync: %w", err)
	}
	ws.SetReadLimit(syncproto.MaxFrameBytes + 1)
	return &wsClient{ws: ws}, nil
}

func (c *wsClient) send(f syncproto.Frame) error {
	b, err := syncproto.Encode(f)
	if err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(30 * time.Second))
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

func (c *wsClient) read() (syncproto.Frame, error) { return c.readWithin(60 * time.Second) }

// readWithin reads the next frame, waiting at most d (0: for ever).
func (c *wsClient) readWithin(d time.Duration) (syncproto.Frame, error) {
	var deadline time.Time
	if d > 0 {
		deadline = time.Now().Add(d)
	}
	_ = c.ws.SetReadDeadline(deadline)
	_, data, err := c.ws.ReadMessage()
	if err != nil {
		return nil, err
	}
	return syncproto.DecodeFromServer(data)
}

func (c *wsClient) close() {
	c.wmu.Lock()
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	c.wmu.Unlock()
	_ = c.ws.Close()
}

// pullToHead pages from cursor until the server has nothing more, reading
// frames itself (no read loop may be running). It returns the new cursor.
func pullToHead(c *wsClient, cursor string) (string, error) {
	for n := 0; ; n++ {
		if err := c.send(&syncproto.Pull{RequestID: "p" + strconv.Itoa(n), Cursor: cursor}); err != nil {
			return "", err
		}
		for {
			f, err := c.read()
			if err != nil {
				return "", err
			}
			if e, ok := f.(*syncproto.Error); ok {
				return "", fmt.Errorf("pull refused: %s %s", e.Code, e.Message)
			}
			if ch, ok := f.(*syncproto.Changes); ok {
				cursor = ch.Cursor
				if !ch.More {
					return cursor, nil
				}
				break
			}
		}
	}
}

// Acts. Each builder returns the mutation's name, args and author role.

type act struct {
	name   string
	args   map[string]any
	role   workflow.Role
	table  string
	rowID  string
	status string // the row's status once applied ("" for no check)
}

func registerPatient(id string, n int) act {
	return act{name: "patient.register", role: workflow.RoleSecretary, table: workflow.TablePatients, rowID: id, args: map[string]any{
		"id": id, "firstName": "Bench", "lastName": fmt.Sprintf("Patient %d", n), "birthDate": "1980-05-01T00:00:00Z",
	}}
}

// lifecycle is the five acts of one appointment, from schedule to close,
// each by the role the workflow wants.
func lifecycle(apptID, patientID string, at time.Time) []act {
	a := func(name string, role workflow.Role, st workflow.AppointmentStatus, args map[string]any) act {
		args["id"] = apptID
		return act{name: name, args: args, role: role, table: workflow.TableAppointments, rowID: apptID, status: string(st)}
	}
	return []act{
		a("appointment.schedule", workflow.RoleSecretary, workflow.AppointmentScheduled, map[string]any{
			"patientId": patientID, "doctorId": doctorID, "date": at.Add(time.Hour).UTC().Format(time.RFC3339), "motif": "Consultation de suivi",
		}),
		a("appointment.checkIn", workflow.RoleSecretary, workflow.AppointmentCheckedIn, map[string]any{}),
		a("appointment.recordVitals", workflow.RoleNurse, workflow.AppointmentInConsultation, map[string]any{
			"vitals": map[string]any{"weight": 72.5, "height": 175, "temperature": 37.1,
				"bloodPressure": map[string]any{"systolic": 125, "diastolic": 82}, "heartRate": 74},
			"medicalHistoryNotes": "Allergie à la pénicilline; asthme léger.",
		}),
		a("appointment.completeConsultation", workflow.RoleDoctor, workflow.AppointmentConsultationCompleted, map[string]any{
			"consultationNotes": "Examen clinique normal. Renouvellement du traitement pour trois mois.",
		}),
		a("appointment.close", workflow.RoleSecretary, workflow.AppointmentCompleted, map[string]any{
			"billingAmount": "120.50", "billingStatus": string(workflow.BillingPaid),
		}),
	}
}

// mutation turns an act into the device's next queued mutation.
func (d *device) mutation(a act) syncproto.Mutation {
	d.seq++
	raw, err := json.Marshal(a.args)
	if err != nil {
		panic(err)
	}
	m := []syncproto.Mutation{{Seq: d.seq, ID: uuid.NewString(), Name: a.name, Args: raw,
		OccurredAt: time.Now().UTC().Truncate(time.Millisecond), SessionID: d.tokens[a.role]}}
	d.chain.DeviceID = d.id
	if err := wardtest.Author(&d.chain, m); err != nil {
		panic(err)
	}
	return m[0]
}

// push sends one push and waits for its result, skipping pokes.
func (d *device) push(reqID string, muts []syncproto.Mutation) ([]syncproto.MutationResult, error) {
	if err := d.ws.send(&syncproto.Push{RequestID: reqID, Mutations: muts}); err != nil {
		return nil, err
	}
	for {
		f, err := d.ws.read()
		if err != nil {
			return nil, err
		}
		switch f := f.(type) {
		case *syncproto.PushResult:
			if f.RequestID != reqID {
				return nil, fmt.Errorf("pushResult for %q while waiting for %q", f.RequestID, reqID)
			}
			return f.Results, nil
		case *syncproto.Error:
			return nil, fmt.Errorf("push %s refused: %s %s", reqID, f.Code, f.Message)
		}
	}
}

// allApplied explains the first result that is not "applied".
func allApplied(muts []syncproto.Mutation, res []syncproto.MutationResult) error {
	if len(res) != len(muts) {
		return fmt.Errorf("%d results for %d mutations", len(res), len(muts))
	}
	for i, r := range res {
		if r.Status != syncproto.StatusApplied {
			return fmt.Errorf("mutation seq %d (%s) %s: %s %s", r.Seq, muts[i].Name, r.Status, r.Code, r.Message)
		}
	}
	return nil
}

// percentile of sorted durations, nearest rank, in milliseconds.
func percentileMS(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	i = max(0, min(i, len(sorted)-1))
	return float64(sorted[i]) / float64(time.Millisecond)
}

func sortDurations(d []time.Duration) []time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s
}
