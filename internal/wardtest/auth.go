package wardtest

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"wardsync/syncproto"
	"wardsync/workflow"
)

// This file is every credential tests present: the login (with the
// session signing key a workstation of protocol 2 sends), the websocket
// handshake's header and an act's authorship and signature.

// sessions maps each token and session id a test logged in to its user
// id, the author id a workstation hashes into its acts.
var sessions sync.Map

// keys are the session signing keys of the tests' logins, by token and by
// session id: a test names an act's session by the token its login
// returned (SessionID: tok), and Author swaps in the session id and signs,
// as a workstation would.
var keys syncproto.Keyring

// sessionIDs are the session ids of the tests' logins, by token (a
// dashboard login has one too, and no signing key).
var sessionIDs sync.Map

// pending are the private halves of the signing keys LoginBody made, by
// public key, until the login's answer names their session.
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
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// TryLogin is LoginAs for goroutines and benchmarks: it says why instead
// of failing the test.
func TryLogin(client *http.Client, baseURL, email, password, device string) (string, error) {
	req := LoginBody(email, password, device)
	b, _ := json.Marshal(req)
	resp, err := client.Post(baseURL+"/api/v1/auth/login", "application/json", bytes.NewReader(b))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(body, &out); err != nil || resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("login %s on %q: %d %s", email, device, resp.StatusCode, body)
	}
	tok := RememberLogin(req, out)
	if tok == "" {
		return "", fmt.Errorf("login %s on %q: no token in %s", email, device, body)
	}
	return tok, nil
}

// LoginBody is what a workstation posts to /api/v1/auth/login: with a
// fresh session signing key when it names a device. RememberLogin keeps
// the key once the answer names its session.
func LoginBody(email, password, device string) map[string]any {
	b := map[string]any{"email": email, "password": password, "deviceId": device}
	if device != "" {
		pub, priv := syncproto.NewKey()
		pending.Store(string(pub), priv)
		b["signKey"] = []byte(pub)
	}
	return b
}

// RememberLogin keeps what the login answer out says of the request body
// req (from LoginBody): its user, for the acts' author id, and its session
// signing key. It returns the answer's token.
func RememberLogin(req, out map[string]any) string {
	tok, _ := out["token"].(string)
	sid, _ := out["sessionId"].(string)
	if u, ok := out["user"].(map[string]any); ok && tok != "" {
		id, _ := u["id"].(string)
		RecordSession(tok, id)
		if sid != "" {
			RecordSession(sid, id)
			sessionIDs.Store(tok, sid)
		}
	}
	if pub, ok := req["signKey"].([]byte); ok && tok != "" && sid != "" {
		if priv, ok := pending.LoadAndDelete(string(pub)); ok {
			k := syncproto.SessionKey{SessionID: sid, Priv: priv.(ed25519.PrivateKey)}
			keys.Put(tok, k)
			keys.Put(sid, k)
		}
	}
	return tok
}

// Bearer sets the header of a request made with token ("" sets none).
func Bearer(h http.Header, token string) {
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
}

// withAuthor names token's session as m's author.
func withAuthor(m syncproto.Mutation, token string) syncproto.Mutation {
	m.SessionID = token
	return m
}

// Author sets muts' author id, chains them and signs them with their
// sessions' keys, as an honest workstation would. An act whose session no
// login of the tests opened is left unsigned (the server refuses it).
func Author(chain *syncproto.Chainer, muts []syncproto.Mutation) error {
	for i := range muts {
		if muts[i].AuthorID == "" {
			muts[i].AuthorID = authorOf(muts[i].SessionID)
		}
	}
	if err := chain.Link(muts); err != nil {
		return err
	}
	SignAll(muts)
	return nil
}

// SignAll signs each of muts whose session (named by its token or id) a
// test login opened, over its hash as it stands; an act of a session
// without a key (a dashboard login) gets that session's id, unsigned.
func SignAll(muts []syncproto.Mutation) {
	for i := range muts {
		if k, ok := keys.Get(muts[i].SessionID); ok {
			syncproto.SignAct(k.Priv, k.SessionID, &muts[i])
		} else if sid, ok := sessionIDs.Load(muts[i].SessionID); ok {
			muts[i].SessionID = sid.(string)
		}
	}
}

// SessionKeyOf is the signing key of the session a token or session id
// names, for tests that sign acts by hand.
func SessionKeyOf(token string) (syncproto.SessionKey, bool) { return keys.Get(token) }

// AuthorOf is the user id of the session a token or session id names.
func AuthorOf(token string) string { return authorOf(token) }

// RecordSession remembers the user of a token a test got by a login of
// its own, so that the acts it authors carry that user.
func RecordSession(token, userID string) { sessions.Store(token, userID) }

// authorOf is the user of the session a token or session id names, or a
// stand-in for one no login issued (the server refuses the act
// UNAUTHENTICATED anyway).
func authorOf(token string) string {
	if id, ok := sessions.Load(token); ok && id.(string) != "" {
		return id.(string)
	}
	return "unknown-author"
}

// PostJSON posts v with token and decodes the JSON object it answers.
func PostJSON(tb testing.TB, url, token string, v any) (int, map[string]any) {
	tb.Helper()
	b, _ := json.Marshal(v)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	Bearer(req.Header, token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(body, &out); err != nil {
		tb.Fatalf("POST %s: answer is not JSON (%v): %s", url, err, body)
	}
	return resp.StatusCode, out
}
