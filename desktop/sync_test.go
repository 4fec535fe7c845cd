package desktop

import (
	"context"
	"encoding/json"
	"reflect"
	"strconv"
	"testing"
	"time"

	"wardsync/syncproto"
	"wardsync/workflow"
)

func TestActSyncsAndDrainsOutbox(t *testing.T) {
	w := newWorld(t)
	e := w.engine(wardDevice)
	ctx := context.Background()
	login(t, e, "secretary@hospital.com", "secretary123")
	run(t, e)
	waitFor(t, "first sync", synced(e))
	// Need to know: a reception/nurse workstation holds the patient's
	// phone and medical history, never a user's email.
	if v := replicaColumn(t, e, workflow.TablePatients, patient1ID, "phone"); v != "0102" {
		t.Errorf("phone %v", v)
	}
	if v := replicaColumn(t, e, workflow.TableUsers, doctorID, "email"); v != nil {
		t.Errorf("email %v reached a ward workstation", v)
	}
	if st := e.Status(); !reflect.DeepEqual(st.Roles, []workflow.Role{workflow.RoleSecretary, workflow.RoleNurse}) || st.OfflineSince != nil {
		t.Errorf("status %+v", st)
	}

	w.clock.Advance(30 * time.Second)
	a := act(t, e, secretaryID, "appointment.checkIn", map[string]any{"id": appt1ID})
	if a.Seq != 1 || !a.OccurredAt.Equal(w.clock.Now()) {
		t.Errorf("acted %+v", a)
	}
	waitFor(t, "outbox drained", outboxEmpty(t, e))
	row := w.fs.row(workflow.TableAppointments, appt1ID)
	if row["status"] != "CHECKED_IN" || row["checkedInAt"] != "2026-01-05T09:00:30.000Z" {
		t.Errorf("server row %v: checkedInAt must be the act's time", row)
	}
	if v := replicaColumn(t, e, workflow.TableAppointments, appt1ID, "status"); v != "CHECKED_IN" {
		t.Errorf("replica %v", v)
	}
	waitFor(t, "status settles", func() bool { s := e.Status(); return s.Pending == 0 && s.Online })
	d := w.fs.device(wardDevice)
	if d.lastSeq != 1 || len(d.reports) < 2 || d.reports[len(d.reports)-1].Pending != 0 {
		t.Errorf("server's view of the device %+v", d)
	}
	var bases int
	e.DB().SQL().QueryRow(`SELECT COUNT(*) FROM rebase_base`).Scan(&bases)
	if bases != 0 {
		t.Errorf("%d rebase rows left", bases)
	}
	_ = ctx
}

