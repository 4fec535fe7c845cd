package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"wardsync/syncproto"
	"wardsync/workflow"
)

// queueWard queues, offline, acts on several independent targets plus a
// chain of two acts on one appointment and an act that only reads a
// patient (the schedule), in this order:
//
//	s1 check-in of appointment 1     s2 check-in of appointment 2
//	s3 phone of patient 3            s4 cancel of appointment 1 (after s1)
//	s5 schedule for patient 2 (reads patient 2 and the doctor)
func queueWard(t *testing.T, db *DB) []int64 {
	t.Helper()
	return []int64{
		mustAct(t, db, secretary, "appointment.checkIn", obj{"id": appt1ID}, t0.Add(1*time.Minute)),
		mustAct(t, db, secretary, "appointment.checkIn", obj{"id": appt2ID}, t0.Add(2*time.Minute)),
		mustAct(t, db, secretary, "patient.update", obj{"id": patient3ID, "phone": "0600000003"}, t0.Add(3*time.Minute)),
		mustAct(t, db, secretary, "appointment.cancel", obj{"id": appt1ID}, t0.Add(4*time.Minute)),
		mustAct(t, db, secretary, "appointment.schedule", obj{"id": "bbbbbbbb-0000-4000-8000-000000000009", "patientId": patient2ID,
			"doctorId": doctorID, "date": ts(t0.Add(48 * time.Hour)), "motif": "Contrôle"}, t0.Add(5*time.Minute)),
	}
}

// mark writes straight into a visible row, behind the rebase's back: a
// replay of the act that wrote the row would overwrite it.
func mark(t *testing.T, db *DB, table, id, col, v string) {
	t.Helper()
	if _, err := db.SQL().Exec(`UPDATE "`+table+`" SET "`+col+`" = ? WHERE id = ?`, v, id); err != nil {
		t.Fatal(err)
	}
}

