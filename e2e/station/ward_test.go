package station

import (
	"context"
	"fmt"
	"time"

	"wardsync/bench/fixture"
	"wardsync/desktop"
	"wardsync/internal/wardtest"
	"wardsync/workflow"
)

// step is one act of the workflow as a ward performs it.
type step struct {
	role workflow.Role
	name string
	args map[string]any
}

const (
	sec = workflow.RoleSecretary
	nur = workflow.RoleNurse
	doc = workflow.RoleDoctor
	bio = workflow.RoleBiologist
	adm = workflow.RoleAdmin
)

var wardRoles = []workflow.Role{sec, nur, doc, bio}

// vitals, patientCycle and wardScript are bench/fixture's, shared with
// the benchmarks.
func vitals(temp float64, systolic int) map[string]any { return fixture.Vitals(temp, systolic) }

func wardScript(prefix string, n int, at time.Time) []step {
	var out []step
	for _, s := range fixture.WardScript(prefix, n, at) {
		out = append(out, step{s.Role, s.Name, s.Args})
	}
	return out
}

// perform runs the script on a station; it returns the acts as queued.
func (s *station) perform(script []step) ([]*desktop.Acted, error) {
	out := make([]*desktop.Acted, 0, len(script))
	for i, st := range script {
		uid, ok := s.users[st.role]
		if !ok {
			return out, fmt.Errorf("%s: nobody logged in as %s", s.device, st.role)
		}
		a, err := s.e.Act(context.Background(), uid, st.name, wardtest.MustJSON(st.args))
		if err != nil {
			return out, fmt.Errorf("%s: act %d (%s as %s): %w", s.device, i, st.name, st.role, err)
		}
		out = append(out, a)
	}
	return out, nil
}