// The ward works through an outage: acts queue, the dashboards show them,
// and everything reaches the server once it is back, in order.
func TestOfflineWorkThenReconnect(t *testing.T) {
	w := newWorld(t)
	e := w.engine(wardDevice)
	ctx := context.Background()
	login(t, e, "secretary@hospital.com", "secretary123")
	login(t, e, "nurse@hospital.com", "nurse123")
	run(t, e)
	waitFor(t, "first sync", synced(e))

	w.fs.setDown(true)
	waitFor(t, "offline", func() bool { return !e.Status().Online })
	if s := e.Status(); s.OfflineSince == nil || s.LastError == "" {
		t.Errorf("offline status %+v", s)
	}
	// Offline login still works for those who logged in here before.
	if s, err := e.Login(ctx, "nurse@hospital.com", "nurse123"); err != nil || !s.Offline {
		t.Fatalf("offline login %+v %v", s, err)
	}
	newPatient := "aaaaaaaa-0000-4000-8000-0000000000aa"
	newAppt := "bbbbbbbb-0000-4000-8000-0000000000aa"
	act(t, e, secretaryID, "appointment.checkIn", map[string]any{"id": appt1ID})
	w.clock.Advance(time.Minute)
	act(t, e, nurseID, "appointment.recordVitals", map[string]any{"id": appt1ID, "vitals": map[string]any{"weight": 70, "height": 170,
		"temperature": 37.2, "bloodPressure": map[string]any{"systolic": 120, "diastolic": 80}, "heartRate": 72}})
	act(t, e, secretaryID, "patient.register", map[string]any{"id": newPatient, "firstName": "Irène", "lastName": "Joliot-Curie",
		"birthDate": "1997-09-12T00:00:00Z"})
	act(t, e, secretaryID, "appointment.schedule", map[string]any{"id": newAppt, "patientId": newPatient, "doctorId": doctorID,
		"date": "2026-01-05T17:00:00Z", "motif": "Première consultation"})
	s := e.Status()
	if s.Pending != 4 || s.OldestPendingAt == nil || !s.OldestPendingAt.Equal(t0) || s.OldestPendingAgeSeconds != 60 || s.Online {
		t.Errorf("status while offline %+v", s)
	}
	dash, err := e.Dashboard(ctx, secretaryID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range dash.ToCheckIn {
		ids = append(ids, a.ID)
	}
	if !reflect.DeepEqual(ids, []string{appt2ID, appt3ID, newAppt}) || dash.ToCheckIn[2].PatientLastName != "Joliot-Curie" {
		t.Errorf("to check in while offline: %v", ids)
	}

	w.fs.setDown(false)
	waitFor(t, "back online and drained", func() bool { return e.Status().Online && outboxEmpty(t, e)() })
	if r := w.fs.row(workflow.TableAppointments, appt1ID); r["status"] != "IN_CONSULTATION" || r["vitalsEnteredBy"] != nurseID ||
		r["vitalsEnteredAt"] != "2026-01-05T09:01:00.000Z" {
		t.Errorf("server row %v", r)
	}
	if r := w.fs.row(workflow.TableAppointments, newAppt); r["patientId"] != newPatient || r["status"] != "SCHEDULED" {
		t.Errorf("server row %v", r)
	}
	if rej, _ := e.Rejected(ctx, true); len(rej) != 0 {
		t.Errorf("rejected %+v", rej)
	}
	waitFor(t, "status", func() bool { s := e.Status(); return s.Pending == 0 && s.OfflineSince == nil && s.LastError == "" })
}

// Two workstations disagree: the one that reaches the server second is
// rejected, keeps what was typed, and shows the server's state.
func TestConflictEndsInRejectedList(t *testing.T) {
	w := newWorld(t)
	a, b := w.engine(wardDevice), w.engine(ward2Device)
	ctx := context.Background()
	login(t, a, "secretary@hospital.com", "secretary123")
	login(t, b, "secretary@hospital.com", "secretary123")
	run(t, a)
	stopB := run(t, b)
	waitFor(t, "a synced", synced(a))
	waitFor(t, "b synced", synced(b))
	stopB() // b loses its network

	args := map[string]any{"id": appt2ID}
	act(t, b, secretaryID, "appointment.checkIn", args)
	w.clock.Advance(time.Minute)
	act(t, a, secretaryID, "appointment.cancel", map[string]any{"id": appt2ID})
	waitFor(t, "a drained", outboxEmpty(t, a))

	run(t, b)
	waitFor(t, "b rejected", func() bool { return b.Status().Rejected == 1 })
	waitFor(t, "b drained", outboxEmpty(t, b))
	rej, err := b.Rejected(ctx, false)
	if err != nil || len(rej) != 1 {
		t.Fatalf("rejected %+v %v", rej, err)
	}
	r := rej[0]
	if r.Name != "appointment.checkIn" || r.Rejection.Code != workflow.CodeInvalidTransition ||
		r.Rejection.Message != "Appointment "+appt2ID+" is CANCELLED (cancelled at 09:01), not SCHEDULED." || r.AuthorID != secretaryID {
		t.Errorf("rejected act %+v", r)
	}
	waitFor(t, "b shows the server's state", func() bool {
		return replicaColumn(t, b, workflow.TableAppointments, appt2ID, "status") == "CANCELLED"
	})
	name, copied, err := b.CopyRejected(ctx, r.ID)
	var got map[string]any
	json.Unmarshal(copied, &got)
	if err != nil || name != "appointment.checkIn" || !reflect.DeepEqual(got, args) {
		t.Errorf("copy %s %s %v", name, copied, err)
	}
	if _, err := b.CloseRejected(ctx, secretaryID, r.ID, "cancelled meanwhile"); err != nil {
		t.Fatal(err)
	}
	if s := b.Status(); s.Rejected != 0 {
		t.Errorf("status after closing %+v", s)
	}
	// The close is an act too: once the server has it, the act stays closed.
	waitFor(t, "b pushed the close", outboxEmpty(t, b))
	if all, _ := b.Rejected(ctx, true); len(all) != 1 || all[0].ClosedAt == nil || all[0].CloseReason != "cancelled meanwhile" {
		t.Errorf("closed act not kept: %+v", all)
	}
}

// A change made elsewhere reaches a connected workstation through a poke,
// without it doing anything.
func TestPokeBringsOtherChanges(t *testing.T) {
	w := newWorld(t)
	a, lab := w.engine(wardDevice), w.engine(labDevice)
	login(t, a, "secretary@hospital.com", "secretary123")
	login(t, lab, "biologist@hospital.com", "bio123")
	run(t, a)
	run(t, lab)
	waitFor(t, "a synced", synced(a))
	waitFor(t, "lab synced", synced(lab))
	// Need to know: the lab sees no appointment at all.
	if v := replicaColumn(t, lab, workflow.TableAppointments, appt1ID, "id"); v != "<no row>" {
		t.Errorf("the lab holds an appointment: %v", v)
	}
	if v := replicaColumn(t, lab, workflow.TablePatients, patient1ID, "medicalHistory"); v != nil {
		t.Errorf("the lab holds a medical history: %v", v)
	}
	act(t, a, secretaryID, "appointment.checkIn", map[string]any{"id": appt3ID})
	// A direct write at the server (no mutation) reaches both.
	w.fs.putRow(workflow.TablePatients, map[string]any{"id": patient2ID, "lastName": "Pasteur-Vallery"})
	waitFor(t, "a sees the direct write", func() bool {
		return replicaColumn(t, a, workflow.TablePatients, patient2ID, "lastName") == "Pasteur-Vallery"
	})
	waitFor(t, "the lab sees the direct write", func() bool {
		return replicaColumn(t, lab, workflow.TablePatients, patient2ID, "lastName") == "Pasteur-Vallery"
	})
}

// A resync starts the replica over from the server's snapshot but keeps
// the queued acts, which then reach the server.
func TestResyncKeepsQueuedActs(t *testing.T) {
	w := newWorld(t)
	e := w.engine(wardDevice)
	ctx := context.Background()
	login(t, e, "secretary@hospital.com", "secretary123")
	stop := run(t, e)
	waitFor(t, "synced", synced(e))
	stop()
	// Something only this replica holds (say, from a bug): a resync drops it.
	stray := "aaaaaaaa-0000-4000-8000-00000000dead"
	if err := e.DB().PutRows(ctx, workflow.TablePatients, js(map[string]any{"id": stray, "firstName": "X"})); err != nil {
		t.Fatal(err)
	}
	act(t, e, secretaryID, "appointment.checkIn", map[string]any{"id": appt1ID})
	w.fs.putRow(workflow.TableAppointments, map[string]any{"id": appt2ID, "motif": "Changed while away"})
	w.fs.compact()
	w.fs.mu.Lock()
	w.fs.pageSize = 3 // the snapshot comes in pages
	w.fs.mu.Unlock()

	var maxTotal int64
	sub, cancel := e.Subscribe()
	defer cancel()
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for s := range sub {
			if s.InitialSync != nil && s.InitialSync.Total > maxTotal {
				maxTotal = s.InitialSync.Total
			}
		}
	}()
	run(t, e)
	waitFor(t, "drained", func() bool { return outboxEmpty(t, e)() && e.Status().Online && !e.Status().Syncing })
	if v := replicaColumn(t, e, workflow.TablePatients, stray, "id"); v != "<no row>" {
		t.Errorf("stray row survived the resync")
	}
	if v := replicaColumn(t, e, workflow.TableAppointments, appt2ID, "motif"); v != "Changed while away" {
		t.Errorf("motif %v", v)
	}
	if v := replicaColumn(t, e, workflow.TableAppointments, appt1ID, "status"); v != "CHECKED_IN" {
		t.Errorf("queued act lost in the resync: %v", v)
	}
	if r := w.fs.row(workflow.TableAppointments, appt1ID); r["status"] != "CHECKED_IN" {
		t.Errorf("server %v", r)
	}
	cancel()
	<-watched
	if maxTotal == 0 {
		t.Error("no snapshot progress was reported")
	}
}