// TestRebaseReplaysOnlyWhatAPageCanAffect: a page that changes some of
// the queued acts' targets replays those acts, the acts after them on the
// same rows, and the acts that read a changed row; the others are left as
// they are (the marks written behind the rebase's back survive only there),
// and the replica still shows the server's rows with every act on top.
func TestRebaseReplaysOnlyWhatAPageCanAffect(t *testing.T) {
	db := openTest(t)
	seed(t, db)
	ctx := context.Background()
	s := queueWard(t, db)
	mark(t, db, workflow.TablePatients, patient3ID, "phone", "marked-3")
	mark(t, db, workflow.TableAppointments, appt1ID, "motif", "marked-1")
	mark(t, db, workflow.TableAppointments, "bbbbbbbb-0000-4000-8000-000000000009", "motif", "marked-9")

	// Another workstation cancelled appointment 2: only s2 is affected.
	must(t, db.ApplyChanges(ctx, page("c1", 0,
		upsert(workflow.TableAppointments, appointmentRow(appt2ID, patient2ID, doctorID, t0.Add(6*time.Hour), workflow.AppointmentCancelled,
			obj{"updatedAt": ts(t0.Add(90 * time.Second))}))), t0.Add(6*time.Minute)))
	if v := column(t, db, workflow.TableAppointments, appt2ID, "status"); v != "CANCELLED" {
		t.Errorf("appointment 2 is %v: the server's state must show", v)
	}
	entries, err := db.Outbox(ctx, 0, 0)
	must(t, err)
	if c := entries[1].Conflict; c == nil || c.Code != workflow.CodeInvalidTransition {
		t.Errorf("s2 was not replayed against the server's row: conflict %+v", c)
	}
	for _, m := range []struct{ table, id, col, want string }{
		{workflow.TablePatients, patient3ID, "phone", "marked-3"},
		{workflow.TableAppointments, appt1ID, "motif", "marked-1"},
		{workflow.TableAppointments, "bbbbbbbb-0000-4000-8000-000000000009", "motif", "marked-9"},
	} {
		if v := column(t, db, m.table, m.id, m.col); v != m.want {
			t.Errorf("%s %s.%s = %v: an act the page cannot affect was replayed", m.table, m.id, m.col, v)
		}
	}

	// The server changes appointment 1's motif: s1 and s4, its chain, are
	// replayed on top (CANCELLED, with the server's motif); the patient's
	// phone is still left alone.
	must(t, db.ApplyChanges(ctx, page("c2", 0,
		upsert(workflow.TableAppointments, appointmentRow(appt1ID, patient1ID, doctorID, t0.Add(5*time.Hour), workflow.AppointmentScheduled,
			obj{"motif": "Motif du serveur", "updatedAt": ts(t0.Add(100 * time.Second))}))), t0.Add(7*time.Minute)))
	if v := column(t, db, workflow.TableAppointments, appt1ID, "motif"); v != "Motif du serveur" {
		t.Errorf("appointment 1 motif %v", v)
	}
	if v := column(t, db, workflow.TableAppointments, appt1ID, "status"); v != "CANCELLED" {
		t.Errorf("appointment 1 is %v: the chain s1, s4 must be replayed on the server's row", v)
	}
	if v := column(t, db, workflow.TablePatients, patient3ID, "phone"); v != "marked-3" {
		t.Errorf("patient 3 phone %v: s3 was replayed", v)
	}

	// The server deletes patient 2: s5 only read it, and is replayed
	// (refused now: flagged, its appointment gone); s2 is on patient 2's
	// appointment and stays flagged.
	must(t, db.ApplyChanges(ctx, page("c3", 0, del(workflow.TablePatients, patient2ID)), t0.Add(8*time.Minute)))
	entries, err = db.Outbox(ctx, 0, 0)
	must(t, err)
	if c := entries[4].Conflict; c == nil || c.Code != workflow.CodeNotFound {
		t.Errorf("s5 read a deleted patient and was not replayed: conflict %+v", c)
	}
	if v := column(t, db, workflow.TableAppointments, "bbbbbbbb-0000-4000-8000-000000000009", "status"); v != "<no row>" {
		t.Errorf("s5's appointment %v: its effect must be gone", v)
	}
	if v := column(t, db, workflow.TablePatients, patient3ID, "phone"); v != "marked-3" {
		t.Errorf("patient 3 phone %v: s3 was replayed", v)
	}

	// Reflecting s3 takes it out of the replay: its row goes back to the
	// server's version (the page carries it), the mark is gone.
	must(t, db.ApplyChanges(ctx, page("c4", s[2],
		upsert(workflow.TablePatients, patientRow(patient3ID, "Pierre", "Curie", time.Date(1959, 5, 15, 0, 0, 0, 0, time.UTC)))), t0.Add(9*time.Minute)))
	if v := column(t, db, workflow.TablePatients, patient3ID, "phone"); v != nil {
		t.Errorf("patient 3 phone %v: reflected, the server's row (no phone) must show", v)
	}
}

