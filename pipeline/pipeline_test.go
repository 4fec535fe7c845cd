package pipeline

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"wardsync/syncproto"
	"wardsync/workflow"
)

// recorder is a Store that writes down each step it is asked for, and
// answers as told.
type recorder struct {
	workflow.Reader
	steps     []string
	chain     *workflow.Rejection
	author    *workflow.Rejection
	merge     *workflow.Merge
	lockAgain bool
	// woken are what successive Wake calls return.
	woken [][]*Act
}

func (r *recorder) note(s string) { r.steps = append(r.steps, s) }

func (r *recorder) Chain(context.Context, *Act) (*workflow.Rejection, error) {
	r.note("chain")
	return r.chain, nil
}
func (r *recorder) Author(_ context.Context, a *Act) (*workflow.Rejection, error) {
	r.note("author")
	a.Actor = workflow.Actor{ID: a.AuthorID, Name: "Secrétaire", Role: workflow.RoleSecretary}
	return r.author, nil
}
func (r *recorder) CloseRejected(context.Context, *Act) (*workflow.Rejection, error) {
	r.note("close")
	return nil, nil
}
func (r *recorder) MergeOf(context.Context, string) (*workflow.Merge, error) {
	r.note("mergeOf")
	return r.merge, nil
}
func (r *recorder) WriteEffect(context.Context, *Act, workflow.Effect) (*workflow.Rejection, error) {
	r.note("write")
	return nil, nil
}
func (r *recorder) LockWait(context.Context, *workflow.Wait) (bool, error) {
	r.note("lock")
	return r.lockAgain, nil
}
func (r *recorder) Reissue(context.Context, *Act, Outcome) error { r.note("reissue"); return nil }
func (r *recorder) Record(_ context.Context, _ *Act, o Outcome) error {
	switch {
	case o.Wait != nil:
		r.note("record waiting")
	case o.Rejection != nil:
		r.note("record " + string(o.Rejection.Code))
	default:
		r.note("record applied")
	}
	return nil
}
func (r *recorder) Park(context.Context, *Act, *workflow.Wait) error { r.note("park"); return nil }
func (r *recorder) Wake(context.Context, *Act) ([]*Act, error) {
	r.note("wake")
	if len(r.woken) == 0 {
		return nil, nil
	}
	w := r.woken[0]
	r.woken = r.woken[1:]
	return w, nil
}

const (
	patientID = "aaaaaaaa-0000-4000-8000-000000000001"
	userID    = "11111111-1111-4111-8111-111111111111"
)

// notFound is a Reader with no row at all.
type notFound struct{ workflow.Reader }

func (notFound) Patient(context.Context, string) (*workflow.Patient, error) {
	return nil, workflow.ErrNotFound
}

func run(t *testing.T, r *recorder, m syncproto.Mutation) (Outcome, string) {
	t.Helper()
	if m.AuthorID == "" {
		m.AuthorID = userID
	}
	o, err := Run(context.Background(), r, &Act{Mutation: m})
	if err != nil {
		t.Fatal(err)
	}
	return o, strings.Join(r.steps, ", ")
}

var register = syncproto.Mutation{Seq: 1, ID: "m1", Name: "patient.register", OccurredAt: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC),
	Args: json.RawMessage(`{"id":"` + patientID + `","firstName":"Marie","lastName":"Curie","birthDate":"1967-11-07T00:00:00Z"}`)}

func TestRunVisitsEachStepOnceInOrder(t *testing.T) {
	m := register
	m.ReissueOf = "rejected-act"
	_, got := run(t, &recorder{Reader: notFound{}}, m)
	if want := "chain, author, write, reissue, record applied, wake"; got != want {
		t.Fatalf("steps\n got: %s\nwant: %s", got, want)
	}
}