func TestStatusSubscription(t *testing.T) {
	w := newWorld(t)
	e := w.engine(wardDevice)
	login(t, e, "secretary@hospital.com", "secretary123")
	sub, cancel := e.Subscribe()
	first := <-sub
	if first.Online || first.DeviceID != wardDevice {
		t.Errorf("first status %+v", first)
	}
	run(t, e)
	deadline := time.After(10 * time.Second)
	for online := false; !online; {
		select {
		case s := <-sub:
			online = s.Online
		case <-deadline:
			t.Fatal("no online status")
		}
	}
	cancel()
	if _, ok := <-sub; ok {
		// a status may have been waiting; the channel must close after it
		if _, ok := <-sub; ok {
			t.Error("channel not closed after cancel")
		}
	}
}

func TestRunNeedsASession(t *testing.T) {
	w := newWorld(t)
	e := w.engine(wardDevice)
	run(t, e)
	waitFor(t, "error shown", func() bool { return e.Status().LastError == ErrNoSession.Error() })
	// A login ends the wait at once.
	login(t, e, "secretary@hospital.com", "secretary123")
	waitFor(t, "synced", synced(e))
}

func TestReopenKeepsEverything(t *testing.T) {
	w := newWorld(t)
	cfg := w.config(wardDevice, "")
	ctx := context.Background()
	e, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	login(t, e, "secretary@hospital.com", "secretary123")
	stop := run(t, e)
	waitFor(t, "synced", synced(e))
	stop()
	act(t, e, secretaryID, "appointment.checkIn", map[string]any{"id": appt1ID})
	if err := e.Close(ctx); err != nil {
		t.Fatal(err)
	}
	cfg.DeviceID = "" // the replica remembers its device
	e, err = Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	// Reopened, the replica is locked until a login gives its key.
	if e.DeviceID() != wardDevice || !e.Status().Locked {
		t.Errorf("reopened: %s %+v", e.DeviceID(), e.Status())
	}
	login(t, e, "secretary@hospital.com", "secretary123")
	if st := e.Status(); st.Locked || st.Pending != 1 {
		t.Errorf("after login: %+v", st)
	}
	cfg.DeviceID = ward2Device
	if _, err := Open(ctx, cfg); err == nil {
		t.Error("a replica opened for another device")
	}
	run(t, e)
	waitFor(t, "drained", outboxEmpty(t, e))
}