// TestRebaseSomeMatchesFullRebase: the same acts and pages on two
// replicas, one rebasing selectively and one replaying every act for
// every page (its touches forgotten before each page), end with the same
// rows, the same outbox flags and the same rebase base after every page.
func TestRebaseSomeMatchesFullRebase(t *testing.T) {
	ctx := context.Background()
	some, full := openTest(t), openTest(t)
	for _, db := range []*DB{some, full} {
		seed(t, db)
		queueWard(t, db)
		mustAct(t, db, nurse, "prescription.collectSample", obj{"id": presc1ID}, t0.Add(6*time.Minute))
		mustAct(t, db, biologist, "prescription.startAnalysis", obj{"id": presc1ID}, t0.Add(7*time.Minute))
		mustAct(t, db, biologist, "result.create", obj{"id": result1ID, "prescriptionId": presc1ID, "text": "RAS"}, t0.Add(8*time.Minute))
	}
	pages := []*syncproto.Changes{
		page("c1", 0, upsert(workflow.TableAppointments, appointmentRow(appt2ID, patient2ID, doctorID, t0.Add(6*time.Hour), workflow.AppointmentCancelled, nil))),
		page("c2", 1, upsert(workflow.TableAppointments, appointmentRow(appt1ID, patient1ID, doctorID, t0.Add(5*time.Hour), workflow.AppointmentCheckedIn,
			obj{"checkedInAt": ts(t0.Add(time.Minute))}))),
		page("c3", 1, upsert(workflow.TablePrescriptions, prescriptionRow(presc1ID, patient1ID, doctorID, workflow.PrescriptionCreated, nil))),
		page("c4", 1, del(workflow.TablePatients, patient2ID), upsert(workflow.TableUsers, userRow(doctorID, "Dr Renommé", workflow.RoleDoctor))),
		page("c5", 1, upsert(workflow.TablePrescriptions, prescriptionRow(presc1ID, patient1ID, doctorID, workflow.PrescriptionSentToLab, nil))),
		page("c6", 4, upsert(workflow.TablePatients, patientRow(patient3ID, "Pierre", "Curie", time.Date(1959, 5, 15, 0, 0, 0, 0, time.UTC)))),
		page("c7", 8),
	}
	for i, p := range pages {
		if _, err := full.SQL().Exec(`UPDATE outbox SET touches = NULL`); err != nil {
			t.Fatal(err)
		}
		must(t, some.ApplyChanges(ctx, p, t0.Add(time.Hour)))
		must(t, full.ApplyChanges(ctx, p, t0.Add(time.Hour)))
		a, b := replicaDump(t, some), replicaDump(t, full)
		if !reflect.DeepEqual(a, b) {
			for k := range a {
				if a[k] != b[k] {
					t.Errorf("after page %d, %s:\n selective %s\n full      %s", i+1, k, a[k], b[k])
				}
			}
			for k := range b {
				if _, ok := a[k]; !ok {
					t.Errorf("after page %d, %s only in the full rebase: %s", i+1, k, b[k])
				}
			}
			t.FailNow()
		}
	}
}

// replicaDump is every replicated row, the outbox's flags and the rebase
// base, as text keyed by table and id.
func replicaDump(t *testing.T, db *DB) map[string]string {
	t.Helper()
	out := map[string]string{}
	dump := func(name, q string) {
		rows, err := db.SQL().Query(q)
		must(t, err)
		defer rows.Close()
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			must(t, rows.Scan(ptrs...))
			parts := make([]string, len(vals))
			for i, v := range vals {
				parts[i] = cols[i] + "=" + v.String
				if !v.Valid {
					parts[i] = cols[i] + "=NULL"
				}
			}
			out[name+" "+vals[0].String] = strings.Join(parts, " ")
		}
		must(t, rows.Err())
	}
	for _, tbl := range workflow.Tables {
		dump(tbl, `SELECT * FROM "`+tbl+`"`)
	}
	dump("outbox", `SELECT seq, status, conflictCode, conflictMessage, waitingFor FROM outbox`)
	dump("rebase_base", `SELECT tbl || '/' || id, row FROM rebase_base`)
	return out
}

// settleWard queues queueWard's acts and records that the server applied
// s1 to s4 (s5 stays queued unless all is set).
func settleWard(t *testing.T, db *DB, all bool) []int64 {
	t.Helper()
	s := queueWard(t, db)
	n := 4
	if all {
		n = 5
	}
	var res []syncproto.MutationResult
	for _, seq := range s[:n] {
		res = append(res, syncproto.MutationResult{Seq: seq, Status: syncproto.StatusApplied})
	}
	_, err := db.RecordResults(context.Background(), res, t0.Add(10*time.Minute))
	must(t, err)
	return s
}

// serverPatient3 is patient 3 as the server holds it after s3 (phone
// 0600000003) and another workstation's later update of the phone.
func serverPatient3() syncproto.Change {
	var row map[string]any
	if err := json.Unmarshal(patientRow(patient3ID, "Pierre", "Curie", time.Date(1959, 5, 15, 0, 0, 0, 0, time.UTC)), &row); err != nil {
		panic(err)
	}
	row["phone"], row["updatedAt"] = "0611111111", ts(t0.Add(20*time.Minute))
	return upsert(workflow.TablePatients, js(row))
}

