package app

import (
	"sync"

	"wardsync/desktop"
	"wardsync/workflow"
)

// What the reads return to the UI. Each value carries the role of the
// user it is for, and encodes itself to JSON with desktop.MarshalFor: a
// column that role may not read is left out, so it never crosses the
// binding, whatever the workstation's replica holds. In Go the embedded
// value reads as usual (its hidden fields are zero: the engine's reads
// already cut them).

// DashboardView is the Dashboard as its user may see it.
type DashboardView struct {
	*desktop.Dashboard
	role workflow.Role
}

func (v DashboardView) MarshalJSON() ([]byte, error) { return desktop.MarshalFor(v.role, v.Dashboard) }

// TimelineView is a patient's record as the user may see it.
type TimelineView struct {
	*desktop.Timeline
	role workflow.Role
}

func (v TimelineView) MarshalJSON() ([]byte, error) { return desktop.MarshalFor(v.role, v.Timeline) }

// PatientView is a patient as the user may see them.
type PatientView struct {
	workflow.Patient
	role workflow.Role
}

func (v PatientView) MarshalJSON() ([]byte, error) { return desktop.MarshalFor(v.role, v.Patient) }

// PendingView is a queued act as the user may see it.
type PendingView struct {
	desktop.PendingAct
	role workflow.Role
}

func (v PendingView) MarshalJSON() ([]byte, error) { return desktop.MarshalFor(v.role, v.PendingAct) }

// RejectedView is a rejected act as the user may see it.
type RejectedView struct {
	desktop.RejectedAct
	role workflow.Role
}

func (v RejectedView) MarshalJSON() ([]byte, error) { return desktop.MarshalFor(v.role, v.RejectedAct) }

// patientViews keeps "no result" as nil (JSON null), as the search
// always answered.
func patientViews(role workflow.Role, ps []workflow.Patient) []PatientView {
	if ps == nil {
		return nil
	}
	return viewsFor(role, ps, func(p workflow.Patient, r workflow.Role) PatientView { return PatientView{p, r} })
}

// viewsFor wraps each value of a read in its view for role.
func viewsFor[T, V any](role workflow.Role, xs []T, view func(T, workflow.Role) V) []V {
	out := make([]V, len(xs))
	for i, x := range xs {
		out[i] = view(x, role)
	}
	return out
}

// reader is the user logged in on this window: the last Login, until
// their Logout. The reads that do not name a user are for them.
type reader struct {
	mu     sync.Mutex
	userID string
}

func (r *reader) set(id string) {
	r.mu.Lock()
	r.userID = id
	r.mu.Unlock()
}

func (r *reader) clear(id string) {
	r.mu.Lock()
	if r.userID == id {
		r.userID = ""
	}
	r.mu.Unlock()
}

// MsgLogInFirst refuses a read while nobody is logged in on the window.
const MsgLogInFirst = "Log in first: this workstation shows its records only to a logged-in user, and only what their role may read."

func (a *App) currentUser() (string, error) {
	a.reader.mu.Lock()
	defer a.reader.mu.Unlock()
	if a.reader.userID == "" {
		return "", &workflow.Rejection{Code: workflow.CodeUnauthenticated, Message: MsgLogInFirst}
	}
	return a.reader.userID, nil
}

// engReader returns the engine for one read by the current user, with
// that user's id and the role they read with.
func (a *App) engReader() (*desktop.Engine, string, workflow.Role, error) {
	id, err := a.currentUser()
	if err != nil {
		return nil, "", "", err
	}
	e, role, err := a.engAs(id)
	return e, id, role, err
}

// engAs returns the engine for one read by userID, with the role they
// read with.
func (a *App) engAs(userID string) (*desktop.Engine, workflow.Role, error) {
	e, err := a.eng()
	if err != nil {
		return nil, "", err
	}
	role, err := e.ViewerRole(a.base, userID)
	return e, role, err
}