func TestARefusedLinkStopsBeforeTheAuthor(t *testing.T) {
	r := &recorder{chain: workflow.Reject(workflow.CodeChainBroken, "Seq 1 does not follow seq 0.")}
	o, got := run(t, r, register)
	if want := "chain, record CHAIN_BROKEN"; got != want {
		t.Fatalf("steps\n got: %s\nwant: %s", got, want)
	}
	if o.Rejection.Message != "Seq 1 does not follow seq 0." {
		t.Fatalf("sentence %q", o.Rejection.Message)
	}
}

func TestAnAuthorClaimMustBeTheSessionsUser(t *testing.T) {
	r := &recorder{}
	m := register
	m.AuthorID = "22222222-2222-4222-8222-222222222222"
	r2 := &claimRecorder{recorder: r}
	o, err := Run(context.Background(), r2, &Act{Mutation: m})
	if err != nil {
		t.Fatal(err)
	}
	if o.Rejection == nil || o.Rejection.Code != workflow.CodeUnauthenticated ||
		o.Rejection.Message != "The act names 22222222-2222-4222-8222-222222222222 as its author, but it was signed in a session of Secrétaire." {
		t.Fatalf("outcome %+v", o.Rejection)
	}
	if got, want := strings.Join(r.steps, ", "), "chain, author, record UNAUTHENTICATED"; got != want {
		t.Fatalf("steps\n got: %s\nwant: %s", got, want)
	}
}

// claimRecorder's author step finds the session of another user than the
// one the act names.
type claimRecorder struct{ *recorder }

func (c *claimRecorder) Author(_ context.Context, a *Act) (*workflow.Rejection, error) {
	c.note("author")
	a.Actor = workflow.Actor{ID: userID, Name: "Secrétaire", Role: workflow.RoleSecretary}
	return nil, nil
}

func TestBookkeepingClosesInsteadOfApplying(t *testing.T) {
	m := syncproto.Mutation{Seq: 2, ID: "m2", Name: workflow.CloseRejected, Args: json.RawMessage(`{"id":"m1","reason":"Saisie en double."}`)}
	_, got := run(t, &recorder{}, m)
	if want := "chain, author, close, record applied, wake"; got != want {
		t.Fatalf("steps\n got: %s\nwant: %s", got, want)
	}
}

func TestAnActNamingAMergedPatientIsSentOnOrRefused(t *testing.T) {
	survivor := "aaaaaaaa-0000-4000-8000-000000000002"
	merge := &workflow.Merge{LoserID: patientID, SurvivorID: survivor, ByName: "Admin Test"}
	// document.attach follows the merge: its patientId is the survivor.
	a := &Act{Mutation: syncproto.Mutation{Name: "document.attach", AuthorID: userID,
		Args: json.RawMessage(`{"id":"bbbbbbbb-0000-4000-8000-000000000001","patientId":"` + patientID + `","name":"r.png","type":"radio","url":"files/r.png"}`)}}
	r := &recorder{merge: merge}
	if rej, err := followMerges(context.Background(), r, a); err != nil || rej != nil {
		t.Fatalf("follow: %v %v", rej, err)
	}
	if len(a.Repoints) != 1 || a.Repoints[0] != (Repoint{Field: "patientId", From: patientID, To: survivor}) ||
		!strings.Contains(string(a.Applied), survivor) || !strings.Contains(string(a.Args), patientID) {
		t.Fatalf("repoints %+v, applied %s, args %s", a.Repoints, a.Applied, a.Args)
	}
	// patient.update names the merged record itself: refused.
	a = &Act{Mutation: syncproto.Mutation{Name: "patient.update", AuthorID: userID,
		Args: json.RawMessage(`{"id":"` + patientID + `","phone":"+33 6 00 00 00 00"}`)}}
	rej, err := followMerges(context.Background(), r, a)
	if err != nil {
		t.Fatal(err)
	}
	ref := workflow.PatientArgs("patient.update")[0]
	if want := workflow.MergedAway("patient.update", ref, *merge); rej == nil || *rej != *want {
		t.Fatalf("rejection %+v, want %+v", rej, want)
	}
}

