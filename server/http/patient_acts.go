package http

// GET /api/v1/patients/{id}/acts: who did what on a patient's record, when
// and where, for a workstation's timeline (docs/provenance.md). An online
// lookup rather than a replicated table: the timeline only needs it while
// someone looks at the record, and a snapshot carries rows, not the acts
// that made them.

import (
	"net/http"
	"wardsync/syncproto"

	"wardsync/server/postgres"
	"wardsync/workflow"
)

func (s *Server) patientRoutes() {
	s.mux.HandleFunc("GET /api/v1/patients/{id}/acts", s.handlePatientActs)
}

// handlePatientActs answers a workstation session (401 without a live
// token; 403 for a dashboard session, which has the audit search, or for a
// role that may not read patients; 404 for an unknown patient). Acts on a
// table the user's role may not read (a BIOLOGIST and appointments) are
// left out, as the sync leaves those rows out.
func (s *Server) handlePatientActs(w http.ResponseWriter, r *http.Request) {
	sess, err := s.DB.Authenticate(r.Context(), bearer(r))
	if err != nil {
		writeError(w, err)
		return
	}
	if sess.DeviceID == "" {
		writeError(w, workflow.Reject(workflow.CodeForbidden, "A patient's acts are for workstation sessions; the dashboard's audit search lists them."))
		return
	}
	roles := []workflow.Role{sess.Role}
	if !workflow.CanRead(roles, workflow.TablePatients, "id") {
		writeError(w, workflow.Reject(workflow.CodeForbidden, "A %s may not read patients' records.", sess.Role))
		return
	}
	acts, truncated, err := s.DB.PatientActs(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	out := make([]syncproto.PatientAct, 0, len(acts))
	for _, a := range acts {
		if !visibleAct(roles, a) {
			continue
		}
		out = append(out, syncproto.PatientAct{Seq: a.Seq, DeviceID: a.DeviceID, DeviceName: a.DeviceName, Name: a.Name,
			TargetTable: a.TargetTable, TargetID: a.TargetID, AuthorName: a.AuthorName, AuthorRole: a.AuthorRole,
			OccurredAt: a.OccurredAt, ReceivedAt: a.ReceivedAt, Outcome: a.Outcome})
	}
	// Only the newest postgres.MaxPatientActs are looked at; older ones
	// are in the dashboard's audit search.
	writeJSON(w, http.StatusOK, syncproto.PatientActs{PatientID: r.PathValue("id"), Acts: out,
		Truncated: truncated, Limit: postgres.MaxPatientActs})
}

// visibleAct: an act is shown when the row it targets is one the roles
// may read. A refused act may name no target (it never got that far): it
// is on this patient, whom the roles may read.
func visibleAct(roles []workflow.Role, a postgres.AuditEntry) bool {
	return a.TargetTable == "" || workflow.CanRead(roles, a.TargetTable, "id")
}
