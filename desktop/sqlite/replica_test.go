package sqlite

import (
	"context"
	"encoding/json"
	"io/fs"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"wardsync/migrations"
	"wardsync/syncproto"
	"wardsync/workflow"
)

func TestOpenMigratesIdempotently(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "replica.db")
	for i := 0; i < 3; i++ {
		db, err := Open(ctx, path, testKey)
		if err != nil {
			t.Fatalf("open #%d: %v", i+1, err)
		}
		if i == 0 {
			seq := mustAct(t, db, secretary, "patient.register", obj{"id": patient1ID, "firstName": "A", "lastName": "B",
				"birthDate": "1990-01-01T00:00:00Z"}, t0)
			if seq != 1 {
				t.Fatalf("seq %d", seq)
			}
		}
		var versions int
		must(t, db.SQL().QueryRow(`SELECT COUNT(*) FROM goose_db_version WHERE version_id > 0`).Scan(&versions))
		files, err := fs.Glob(migrations.SQLite(), "*.sql")
		must(t, err)
		if versions != len(files) {
			t.Errorf("open #%d: %d migrations recorded, want %d", i+1, versions, len(files))
		}
		var mode string
		must(t, db.SQL().QueryRow(`PRAGMA journal_mode`).Scan(&mode))
		if mode != "wal" {
			t.Errorf("journal_mode %s", mode)
		}
		var fk int
		must(t, db.SQL().QueryRow(`PRAGMA foreign_keys`).Scan(&fk))
		if fk != 1 {
			t.Errorf("foreign_keys %d", fk)
		}
		if got := outboxSeqs(t, db); !reflect.DeepEqual(got, []int64{1}) {
			t.Errorf("open #%d: outbox %v: data must survive reopening", i+1, got)
		}
		must(t, db.Close())
	}
}

// The replica stores every seed column under the seed's name, and nothing else.
func TestReplicaHasEverySeedColumn(t *testing.T) {
	db := openTest(t)
	for _, name := range workflow.Tables {
		rows, err := db.SQL().Query(`SELECT name, "notnull", pk FROM pragma_table_info(?)`, name)
		must(t, err)
		var got []string
		for rows.Next() {
			var col string
			var notnull, pk int
			must(t, rows.Scan(&col, &notnull, &pk))
			if notnull == 1 && pk == 0 {
				t.Errorf("%s.%s is NOT NULL: a column the device may not see must be able to stay NULL", name, col)
			}
			got = append(got, col)
		}
		rows.Close()
		if want := workflow.Columns(name); !reflect.DeepEqual(got, want) {
			t.Errorf("%s columns\n got %v\nwant %v", name, got, want)
		}
		var fks int
		must(t, db.SQL().QueryRow(`SELECT COUNT(*) FROM pragma_foreign_key_list(?)`, name).Scan(&fks))
		if fks != 0 {
			t.Errorf("%s has %d foreign keys; the replica must have none", name, fks)
		}
	}
}