// TestPulledPageOfSettledActsReplaysNothing: a page pulled after the
// server had applied every queued act (ApplyPulled, settled up to the last
// one) shows the server's rows as they are; replaying s3 on top would
// bring back the phone the other workstation has since changed. Rows the
// page does not bring keep what the acts did here, and a flag an earlier
// replay left on an applied act goes.
func TestPulledPageOfSettledActsReplaysNothing(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	seed(t, db)
	s := settleWard(t, db, true)
	mark(t, db, workflow.TableAppointments, appt1ID, "motif", "marked-1")
	if _, err := db.SQL().Exec(`UPDATE outbox SET conflictCode = 'INVALID_TRANSITION', conflictMessage = 'x' WHERE seq = ?`, s[1]); err != nil {
		t.Fatal(err)
	}
	must(t, db.ApplyPulled(ctx, page("c1", 0, serverPatient3()), s[4], t0.Add(30*time.Minute)))
	if v := column(t, db, workflow.TablePatients, patient3ID, "phone"); v != "0611111111" {
		t.Errorf("patient 3 phone %v: s3, applied before the page was read, was replayed on it", v)
	}
	if v := column(t, db, workflow.TableAppointments, appt1ID, "motif"); v != "marked-1" {
		t.Errorf("appointment 1 motif %v: a row the page does not bring was rebuilt", v)
	}
	if v := column(t, db, workflow.TableAppointments, appt1ID, "status"); v != "CANCELLED" {
		t.Errorf("appointment 1 is %v: s1 and s4's effect must stay until the server's row comes", v)
	}
	entries, err := db.Outbox(ctx, 0, 0)
	must(t, err)
	if len(entries) != 5 {
		t.Fatalf("outbox holds %d acts, want the 5 not yet reflected", len(entries))
	}
	if c := entries[1].Conflict; c != nil {
		t.Errorf("s2 keeps its flag %+v: an applied act is not flagged", c)
	}

	// The last page reflects them all: the outbox and the rebase base
	// empty, the rows are the server's.
	must(t, db.ApplyPulled(ctx, page("c2", s[4]), s[4], t0.Add(31*time.Minute)))
	if got := outboxSeqs(t, db); len(got) != 0 {
		t.Errorf("outbox %v after the page reflecting every act", got)
	}
	if n := counts(t, db)["rebase_base"]; n != 0 {
		t.Errorf("%d rebase base rows left with nothing queued", n)
	}
	if v := column(t, db, workflow.TablePatients, patient3ID, "phone"); v != "0611111111" {
		t.Errorf("patient 3 phone %v after the last page", v)
	}
}

// TestPulledPageWithUnsettledActsRebases: the same page replays s3 when
// some queued act is not settled: one whose outcome is still unknown, or
// one past the acked seq the pull was sent after, or a page that was not
// pulled (ApplyChanges).
func TestPulledPageWithUnsettledActsRebases(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		all   bool
		apply func(db *DB, s []int64, p *syncproto.Changes) error
	}{
		{"an outcome unknown", false, func(db *DB, s []int64, p *syncproto.Changes) error {
			return db.ApplyPulled(ctx, p, s[4], t0.Add(30*time.Minute))
		}},
		{"applied after the pull was sent", true, func(db *DB, s []int64, p *syncproto.Changes) error {
			return db.ApplyPulled(ctx, p, s[3], t0.Add(30*time.Minute))
		}},
		{"not pulled", true, func(db *DB, s []int64, p *syncproto.Changes) error {
			return db.ApplyChanges(ctx, p, t0.Add(30*time.Minute))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			db := openTest(t)
			seed(t, db)
			s := settleWard(t, db, c.all)
			must(t, c.apply(db, s, page("c1", 0, serverPatient3())))
			if v := column(t, db, workflow.TablePatients, patient3ID, "phone"); v != "0600000003" {
				t.Errorf("patient 3 phone %v: s3 must be replayed on the server's row", v)
			}
		})
	}
}
