package wardtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"wardsync/syncproto"
	"wardsync/workflow"
)

// This file is every credential tests present: the login, the websocket
// handshake's header and an act's authorship.

// sessions maps each token a test logged in to its user id, the author id
// a workstation hashes into its acts.
var sessions sync.Map

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
	b, _ := json.Marshal(LoginBody(email, password, device))
	resp, err := client.Post(baseURL+"/api/v1/auth/login", "application/json", bytes.NewReader(b))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out struct {
		Token string `json:"token"`
		User  struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	if err := json.Unmarshal(body, &out); err != nil || resp.StatusCode != http.StatusOK || out.Token == "" {
		return "", fmt.Errorf("login %s on %q: %d %s", email, device, resp.StatusCode, body)
	}
	RecordSession(out.Token, out.User.ID)
	return out.Token, nil
}

// LoginBody is what a workstation posts to /api/v1/auth/login.
func LoginBody(email, password, device string) map[string]string {
	return map[string]string{"email": email, "password": password, "deviceId": device}
}

// Bearer sets the header of a request made with token ("" sets none).
func Bearer(h http.Header, token string) {
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
}

// withAuthor names token's session as m's author.
func withAuthor(m syncproto.Mutation, token string) syncproto.Mutation {
	m.AuthorToken = token
	return m
}

// Author signs muts with token's session as an honest workstation would:
// the author id, then the chain links.
func Author(chain *syncproto.Chainer, muts []syncproto.Mutation) error {
	for i := range muts {
		if muts[i].AuthorID == "" {
			muts[i].AuthorID = authorOf(muts[i].AuthorToken)
		}
	}
	return chain.Link(muts)
}

// RecordSession remembers the user of a token a test got by a login of
// its own, so that the acts it authors carry that user.
func RecordSession(token, userID string) { sessions.Store(token, userID) }

// authorOf is the user of token's session, or a stand-in for a token no
// login issued (the server refuses the act UNAUTHENTICATED anyway).
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
