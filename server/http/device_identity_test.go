package http_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"wardsync/internal/wardtest"
	httpserver "wardsync/server/http"
	"wardsync/server/postgres"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// claimWithKey registers a workstation and claims it with its one-time
// code and a fresh device key, as a workstation of protocol 2 does.
func claimWithKey(t *testing.T, env *wardtest.Server, name string, roles ...workflow.Role) (string, ed25519.PrivateKey) {
	t.Helper()
	id := env.AddDevice(t, name, roles...)
	code, _, err := env.DB.IssueRegistrationCode(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	pub, priv := syncproto.NewKey()
	if st, out := wardtest.PostJSON(t, env.URL()+"/api/v1/devices/claim", "", map[string]any{"deviceId": id, "code": code, "publicKey": []byte(pub)}); st != 200 {
		t.Fatalf("claim: %d %v", st, out)
	}
	return id, priv
}

func nonce(t *testing.T, env *wardtest.Server) string {
	t.Helper()
	st, out := wardtest.PostJSON(t, env.URL()+"/api/v1/auth/challenge", "", map[string]any{})
	n, _ := out["nonce"].(string)
	if st != 200 || n == "" {
		t.Fatalf("challenge: %d %v", st, out)
	}
	return n
}

func wantRefused(t *testing.T, what string, st int, out map[string]any, status int, msg string) {
	t.Helper()
	if st != status || out["code"] != string(workflow.CodeUnauthenticated) || out["message"] != msg {
		t.Errorf("%s: %d %v, want %d UNAUTHENTICATED %q", what, st, out, status, msg)
	}
}

// upgrade tries /sync with headers and returns the status and the
// refusal's JSON (nil when upgraded).
func upgrade(t *testing.T, srv *httpserver.Server, h map[string]string) (int, map[string]any) {
	t.Helper()
	hdr := http.Header{}
	for k, v := range h {
		hdr.Set(k, v)
	}
	ws, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL(), "http")+"/sync", hdr)
	if err == nil {
		ws.Close()
		return http.StatusSwitchingProtocols, nil
	}
	if resp == nil {
		t.Fatalf("upgrade: %v", err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestDeviceIdentity: a workstation claimed with a device key must prove
// it holds the key at every login and at the websocket upgrade, and a
// socket also needs a live session's proof; a device id, a nonce or a
// session token alone gets nothing.
func TestDeviceIdentity(t *testing.T) {
	t.Parallel()
	env := wardtest.StartServer(t, wardtest.Options{})
	dev, devKey := claimWithKey(t, env, "Accueil signé", workflow.RoleSecretary)
	_, stranger := syncproto.NewKey()
	url := env.URL() + "/api/v1/auth/login"
	body := func(extra map[string]any) map[string]any {
		b := wardtest.LoginBody("secretary@hospital.com", "secretary123", dev)
		for k, v := range extra {
			b[k] = v
		}
		return b
	}

	// Login: no proof, a nonce never issued, another key's proof.
	st, out := wardtest.PostJSON(t, url, "", body(nil))
	wantRefused(t, "login without device proof", st, out, 401, postgres.MsgNoDeviceProof)
	st, out = wardtest.PostJSON(t, url, "", body(map[string]any{"nonce": "made-up", "deviceProof": syncproto.ProveDevice(devKey, dev, syncproto.PurposeLogin, "made-up")}))
	wantRefused(t, "login with a nonce the server never issued", st, out, 401, postgres.MsgBadNonce)
	n := nonce(t, env)
	st, out = wardtest.PostJSON(t, url, "", body(map[string]any{"nonce": n, "deviceProof": syncproto.ProveDevice(stranger, dev, syncproto.PurposeLogin, n)}))
	wantRefused(t, "login with another key's proof", st, out, 401, postgres.MsgBadDeviceProof)
	// A proof made for a socket does not log in.
	n = nonce(t, env)
	st, out = wardtest.PostJSON(t, url, "", body(map[string]any{"nonce": n, "deviceProof": syncproto.ProveDevice(devKey, dev, syncproto.PurposeSync, n)}))
	wantRefused(t, "login with a socket's proof", st, out, 401, postgres.MsgBadDeviceProof)

	// The right proof logs in, once per nonce.
	pub, priv := syncproto.NewKey()
	n = nonce(t, env)
	good := body(map[string]any{"signKey": []byte(pub), "nonce": n, "deviceProof": syncproto.ProveDevice(devKey, dev, syncproto.PurposeLogin, n)})
	st, out = wardtest.PostJSON(t, url, "", good)
	if st != 200 {
		t.Fatalf("login with the device's proof: %d %v", st, out)
	}
	tok, sid := out["token"].(string), out["sessionId"].(string)
	sk := syncproto.SessionKey{SessionID: sid, Priv: priv}
	st, out = wardtest.PostJSON(t, url, "", good)
	wantRefused(t, "login replaying a proof", st, out, 401, postgres.MsgBadNonce)
	var last *string
	if err := env.DB.Pool.QueryRow(context.Background(), `SELECT last_proof_at::text FROM sync.device_key_state WHERE device_id = $1`, dev).Scan(&last); err != nil || last == nil {
		t.Errorf("the device's last proof was not recorded: %v %v", last, err)
	}

	// The upgrade: the session token alone, no device proof, another
	// key's device proof, another session's proof, a replayed nonce.
	st, out = upgrade(t, env.HTTP, map[string]string{"Authorization": "Bearer " + tok})
	wantRefused(t, "socket with the token alone", st, out, 401, httpserver.MsgBearerSocket)
	n = nonce(t, env)
	h := syncproto.UpgradeHeaders(dev, nil, sk, n)
	st, out = upgrade(t, env.HTTP, h)
	wantRefused(t, "socket without device proof", st, out, 401, postgres.MsgNoDeviceProof)
	n = nonce(t, env)
	st, out = upgrade(t, env.HTTP, syncproto.UpgradeHeaders(dev, stranger, sk, n))
	wantRefused(t, "socket with another key's device proof", st, out, 401, postgres.MsgBadDeviceProof)
	n = nonce(t, env)
	st, out = upgrade(t, env.HTTP, syncproto.UpgradeHeaders(dev, devKey, syncproto.SessionKey{SessionID: sid, Priv: stranger}, n))
	wantRefused(t, "socket with a wrong session proof", st, out, 401, postgres.MsgBadSessionProof)
	n = nonce(t, env)
	h = syncproto.UpgradeHeaders(dev, devKey, sk, n)
	if st, out = upgrade(t, env.HTTP, h); st != http.StatusSwitchingProtocols {
		t.Fatalf("socket with both proofs: %d %v", st, out)
	}
	st, out = upgrade(t, env.HTTP, h)
	wantRefused(t, "socket replaying its headers", st, out, 401, postgres.MsgBadNonce)

	// A workstation registered with a one-time code and never claimed:
	// its id, read off the dashboard, gets no session.
	fresh, _, _, err := env.DB.RegisterDevice(context.Background(), "Labo jamais réclamé", []workflow.Role{workflow.RoleBiologist})
	if err != nil {
		t.Fatal(err)
	}
	st, out = wardtest.PostJSON(t, url, "", wardtest.LoginBody("biologist@hospital.com", "biologist123", fresh.ID))
	wantRefused(t, "login on an unclaimed workstation", st, out, 401,
		`Workstation "Labo jamais réclamé" has not been claimed with its one-time registration code yet; enter the code on the workstation first (an administrator issues it on the dashboard).`)

	// With RequireDeviceKey, a workstation never claimed with a key (its
	// id alone) gets no session.
	strict := wardtest.StartServer(t, wardtest.Options{Config: func(c *postgres.Config) { c.RequireDeviceKey = true }})
	st, out = wardtest.PostJSON(t, strict.URL()+"/api/v1/auth/login", "", wardtest.LoginBody("secretary@hospital.com", "secretary123", demo))
	wantRefused(t, "login on a keyless workstation", st, out, 401,
		`Workstation "Demo workstation" has no device key: claim it again with a new one-time code (an administrator issues one on the dashboard).`)
}
