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
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"wardsync/internal/wardtest"
	"wardsync/server/postgres"
	"wardsync/syncproto"
	"wardsync/workflow"
)

var (
	doctorID   = postgres.SeedID("user:doctor@hospital.com")
	clinicRole = []workflow.Role{workflow.RoleSecretary, workflow.RoleNurse, workflow.RoleDoctor}
	// loginClient bounds a login: bcrypt is slow, a hung one is a failure.
	loginClient = &http.Client{Timeout: 30 * time.Second}
)

// benchServer is the kit's server on a fresh, migrated and seeded database,
// with the production pool size (the benchmarks measure the server as
// deployed) and its warnings on stderr.
func benchServer(tb testing.TB) *wardtest.Server {
	tb.Helper()
	return wardtest.StartServer(tb, wardtest.Options{
		Config: func(c *postgres.Config) { c.MaxConns = postgres.DefaultConfig().MaxConns },
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
}

// checkpoint flushes dirty pages before a measured phase so that neither
// side pays for the other's checkpoint; best effort (needs a privileged role).
func checkpoint(e *wardtest.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, _ = e.DB.Pool.Exec(ctx, `CHECKPOINT`)
}

// device is one simulated workstation: registered, its users logged in.
type device struct {
	id     string
	tokens map[workflow.Role]string
	seq    int64
	// chain links its acts as a workstation would; the hashing is part of
	// what a workstation pays per act, not of the server's push cost.
	chain syncproto.Chainer
	ws    *wardtest.Conn
	// pages: the hello asks for pushed pages (docs/protocol.md).
	pages bool
}

// devices registers n workstations serving SECRETARY, NURSE and DOCTOR and
// logs roles in on each (bcrypt makes logins slow: a few at a time).
func devices(b testing.TB, e *wardtest.Server, prefix string, n int, roles func(i int) []workflow.Role) []*device {
	b.Helper()
	devs := make([]*device, n)
	var logins []func() error
	var mu sync.Mutex
	for i := range devs {
		d := &device{id: e.AddDevice(b, fmt.Sprintf("%s %d", prefix, i+1), clinicRole...), tokens: map[workflow.Role]string{}}
		devs[i] = d
		for _, r := range roles(i) {
			logins = append(logins, func() error {
				tok, err := wardtest.TryLogin(loginClient, e.URL(), wardtest.Email(r), wardtest.Password(r), d.id)
				mu.Lock()
				d.tokens[r] = tok
				mu.Unlock()
				return err
			})
		}
	}
	if err := wardtest.Parallel(len(logins), 4, func(i int) error { return logins[i]() }); err != nil {
		fatalf(b, "%v", err)
	}
	return devs
}

// connect opens the device's websocket and says hello.
func connect(b testing.TB, e *wardtest.Server, d *device) {
	b.Helper()
	var tok string
	for _, r := range clinicRole {
		if t := d.tokens[r]; t != "" {
			tok = t
			break
		}
	}
	ws, w, err := wardtest.DialHello(e.URL(), tok, 64<<10, syncproto.Hello{DeviceID: d.id, LastMutationSeq: d.seq, Pages: d.pages})
	if err != nil {
		fatalf(b, "device %s: dial /sync and hello: %v", d.id, err)
	}
	b.Cleanup(ws.Close)
	d.ws, d.seq = ws, w.LastMutationSeq
}

// pullToHead pages from cursor until the server has nothing more, reading
// frames itself (no read loop may be running). It returns the new cursor.
func pullToHead(c *wardtest.Conn, cursor string) (string, error) {
	for n := 0; ; n++ {
		f, err := c.Request(&syncproto.Pull{RequestID: "p" + strconv.Itoa(n), Cursor: cursor}, time.Minute)
		if err != nil {
			return "", err
		}
		ch := f.(*syncproto.Changes)
		if cursor = ch.Cursor; !ch.More {
			return cursor, nil
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
	f, err := d.ws.Request(&syncproto.Push{RequestID: reqID, Mutations: muts}, time.Minute)
	if err != nil {
		return nil, err
	}
	return f.(*syncproto.PushResult).Results, nil
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
