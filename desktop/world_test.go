package desktop

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"
	"wardsync/desktop/keyfile"

	"wardsync/workflow"
)

const (
	secretaryID = "11111111-1111-4111-8111-111111111111"
	nurseID     = "22222222-2222-4222-8222-222222222222"
	doctorID    = "33333333-3333-4333-8333-333333333333"
	biologistID = "44444444-4444-4444-8444-444444444444"
	patient1ID  = "aaaaaaaa-0000-4000-8000-000000000001"
	patient2ID  = "aaaaaaaa-0000-4000-8000-000000000002"
	appt1ID     = "bbbbbbbb-0000-4000-8000-000000000001"
	appt2ID     = "bbbbbbbb-0000-4000-8000-000000000002"
	appt3ID     = "bbbbbbbb-0000-4000-8000-000000000003"

	wardDevice  = "dev-ward"
	ward2Device = "dev-ward-2"
	labDevice   = "dev-lab"
)

// clock is the injected clock: tests move time, nothing sleeps for it.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var t0 = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

type world struct {
	t     *testing.T
	fs    *fakeServer
	clock *clock
}

// newWorld starts a fake server holding the seed's demo users, two
// patients and three appointments of today.
func newWorld(t *testing.T) *world {
	c := &clock{t: t0}
	fs := newFakeServer(t, c.Now)
	fs.addDevice(wardDevice, workflow.RoleSecretary, workflow.RoleNurse)
	fs.addDevice(ward2Device, workflow.RoleSecretary, workflow.RoleNurse)
	fs.addDevice(labDevice, workflow.RoleBiologist)
	fs.addUser("secretary@hospital.com", "secretary123", fakeUser{ID: secretaryID, Name: "Secrétaire Test", Role: workflow.RoleSecretary})
	fs.addUser("nurse@hospital.com", "nurse123", fakeUser{ID: nurseID, Name: "Infirmier Test", Role: workflow.RoleNurse})
	fs.addUser("doctor@hospital.com", "doctor123", fakeUser{ID: doctorID, Name: "Dr Test", Role: workflow.RoleDoctor})
	fs.addUser("biologist@hospital.com", "bio123", fakeUser{ID: biologistID, Name: "Bio Test", Role: workflow.RoleBiologist})
	for _, p := range []map[string]any{
		{"id": patient1ID, "firstName": "Marie", "lastName": "Curie", "birthDate": "1967-11-07T00:00:00.000Z", "sex": "F", "phone": "0102",
			"address": "", "emergencyContact": "", "insurance": "", "consentMedicalData": true, "consentContact": false,
			"medicalHistory": map[string]any{"allergies": []any{"penicillin"}}, "createdAt": "2025-12-01T00:00:00.000Z", "updatedAt": "2025-12-01T00:00:00.000Z"},
		{"id": patient2ID, "firstName": "Louis", "lastName": "Pasteur", "birthDate": "1982-12-27T00:00:00.000Z", "sex": "M", "phone": "",
			"address": "", "emergencyContact": "", "insurance": "", "consentMedicalData": true, "consentContact": true,
			"createdAt": "2025-12-01T00:00:00.000Z", "updatedAt": "2025-12-01T00:00:00.000Z"},
	} {
		fs.putRow(workflow.TablePatients, p)
	}
	for i, a := range []struct{ id, patient, at string }{
		{appt1ID, patient1ID, "2026-01-05T14:00:00.000Z"},
		{appt2ID, patient2ID, "2026-01-05T15:00:00.000Z"},
		{appt3ID, patient1ID, "2026-01-05T16:00:00.000Z"},
	} {
		fs.putRow(workflow.TableAppointments, map[string]any{"id": a.id, "date": a.at, "motif": "Consultation " + string(rune('A'+i)),
			"status": "SCHEDULED", "patientId": a.patient, "doctorId": doctorID, "billingStatus": "PENDING",
			"createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-01-01T00:00:00.000Z"})
	}
	return &world{t: t, fs: fs, clock: c}
}

func (w *world) config(device, path string) Config {
	if path == "" {
		path = filepath.Join(w.t.TempDir(), device+".db")
	}
	return Config{DBPath: path, ServerURL: w.fs.URL(), DeviceID: device, Now: w.clock.Now,
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		BackoffMin: 10 * time.Millisecond, BackoffMax: 100 * time.Millisecond,
		PollInterval: 50 * time.Millisecond, Location: time.UTC, SlotParams: &cheapSlots}
}

// cheapSlots keep logins fast in tests; keyfile's benchmark measures the
// real costs.
var cheapSlots = keyfile.Params{Time: 1, MemoryKiB: 64, Threads: 1}

// testKey seals the replicas tests open without a login.
var testKey = []byte("wardsync-test-key-32-bytes-long!")

func (w *world) engine(device string) *Engine {
	w.t.Helper()
	e, err := Open(context.Background(), w.config(device, ""))
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		e.Close(ctx)
	})
	return e
}

// run starts the sync loop; the returned function stops it and waits.
func run(t *testing.T, e *Engine) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("run did not stop")
		}
	}
	t.Cleanup(stop)
	return stop
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func login(t *testing.T, e *Engine, email, password string) *Session {
	t.Helper()
	s, err := e.Login(context.Background(), email, password)
	if err != nil {
		t.Fatalf("login %s: %v", email, err)
	}
	return s
}

func js(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func act(t *testing.T, e *Engine, user, name string, args map[string]any) *Acted {
	t.Helper()
	a, err := e.Act(context.Background(), user, name, js(args))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return a
}

func replicaColumn(t *testing.T, e *Engine, table, id, col string) any {
	t.Helper()
	raw, err := e.DB().Row(context.Background(), table, id)
	if err != nil {
		t.Fatal(err)
	}
	if raw == nil {
		return "<no row>"
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m[col]
}

func synced(e *Engine) func() bool {
	return func() bool {
		s := e.Status()
		return s.Online && s.LastSyncAt != nil && s.Pending == 0 && !s.Syncing
	}
}

func outboxEmpty(t *testing.T, e *Engine) func() bool {
	return func() bool {
		p, err := e.Pending(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return len(p) == 0
	}
}
