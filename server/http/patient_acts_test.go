package http_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
	"wardsync/internal/wardtest"

	"github.com/google/uuid"

	"wardsync/server/postgres"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// TestPatientActs: acts pushed from two workstations on a patient, their
// appointment and prescription are listed for a workstation session with
// who, when and where (never the args), newest first, whatever their
// outcome; a role sees only acts on tables it may read (docs/visibility.md);
// another patient's acts are not listed; every refusal
// answers its status, code and message.
func TestPatientActs(t *testing.T) {
	e := startDashboard(t)
	ctx := context.Background()
	accueil, err := e.DB.AddDevice(ctx, "", "Accueil", []workflow.Role{workflow.RoleSecretary})
	if err != nil {
		t.Fatal(err)
	}
	sec := e.roleToken(workflow.RoleSecretary)
	docTok := e.roleToken(workflow.RoleDoctor)
	bio := e.roleToken(workflow.RoleBiologist)
	secAccueil := e.login(wardtest.Email(workflow.RoleSecretary), wardtest.Password(workflow.RoleSecretary), accueil.ID)

	ward := e.Connect(e.t, sec, e.device)
	desk := e.Connect(e.t, secAccueil, accueil.ID)
	p, other := admPatient("Chronologie"), admPatient("Autre")
	appt, rx := uuid.NewString(), uuid.NewString()
	applied := func(rs []syncproto.MutationResult, want syncproto.Status) {
		t.Helper()
		if len(rs) != 1 || rs[0].Status != want {
			t.Fatalf("push: %+v, want %s", rs, want)
		}
	}
	applied(ward.PushEach(t, sec, "patient.register", p), syncproto.StatusApplied)
	applied(ward.PushEach(t, sec, "patient.register", other), syncproto.StatusApplied)
	applied(ward.PushEach(t, sec, "appointment.schedule", map[string]any{"id": appt, "patientId": p["id"],
		"doctorId": postgres.SeedID("user:doctor@hospital.com"), "date": time.Now().UTC().Add(time.Hour).Format(time.RFC3339), "motif": "Suivi"}), syncproto.StatusApplied)
	applied(desk.PushEach(t, secAccueil, "appointment.checkIn", map[string]any{"id": appt}), syncproto.StatusApplied)
	applied(ward.PushEach(t, sec, "appointment.checkIn", map[string]any{"id": appt}), syncproto.StatusRejected)
	applied(ward.PushEach(t, docTok, "prescription.create", map[string]any{"id": rx, "patientId": p["id"], "text": "NFS"}), syncproto.StatusApplied)
	applied(ward.PushEach(t, sec, "patient.update", map[string]any{"id": other["id"], "phone": "0600000000"}), syncproto.StatusApplied)

	path := "/api/v1/patients/" + p["id"].(string) + "/acts"
	type row struct{ name, device, author, role, outcome, table, target string }
	rowsOf := func(acts []syncproto.PatientAct) []row {
		var out []row
		for _, a := range acts {
			if a.OccurredAt.IsZero() || a.ReceivedAt.IsZero() || a.Seq == 0 || a.DeviceID == "" {
				t.Fatalf("act without its times, seq or device: %+v", a)
			}
			out = append(out, row{a.Name, a.DeviceName, a.AuthorName, a.AuthorRole, a.Outcome, a.TargetTable, a.TargetID})
		}
		return out
	}
	secName, docName := "Secrétaire Test", "Dr Médecin Test" // postgres.SeedUsers
	pid := p["id"].(string)
	all := []row{
		{"prescription.create", "Every role", docName, "DOCTOR", "applied", "prescriptions", rx},
		{"appointment.checkIn", "Every role", secName, "SECRETARY", "rejected", "appointments", appt},
		{"appointment.checkIn", "Accueil", secName, "SECRETARY", "applied", "appointments", appt},
		{"appointment.schedule", "Every role", secName, "SECRETARY", "applied", "appointments", appt},
		{"patient.register", "Every role", secName, "SECRETARY", "applied", "patients", pid},
	}
	t.Run("workstation session sees every act on the record, newest first", func(t *testing.T) {
		var got syncproto.PatientActs
		e.getInto(path, docTok, &got)
		if g := rowsOf(got.Acts); !equalRows(g, all) || got.PatientID != pid || got.Truncated || got.Limit != postgres.MaxPatientActs {
			t.Fatalf("got %+v\nwant %+v", got, all)
		}
		if got.Acts[2].DeviceID != accueil.ID {
			t.Fatalf("check-in's device: %+v", got.Acts[2])
		}
	})
	t.Run("no args leave the server", func(t *testing.T) {
		_, raw := e.raw("GET", path, sec, nil)
		if strings.Contains(string(raw), `"args"`) || strings.Contains(string(raw), "NFS") || strings.Contains(string(raw), "Suivi") {
			t.Fatalf("the answer carries what was typed: %s", raw)
		}
	})
	for _, c := range []struct {
		name, token string
		want        []row
	}{
		{"a SECRETARY reads no prescription", sec, all[1:]},
		{"a BIOLOGIST reads no appointment", bio, []row{all[0], all[4]}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got syncproto.PatientActs
			e.getInto(path, c.token, &got)
			if g := rowsOf(got.Acts); !equalRows(g, c.want) {
				t.Fatalf("got %+v, want %+v", g, c.want)
			}
		})
	}

	refusals := []struct {
		name, path, token string
		status            int
		code              workflow.Code
		message           string
	}{
		{"no token", path, "", http.StatusUnauthorized, workflow.CodeUnauthenticated, "No token was given; log in first."},
		{"bad token", path, "not-a-token", http.StatusUnauthorized, workflow.CodeUnauthenticated, "The token is not valid; log in again."},
		{"dashboard session", path, e.admin, http.StatusForbidden, workflow.CodeForbidden,
			"A patient's acts are for workstation sessions; the dashboard's audit search lists them."},
		{"unknown patient", "/api/v1/patients/nobody/acts", sec, http.StatusNotFound, workflow.CodeNotFound,
			"No patient with id nobody is on the server (never registered, or merged into another record)."},
	}
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			st, raw := e.raw("GET", c.path, c.token, nil)
			var rej workflow.Rejection
			if err := json.Unmarshal(raw, &rej); err != nil || st != c.status || rej.Code != c.code || rej.Message != c.message {
				t.Fatalf("%d %s, want %d %s %q", st, raw, c.status, c.code, c.message)
			}
		})
	}
	t.Run("a logged-out session", func(t *testing.T) {
		tok := e.roleToken(workflow.RoleNurse)
		if st, _ := e.do("POST", "/api/v1/auth/logout", tok, nil); st != http.StatusOK {
			t.Fatalf("logout: %d", st)
		}
		st, body := e.do("GET", path, tok, nil)
		if st != http.StatusUnauthorized || body["code"] != string(workflow.CodeUnauthenticated) || body["message"] == "" {
			t.Fatalf("%d %v", st, body)
		}
	})
}

func equalRows[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
