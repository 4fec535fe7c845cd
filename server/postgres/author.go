package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"wardsync/pipeline"
	"wardsync/workflow"
)

type sessionLookup struct {
	s     *sessionRow
	found bool
}

// lookupSession resolves an act's session id, once per push.
func (st *pushStore) lookupSession(ctx context.Context, id string) (*sessionRow, bool, error) {
	if l, ok := st.sessions[id]; ok {
		return l.s, l.found, nil
	}
	s, err := scanSession(st.tx.QueryRow(ctx, sessionByIDQuery, id))
	if errors.Is(err, pgx.ErrNoRows) {
		st.sessions[id] = sessionLookup{}
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	st.sessions[id] = sessionLookup{s: s, found: true}
	return s, true, nil
}

// Author checks that the act names a live session issued on this device
// and is signed with that session's key (syncproto.VerifyAct, the one
// signature check; verifyAct), that it covered the moment the act occurred, that the device serves
// the author's role, and that the act does not claim to come from the future.
func (st *pushStore) Author(ctx context.Context, a *pipeline.Act) (*workflow.Rejection, error) {
	db, m := st.db, a.Mutation
	deviceID, deviceRoles, receivedAt := st.deviceID, st.roles, st.receivedAt
	if m.OccurredAt.After(receivedAt.Add(db.Config.MaxSkew)) {
		return workflow.Reject(workflow.CodeClockSkew, "The act claims to have occurred at %s, more than %s after the server's time %s; check the workstation's clock.",
			m.OccurredAt.UTC().Format(time.RFC3339), db.Config.MaxSkew, receivedAt.Format(time.RFC3339)), nil
	}
	s, found, err := st.lookupSession(ctx, m.SessionID)
	if err != nil {
		return nil, err
	}
	if !found {
		return workflow.Reject(workflow.CodeUnauthenticated, "The act's session is not a session of this server; the author must log in again."), nil
	}
	if s.DeviceID != deviceID {
		return workflow.Reject(workflow.CodeUnauthenticated, "The act's session was issued on another workstation; acts are accepted only from the workstation where the author logged in."), nil
	}
	if rej := verifyAct(ctx, s, deviceID, &m); rej != nil {
		return rej, nil
	}
	// A logged-out session authors nothing more, whatever time its acts
	// claim: a workstation logs out at the server only once the user's
	// queue is empty (desktop.Engine.Logout), so an act arriving after the
	// logout was backdated, or kept back on purpose (docs/protocol.md,
	// "Access that ends").
	if s.revoked != nil && s.endedReason == EndLogout {
		return workflow.Reject(workflow.CodeUnauthenticated, "%s logged out at %s UTC, before this act reached the server; an act that arrives after its author's logout is refused, whatever time it gives.",
			s.UserName, s.revoked.UTC().Format("2006-01-02 15:04:05")), nil
	}
	if s.revoked != nil && s.endedReason != EndExpired && s.endedReason != EndIdle && s.revoked.Before(m.OccurredAt) {
		return s.check(m.OccurredAt, 0), nil
	}
	if s.disabled != nil || s.deviceRevoked != nil {
		return s.check(receivedAt, 0), nil
	}
	// Offline authoring: the act must fall inside the session's window. A
	// little slack before issue absorbs a workstation clock slightly behind.
	if m.OccurredAt.Before(s.IssuedAt.Add(-db.Config.MaxSkew)) {
		return workflow.Reject(workflow.CodeUnauthenticated, "The act occurred at %s, before %s logged in at %s.",
			m.OccurredAt.UTC().Format("2006-01-02 15:04"), s.UserName, s.IssuedAt.UTC().Format("2006-01-02 15:04")), nil
	}
	if m.OccurredAt.After(s.ExpiresAt) {
		return workflow.Reject(workflow.CodeUnauthenticated, "The act occurred at %s, after the session of %s expired at %s; offline work is accepted for %s after a login.",
			m.OccurredAt.UTC().Format("2006-01-02 15:04"), s.UserName, s.ExpiresAt.UTC().Format("2006-01-02 15:04"), db.Config.SessionTTL), nil
	}
	if !workflow.Serves(deviceRoles, s.Role) {
		return workflow.Reject(workflow.CodeForbidden, "This workstation does not serve the %s role.", s.Role), nil
	}
	a.Actor = s.Actor()
	st.sessionID = s.ID
	return nil, nil
}

// Actor returns the workflow's view of the session's user: who the
// author step says performed an act (here, so that the step reads the
// session in the push's first round trip and needs no other file after).
func (s *Session) Actor() workflow.Actor {
	return workflow.Actor{ID: s.UserID, Name: s.UserName, Role: s.Role}
}
