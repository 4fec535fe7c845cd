package http_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"testing"

	"wardsync/internal/wardtest"
	"wardsync/server/postgres"
	"wardsync/workflow"
)

var testEscrowKey = []byte("server-escrow-key-of-32-bytes!!!")

func withEscrow() wardtest.Options {
	return wardtest.Options{Config: func(c *postgres.Config) { c.EscrowKey = testEscrowKey }}
}

// loginAnswer is the login's whole answer.
func loginAnswer(t *testing.T, env *wardtest.Server, email, password, device string) (int, map[string]any) {
	t.Helper()
	return wardtest.PostJSON(t, env.URL()+"/api/v1/auth/login", "", wardtest.LoginBody(email, password, device))
}

func replicaKeyOf(t *testing.T, out map[string]any) []byte {
	t.Helper()
	s, ok := out["replicaKey"].(string)
	if !ok {
		return nil
	}
	k, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("replicaKey %q: %v", s, err)
	}
	return k
}

// A workstation's login answer carries its replica's escrowed key: the
// same for every user of the device, another for another device, none for
// the dashboard; stored only sealed; kept through a revocation and given
// again once the device is registered again.
func TestLoginReleasesEscrowedReplicaKey(t *testing.T) {
	env := wardtest.StartServer(t, withEscrow())
	ctx := context.Background()
	code, out := loginAnswer(t, env, "nurse@hospital.com", "nurse123", postgres.DemoDeviceID)
	key := replicaKeyOf(t, out)
	if code != http.StatusOK || len(key) != 32 {
		t.Fatalf("login: %d, key %x", code, key)
	}
	_, out = loginAnswer(t, env, "secretary@hospital.com", "secretary123", postgres.DemoDeviceID)
	if k := replicaKeyOf(t, out); !bytes.Equal(k, key) {
		t.Fatalf("a second user got another key for the same workstation")
	}
	other := "device-escrow-2"
	if _, err := env.DB.AddDevice(ctx, other, "Ward 2", workflow.Roles); err != nil {
		t.Fatal(err)
	}
	_, out = loginAnswer(t, env, "nurse@hospital.com", "nurse123", other)
	otherKey := replicaKeyOf(t, out)
	if len(otherKey) != 32 || bytes.Equal(otherKey, key) {
		t.Fatalf("another workstation's key: %x", otherKey)
	}
	_, out = loginAnswer(t, env, "admin@hospital.com", "admin123", "")
	if _, has := out["replicaKey"]; has {
		t.Fatal("the dashboard's login got a replica key")
	}
	// Sealed at rest.
	var sealed []byte
	if err := env.Pool.QueryRow(ctx, `SELECT sealed FROM sync.device_keys WHERE device_id = $1`, postgres.DemoDeviceID).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, key) {
		t.Fatal("the escrowed key is stored in clear")
	}
	// Revoked: refused, no key; registered again: the same key.
	if err := env.DB.RevokeDevice(ctx, other); err != nil {
		t.Fatal(err)
	}
	code, out = loginAnswer(t, env, "nurse@hospital.com", "nurse123", other)
	if code != http.StatusForbidden || out["replicaKey"] != nil {
		t.Fatalf("revoked: %d %v", code, out)
	}
	if _, err := env.DB.AddDevice(ctx, other, "Ward 2", workflow.Roles); err != nil {
		t.Fatal(err)
	}
	_, out = loginAnswer(t, env, "nurse@hospital.com", "nurse123", other)
	if again := replicaKeyOf(t, out); !bytes.Equal(again, otherKey) {
		t.Fatalf("re-registered: the escrowed key changed")
	}
}

func TestNoEscrowNoReplicaKey(t *testing.T) {
	env := wardtest.StartServer(t, wardtest.Options{})
	code, out := loginAnswer(t, env, "nurse@hospital.com", "nurse123", postgres.DemoDeviceID)
	if _, has := out["replicaKey"]; code != http.StatusOK || has {
		t.Fatalf("login without escrow: %d %v", code, out)
	}
}

func TestDeviceStanding(t *testing.T) {
	env := wardtest.StartServer(t, wardtest.Options{})
	code, out := wardtest.CallJSON(t, nil, http.MethodGet, env.URL()+"/api/v1/devices/"+postgres.DemoDeviceID+"/standing", "", nil)
	if code != http.StatusOK || out["revoked"] != false || out["deviceId"] != postgres.DemoDeviceID {
		t.Fatalf("standing: %d %v", code, out)
	}
	if err := env.DB.RevokeDevice(context.Background(), postgres.DemoDeviceID); err != nil {
		t.Fatal(err)
	}
	code, out = wardtest.CallJSON(t, nil, http.MethodGet, env.URL()+"/api/v1/devices/"+postgres.DemoDeviceID+"/standing", "", nil)
	if code != http.StatusOK || out["revoked"] != true || out["revokedAt"] == nil {
		t.Fatalf("revoked standing: %d %v", code, out)
	}
	code, out = wardtest.CallJSON(t, nil, http.MethodGet, env.URL()+"/api/v1/devices/"+"no-such-device"+"/standing", "", nil)
	if code != http.StatusUnauthorized || out["code"] != "UNAUTHENTICATED" ||
		out["message"] != "Workstation no-such-device is not registered with this server; ask an administrator to register it." {
		t.Fatalf("unknown device: %d %v", code, out)
	}
}
