package http

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"wardsync/server/postgres"
)

// healthSetting names the dashboard's override of the health thresholds in
// sync.settings.
const healthSetting = "health_thresholds"

// healthSettingJSON is the thresholds as an administrator reads and sets
// them: whole minutes.
type healthSettingJSON struct {
	LateUnseenMinutes  int `json:"lateUnseenMinutes"`
	LatePendingMinutes int `json:"latePendingMinutes"`
	StalledMinutes     int `json:"stalledMinutes"`
}

func (h healthSettingJSON) thresholds() Thresholds {
	return Thresholds{LateUnseen: time.Duration(h.LateUnseenMinutes) * time.Minute,
		LatePending: time.Duration(h.LatePendingMinutes) * time.Minute, Stalled: time.Duration(h.StalledMinutes) * time.Minute}
}

func minutesOf(t Thresholds) healthSettingJSON {
	return healthSettingJSON{int(t.LateUnseen / time.Minute), int(t.LatePending / time.Minute), int(t.Stalled / time.Minute)}
}

// SetHealthThresholds sets the thresholds the server's flags give (serve
// -health-late-unseen, -health-late-pending, -health-stalled). A setting an
// administrator saved on the dashboard takes precedence.
func (s *Server) SetHealthThresholds(th Thresholds) error {
	if err := th.Check(); err != nil {
		return err
	}
	a := s.admin()
	a.mu.Lock()
	a.health = th
	a.mu.Unlock()
	return nil
}

func (a *adminState) flagThresholds() Thresholds {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.health
}

// healthThresholds returns the thresholds in force and where they come
// from: "dashboard" when an administrator set them, else "flags".
func (s *Server) healthThresholds(ctx context.Context) (Thresholds, string, error) {
	set, err := s.DB.Setting(ctx, healthSetting)
	if err != nil {
		return Thresholds{}, "", err
	}
	if set != nil {
		var v healthSettingJSON
		if json.Unmarshal(set.Value, &v) == nil && v.thresholds().Check() == nil {
			return v.thresholds(), "dashboard", nil
		}
		s.Logger.Warn("the dashboard's health thresholds are unreadable; using the flags'", "value", string(set.Value))
	}
	return s.admin().flagThresholds(), "flags", nil
}

type healthSettingsReply struct {
	healthSettingJSON
	Source string            `json:"source"`
	Flags  healthSettingJSON `json:"flags"`
}

func (s *Server) healthReply(ctx context.Context) (*healthSettingsReply, error) {
	th, source, err := s.healthThresholds(ctx)
	if err != nil {
		return nil, err
	}
	return &healthSettingsReply{minutesOf(th), source, minutesOf(s.admin().flagThresholds())}, nil
}

// handleHealthSettings answers GET /api/v1/admin/settings/health.
func (s *Server) handleHealthSettings(w http.ResponseWriter, r *http.Request, _ *postgres.Session) {
	rep, err := s.healthReply(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// handleSetHealthSettings answers PUT /api/v1/admin/settings/health: the
// thresholds in whole minutes, checked, stored for every instance.
func (s *Server) handleSetHealthSettings(w http.ResponseWriter, r *http.Request, sess *postgres.Session) {
	var v healthSettingJSON
	if err := decodeJSON(w, r, &v); err != nil {
		writeError(w, err)
		return
	}
	if err := v.thresholds().Check(); err != nil {
		writeError(w, err)
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := s.DB.SetSetting(r.Context(), healthSetting, b, sess.UserID); err != nil {
		writeError(w, err)
		return
	}
	s.Logger.Info("admin: health thresholds set", "admin", sess.UserID, "value", string(b))
	s.healthSettingsChanged(w, r)
}

// handleResetHealthSettings answers DELETE /api/v1/admin/settings/health:
// the server's flags hold again.
func (s *Server) handleResetHealthSettings(w http.ResponseWriter, r *http.Request, sess *postgres.Session) {
	if err := s.DB.ClearSetting(r.Context(), healthSetting); err != nil {
		writeError(w, err)
		return
	}
	s.Logger.Info("admin: health thresholds reset to the flags'", "admin", sess.UserID)
	s.healthSettingsChanged(w, r)
}

func (s *Server) healthSettingsChanged(w http.ResponseWriter, r *http.Request) {
	rep, err := s.healthReply(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}
