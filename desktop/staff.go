package desktop

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"net/http"
	"os"
	"time"

	"wardsync/desktop/devicekey"
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
//
// The claim makes the workstation's own key pair (desktop/devicekey) and
// registers its public half; the key is kept at keyPath (DeviceKeyPath)
// once the server accepted it, replacing any earlier one.
func ClaimDevice(ctx context.Context, client *http.Client, serverURL, deviceID, code, keyPath string) (*Registration, error) {
	if client == nil {
		client = &http.Client{Timeout: 15 * time.Second}
	}
	pending := keyPath + ".new"
	pub, err := devicekey.Create(pending)
	if err != nil {
		return nil, err
	}
	reg, err := remote.Claim(ctx, client, serverURL, deviceID, code, pub)
	if err != nil {
		os.Remove(pending)
		return nil, err
	}
	if err := os.Rename(pending, keyPath); err != nil {
		return nil, fmt.Errorf("desktop: keep the device key: %w", err)
	}
	return reg, nil
}

// DeviceKeyPath is where the workstation of cfg keeps its device key:
// cfg.DeviceKeyFile, or beside the replica.
func DeviceKeyPath(cfg Config) string {
	if cfg.DeviceKeyFile != "" {
		return cfg.DeviceKeyFile
	}
	return cfg.DBPath + ".device"
}

// DeviceKeyPath is where this workstation keeps its device key.
func (e *Engine) DeviceKeyPath() string { return e.cfg.DeviceKeyFile }

// deviceKey is the workstation's own key, nil when it was claimed before
// device keys (the server then accepts it without proof unless it
// requires one).
func (e *Engine) deviceKey() ed25519.PrivateKey {
	k, err := devicekey.Load(e.cfg.DeviceKeyFile)
	if err != nil {
		e.log.Warn("the device key cannot be read; logging in without it", "err", err)
	}
	return k
}