// A row goes in and out in wire form unchanged (times normalised to the
// replica's millisecond format), whatever the column's kind.
func TestWireRoundTrip(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	in := js(obj{"id": appt1ID, "date": "2026-01-05T14:00:00Z", "motif": "Suivi <cardio> & co", "status": "COMPLETED",
		"vitals":              obj{"weight": 70.5, "height": 170, "temperature": 37, "bloodPressure": obj{"systolic": 120, "diastolic": 80}, "heartRate": 72},
		"medicalHistoryNotes": "é", "consultationNotes": nil, "checkedInAt": "2026-01-05T13:45:00.12+00:00",
		"billingAmount": "120.5", "billingStatus": "PARTIALLY_PAID", "patientId": patient1ID, "doctorId": doctorID,
		"createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-01-05T15:00:00.000Z", "aColumnFromTheFuture": 1})
	must(t, db.PutRows(ctx, workflow.TableAppointments, in))
	must(t, db.PutRows(ctx, workflow.TablePatients, js(obj{"id": patient1ID, "consentContact": true, "consentMedicalData": false,
		"medicalHistory": []any{"asthma"}, "idNumber": nil})))
	must(t, db.PutRows(ctx, workflow.TableUsers, js(obj{"id": doctorID, "name": "Dr", "password": "$2a$10$leak"})))

	var got map[string]any
	raw, err := db.Row(ctx, workflow.TableAppointments, appt1ID)
	must(t, err)
	must(t, json.Unmarshal(raw, &got))
	want := map[string]any{"date": "2026-01-05T14:00:00.000Z", "checkedInAt": "2026-01-05T13:45:00.120Z",
		"billingAmount": "120.50", "motif": "Suivi <cardio> & co", "consultationNotes": nil, "closedAt": nil,
		"vitals": map[string]any{"weight": 70.5, "height": float64(170), "temperature": float64(37),
			"bloodPressure": map[string]any{"systolic": float64(120), "diastolic": float64(80)}, "heartRate": float64(72)}}
	for k, v := range want {
		if !reflect.DeepEqual(got[k], v) {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
	if len(got) != len(workflow.Columns(workflow.TableAppointments)) {
		t.Errorf("row has %d members, want every column", len(got))
	}
	var a workflow.Appointment
	must(t, json.Unmarshal(raw, &a))
	if a.BillingAmount == nil || *a.BillingAmount != "120.50" || a.CheckedInAt == nil || a.Status != workflow.AppointmentCompleted {
		t.Errorf("typed row %+v", a)
	}
	if v := column(t, db, workflow.TablePatients, patient1ID, "consentContact"); v != true {
		t.Errorf("consentContact %v", v)
	}
	if v := column(t, db, workflow.TablePatients, patient1ID, "consentMedicalData"); v != false {
		t.Errorf("consentMedicalData %v", v)
	}
	if v := column(t, db, workflow.TablePatients, patient1ID, "medicalHistory"); !reflect.DeepEqual(v, []any{"asthma"}) {
		t.Errorf("medicalHistory %v", v)
	}
	if v := column(t, db, workflow.TableUsers, doctorID, "password"); v != nil {
		t.Errorf("a password hash was stored: %v", v)
	}
}

func TestActWritesEffectAndOutboxTogether(t *testing.T) {
	db := openTest(t)
	seed(t, db)
	ctx := context.Background()
	newAppt := "bbbbbbbb-0000-4000-8000-0000000000ff"
	at := t0.Add(90 * time.Second).Add(123456 * time.Nanosecond)
	seq1 := mustAct(t, db, secretary, "appointment.checkIn", obj{"id": appt1ID}, at)
	seq2 := mustAct(t, db, secretary, "appointment.schedule", obj{"id": newAppt, "patientId": patient2ID, "doctorId": doctorID,
		"date": "2026-01-06T10:00:00Z", "motif": "Contrôle"}, at)
	if seq1 != 1 || seq2 != 2 {
		t.Fatalf("seqs %d, %d", seq1, seq2)
	}
	if v := column(t, db, workflow.TableAppointments, appt1ID, "status"); v != "CHECKED_IN" {
		t.Errorf("status %v", v)
	}
	if v := column(t, db, workflow.TableAppointments, appt1ID, "checkedInAt"); v != "2026-01-05T09:01:30.000Z" {
		t.Errorf("checkedInAt %v: occurredAt, at millisecond precision", v)
	}
	if v := column(t, db, workflow.TableAppointments, newAppt, "billingStatus"); v != "PENDING" {
		t.Errorf("scheduled appointment billingStatus %v", v)
	}
	entries, err := db.Outbox(ctx, 0, 0)
	must(t, err)
	if len(entries) != 2 {
		t.Fatalf("outbox %+v", entries)
	}
	e := entries[0]
	if e.Name != "appointment.checkIn" || string(e.Args) != `{"id":"`+appt1ID+`"}` || e.Author != secretary ||
		!e.OccurredAt.Equal(at.Truncate(time.Millisecond)) || e.Status != StatusQueued || e.Conflict != nil {
		t.Errorf("outbox entry %+v", e)
	}
	s, err := db.State(ctx)
	must(t, err)
	if s.LastSeq != 2 {
		t.Errorf("lastSeq %d", s.LastSeq)
	}
	c, err := db.Counts(ctx)
	must(t, err)
	if c.Pending != 2 || c.OldestPendingAt == nil || c.Unreflected != 2 {
		t.Errorf("counts %+v", c)
	}
	// The server's versions are kept for the rebase: the old appointment,
	// and "no row" for the new one.
	var n, nulls int
	must(t, db.SQL().QueryRow(`SELECT COUNT(*), COUNT(*) - COUNT(row) FROM rebase_base`).Scan(&n, &nulls))
	if n != 2 || nulls != 1 {
		t.Errorf("rebase base: %d rows, %d absent", n, nulls)
	}
}

func TestRejectedActWritesNothing(t *testing.T) {
	db := openTest(t)
	seed(t, db)
	mustAct(t, db, secretary, "appointment.checkIn", obj{"id": appt1ID}, t0)
	before := counts(t, db)
	rowBefore, _ := db.Row(context.Background(), workflow.TableAppointments, appt1ID)
	cases := []struct {
		who     Author
		name    string
		args    obj
		code    workflow.Code
		message string
		field   string
	}{
		{nurse, "appointment.checkIn", obj{"id": appt2ID}, workflow.CodeForbidden,
			"A NURSE cannot check in an appointment; reception (SECRETARY) does that.", ""},
		{secretary, "appointment.checkIn", obj{"id": appt1ID}, workflow.CodeInvalidTransition,
			"Appointment " + appt1ID + " is CHECKED_IN (checked in at 09:00), not SCHEDULED.", ""},
		{secretary, "appointment.checkIn", obj{"id": "bbbbbbbb-0000-4000-8000-00000000dead"}, workflow.CodeNotFound,
			"Appointment bbbbbbbb-0000-4000-8000-00000000dead was not found.", "id"},
		{secretary, "patient.register", obj{"id": patient1ID, "firstName": "X", "lastName": "Y", "birthDate": "1990-01-01T00:00:00Z"},
			workflow.CodeDuplicateID, "A patient with id " + patient1ID + " already exists.", "id"},
		{nurse, "appointment.recordVitals", obj{"id": appt3ID, "vitals": obj{"weight": 70, "height": 170, "temperature": 47,
			"bloodPressure": obj{"systolic": 120, "diastolic": 80}, "heartRate": 72}}, workflow.CodeValidationFailed, "", "vitals.temperature"},
		{secretary, "appointment.fly", obj{}, workflow.CodeUnknownMutation, "", ""},
	}
	for _, c := range cases {
		_, err := act(t, db, c.who, c.name, c.args, t0.Add(time.Minute))
		rej, ok := workflow.AsRejection(err)
		if !ok {
			t.Errorf("%s: err %v, want a rejection", c.name, err)
			continue
		}
		if rej.Code != c.code || (c.message != "" && rej.Message != c.message) || rej.Field != c.field {
			t.Errorf("%s: got %s %q field %q\nwant %s %q field %q", c.name, rej.Code, rej.Message, rej.Field, c.code, c.message, c.field)
		}
		if after := counts(t, db); !reflect.DeepEqual(after, before) {
			t.Errorf("%s: a rejected act wrote something:\nbefore %v\nafter  %v", c.name, before, after)
		}
	}
	rowAfter, _ := db.Row(context.Background(), workflow.TableAppointments, appt1ID)
	if string(rowAfter) != string(rowBefore) {
		t.Errorf("row changed:\n%s\n%s", rowBefore, rowAfter)
	}
}

// A failure after the mutator accepted (here: the wire check) rolls the
// whole act back, effect included.
func TestActCheckFailureRollsBack(t *testing.T) {
	db := openTest(t)
	seed(t, db)
	before := counts(t, db)
	_, err := db.Act(context.Background(), NewAct{ID: newID(), Name: "appointment.checkIn", Args: js(obj{"id": appt1ID}),
		OccurredAt: t0, Author: secretary, Check: func(seq int64) error {
			if seq != 1 {
				t.Errorf("check got seq %d", seq)
			}
			return workflow.Reject(workflow.CodeValidationFailed, "too big")
		}})
	if rej, ok := workflow.AsRejection(err); !ok || rej.Message != "too big" {
		t.Fatalf("err %v", err)
	}
	if after := counts(t, db); !reflect.DeepEqual(after, before) {
		t.Errorf("wrote something:\nbefore %v\nafter  %v", before, after)
	}
}

func TestApplyChangesUpsertsAndDeletes(t *testing.T) {
	db := openTest(t)
	seed(t, db)
	ctx := context.Background()
	moved := appointmentRow(appt2ID, patient2ID, doctorID, t0.Add(6*time.Hour), workflow.AppointmentCheckedIn,
		obj{"checkedInAt": ts(t0), "updatedAt": ts(t0), "billingStatus": absent})
	must(t, db.ApplyChanges(ctx, page("c1", 0,
		upsert(workflow.TableAppointments, moved),
		del(workflow.TablePrescriptions, presc1ID),
		del(workflow.TableDocuments, doc1ID), // deleting what is not here is fine
		upsert(workflow.TableDocuments, js(obj{"id": doc1ID, "name": "radio.png", "type": "radio", "url": "file:///r.png",
			"patientId": patient1ID, "createdAt": ts(t0), "updatedAt": ts(t0)})),
	), t0.Add(time.Minute)))
	if v := column(t, db, workflow.TableAppointments, appt2ID, "status"); v != "CHECKED_IN" {
		t.Errorf("status %v", v)
	}
	if v := column(t, db, workflow.TableAppointments, appt2ID, "billingStatus"); v != nil {
		t.Errorf("a column missing from the server row must become NULL, got %v", v)
	}
	if v := column(t, db, workflow.TablePrescriptions, presc1ID, "id"); v != "<no row>" {
		t.Errorf("deleted prescription still there: %v", v)
	}
	if v := column(t, db, workflow.TableDocuments, doc1ID, "name"); v != "radio.png" {
		t.Errorf("document %v", v)
	}
	s, err := db.State(ctx)
	must(t, err)
	if s.Cursor != "c1" || s.LastSyncAt == nil || !s.LastSyncAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("state %+v", s)
	}
	// A page with more to come does not count as a completed sync.
	p := page("c2", 0)
	p.More = true
	must(t, db.ApplyChanges(ctx, p, t0.Add(time.Hour)))
	s, _ = db.State(ctx)
	if s.Cursor != "c2" || !s.LastSyncAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("state after a partial page %+v", s)
	}
	// A malformed row fails the whole page: nothing of it is applied.
	before := counts(t, db)
	err = db.ApplyChanges(ctx, page("c3", 0,
		upsert(workflow.TableAppointments, appointmentRow(appt1ID, patient1ID, doctorID, t0, workflow.AppointmentCancelled, nil)),
		syncproto.Change{Table: workflow.TablePatients, Op: syncproto.OpUpsert, ID: patient1ID, Row: js(obj{"id": patient1ID, "birthDate": "yesterday"})},
	), t0)
	if err == nil {
		t.Fatal("a malformed row was accepted")
	}
	if after := counts(t, db); !reflect.DeepEqual(after, before) {
		t.Errorf("half a page was applied")
	}
	if v := column(t, db, workflow.TableAppointments, appt1ID, "status"); v != "SCHEDULED" {
		t.Errorf("status %v", v)
	}
}