// While the server is down the workstation retries with a growing, capped
// delay: neither hammering the server nor giving up.
func TestReconnectBacksOff(t *testing.T) {
	w := newWorld(t)
	e := w.engine(wardDevice)
	login(t, e, "secretary@hospital.com", "secretary123")
	w.fs.setDown(true)
	run(t, e)
	time.Sleep(1200 * time.Millisecond)
	w.fs.mu.Lock()
	n := w.fs.dials
	w.fs.mu.Unlock()
	// 10 ms doubling to a 100 ms cap, each delay jittered over its upper
	// half: about 15 to 25 attempts in 1.2 s. Without backoff: hundreds.
	if n < 6 || n > 45 {
		t.Errorf("%d connection attempts in 1.2 s", n)
	}
	w.fs.setDown(false)
	waitFor(t, "reconnected", synced(e))
}

// fiveQueuedActs opens an engine that pushes pushBatch acts at a time,
// syncs it once as the secretary, then stops it and queues five acts
// offline: three check-ins, then two cancels (the last one first), whose
// order the server must keep.
func fiveQueuedActs(t *testing.T, w *world, pushBatch int) *Engine {
	t.Helper()
	cfg := w.config(wardDevice, "")
	cfg.PushBatch = pushBatch
	e, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	queued := false
	defer func() { // the caller closes it once it has it
		if !queued {
			e.Close(context.Background())
		}
	}()
	login(t, e, "secretary@hospital.com", "secretary123")
	stop := run(t, e)
	waitFor(t, "synced", synced(e))
	stop()
	for _, id := range []string{appt1ID, appt2ID, appt3ID} {
		act(t, e, secretaryID, "appointment.checkIn", map[string]any{"id": id})
	}
	act(t, e, secretaryID, "appointment.cancel", map[string]any{"id": appt3ID})
	act(t, e, secretaryID, "appointment.cancel", map[string]any{"id": appt2ID})
	queued = true
	return e
}

