package remote

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/http"

	"wardsync/workflow"
)

// Registration is the server's answer to a redeemed registration code.
type Registration struct {
	ID    string          `json:"id"`
	Name  string          `json:"name"`
	Roles []workflow.Role `json:"roles"`
}

// Claim trades a workstation's id and one-time registration code for its
// name and roles (POST /api/v1/devices/claim), registering publicKey, the
// public half of the workstation's own key (devicekey.Create).
func Claim(ctx context.Context, client *http.Client, serverURL, deviceID, code string, publicKey ed25519.PublicKey) (*Registration, error) {
	body, err := json.Marshal(map[string]any{"deviceId": deviceID, "code": code, "publicKey": []byte(publicKey)})
	if err != nil {
		return nil, err
	}
	var out Registration
	if err := call(ctx, client, serverURL, "/api/v1/devices/claim", "", body, &out); err != nil {
		return nil, err
	}
	if out.ID == "" {
		return nil, fmt.Errorf("remote: claim answer lacks the device id")
	}
	return &out, nil
}
