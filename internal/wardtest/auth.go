package wardtest

import (
	"bytes"
	"cmp"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"sync"
	"testing"

	"wardsync/syncproto"
	"wardsync/workflow"
)

// logins are the tests' sessions by token and by session id: the user is
// an act's author id, and Author swaps a token for its session id.
var logins sync.Map // string → login

type login struct{ user, sid string }

// keys are the signing keys of the tests' sessions, by token and by id.
var keys syncproto.Keyring

// pending are the private halves of the signing keys LoginBody made, by
// public key, until a login's answer names their session.
var pending sync.Map

// Login logs role's seeded user in on device ("" for the dashboard) and
// returns the session token.
func (s *Server) Login(tb testing.TB, role workflow.Role, device string) string {
	tb.Helper()
	return LoginAs(tb, s.URL(), Email(role), Password(role), device)
}

// LoginAs logs email in at the server at base URL and returns the token.
func LoginAs(tb testing.TB, baseURL, email, password, device string) string {
	tb.Helper()
	tok, err := TryLogin(http.DefaultClient, baseURL, email, password, device)
	check(tb, err)
	return tok
}

// TryLogin is LoginAs for goroutines and benchmarks: it says why instead
// of failing the test.
func TryLogin(client *http.Client, baseURL, email, password, device string) (string, error) {
	st, out, _, err := PostLogin(client, baseURL, LoginBody(email, password, device), nil)
	tok, _ := out["token"].(string)
	if err == nil && (st != http.StatusOK || tok == "") {
		err = fmt.Errorf("login %s on %q: %d %v", email, device, st, out)
	}
	return tok, err
}

// PostLogin posts body (LoginBody's, or whatever a test sends) to the login
// with the headers h, keeps the session it opens (its user and signing key)
// and returns the status, the JSON answer and its headers.
func PostLogin(client *http.Client, baseURL string, body any, h http.Header) (int, map[string]any, http.Header, error) {
	resp, raw, err := send(client, http.MethodPost, baseURL+"/api/v1/auth/login", "", body, h)
	if err != nil {
		return 0, nil, nil, err
	}
	out, err := jsonObject(raw)
	if err != nil {
		return resp.StatusCode, nil, resp.Header, fmt.Errorf("login answer %d: %w", resp.StatusCode, err)
	}
	if b, ok := body.(map[string]any); ok {
		remember(b, out)
	}
	return resp.StatusCode, out, resp.Header, nil
}

// LoginBody is what a workstation posts to /api/v1/auth/login: with a
// fresh session signing key when it names a device, kept once the answer
// names its session.
func LoginBody(email, password, device string) map[string]any {
	b := map[string]any{"email": email, "password": password, "deviceId": device}
	if device != "" {
		pub, priv := syncproto.NewKey()
		pending.Store(string(pub), priv)
		b["signKey"] = []byte(pub)
	}
	return b
}

// remember keeps what the login answer out says of the request body req:
// its user, for the acts' author id, and its session signing key.
func remember(req, out map[string]any) {
	tok, _ := out["token"].(string)
	sid, _ := out["sessionId"].(string)
	if u, ok := out["user"].(map[string]any); ok && tok != "" {
		id, _ := u["id"].(string)
		logins.Store(tok, login{id, sid})
		if sid != "" {
			logins.Store(sid, login{id, sid})
		}
	}
	if pub, ok := req["signKey"].([]byte); ok && tok != "" && sid != "" {
		if priv, ok := pending.LoadAndDelete(string(pub)); ok {
			k := syncproto.SessionKey{SessionID: sid, Priv: priv.(ed25519.PrivateKey)}
			keys.Put(tok, k)
			keys.Put(sid, k)
		}
	}
}

// bearer sets the header of a request made with token ("" sets none).
func bearer(h http.Header, token string) {
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
}

// Author sets muts' author id, chains them and signs them with their
// sessions' keys, as an honest workstation would. An act whose session no
// login of the tests opened is left unsigned (the server refuses it).
func Author(chain *syncproto.Chainer, muts []syncproto.Mutation) error {
	for i := range muts {
		if muts[i].AuthorID == "" {
			muts[i].AuthorID = AuthorOf(muts[i].SessionID)
		}
	}
	if err := chain.Link(muts); err != nil {
		return err
	}
	signAll(muts)
	return nil
}

// signAll signs each act whose session (its token or id) a test login
// opened; one of a session without a key (a dashboard's) gets the
// session's id, unsigned.
func signAll(muts []syncproto.Mutation) {
	for i := range muts {
		if k, ok := keys.Get(muts[i].SessionID); ok {
			syncproto.SignAct(k.Priv, k.SessionID, &muts[i])
		} else if l, ok := logins.Load(muts[i].SessionID); ok && l.(login).sid != "" {
			muts[i].SessionID = l.(login).sid
		}
	}
}

// SessionKeyOf is the signing key of the session a token or session id
// names, for tests that sign acts by hand.
func SessionKeyOf(token string) (syncproto.SessionKey, bool) { return keys.Get(token) }

// AuthorOf is the user of the session a token or session id names (a
// stand-in for one no login issued: the server refuses the act).
func AuthorOf(token string) string {
	if l, ok := logins.Load(token); ok && l.(login).user != "" {
		return l.(login).user
	}
	return "unknown-author"
}

// PostJSON posts v with token and decodes the JSON object it answers.
func PostJSON(tb testing.TB, url, token string, v any) (int, map[string]any) {
	tb.Helper()
	return CallJSON(tb, nil, http.MethodPost, url, token, v)
}

// Call sends a request (see send) and returns the status and the answer.
func Call(tb testing.TB, client *http.Client, method, url, token string, body any) (int, []byte) {
	tb.Helper()
	resp, b, err := send(client, method, url, token, body, nil)
	check(tb, err)
	return resp.StatusCode, b
}

// CallJSON is Call decoding the JSON object answered (nil when empty).
func CallJSON(tb testing.TB, client *http.Client, method, url, token string, body any) (int, map[string]any) {
	tb.Helper()
	st, raw := Call(tb, client, method, url, token, body)
	out, err := jsonObject(raw)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, url, err)
	}
	return st, out
}

// send is every HTTP request of the tests: body as JSON (nil: none), with
// token and the headers h, through client (nil: the default one).
func send(client *http.Client, method, url, token string, body any, h http.Header) (*http.Response, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(MustJSON(body))
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return nil, nil, err
	}
	maps.Copy(req.Header, h)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	bearer(req.Header, token)
	resp, err := cmp.Or(client, http.DefaultClient).Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b, nil
}

// jsonObject decodes an answer's JSON object (nil when empty).
func jsonObject(raw []byte) (map[string]any, error) {
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil && len(raw) > 0 {
		return nil, fmt.Errorf("the answer is not a JSON object (%v): %s", err, raw)
	}
	return out, nil
}
