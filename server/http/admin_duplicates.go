package http

// Possible duplicate patients (docs/duplicates.md): the list the dashboard
// shows, "not a duplicate", and "merge into …", which applies patient.merge
// through the same mutator and writer as a pushed act.

import (
	"net/http"
	"strconv"

	"wardsync/server/postgres"
)

func (s *Server) duplicateRoutes(a func(string, func(http.ResponseWriter, *http.Request, *postgres.Session))) {
	a("GET /api/v1/admin/duplicates", s.handleDuplicates)
	a("POST /api/v1/admin/duplicates/dismiss", s.handleDismissDuplicate)
	a("POST /api/v1/admin/patients/merge", s.handleMergePatients)
}

func (s *Server) handleDuplicates(w http.ResponseWriter, r *http.Request, _ *postgres.Session) {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	pairs, err := s.DB.DuplicateCandidates(r.Context(), limit)
	if err != nil {
		writeError(w, err)
		return
	}
	open, err := s.DB.OpenDuplicates(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"open": open, "pairs": pairs})
}

func (s *Server) handleDismissDuplicate(w http.ResponseWriter, r *http.Request, sess *postgres.Session) {
	var req struct {
		PatientA string `json:"patientA"`
		PatientB string `json:"patientB"`
		Note     string `json:"note"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	if err := s.DB.DismissDuplicate(r.Context(), req.PatientA, req.PatientB, sess.UserID, req.Note); err != nil {
		writeError(w, err)
		return
	}
	s.Logger.Info("admin: duplicate dismissed", "admin", sess.UserID, "a", req.PatientA, "b", req.PatientB)
	writeJSON(w, http.StatusOK, map[string]any{"dismissed": true})
}

func (s *Server) handleMergePatients(w http.ResponseWriter, r *http.Request, sess *postgres.Session) {
	var req struct {
		SurvivorID string `json:"survivorId"`
		LoserID    string `json:"loserId"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	res, err := s.DB.MergePatients(r.Context(), sess.Actor(), req.SurvivorID, req.LoserID)
	if err != nil {
		writeError(w, err)
		return
	}
	s.Logger.Info("admin: patients merged", "admin", sess.UserID, "survivor", req.SurvivorID, "loser", req.LoserID, "mutation", res.MutationID)
	writeJSON(w, http.StatusOK, res)
}