// The heart of the replica: a page drops the acts it reflects, resets the
// rows queued acts touched to the server's version, replays the rest on
// top, and flags the one that no longer applies.
func TestApplyChangesRebasesQueuedActs(t *testing.T) {
	db := openTest(t)
	seed(t, db)
	ctx := context.Background()
	s1 := mustAct(t, db, secretary, "appointment.checkIn", obj{"id": appt1ID}, t0.Add(1*time.Minute))
	s2 := mustAct(t, db, secretary, "appointment.checkIn", obj{"id": appt2ID}, t0.Add(2*time.Minute))
	s3 := mustAct(t, db, secretary, "patient.update", obj{"id": patient1ID, "phone": "0600000000"}, t0.Add(3*time.Minute))
	_, err := db.RecordResults(ctx, []syncproto.MutationResult{{Seq: s1, Status: syncproto.StatusApplied}}, t0)
	must(t, err)

	// The server has applied seq 1; seq 2 and 3 have not reached it yet.
	// Meanwhile another workstation cancelled appointment 2 (so seq 2 will
	// likely be rejected) and someone changed the patient's address.
	serverA1 := appointmentRow(appt1ID, patient1ID, doctorID, t0.Add(5*time.Hour), workflow.AppointmentCheckedIn,
		obj{"checkedInAt": ts(t0.Add(time.Minute)), "updatedAt": ts(t0.Add(time.Minute))})
	serverA2 := appointmentRow(appt2ID, patient2ID, doctorID, t0.Add(6*time.Hour), workflow.AppointmentCancelled,
		obj{"updatedAt": ts(t0.Add(90 * time.Second))})
	serverP1 := js(obj{"id": patient1ID, "firstName": "Marie", "lastName": "Curie", "birthDate": "1967-11-07T00:00:00.000Z",
		"address": "1 rue Pierre et Marie Curie", "phone": "", "createdAt": ts(t0), "updatedAt": ts(t0.Add(100 * time.Second))})
	must(t, db.ApplyChanges(ctx, page("c1", s1,
		upsert(workflow.TableAppointments, serverA1),
		upsert(workflow.TableAppointments, serverA2),
		upsert(workflow.TablePatients, serverP1),
	), t0.Add(4*time.Minute)))

	if got := outboxSeqs(t, db); !reflect.DeepEqual(got, []int64{s2, s3}) {
		t.Fatalf("outbox %v, want seq 1 dropped", got)
	}
	if v := column(t, db, workflow.TableAppointments, appt2ID, "status"); v != "CANCELLED" {
		t.Errorf("appointment 2 is %v: the server's state must win over an act that no longer applies", v)
	}
	if v := column(t, db, workflow.TablePatients, patient1ID, "address"); v != "1 rue Pierre et Marie Curie" {
		t.Errorf("address %v: the server's change must show", v)
	}
	if v := column(t, db, workflow.TablePatients, patient1ID, "phone"); v != "0600000000" {
		t.Errorf("phone %v: the queued update must be replayed on top", v)
	}
	if v := column(t, db, workflow.TablePatients, patient1ID, "updatedAt"); v != ts(t0.Add(3*time.Minute)) {
		t.Errorf("updatedAt %v", v)
	}
	entries, err := db.Outbox(ctx, 0, 0)
	must(t, err)
	if c := entries[0].Conflict; c == nil || c.Code != workflow.CodeInvalidTransition ||
		c.Message != "Appointment "+appt2ID+" is CANCELLED (cancelled at 09:01), not SCHEDULED." {
		t.Errorf("seq 2 conflict %+v", c)
	}
	if entries[1].Conflict != nil {
		t.Errorf("seq 3 flagged: %+v", entries[1].Conflict)
	}
	c, _ := db.Counts(ctx)
	if c.LikelyRejected != 1 || c.Pending != 2 || c.Unreflected != 2 {
		t.Errorf("counts %+v", c)
	}

	// The appointment comes back to SCHEDULED at the server (say, an
	// admin's fix): the flag goes away, the check-in shows again.
	must(t, db.ApplyChanges(ctx, page("c2", s1,
		upsert(workflow.TableAppointments, appointmentRow(appt2ID, patient2ID, doctorID, t0.Add(6*time.Hour), workflow.AppointmentScheduled, nil)),
	), t0.Add(5*time.Minute)))
	entries, _ = db.Outbox(ctx, 0, 0)
	if entries[0].Conflict != nil {
		t.Errorf("flag kept: %+v", entries[0].Conflict)
	}
	if v := column(t, db, workflow.TableAppointments, appt2ID, "status"); v != "CHECKED_IN" {
		t.Errorf("appointment 2 %v", v)
	}

	// The server applies both. A page that does not reflect them yet
	// (here one showing appointment 2 cancelled again) flags nothing: the
	// server has spoken.
	_, err = db.RecordResults(ctx, []syncproto.MutationResult{{Seq: s2, Status: syncproto.StatusApplied},
		{Seq: s3, Status: syncproto.StatusApplied}}, t0)
	must(t, err)
	must(t, db.ApplyChanges(ctx, page("c2b", s1,
		upsert(workflow.TableAppointments, serverA2),
	), t0.Add(5*time.Minute)))
	if c, _ := db.Counts(ctx); c.LikelyRejected != 0 || c.Pending != 0 {
		t.Errorf("counts %+v: an applied act must not be flagged", c)
	}

	// Everything reflected: the outbox empties and the replica is exactly
	// the server's rows.
	serverA2b := appointmentRow(appt2ID, patient2ID, doctorID, t0.Add(6*time.Hour), workflow.AppointmentCheckedIn,
		obj{"checkedInAt": ts(t0.Add(2 * time.Minute)), "updatedAt": ts(t0.Add(2 * time.Minute)), "billingStatus": "PENDING"})
	serverP1b := js(obj{"id": patient1ID, "firstName": "Marie", "lastName": "Curie", "birthDate": "1967-11-07T00:00:00.000Z",
		"phone": "0600000000", "createdAt": ts(t0), "updatedAt": ts(t0.Add(3 * time.Minute))})
	must(t, db.ApplyChanges(ctx, page("c3", s3,
		upsert(workflow.TableAppointments, serverA2b), upsert(workflow.TablePatients, serverP1b)), t0.Add(6*time.Minute)))
	if got := outboxSeqs(t, db); len(got) != 0 {
		t.Errorf("outbox %v", got)
	}
	if v := column(t, db, workflow.TablePatients, patient1ID, "address"); v != nil {
		t.Errorf("address %v: the server's latest row has none", v)
	}
	var bases int
	must(t, db.SQL().QueryRow(`SELECT COUNT(*) FROM rebase_base`).Scan(&bases))
	if bases != 0 {
		t.Errorf("%d rebase rows left with an empty outbox", bases)
	}
}

