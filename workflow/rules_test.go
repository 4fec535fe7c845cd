package workflow

import (
	"slices"
	"strings"
	"testing"
)

// TestLeadsToMatchesMutators runs every accepted case of the matrix and
// checks that the status the mutator writes is the one the table
// declares, so the board and the UI, which read the table, say what the
// acts do.
func TestLeadsToMatchesMutators(t *testing.T) {
	checked := map[string]bool{}
	for _, ma := range matrixActs() {
		name, _, _ := strings.Cut(ma.name, " ")
		for state, code := range ma.outcome {
			if code != "" {
				continue
			}
			s, a := ma.build(state)
			eff, err := apply(s, name, ma.roles[0], a)
			if err != nil {
				t.Fatalf("%s in %s: %v", ma.name, state, err)
			}
			table, to, moves := LeadsTo(name)
			var wrote []string
			for _, op := range eff.Ops {
				if v, ok := op.Values["status"].(string); ok && op.Table == table {
					wrote = append(wrote, v)
				}
			}
			switch {
			case moves && !slices.Equal(wrote, []string{to}):
				t.Errorf("%s in %s: the table says it leads to %s %s; the mutator wrote %v", ma.name, state, table, to, wrote)
			case !moves && len(wrote) > 0 && !(len(wrote) == 1 && wrote[0] == state):
				t.Errorf("%s in %s: the table says it moves no status; the mutator wrote %v", ma.name, state, wrote)
			}
			checked[name] = true
		}
	}
	for _, tr := range Transitions() {
		if tr.To != "" && !checked[tr.Act] {
			t.Errorf("%s: no accepted matrix case checks where it leads", tr.Act)
		}
	}
}

func TestNextActs(t *testing.T) {
	cases := []struct {
		table, status string
		role          Role
		want          []string
	}{
		{TableAppointments, "SCHEDULED", RoleSecretary, []string{"appointment.checkIn", "appointment.cancel"}},
		{TableAppointments, "SCHEDULED", RoleAdmin, []string{"appointment.cancel"}},
		{TableAppointments, "SCHEDULED", RoleNurse, nil},
		{TableAppointments, "CHECKED_IN", RoleNurse, []string{"appointment.recordVitals"}},
		{TableAppointments, "COMPLETED", RoleSecretary, []string{"appointment.recordPayment"}},
		{TableAppointments, "CANCELLED", RoleSecretary, nil},
		{TablePrescriptions, "IN_PROGRESS", RoleBiologist, []string{"result.create"}},
		{TablePrescriptions, "RESULTS_AVAILABLE", RoleDoctor, []string{"result.review"}},
		{TablePrescriptions, "COMPLETED", RoleDoctor, nil},
	}
	for _, c := range cases {
		if got := NextActs(c.table, c.status, c.role); !slices.Equal(got, c.want) {
			t.Errorf("NextActs(%s, %s, %s) = %v, want %v", c.table, c.status, c.role, got, c.want)
		}
	}
}

// TestQueueTable checks each queue against the act that empties it: the
// rows stand where that act applies (or, for an Ahead queue, where it
// waits), and every status a row can still leave has one board queue.
func TestQueueTable(t *testing.T) {
	keys := map[string]bool{}
	for _, q := range Queues() {
		if keys[q.Key] {
			t.Errorf("queue key %s twice", q.Key)
		}
		keys[q.Key] = true
		a := acts[q.Next]
		if a == nil || a.path == nil || a.path.table != q.Table {
			t.Errorf("%s: next act %s does not move a row of %s", q.Key, q.Next, q.Table)
			continue
		}
		where := a.path.want
		if q.Ahead {
			where = a.path.waits
		}
		if !contains(where, q.Status) {
			t.Errorf("%s: %s does not apply (ahead: %v) in %s", q.Key, q.Next, q.Ahead, q.Status)
		}
		if q.Since == "" || q.Label == "" {
			t.Errorf("%s: no Since column or label", q.Key)
		}
	}
	open := map[string][]string{}
	for _, a := range declared {
		if a.path != nil {
			for _, s := range a.path.want {
				if a.to != string(AppointmentCancelled) && !contains(open[a.path.table], s) {
					open[a.path.table] = append(open[a.path.table], s)
				}
			}
		}
	}
	for _, table := range []string{TableAppointments, TablePrescriptions} {
		got := QueueStatuses(table)
		slices.Sort(got)
		want := open[table]
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("board queues of %s: %v, want one per status an act moves on from: %v", table, got, want)
		}
	}
}

func TestHomeQueues(t *testing.T) {
	want := map[Role][]string{
		RoleSecretary: {"toCheckIn", "toClose", "unpaid"},
		RoleAdmin:     {"toCheckIn", "toClose", "unpaid"},
		RoleNurse:     {"toPrepare", "expected", "toCollect"},
		RoleDoctor:    {"consultations", "toReview"},
		RoleBiologist: {"samplesReceived", "inProgress"},
	}
	for role, keys := range want {
		var got []string
		for _, q := range HomeQueues(role) {
			got = append(got, q.Key)
		}
		if !slices.Equal(got, keys) {
			t.Errorf("HomeQueues(%s) = %v, want %v", role, got, keys)
		}
	}
}
