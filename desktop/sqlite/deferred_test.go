package sqlite

import (
	"context"
	"reflect"
	"testing"
	"time"

	"wardsync/syncproto"
	"wardsync/workflow"
)

var vitals = obj{"weight": 70, "height": 170, "temperature": 37, "bloodPressure": obj{"systolic": 120, "diastolic": 80}, "heartRate": 72}

const waitingCheckIn = "waiting for check-in at reception"

// TestDeferredActLifecycle follows one act that came before its
// predecessor through the replica: queued without effect and flagged;
// parked by the server; applied through the feed.
func TestDeferredActLifecycle(t *testing.T) {
	db := openTest(t)
	seed(t, db)
	ctx := context.Background()
	s1 := mustAct(t, db, nurse, "appointment.recordVitals", obj{"id": appt1ID, "vitals": vitals}, t0)
	if v := column(t, db, workflow.TableAppointments, appt1ID, "status"); v != "SCHEDULED" {
		t.Fatalf("a waiting act changed the row: %v", v)
	}
	entries, err := db.Outbox(ctx, 0, 0)
	must(t, err)
	if len(entries) != 1 || entries[0].WaitingFor != waitingCheckIn || entries[0].Parked || entries[0].Conflict != nil {
		t.Fatalf("outbox %+v", entries)
	}
	c, _ := db.Counts(ctx)
	if c.Waiting != 1 || c.Pending != 1 {
		t.Fatalf("counts %+v", c)
	}
	// Today's expected patients leave out the one whose vitals wait.
	d, err := db.DashboardFor(ctx, workflow.RoleNurse, nurseID, t0, t0.Add(24*time.Hour), 0)
	must(t, err)
	if len(d.Expected) != 1 || d.Expected[0].ID != appt2ID {
		t.Fatalf("expected %+v", d.Expected)
	}

	// The server parks it.
	out, err := db.RecordResults(ctx, []syncproto.MutationResult{{Seq: s1, Status: syncproto.StatusDeferred,
		WaitingFor: waitingCheckIn, WaitTable: "appointments", WaitID: appt1ID, WaitState: "CHECKED_IN"}}, t0)
	must(t, err)
	if len(out.Deferred) != 1 {
		t.Fatalf("outcome %+v", out)
	}
	entries, _ = db.Outbox(ctx, 0, 0)
	if len(entries) != 1 || !entries[0].Parked || entries[0].WaitingFor != waitingCheckIn {
		t.Fatalf("parked %+v", entries)
	}
	c, _ = db.Counts(ctx)
	if c.Waiting != 1 || c.Pending != 0 {
		t.Fatalf("counts %+v", c)
	}
	// A page reflecting its seq (recorded, deferred) keeps it: its outcome
	// is not known yet.
	must(t, db.ApplyChanges(ctx, page("c1", s1), t0))
	if got := outboxSeqs(t, db); len(got) != 1 {
		t.Fatalf("outbox %v", got)
	}
	// The check-in lands at the server; the vitals with it: the rows and
	// the outcome come in one page. The act leaves the outbox.
	row := appointmentRow(appt1ID, patient1ID, doctorID, t0.Add(5*time.Hour), workflow.AppointmentInConsultation,
		obj{"checkedInAt": ts(t0.Add(time.Minute)), "vitalsEnteredAt": ts(t0), "vitalsEnteredBy": nurseID, "vitals": vitals, "updatedAt": ts(t0)})
	p := page("c2", s1, upsert(workflow.TableAppointments, row))
	p.Outcomes = []syncproto.Outcome{{Seq: s1, ID: entries[0].ID, Status: syncproto.StatusApplied}}
	must(t, db.ApplyChanges(ctx, p, t0))
	if got := outboxSeqs(t, db); len(got) != 0 {
		t.Fatalf("outbox %v", got)
	}
	if c, _ := db.Counts(ctx); c.Waiting != 0 || c.Rejected != 0 {
		t.Fatalf("counts %+v", c)
	}
	if v := column(t, db, workflow.TableAppointments, appt1ID, "status"); v != "IN_CONSULTATION" {
		t.Fatalf("status %v", v)
	}
}

