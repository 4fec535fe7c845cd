package workflow

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

func TestMergeEffect(t *testing.T) {
	s := baseStore()
	// The loser (patient2ID) has one of each record; the survivor's own
	// appointment must not move.
	a := fixtureAppointment(AppointmentCheckedIn)
	a.PatientID = patient2ID
	s.put(TableAppointments, a)
	mine := fixtureAppointment(AppointmentScheduled)
	mine.ID = freshID
	s.put(TableAppointments, mine)
	p, r := prescriptionIn(PrescriptionResultsAvailable)
	p.PatientID = patient2ID
	s.put(TablePrescriptions, p)
	s.put(TableResults, r)
	s.put(TableDocuments, &Document{ID: docID, Name: "radio.png", Type: "radio", URL: "u", PatientID: patient2ID, CreatedAt: day0, UpdatedAt: day0})

	eff, err := apply(s, "patient.merge", A, args(obj2{"survivorId": patientID, "loserId": patient2ID}))
	mustAccept(t, eff, err)
	var got []string
	for _, op := range eff.Ops {
		got = append(got, renderOp(op))
	}
	at := "updatedAt=2026-01-05 11:00:00 +0000 UTC"
	want := []string{
		"update appointments " + apptID + " " + at + " patientId=" + patientID,
		"update prescriptions " + rxID + " " + at + " patientId=" + patientID,
		"update documents " + docID + " " + at + " patientId=" + patientID,
		"delete patients " + patient2ID,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("effect\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(want, "\n      "))
	}
	if err := s.apply(eff); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.tables[TablePatients][patient2ID]; ok {
		t.Fatal("loser still there")
	}
	if _, ok := s.tables[TableResults][resultID]; !ok {
		t.Fatal("the result went with the loser")
	}
}

func TestMergeIsOnline(t *testing.T) {
	for _, n := range Names() {
		if got, want := Online(n), n == "patient.merge"; got != want {
			t.Errorf("Online(%s) = %v", n, got)
		}
	}
	// From a workstation (Online false): refused after the role check, so
	// a wrong role still hears who does it instead.
	m := Mutation{ID: "m1", Name: "patient.merge", Args: args(obj2{"survivorId": patientID, "loserId": patient2ID}), Actor: actorFor(A), OccurredAt: now}
	eff, err := Apply(context.Background(), baseStore(), m)
	r := mustReject(t, eff, err, CodeForbidden, "")
	if r.Message != `"patient.merge" is done online from the admin dashboard, not from a workstation: a workstation does not hold every record it changes.` {
		t.Fatalf("got %+v", r)
	}
	m.Actor = actorFor(S)
	eff, err = Apply(context.Background(), baseStore(), m)
	if r := mustReject(t, eff, err, CodeForbidden, ""); !strings.HasPrefix(r.Message, "A SECRETARY cannot merge") {
		t.Fatalf("got %+v", r)
	}
}

func TestMergeRejections(t *testing.T) {
	cases := []struct {
		name  string
		args  string
		code  Code
		field string
		msg   string
	}{
		{"missing loser", `{"survivorId":"` + patientID + `"}`, CodeValidationFailed, "loserId", "The merged patient's id must be given."},
		{"bad survivor id", `{"survivorId":"x","loserId":"` + patient2ID + `"}`, CodeValidationFailed, "survivorId",
			`The surviving patient's id "x" is not a valid id; ids are lowercase UUIDs such as 123e4567-e89b-12d3-a456-426614174000.`},
		{"unknown field", `{"survivorId":"` + patientID + `","loserId":"` + patient2ID + `","id":"` + patientID + `"}`, CodeValidationFailed, "id",
			`The field "id" is not known here; check the spelling.`},
		{"same ids", `{"survivorId":"` + patientID + `","loserId":"` + patientID + `"}`, CodeValidationFailed, "loserId",
			"A patient cannot be merged into itself: survivorId and loserId are both " + patientID + "."},
		{"unknown survivor", `{"survivorId":"` + missingID + `","loserId":"` + patient2ID + `"}`, CodeNotFound, "survivorId", "Patient " + missingID + " was not found."},
		{"unknown loser", `{"survivorId":"` + patientID + `","loserId":"` + missingID + `"}`, CodeNotFound, "loserId", "Patient " + missingID + " was not found."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			eff, err := apply(baseStore(), "patient.merge", A, json.RawMessage(c.args))
			r := mustReject(t, eff, err, c.code, c.field)
			if r.Message != c.msg {
				t.Fatalf("message\n got: %s\nwant: %s", r.Message, c.msg)
			}
		})
	}
	t.Run("wrong role", func(t *testing.T) {
		for _, role := range []Role{S, N, D, B} {
			eff, err := apply(baseStore(), "patient.merge", role, args(obj2{"survivorId": patientID, "loserId": patient2ID}))
			r := mustReject(t, eff, err, CodeForbidden, "")
			if want := capitalize(article(string(role))) + " " + string(role) + " cannot merge two patients' records; an administrator (ADMIN) does that."; r.Message != want {
				t.Fatalf("got %q want %q", r.Message, want)
			}
		}
	})
}

func TestMergedAwaySentences(t *testing.T) {
	m := Merge{LoserID: patient2ID, SurvivorID: patientID, At: time.Date(2026, 1, 5, 10, 42, 0, 0, time.UTC), ByName: "Admin Test"}
	r := MergedAway("patient.update", PatientArg{Field: "id"}, m)
	want := "Patient " + patient2ID + " was merged into " + patientID + " on 2026-01-05 10:42 by Admin Test; this change was meant for the merged record and was not applied: redo it on patient " + patientID + " if it still applies."
	if r.Code != CodeNotFound || r.Field != "id" || r.Message != want {
		t.Fatalf("got %+v", r)
	}
	if got := Repointed(m); got != "Patient "+patient2ID+" was merged into "+patientID+" on 2026-01-05 10:42 by Admin Test; this act was applied to "+patientID+"." {
		t.Fatalf("got %q", got)
	}
	cases := map[string][]PatientArg{
		"appointment.schedule": {{"patientId", true}}, "prescription.create": {{"patientId", true}}, "document.attach": {{"patientId", true}},
		"patient.update": {{"id", false}}, "patient.merge": {{"survivorId", true}, {"loserId", false}}, "appointment.checkIn": nil,
	}
	for name, want := range cases {
		got := PatientArgs(name)
		if len(got) != len(want) {
			t.Fatalf("%s: %v", name, got)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s: %v", name, got)
			}
		}
	}
	b, err := WithArg(json.RawMessage(`{"patientId":"a","motif":"x"}`), "patientId", "b")
	if err != nil || string(b) != `{"motif":"x","patientId":"b"}` {
		t.Fatalf("WithArg = %s, %v", b, err)
	}
}

// NormalizeCase is one line of testdata/normalize_cases.json, which
// server/postgres also checks against sync.normalize_name.
type NormalizeCase struct {
	In  string `json:"in"`
	Out string `json:"out"`
}

func TestNormalizeName(t *testing.T) {
	b, err := os.ReadFile("testdata/normalize_cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []NormalizeCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.In, func(t *testing.T) {
			if got := NormalizeName(c.In); got != c.Out {
				t.Fatalf("NormalizeName(%q) = %q, want %q", c.In, got, c.Out)
			}
		})
	}
}