// An act the server has recorded but whose outcome this workstation never
// heard stays queued even when a page reflects it: the next push repeats
// the outcome, and a rejection must reach the user.
func TestReflectedActWithUnknownOutcomeStays(t *testing.T) {
	db := openTest(t)
	seed(t, db)
	ctx := context.Background()
	s1 := mustAct(t, db, secretary, "appointment.checkIn", obj{"id": appt1ID}, t0)
	must(t, db.ApplyChanges(ctx, page("c1", s1), t0))
	if got := outboxSeqs(t, db); !reflect.DeepEqual(got, []int64{s1}) {
		t.Fatalf("outbox %v", got)
	}
	// Its effect is not replayed any more: the server's rows have it, if any.
	if v := column(t, db, workflow.TableAppointments, appt1ID, "status"); v != "SCHEDULED" {
		t.Errorf("status %v", v)
	}
	out, err := db.RecordResults(ctx, []syncproto.MutationResult{{Seq: s1, Status: syncproto.StatusDuplicate,
		Code: workflow.CodeInvalidTransition, Message: "no"}}, t0)
	must(t, err)
	if len(out.Rejected) != 1 {
		t.Fatalf("outcome %+v", out)
	}
	if got := outboxSeqs(t, db); len(got) != 0 {
		t.Errorf("outbox %v", got)
	}
	rej, err := db.Rejected(ctx, false)
	must(t, err)
	if len(rej) != 1 || rej[0].Rejection.Message != "no" {
		t.Errorf("rejected %+v", rej)
	}
}