func TestPushInBatches(t *testing.T) {
	w := newWorld(t)
	e := fiveQueuedActs(t, w, 2)
	defer e.Close(context.Background())
	run(t, e)
	waitFor(t, "drained", outboxEmpty(t, e))
	w.fs.mu.Lock()
	pushes := w.fs.pushes
	w.fs.mu.Unlock()
	if pushes != 3 {
		t.Errorf("%d pushes for 5 acts in batches of 2", pushes)
	}
	if r := w.fs.row(workflow.TableAppointments, appt3ID); r["status"] != "CANCELLED" {
		t.Errorf("server %v: acts applied out of order?", r)
	}
}

// TestDrainReportsItsBacklogOnce: a drain of several pushes reports the
// backlog left once it is done (0), not after every push: the server
// handles a connection's frames in order, and each report is a write there
// that the next push waited behind. A long drain still reports at most
// once a second.
func TestDrainReportsItsBacklogOnce(t *testing.T) {
	w := newWorld(t)
	e := fiveQueuedActs(t, w, 1)
	defer e.Close(context.Background())
	before := len(w.fs.device(wardDevice).reports)
	began := time.Now()
	run(t, e)
	waitFor(t, "drained", outboxEmpty(t, e))
	waitFor(t, "backlog reported", func() bool {
		r := w.fs.device(wardDevice).reports
		return len(r) > before+1 && r[len(r)-1].Pending == 0
	})
	took := time.Since(began)
	w.fs.mu.Lock()
	pushes := w.fs.pushes
	w.fs.mu.Unlock()
	// The hello's backlog, the final report, and one a second meanwhile.
	reports := w.fs.device(wardDevice).reports[before:]
	if most := 2 + int(took/time.Second); len(reports) > most || pushes < 5 {
		t.Errorf("%d reports (hello included) for a drain of %d pushes in %s; want at most %d: %+v", len(reports), pushes, took, most, reports)
	}
	if reports[0].Pending != 5 {
		t.Errorf("the hello reported %d pending, want 5", reports[0].Pending)
	}
}

