package http

import (
	"context"
	"net/http"
	"time"
)

// replicaKeyFor is the escrowed data key of a workstation's replica, given
// in the answer to a successful login on that (registered, unrevoked)
// workstation: the login itself checked the device. nil for the dashboard's
// logins and when the server escrows no keys.
func (s *Server) replicaKeyFor(ctx context.Context, deviceID string) ([]byte, error) {
	if deviceID == "" || !s.DB.Escrows() {
		return nil, nil
	}
	return s.DB.ReplicaKey(ctx, deviceID)
}

type standingJSON struct {
	DeviceID  string     `json:"deviceId"`
	Revoked   bool       `json:"revoked"`
	RevokedAt *time.Time `json:"revokedAt,omitempty"`
}

// handleDeviceStanding tells a workstation whether it was revoked. A
// refused workstation asks, to tell a revocation (which makes it wipe its
// keys) from any other refusal. It needs no session (a revoked device has
// none left) and tells nothing but that.
func (s *Server) handleDeviceStanding(w http.ResponseWriter, r *http.Request) {
	d, err := s.DB.Device(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	if d.RevokedAt != nil {
		// From this answer on, the workstation knows and wipes: the
		// dashboard shows when it was told.
		if err := s.DB.NoteToldRevoked(r.Context(), d.ID); err != nil {
			s.Logger.Warn("note told revoked", "device", d.ID, "err", err)
		}
	}
	writeJSON(w, http.StatusOK, standingJSON{DeviceID: d.ID, Revoked: d.RevokedAt != nil, RevokedAt: d.RevokedAt})
}