// TestDeferredOutcomeRejected: a rejected outcome moves the act, with what
// was typed, to the rejected list; a repeated or foreign outcome changes
// nothing.
func TestDeferredOutcomeRejected(t *testing.T) {
	db := openTest(t)
	seed(t, db)
	ctx := context.Background()
	s1 := mustAct(t, db, nurse, "appointment.recordVitals", obj{"id": appt1ID, "vitals": vitals, "medicalHistoryNotes": "Asthme"}, t0)
	_, err := db.RecordResults(ctx, []syncproto.MutationResult{{Seq: s1, Status: syncproto.StatusDeferred,
		WaitingFor: waitingCheckIn, WaitTable: "appointments", WaitID: appt1ID, WaitState: "CHECKED_IN"}}, t0)
	must(t, err)
	entries, _ := db.Outbox(ctx, 0, 0)
	msg := "Appointment " + appt1ID + " is CANCELLED (cancelled at 09:05), not CHECKED_IN. It had been waiting for check-in at reception since 2026-01-05 09:00 UTC."
	cases := []struct {
		name     string
		outcome  syncproto.Outcome
		rejected int
	}{
		{"another act's id under this seq", syncproto.Outcome{Seq: s1, ID: "not-this-act", Status: syncproto.StatusRejected, Code: workflow.CodeInvalidTransition, Message: "x"}, 0},
		{"the act's outcome", syncproto.Outcome{Seq: s1, ID: entries[0].ID, Status: syncproto.StatusRejected, Code: workflow.CodeInvalidTransition, Message: msg}, 1},
		{"the same outcome again", syncproto.Outcome{Seq: s1, ID: entries[0].ID, Status: syncproto.StatusRejected, Code: workflow.CodeInvalidTransition, Message: msg}, 1},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := page("c"+string(rune('a'+i)), s1)
			p.Outcomes = []syncproto.Outcome{c.outcome}
			must(t, db.ApplyChanges(ctx, p, t0))
			rej, err := db.Rejected(ctx, false)
			must(t, err)
			if len(rej) != c.rejected {
				t.Fatalf("rejected %+v", rej)
			}
			if c.rejected == 1 {
				r := rej[0]
				if r.Rejection.Code != workflow.CodeInvalidTransition || r.Rejection.Message != msg || r.Name != "appointment.recordVitals" ||
					string(r.Args) != string(entries[0].Args) || r.AuthorID != nurseID {
					t.Fatalf("rejected act %+v", r)
				}
				if got := outboxSeqs(t, db); len(got) != 0 {
					t.Fatalf("outbox %v", got)
				}
			}
		})
	}
}

// TestWaitingActAppliesOnRebase: an act queued while waiting, not yet
// pushed, applies locally as soon as a pull brings its predecessor, and
// loses its flag; one whose row moved past it is flagged as likely refused.
func TestWaitingActAppliesOnRebase(t *testing.T) {
	cases := []struct {
		name    string
		server  workflow.AppointmentStatus
		extra   obj
		status  string
		waiting string
		flagged bool
	}{
		{"check-in arrives", workflow.AppointmentCheckedIn, obj{"checkedInAt": ts(t0.Add(time.Minute))}, "IN_CONSULTATION", "", false},
		{"still scheduled", workflow.AppointmentScheduled, nil, "SCHEDULED", waitingCheckIn, false},
		{"cancelled", workflow.AppointmentCancelled, nil, "CANCELLED", "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db := openTest(t)
			seed(t, db)
			ctx := context.Background()
			mustAct(t, db, nurse, "appointment.recordVitals", obj{"id": appt1ID, "vitals": vitals}, t0)
			extra := obj{"updatedAt": ts(t0.Add(time.Minute))}
			for k, v := range c.extra {
				extra[k] = v
			}
			must(t, db.ApplyChanges(ctx, page("c1", 0, upsert(workflow.TableAppointments,
				appointmentRow(appt1ID, patient1ID, doctorID, t0.Add(5*time.Hour), c.server, extra))), t0))
			if v := column(t, db, workflow.TableAppointments, appt1ID, "status"); v != c.status {
				t.Fatalf("status %v, want %s", v, c.status)
			}
			entries, _ := db.Outbox(ctx, 0, 0)
			if len(entries) != 1 || entries[0].WaitingFor != c.waiting || (entries[0].Conflict != nil) != c.flagged {
				t.Fatalf("outbox %+v", entries)
			}
		})
	}
}

// TestQueueSaysWaiting: Queue reports what the outbox entry records, a
// waiting act's sentence or nothing, and the seq it assigned.
func TestQueueSaysWaiting(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name    string
		who     Author
		act     string
		args    obj
		waiting string
	}{
		{"in order", secretary, "appointment.checkIn", obj{"id": appt1ID}, ""},
		{"before its predecessor", nurse, "appointment.recordVitals", obj{"id": appt2ID, "vitals": vitals}, waitingCheckIn},
	} {
		t.Run(c.name, func(t *testing.T) {
			db := openTest(t)
			seed(t, db)
			q, err := db.Queue(ctx, NewAct{ID: newID(), Name: c.act, Args: js(c.args), OccurredAt: t0, Author: c.who})
			must(t, err)
			entries, err := db.Outbox(ctx, 0, 0)
			must(t, err)
			if len(entries) != 1 || entries[0].Seq != q.Seq || q.Seq != 1 {
				t.Fatalf("Queue said seq %d; outbox %+v", q.Seq, entries)
			}
			if q.WaitingFor != c.waiting || entries[0].WaitingFor != c.waiting {
				t.Fatalf("Queue said waiting %q, outbox %q; want %q", q.WaitingFor, entries[0].WaitingFor, c.waiting)
			}
			// The status line's one read says what the two separate ones say.
			cs, st, err := db.CountsAndState(ctx)
			must(t, err)
			c2, err := db.Counts(ctx)
			must(t, err)
			st2, err := db.State(ctx)
			must(t, err)
			if !reflect.DeepEqual(cs, c2) || !reflect.DeepEqual(st, st2) || st.LastSeq != q.Seq {
				t.Fatalf("CountsAndState %+v %+v; Counts %+v, State %+v", cs, st, c2, st2)
			}
		})
	}
}