// TestPipelinedPushFailureKeepsOrderAndExactlyOnce: with pushes pipelined
// (one act to a push here, so several are on the wire at once), a push the
// server refuses midway leaves the pushes behind it refused as gaps; the
// engine reconnects and resends from the server's last seq, and every act
// is applied once, in seq order.
func TestPipelinedPushFailureKeepsOrderAndExactlyOnce(t *testing.T) {
	w := newWorld(t)
	e := fiveQueuedActs(t, w, 1)
	defer e.Close(context.Background())
	w.fs.mu.Lock()
	before := w.fs.pushes
	w.fs.failPush = before + 2 // the second push of the drain
	w.fs.mu.Unlock()
	run(t, e)
	waitFor(t, "drained", outboxEmpty(t, e))
	w.fs.mu.Lock()
	pushes := w.fs.pushes - before
	w.fs.mu.Unlock()
	if pushes <= 5 {
		t.Errorf("%d pushes for 5 acts: the refused push was not resent", pushes)
	}
	d := w.fs.device(wardDevice)
	if d.lastSeq != 5 || len(d.results) != 5 {
		t.Fatalf("server's last seq %d, %d outcomes recorded; want 5 and 5", d.lastSeq, len(d.results))
	}
	for seq, r := range d.results {
		if r.Status != syncproto.StatusApplied {
			t.Errorf("seq %d: %+v", seq, r)
		}
	}
	if r := w.fs.row(workflow.TableAppointments, appt2ID); r["status"] != "CANCELLED" {
		t.Errorf("appointment 2 %v: acts applied out of order?", r["status"])
	}
	if r := w.fs.row(workflow.TableAppointments, appt3ID); r["status"] != "CANCELLED" {
		t.Errorf("appointment 3 %v: acts applied out of order?", r["status"])
	}
	if r := w.fs.row(workflow.TableAppointments, appt1ID); r["status"] != "CHECKED_IN" {
		t.Errorf("appointment 1 %v", r["status"])
	}
	if rej, _ := e.DB().Rejected(context.Background(), true); len(rej) != 0 {
		t.Errorf("rejected acts: %+v", rej)
	}
}

// A replica that the server knows to be behind (restored from an old
// backup) must not reuse seqs the server has: they would be taken for
// duplicates and never applied.
func TestReplicaBehindServerRenumbers(t *testing.T) {
	w := newWorld(t)
	w.fs.mu.Lock()
	d := w.fs.devices[wardDevice]
	d.lastSeq = 10
	w.fs.devices[wardDevice] = d
	w.fs.mu.Unlock()
	e := w.engine(wardDevice)
	login(t, e, "secretary@hospital.com", "secretary123")
	stop := run(t, e)
	waitFor(t, "synced", synced(e))
	stop()
	act(t, e, secretaryID, "appointment.checkIn", map[string]any{"id": appt1ID})
	run(t, e)
	waitFor(t, "drained", outboxEmpty(t, e))
	if r := w.fs.row(workflow.TableAppointments, appt1ID); r["status"] != "CHECKED_IN" {
		t.Errorf("the act was swallowed as a duplicate: %v", r)
	}
	if d := w.fs.device(wardDevice); d.lastSeq != 11 {
		t.Errorf("server's last seq %d", d.lastSeq)
	}
}

// While acts wait to be sent, the engine never waits longer than
// QueuedBackoffMax between two attempts, however long the outage: its
// back-off keeps growing to BackoffMax only while nothing is queued. The
// status says when the next attempt comes ("Retrying in N s").
func TestQueuedActsRetryWithinCap(t *testing.T) {
	w := newWorld(t)
	cfg := w.config(wardDevice, "")
	cfg.BackoffMax, cfg.QueuedBackoffMax = time.Hour, 150*time.Millisecond
	e, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	login(t, e, "secretary@hospital.com", "secretary123")
	run(t, e)
	waitFor(t, "first sync", synced(e))
	w.fs.setDown(true)
	waitFor(t, "offline", func() bool { return !e.Status().Online })
	act(t, e, secretaryID, "appointment.checkIn", map[string]any{"id": appt1ID})
	// Sample the announced waits for a while: the back-off would have
	// grown past the cap many times over without acts queued.
	var longest time.Duration
	for deadline := time.Now().Add(1500 * time.Millisecond); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if s := e.Status(); s.RetryAt != nil {
			longest = max(longest, s.RetryAt.Sub(w.clock.Now()))
		}
	}
	if longest <= 0 || longest > 150*time.Millisecond {
		t.Errorf("the longest announced wait with an act queued was %s, want (0, 150ms]", longest)
	}
	w.fs.mu.Lock()
	n := w.fs.dials
	w.fs.mu.Unlock()
	if n < 8 {
		t.Errorf("%d attempts in 1.5 s with an act queued: the wait grew past its cap", n)
	}
	w.fs.setDown(false)
	waitFor(t, "the queued act sent", func() bool { return outboxEmpty(t, e)() && e.Status().Online })
	if s := e.Status(); s.RetryAt != nil {
		t.Errorf("online but still announcing a retry at %s", s.RetryAt)
	}
}

