package syncproto

import (
	"time"

	"wardsync/workflow"
)

// The login exchange over HTTP (POST /api/v1/auth/login, docs/protocol.md):
// the server writes this answer and the workstation reads it, so it is
// written once, here, beside the frames.

// LoginAnswer is the server's answer to a successful login.
type LoginAnswer struct {
	Token string `json:"token"`
	// SessionID is the session this workstation's acts name, signed with
	// the private half of the key given at login (protocol 2).
	SessionID string    `json:"sessionId"`
	User      LoginUser `json:"user"`
	ExpiresAt time.Time `json:"expiresAt"`
	// ReplicaKey is the data key the server escrows for the device's
	// encrypted replica (nil when the server keeps none; only a
	// workstation's login gets it): what a workstation needs to open its
	// replica for a user who has no key slot there yet.
	ReplicaKey []byte `json:"replicaKey,omitempty"`
	// IdleLockSet and IdleLockMinutes: the idle lock set on the dashboard
	// for the workstation, as in Welcome.
	IdleLockSet     bool `json:"idleLockSet,omitempty"`
	IdleLockMinutes int  `json:"idleLockMinutes,omitempty"`
}

// LoginUser is the user a login answer names.
type LoginUser struct {
	ID   string        `json:"id"`
	Name string        `json:"name"`
	Role workflow.Role `json:"role"`
}

// SetIdleLock puts the dashboard's idle lock (nil: none set) in the answer.
func (a *LoginAnswer) SetIdleLock(minutes *int) {
	a.IdleLockSet, a.IdleLockMinutes = idleLockFields(minutes)
}

// IdleLock is the dashboard's idle lock the answer carries, nil for none.
func (a *LoginAnswer) IdleLock() *int { return idleLock(a.IdleLockSet, a.IdleLockMinutes) }

// idleLockFields is how a welcome or a login answer carries the
// dashboard's idle lock: set, and its minutes (0: never).
func idleLockFields(minutes *int) (set bool, m int) {
	if minutes == nil {
		return false, 0
	}
	return true, *minutes
}

// idleLock reads the fields idleLockFields wrote back: nil for none set.
func idleLock(set bool, minutes int) *int {
	if !set {
		return nil
	}
	return &minutes
}
