package desktop

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"wardsync/desktop/remote"
	"wardsync/workflow"
)

// Person is a user as a picker lists them.
type Person struct {
	ID   string        `json:"id"`
	Name string        `json:"name"`
	Role workflow.Role `json:"role"`
}

// Staff lists the replicated users of a role, by name (the doctors an
// appointment is booked with). It answers offline.
func (e *Engine) Staff(ctx context.Context, role workflow.Role) ([]Person, error) {
	if !role.Valid() {
		return nil, &workflow.Rejection{Code: workflow.CodeValidationFailed, Field: "role",
			Message: fmt.Sprintf("%q is not a role.", string(role))}
	}
	users, err := e.db.UsersByRole(ctx, role)
	if err != nil {
		return nil, err
	}
	out := make([]Person, len(users))
	for i, u := range users {
		out[i] = Person{ID: u.ID, Name: u.Name, Role: u.Role}
	}
	return out, nil
}

// Registration is what the server answers a workstation that redeemed its
// one-time registration code.
type Registration = remote.Registration

// ClaimDevice redeems the one-time code an administrator was given when
// registering this workstation (its device id) on the dashboard. It is the
// first-start setup's online step; the engine itself is then opened with
// that device id.
func ClaimDevice(ctx context.Context, client *http.Client, serverURL, deviceID, code string) (*Registration, error) {
	if client == nil {
		client = &http.Client{Timeout: 15 * time.Second}
	}
	return remote.Claim(ctx, client, serverURL, deviceID, code)
}
