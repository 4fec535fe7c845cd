package http

import (
	"context"
	"net/http"
	"time"

	"wardsync/server/postgres"
)

// keyStateJSON is what the dashboard's workstation table shows of a
// workstation's keys (postgres.KeyState).
type keyStateJSON struct {
	ClaimedAt     *time.Time `json:"claimedAt,omitempty"`
	LastProofAt   *time.Time `json:"lastProofAt,omitempty"`
	ToldRevokedAt *time.Time `json:"toldRevokedAt,omitempty"`
	WipedAt       *time.Time `json:"wipedAt,omitempty"`
}

// idleLockJSON is a workstation's idle lock as the dashboard sets and
// shows it: minutes (0: off), or null for the workstation's own flag.
type idleLockJSON struct {
	Minutes *int `json:"minutes"`
}

func (s *Server) keyStateRoutes(a func(string, func(http.ResponseWriter, *http.Request, *postgres.Session))) {
	a("PUT /api/v1/admin/devices/{id}/idle-lock", s.handleSetIdleLock)
	// The revoked workstation's report, after its wipe: it has no session
	// left to send it with (docs/security.md, "Revocation and wipe").
	s.mux.HandleFunc("POST /api/v1/devices/{id}/wiped", s.handleDeviceWiped)
}

// withKeyStates adds each device's key state and idle lock to the listing.
func (s *Server) withKeyStates(r *http.Request, out []adminDeviceJSON) error {
	ks, err := s.DB.KeyStates(r.Context())
	if err != nil {
		return err
	}
	for i := range out {
		k := ks[out[i].ID]
		out[i].KeyState = keyStateJSON{ClaimedAt: k.ClaimedAt, LastProofAt: k.LastProofAt, ToldRevokedAt: k.ToldRevokedAt, WipedAt: k.WipedAt}
		out[i].IdleLockMinutes = k.IdleLockMinutes
	}
	return nil
}

// handleSetIdleLock answers PUT /api/v1/admin/devices/{id}/idle-lock:
// {"minutes": N} (1 to 120, 0 for off) or {"minutes": null} (the
// workstation's -idle-lock flag again). The workstation takes it at its
// next login or websocket hello.
func (s *Server) handleSetIdleLock(w http.ResponseWriter, r *http.Request, sess *postgres.Session) {
	var v idleLockJSON
	if err := decodeJSON(w, r, &v); err != nil {
		writeError(w, err)
		return
	}
	id := r.PathValue("id")
	if err := s.DB.SetDeviceIdleLock(r.Context(), id, v.Minutes); err != nil {
		writeError(w, err)
		return
	}
	s.Logger.Info("admin: workstation idle lock set", "admin", sess.UserID, "device", id, "minutes", v.Minutes)
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "idleLockMinutes": v.Minutes})
}

// handleDeviceWiped records a revoked workstation's report that it
// destroyed its keys. Like the standing check it needs no session; the
// dashboard says it is the workstation's own report.
func (s *Server) handleDeviceWiped(w http.ResponseWriter, r *http.Request) {
	r = s.withAddress(r)
	at, err := s.DB.NoteWiped(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	s.Logger.Info("workstation reported its keys wiped", "device", r.PathValue("id"), "ip", s.clientAddress(r))
	writeJSON(w, http.StatusOK, map[string]any{"deviceId": r.PathValue("id"), "wipedAt": at})
}

// idleLockFor is the idle lock the dashboard set for the device, for its
// login answer and welcome: nil when none is set (or for the dashboard's
// own logins).
func (s *Server) idleLockFor(ctx context.Context, deviceID string) (*int, error) {
	if deviceID == "" {
		return nil, nil
	}
	return s.DB.DeviceIdleLock(ctx, deviceID)
}