// "Send now" while offline tries the server at once instead of waiting out
// the back-off (here an hour).
func TestSendNowRetriesAtOnce(t *testing.T) {
	w := newWorld(t)
	cfg := w.config(wardDevice, "")
	cfg.BackoffMin, cfg.BackoffMax = time.Hour, time.Hour
	e, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	login(t, e, "secretary@hospital.com", "secretary123")
	w.fs.setDown(true)
	run(t, e)
	waitFor(t, "a retry an hour away", func() bool {
		s := e.Status()
		return s.RetryAt != nil && s.RetryAt.Sub(w.clock.Now()) > 20*time.Minute
	})
	w.fs.setDown(false)
	e.SyncNow()
	waitFor(t, "online after Send now", func() bool { return e.Status().Online })
}

// A page the server pushes unasked is applied exactly as a pulled one when
// it starts at the replica's cursor, without a pull; one that starts
// anywhere else is never applied: the workstation pulls instead.
func TestPushedPageOnlyAtItsCursor(t *testing.T) {
	w := newWorld(t)
	a := w.engine(wardDevice)
	login(t, a, "secretary@hospital.com", "secretary123")
	run(t, a)
	waitFor(t, "a synced", synced(a))
	ctx := context.Background()
	cursor := func() string {
		st, err := a.DB().State(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st.Cursor
	}
	lastName := func() any { return replicaColumn(t, a, workflow.TablePatients, patient2ID, "lastName") }
	row := func(name string) json.RawMessage {
		b, _ := json.Marshal(map[string]any{"id": patient2ID, "lastName": name})
		return b
	}

	// Not from the replica's cursor: not applied; the pull brings the row.
	n := w.fs.putQuiet(workflow.TablePatients, map[string]any{"id": patient2ID, "lastName": "Pulled"})
	pulls := w.fs.pullCount()
	w.fs.pushPage("f0", &syncproto.Changes{Cursor: "f999", Changes: []syncproto.Change{
		{Table: workflow.TablePatients, Op: syncproto.OpUpsert, ID: patient2ID, Row: row("Stale")}}})
	waitFor(t, "the pull after a page from another cursor", func() bool { return lastName() == "Pulled" })
	if got := cursor(); got != "f"+strconv.Itoa(n) {
		t.Fatalf("cursor %s after the pull, want f%d", got, n)
	}
	if w.fs.pullCount() == pulls {
		t.Fatal("no pull after a pushed page from another cursor")
	}

	// From the replica's cursor: applied as it is, no pull.
	time.Sleep(50 * time.Millisecond) // the pull's poke, if any, has been served
	from := cursor()
	n = w.fs.putQuiet(workflow.TablePatients, map[string]any{"id": patient2ID, "lastName": "Pushed"})
	pulls = w.fs.pullCount()
	w.fs.pushPage(from, &syncproto.Changes{Cursor: "f" + strconv.Itoa(n), Changes: []syncproto.Change{
		{Table: workflow.TablePatients, Op: syncproto.OpUpsert, ID: patient2ID, Row: row("Pushed")}}})
	waitFor(t, "the pushed page applied", func() bool { return lastName() == "Pushed" })
	if got := cursor(); got != "f"+strconv.Itoa(n) {
		t.Fatalf("cursor %s after the pushed page, want f%d", got, n)
	}
	time.Sleep(50 * time.Millisecond)
	if got := w.fs.pullCount(); got != pulls {
		t.Fatalf("%d pulls after a pushed page from the replica's cursor, want none", got-pulls)
	}
}
