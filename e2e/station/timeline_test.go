package station

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"wardsync/desktop"
	"wardsync/internal/wardtest"
	"wardsync/workflow"
)

// TestTimelineProvenance: reception desk A registers a patient, books and
// checks in an appointment while offline, then syncs. On ward desk B the
// record shows, per entry, who did each act, on which workstation, at
// what clinical time and when the server received it, looked up at the
// server. Offline, desk B still shows the record, with its own queued act
// "not yet sent" and the line saying the rest needs the network; back
// online, that act too carries its sync time, shown once. A lookup the
// server refuses falls back to the replica the same way.
func TestTimelineProvenance(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := newEnv(t, true)
	roles := []workflow.Role{sec, nur}
	env.addDevice("desk-a", roles...)
	env.addDevice("desk-b", roles...)
	a, b := env.station("desk-a"), env.station("desk-b")
	for _, s := range []*station{a, b} {
		s.loginAll(roles...)
		s.run()
	}
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string { return a.synced() + b.synced() })
	offline := func(s *station) {
		s.link.Cut()
		wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
			if s.e.Status().Online {
				return s.device + " still online"
			}
			return ""
		})
	}

	offline(a)
	p, appt := uuid.NewString(), uuid.NewString()
	a.act(sec, "patient.register", map[string]any{"id": p, "firstName": "Irène", "lastName": "Joliot", "birthDate": "1997-09-12T00:00:00Z"})
	a.act(sec, "appointment.schedule", map[string]any{"id": appt, "patientId": p, "doctorId": wardtest.UserID(doc),
		"date": time.Now().UTC().Add(time.Hour).Format(time.RFC3339), "motif": "Suivi"})
	a.act(sec, "appointment.checkIn", map[string]any{"id": appt})
	a.reconnect()
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string { return a.synced() + b.synced() })
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
		if replica, err := b.e.DB().Row(ctx, workflow.TableAppointments, appt); err != nil || replica == nil {
			return "desk B has not pulled the appointment"
		}
		return ""
	})

	type act struct{ name, device, author, state string }
	acts := func(ps []desktop.ActProvenance, sent bool) []act {
		t.Helper()
		var out []act
		for _, x := range ps {
			if sent && (x.ReceivedAt == nil || x.ReceivedAt.Before(x.OccurredAt)) || !sent && x.ReceivedAt != nil {
				t.Fatalf("%s: clinical %v, received %v", x.Name, x.OccurredAt, x.ReceivedAt)
			}
			out = append(out, act{x.Name, x.DeviceName, x.AuthorName, x.State})
		}
		return out
	}
	appointment := func(tl *desktop.Timeline) []desktop.ActProvenance {
		for _, e := range tl.Entries {
			if e.Appointment != nil && e.Appointment.ID == appt {
				return e.Acts
			}
		}
		t.Fatalf("no appointment entry: %+v", tl.Entries)
		return nil
	}
	same := func(what string, got, want []act) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %+v, want %+v", what, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s: %+v, want %+v", what, got, want)
			}
		}
	}
	secName, nurse := wardtest.SeedUser(sec).Name, b.users[nur]
	onA := "Workstation desk-a"

	// Online: desk A's acts on desk B's screen, from the server.
	tl, err := b.e.PatientTimelineFor(ctx, nurse, p)
	if err != nil {
		t.Fatal(err)
	}
	if tl.ActsNote != "" {
		t.Fatalf("online note: %q", tl.ActsNote)
	}
	same("appointment", acts(appointment(tl), true), []act{
		{"appointment.schedule", onA, secName, "applied"}, {"appointment.checkIn", onA, secName, "applied"}})
	same("patient", acts(tl.Acts, true), []act{{"patient.register", onA, secName, "applied"}})

	// Offline: the replica's record, desk B's own queued act, and the line.
	offline(b)
	b.act(sec, "patient.update", map[string]any{"id": p, "phone": "0611223344"})
	tl, err = b.e.PatientTimelineFor(ctx, nurse, p)
	if err != nil {
		t.Fatal(err)
	}
	if tl.ActsNote != "Sync time and other workstations' acts are shown when online." {
		t.Fatalf("offline note: %q", tl.ActsNote)
	}
	same("appointment offline", acts(appointment(tl), false), nil)
	same("patient offline", acts(tl.Acts, false), []act{{"patient.update", "", secName, "not yet sent"}})

	// Back online: desk B's act as the server recorded it, once.
	b.reconnect()
	wardtest.Eventually(t, wardtest.WaitTimeout, b.synced)
	tl, err = b.e.PatientTimelineFor(ctx, nurse, p)
	if err != nil {
		t.Fatal(err)
	}
	same("patient online again", acts(tl.Acts, true), []act{
		{"patient.register", onA, secName, "applied"}, {"patient.update", "Workstation desk-b", secName, "applied"}})

	// Online, but the server refuses the lookup (the nurse was disabled
	// there): the record still opens, from the replica, with the line.
	if err := env.DB.DisableUser(ctx, nurse); err != nil {
		t.Fatal(err)
	}
	if !b.e.Status().Online {
		t.Fatal("desk B went offline")
	}
	tl, err = b.e.PatientTimelineFor(ctx, nurse, p)
	if err != nil || tl.ActsNote != desktop.MsgActsOffline || len(tl.Acts) != 0 || len(appointment(tl)) != 0 {
		t.Fatalf("refused lookup: %+v %v", tl, err)
	}
}
