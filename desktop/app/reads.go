package app

import (
	"sync"

	"wardsync/desktop"
	"wardsync/workflow"
)

// View is what a read returns to the UI: a value with the role of the
// user it is for. It encodes itself to JSON with desktop.MarshalFor, so a
// column that role may not read is left out and never crosses the
// binding, whatever the workstation's replica holds. In Go, Value reads
// as usual (its hidden fields are zero: the engine's reads already cut
// them). One generic type serves every read, so no read can forget the
// role's cut.
type View[T any] struct {
	Value T
	role  workflow.Role
}

func (v View[T]) MarshalJSON() ([]byte, error) { return desktop.MarshalFor(v.role, v.Value) }

// patientViews keeps "no result" as nil (JSON null), as the search
// always answered.
func patientViews(role workflow.Role, ps []workflow.Patient) []View[workflow.Patient] {
	if ps == nil {
		return nil
	}
	return viewsFor(role, ps)
}

// viewsFor wraps each value of a read in its view for role.
func viewsFor[T any](role workflow.Role, xs []T) []View[T] {
	out := make([]View[T], len(xs))
	for i, x := range xs {
		out[i] = View[T]{x, role}
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