func TestRejectedResultKeepsArgsAndUndoesEffect(t *testing.T) {
	db := openTest(t)
	seed(t, db)
	ctx := context.Background()
	newPatient := "aaaaaaaa-0000-4000-8000-0000000000ff"
	args := obj{"id": newPatient, "firstName": "Irène", "lastName": "Joliot-Curie", "birthDate": "1997-09-12T00:00:00Z", "phone": "0102030405"}
	s1 := mustAct(t, db, secretary, "patient.register", args, t0)
	s2 := mustAct(t, db, secretary, "patient.update", obj{"id": newPatient, "address": "Paris"}, t0.Add(time.Second))
	s3 := mustAct(t, db, secretary, "appointment.checkIn", obj{"id": appt1ID}, t0.Add(2*time.Second))
	out, err := db.RecordResults(ctx, []syncproto.MutationResult{
		{Seq: s1, Status: syncproto.StatusRejected, Code: workflow.CodeForbidden, Message: "This workstation does not serve reception.", Field: "x"},
		{Seq: s2, Status: syncproto.StatusRejected, Code: workflow.CodeNotFound, Message: "Patient " + newPatient + " was not found.", Field: "id"},
		{Seq: s3, Status: syncproto.StatusApplied},
	}, t0.Add(time.Minute))
	must(t, err)
	if len(out.Rejected) != 2 || !reflect.DeepEqual(out.Applied, []int64{s3}) {
		t.Fatalf("outcome %+v", out)
	}
	if v := column(t, db, workflow.TablePatients, newPatient, "id"); v != "<no row>" {
		t.Errorf("the rejected registration's row is still shown: %v", v)
	}
	if v := column(t, db, workflow.TableAppointments, appt1ID, "status"); v != "CHECKED_IN" {
		t.Errorf("the applied check-in must still show until a pull reflects it: %v", v)
	}
	list, err := db.Rejected(ctx, false)
	must(t, err)
	if len(list) != 2 {
		t.Fatalf("rejected %+v", list)
	}
	r, err := db.RejectedByID(ctx, out.Rejected[0].ID)
	must(t, err)
	var gotArgs map[string]any
	must(t, json.Unmarshal(r.Args, &gotArgs))
	if !reflect.DeepEqual(gotArgs, map[string]any(args)) || r.Name != "patient.register" || r.Rejection.Code != workflow.CodeForbidden ||
		r.Rejection.Field != "x" || r.AuthorID != secretaryID || r.Seq != s1 || !r.RejectedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("rejected act %+v args %v", r, gotArgs)
	}
	c, _ := db.Counts(ctx)
	if c.Rejected != 2 || c.Pending != 0 || c.Unreflected != 1 {
		t.Errorf("counts %+v", c)
	}
	// Closed with a reason, it leaves the open list but is kept, args and
	// all (review_test.go covers the review queue).
	if _, err := db.CloseRejected(ctx, CloseAct{ID: newID(), RejectedID: r.ID, Reason: "entered again by hand", Author: secretary, At: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if list, _ := db.Rejected(ctx, false); len(list) != 1 {
		t.Errorf("closed act still listed as open")
	}
	all, _ := db.Rejected(ctx, true)
	if len(all) != 2 {
		t.Errorf("closed act lost: %+v", all)
	}
	r, _ = db.RejectedByID(ctx, r.ID)
	if r.State != ReviewClosing || r.ClosedAt == nil || !r.ClosedAt.Equal(t0.Add(time.Hour)) || string(r.Args) != string(js(args)) {
		t.Errorf("closed act %+v", r)
	}
}

// Resync drops every replicated row but keeps the outbox and the rejected
// list, and replays the outbox on the fresh snapshot.
func TestResyncKeepsOutboxAndRejected(t *testing.T) {
	db := openTest(t)
	seed(t, db)
	ctx := context.Background()
	s1 := mustAct(t, db, secretary, "appointment.cancel", obj{"id": appt2ID}, t0)
	s2 := mustAct(t, db, secretary, "appointment.checkIn", obj{"id": appt1ID}, t0)
	_, err := db.RecordResults(ctx, []syncproto.MutationResult{{Seq: s1, Status: syncproto.StatusRejected, Code: "FORBIDDEN", Message: "m"}}, t0)
	must(t, err)
	p := page("snap-1", 0,
		upsert(workflow.TableUsers, userRow(secretaryID, "Secrétaire Test", workflow.RoleSecretary)),
		upsert(workflow.TableAppointments, appointmentRow(appt1ID, patient1ID, doctorID, t0.Add(5*time.Hour), workflow.AppointmentScheduled, nil)))
	p.Resync, p.More, p.Total, p.Sent = true, true, 3, 2
	must(t, db.ApplyChanges(ctx, p, t0))
	n := counts(t, db)
	if n["patients"] != 0 || n["prescriptions"] != 0 || n["appointments"] != 1 || n["users"] != 1 || n["outbox"] != 1 || n["rejected"] != 1 {
		t.Errorf("after resync: %v", n)
	}
	if v := column(t, db, workflow.TableAppointments, appt1ID, "status"); v != "CHECKED_IN" {
		t.Errorf("queued check-in not replayed on the snapshot: %v", v)
	}
	if got := outboxSeqs(t, db); !reflect.DeepEqual(got, []int64{s2}) {
		t.Errorf("outbox %v", got)
	}
}

func TestCatchUpSeqRenumbersQueuedActs(t *testing.T) {
	db := openTest(t)
	seed(t, db)
	ctx := context.Background()
	s1 := mustAct(t, db, secretary, "appointment.checkIn", obj{"id": appt1ID}, t0)
	mustAct(t, db, secretary, "appointment.checkIn", obj{"id": appt2ID}, t0)
	_, err := db.RecordResults(ctx, []syncproto.MutationResult{{Seq: s1, Status: syncproto.StatusApplied}}, t0)
	must(t, err)
	changed, err := db.CatchUpSeq(ctx, 10, "")
	must(t, err)
	if !changed {
		t.Fatal("not changed")
	}
	if got := outboxSeqs(t, db); !reflect.DeepEqual(got, []int64{1, 11}) {
		t.Errorf("outbox %v", got)
	}
	s, _ := db.State(ctx)
	if s.LastSeq != 11 || s.AckedSeq != 10 {
		t.Errorf("state %+v", s)
	}
	if changed, _ := db.CatchUpSeq(ctx, 5, ""); changed {
		t.Error("a server behind the replica must change nothing")
	}
	if seq := mustAct(t, db, secretary, "appointment.cancel", obj{"id": appt3ID}, t0); seq != 12 {
		t.Errorf("next seq %d", seq)
	}
}

func TestBindRefusesAnotherDevice(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	s, err := db.Bind(ctx, "dev-1", "http://a")
	must(t, err)
	if s.DeviceID != "dev-1" || s.ServerURL != "http://a" {
		t.Errorf("state %+v", s)
	}
	if _, err := db.Bind(ctx, "dev-2", "http://a"); err == nil || !strings.Contains(err.Error(), "dev-1") {
		t.Errorf("bind to another device: %v", err)
	}
	s, err = db.Bind(ctx, "", "http://b")
	must(t, err)
	if s.DeviceID != "dev-1" || s.ServerURL != "http://b" {
		t.Errorf("state %+v", s)
	}
	must(t, db.SetRoles(ctx, []workflow.Role{workflow.RoleNurse, workflow.RoleSecretary}))
	s, _ = db.State(ctx)
	roles := append([]workflow.Role(nil), s.Roles...)
	sort.Slice(roles, func(i, j int) bool { return roles[i] < roles[j] })
	if !reflect.DeepEqual(roles, []workflow.Role{workflow.RoleNurse, workflow.RoleSecretary}) {
		t.Errorf("roles %v", s.Roles)
	}
}

// TestRewindSeqResendsWhatTheServerLost: the server's database was
// restored and has only seq 1 of this replica's acts, which saw seqs 1–3
// acknowledged. Seq 3 is still in the outbox (applied, not yet reflected)
// and seq 4 is queued: both are renumbered to 2 and 3, queued again, and
// the next act follows them.
func TestRewindSeqResendsWhatTheServerLost(t *testing.T) {
	db := openTest(t)
	seed(t, db)
	ctx := context.Background()
	s1 := mustAct(t, db, secretary, "appointment.checkIn", obj{"id": appt1ID}, t0)
	s2 := mustAct(t, db, secretary, "appointment.checkIn", obj{"id": appt2ID}, t0)
	s3 := mustAct(t, db, secretary, "appointment.cancel", obj{"id": appt3ID}, t0)
	_, err := db.RecordResults(ctx, []syncproto.MutationResult{{Seq: s1, Status: syncproto.StatusApplied},
		{Seq: s2, Status: syncproto.StatusApplied}, {Seq: s3, Status: syncproto.StatusApplied}}, t0)
	must(t, err)
	// A pull reflected seqs 1 and 2: they leave the outbox.
	must(t, db.ApplyChanges(ctx, &syncproto.Changes{Cursor: "f.1.1", LastMutationSeq: s2, Changes: []syncproto.Change{}}, t0))
	s4 := mustAct(t, db, secretary, "patient.update", obj{"id": patient1ID, "phone": "0600"}, t0)
	if got := outboxSeqs(t, db); !reflect.DeepEqual(got, []int64{s3, s4}) {
		t.Fatalf("outbox before %v", got)
	}
	moved, err := db.RewindSeq(ctx, 1, "")
	must(t, err)
	if moved != 2 {
		t.Fatalf("moved %d, want 2", moved)
	}
	if got := outboxSeqs(t, db); !reflect.DeepEqual(got, []int64{2, 3}) {
		t.Errorf("outbox after %v", got)
	}
	s, _ := db.State(ctx)
	if s.LastSeq != 3 || s.AckedSeq != 1 || s.ReflectedSeq != 1 {
		t.Errorf("state %+v", s)
	}
	var queued int
	must(t, db.SQL().QueryRow(`SELECT count(*) FROM outbox WHERE status = 'queued'`).Scan(&queued))
	if queued != 2 {
		t.Errorf("%d acts queued, want 2", queued)
	}
	if moved, _ := db.RewindSeq(ctx, 1, ""); moved != 0 {
		t.Error("a second rewind to the same seq must change nothing")
	}
	if seq := mustAct(t, db, secretary, "appointment.cancel", obj{"id": appt1ID}, t0); seq != 4 {
		t.Errorf("next seq %d, want 4", seq)
	}
}