// scheduled is a Reader holding one appointment, still SCHEDULED.
type scheduled struct{ notFound }

const apptID = "bbbbbbbb-0000-4000-8000-000000000001"

func (scheduled) Appointment(_ context.Context, id string) (*workflow.Appointment, error) {
	if id != apptID {
		return nil, workflow.ErrNotFound
	}
	at := time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)
	return &workflow.Appointment{ID: apptID, Date: at, Motif: "Consultation", Status: workflow.AppointmentScheduled,
		PatientID: patientID, DoctorID: userID, CreatedAt: at, UpdatedAt: at}, nil
}

// TestAnEarlyActWaits: vitals before the check-in wait for it. A store whose
// rows may move (the server) locks the row and runs the act once more; one
// whose rows cannot (the replica) does not.
func TestAnEarlyActWaits(t *testing.T) {
	vitals := syncproto.Mutation{Seq: 3, ID: "m3", Name: "appointment.recordVitals", OccurredAt: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC),
		Args: json.RawMessage(`{"id":"` + apptID + `","vitals":{"weight":70,"height":170,"temperature":37,"bloodPressure":{"systolic":120,"diastolic":80},"heartRate":72}}`)}
	for _, c := range []struct {
		again bool
		want  string
	}{
		{true, "chain, author, lock, record waiting, park"},
		{false, "chain, author, lock, record waiting, park"},
	} {
		r := &nurseRecorder{recorder: &recorder{Reader: scheduled{}, lockAgain: c.again}}
		o, err := Run(context.Background(), r, &Act{Mutation: vitals})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(r.steps, ", "); got != c.want {
			t.Fatalf("again=%v: steps\n got: %s\nwant: %s", c.again, got, c.want)
		}
		if o.Wait == nil || o.Wait.Sentence != "waiting for check-in at reception" || o.Wait.ID != apptID ||
			o.Rejection == nil || o.Rejection.Code != workflow.CodeInvalidTransition {
			t.Fatalf("again=%v: outcome %+v wait %+v", c.again, o.Rejection, o.Wait)
		}
		if r.applies != map[bool]int{true: 2, false: 1}[c.again] {
			t.Fatalf("again=%v: the mutator read the appointment %d times", c.again, r.applies)
		}
	}
}

// nurseRecorder authors as a nurse and counts the mutator's runs (each
// reads the appointment once).
type nurseRecorder struct {
	*recorder
	applies int
}

func (n *nurseRecorder) Author(_ context.Context, a *Act) (*workflow.Rejection, error) {
	n.note("author")
	a.Actor = workflow.Actor{ID: userID, Name: "Infirmier", Role: workflow.RoleNurse}
	a.AuthorID = userID
	return nil, nil
}

func (n *nurseRecorder) Appointment(ctx context.Context, id string) (*workflow.Appointment, error) {
	n.applies++
	return n.recorder.Appointment(ctx, id)
}

// A woken act goes through the apply step and its record only (it was
// judged when it was parked), and the store is asked again until it wakes
// none: no store calls back into the pipeline.
func TestWokenActsAreAppliedAndRecordedByThePipeline(t *testing.T) {
	parked := func(id string) *Act {
		m := register
		m.ID = id
		return &Act{Mutation: m, Actor: workflow.Actor{ID: userID, Name: "Secrétaire", Role: workflow.RoleSecretary}}
	}
	r := &recorder{Reader: notFound{}, woken: [][]*Act{{parked("p1"), parked("p2")}, {parked("p3")}}}
	_, got := run(t, r, register)
	want := "chain, author, write, record applied, wake, write, record applied, write, record applied, wake, write, record applied, wake"
	if got != want {
		t.Fatalf("steps\n got: %s\nwant: %s", got, want)
	}
}
