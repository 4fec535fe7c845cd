package workflow

import "time"

// Account rules: who may log in where, and for how long. The server's
// adapters enforce them with SQL around; the rules themselves are written
// once, here.

// Password length bounds, in bytes. bcrypt reads only the first 72 bytes,
// so a longer password would silently accept anything sharing its start.
const (
	MinPasswordLength = 6
	MaxPasswordLength = 72
)

// CheckPassword refuses a new password outside the policy.
func CheckPassword(password string) error {
	if len(password) < MinPasswordLength || len(password) > MaxPasswordLength {
		return &Rejection{Code: CodeValidationFailed, Field: "password",
			Message: "A password needs 6 to 72 characters."}
	}
	return nil
}

// DashboardRole is the only role that may use the admin dashboard and its
// API: the dashboard manages accounts and workstations, which is no
// clinical role's work.
const DashboardRole = RoleAdmin

// MayUseDashboard reports whether a user of role may open the dashboard.
func MayUseDashboard(role Role) bool { return role == DashboardRole }

// ErrLastAdmin refuses a change that would leave no enabled administrator:
// nobody could then manage accounts or register workstations.
var ErrLastAdmin = Reject(CodeForbidden, "This is the last enabled ADMIN account; create or enable another administrator first.")

// KeepsAnAdmin refuses to demote or disable a user who is an enabled
// ADMIN when otherAdmins (the enabled ADMIN users besides them) is zero.
func KeepsAnAdmin(role Role, enabled bool, otherAdmins int64) error {
	if role == RoleAdmin && enabled && otherAdmins == 0 {
		return ErrLastAdmin
	}
	return nil
}

// Serves reports whether a workstation registered for roles may be used
// by a user of role: a workstation holds only the data its services need,
// so another service's user would work on a replica that lacks theirs.
func Serves(roles []Role, role Role) bool { return contains(roles, role) }

// OfflineWindow is how long a login may author acts: the server's session
// lifetime, and the workstation's bound on offline work when the server's
// answer names no expiry. One value, so that a workstation never queues
// acts the server will refuse as authored by an expired session.
const OfflineWindow = 7 * 24 * time.Hour

// Bounds of the idle lock an administrator may set for a workstation, in
// minutes; 0 turns it off.
const (
	IdleLockMinMinutes = 1
	IdleLockMaxMinutes = 120
)

// CheckIdleLock refuses an idle lock outside the bounds a ward can live
// with: off (0), or 1 to 120 minutes.
func CheckIdleLock(minutes int) error {
	if minutes == 0 || (minutes >= IdleLockMinMinutes && minutes <= IdleLockMaxMinutes) {
		return nil
	}
	r := Reject(CodeValidationFailed,
		"The idle lock must be between %d and %d minutes, or 0 to turn it off; %d is not.",
		IdleLockMinMinutes, IdleLockMaxMinutes, minutes)
	r.Field = "minutes"
	return r
}
