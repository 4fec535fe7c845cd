// Package remote is the workstation's side of the wire: the HTTP login and
// logout calls and the /sync websocket speaking syncproto's frames. It
// knows nothing of SQLite or of the sync loop; the engine in package
// desktop drives it.
package remote

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"wardsync/syncproto"

	"wardsync/workflow"
)

// HTTPError is a refusal the server answered with: a status and the
// server's {code, message}. errors.As finds the *workflow.Rejection in it.
type HTTPError struct {
	Status    int
	Rejection *workflow.Rejection
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("server answered %d: %s", e.Status, e.Rejection.Error())
}

func (e *HTTPError) Unwrap() error { return e.Rejection }

// Unreachable reports whether err means the server could not be asked
// (network down, timeout, the server failing with a 5xx) rather than that
// it refused: only then may a workstation fall back to working offline.
func Unreachable(err error) bool {
	if err == nil {
		return false
	}
	var he *HTTPError
	if errors.As(err, &he) {
		return he.Status >= 500
	}
	return !errors.Is(err, context.Canceled)
}

// RateLimited reports whether the server refused for its login limits
// alone (429 RATE_LIMITED): it did not judge the password, so a workstation
// may check it offline instead.
func RateLimited(err error) bool {
	var he *HTTPError
	return errors.As(err, &he) && (he.Status == http.StatusTooManyRequests || he.Rejection.Code == workflow.CodeRateLimited)
}

// LoginResult is the server's answer to a successful login.
type LoginResult = syncproto.LoginAnswer

// User is a user as the login answer names it.
type User = syncproto.LoginUser

// Login asks the server for a session of the user on this device, whose
// acts signKey (the public half of a key made for this login, see
// syncproto.NewKey) will verify.
//
// deviceKey, the workstation's own key (nil for one claimed before device
// keys), proves over a fresh challenge that this is the claimed
// workstation.
func Login(ctx context.Context, client *http.Client, serverURL, email, password, deviceID string, signKey ed25519.PublicKey, deviceKey ed25519.PrivateKey) (*LoginResult, error) {
	req := map[string]any{"email": email, "password": password, "deviceId": deviceID, "signKey": []byte(signKey)}
	if deviceKey != nil {
		nonce, err := Challenge(ctx, client, serverURL)
		if err != nil {
			return nil, err
		}
		req["nonce"], req["deviceProof"] = nonce, syncproto.ProveDevice(deviceKey, deviceID, syncproto.PurposeLogin, nonce)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	var out LoginResult
	if err := call(ctx, client, serverURL, "/api/v1/auth/login", "", body, &out); err != nil {
		return nil, err
	}
	if out.Token == "" || out.SessionID == "" || out.User.ID == "" || !out.User.Role.Valid() {
		return nil, fmt.Errorf("remote: login answer lacks a token, a session id, a user id or a valid role")
	}
	return &out, nil
}

// Challenge asks the server for a single-use nonce to prove the device's
// key over (POST /api/v1/auth/challenge).
func Challenge(ctx context.Context, client *http.Client, serverURL string) (string, error) {
	var out struct {
		Nonce string `json:"nonce"`
	}
	if err := call(ctx, client, serverURL, "/api/v1/auth/challenge", "", []byte(`{}`), &out); err != nil {
		return "", err
	}
	if out.Nonce == "" {
		return "", fmt.Errorf("remote: challenge answer lacks a nonce")
	}
	return out.Nonce, nil
}

// Standing is what the server says of a device: whether it was revoked.
type Standing struct {
	DeviceID  string     `json:"deviceId"`
	Revoked   bool       `json:"revoked"`
	RevokedAt *time.Time `json:"revokedAt,omitempty"`
}

// DeviceStanding asks the server whether the device was revoked. A
// workstation asks when the server refused it, to tell a revocation (which
// wipes its keys) from any other refusal.
func DeviceStanding(ctx context.Context, client *http.Client, serverURL, deviceID string) (*Standing, error) {
	var out Standing
	if err := do(ctx, client, http.MethodGet, serverURL, "/api/v1/devices/"+url.PathEscape(deviceID)+"/standing", "", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// MayBeRevoked reports whether a refusal could mean the device was revoked
// (an UNAUTHENTICATED or FORBIDDEN refusal, or the websocket closed with
// 4403): the workstation then asks DeviceStanding.
func MayBeRevoked(err error) bool {
	var ce *websocket.CloseError
	if errors.As(err, &ce) && ce.Code == 4403 {
		return true
	}
	r, ok := workflow.AsRejection(err)
	return ok && (r.Code == workflow.CodeUnauthenticated || r.Code == workflow.CodeForbidden)
}

// Logout revokes a session token at the server.
func Logout(ctx context.Context, client *http.Client, serverURL, token string) error {
	return call(ctx, client, serverURL, "/api/v1/auth/logout", token, nil, nil)
}

func endpoint(serverURL, path string) (string, error) {
	u, err := url.Parse(serverURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("remote: server URL %q must be http(s)://host[:port]", serverURL)
	}
	if err := CheckURL(serverURL); err != nil {
		return "", err
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	return u.String(), nil
}

func call(ctx context.Context, client *http.Client, serverURL, path, token string, body []byte, out any) error {
	return do(ctx, client, http.MethodPost, serverURL, path, token, body, out)
}

func do(ctx context.Context, client *http.Client, method, serverURL, path, token string, body []byte, out any) error {
	if client == nil {
		client = http.DefaultClient
	}
	u, err := endpoint(serverURL, path)
	if err != nil {
		return err
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		if sec := explainTLS(err, serverURL); sec != err {
			return sec
		}
		return fmt.Errorf("remote: %s: %w", path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("remote: %s: %w", path, err)
	}
	if resp.StatusCode/100 != 2 {
		return httpError(resp, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("remote: %s: undecodable answer: %w", path, err)
	}
	return nil
}

// httpError reads the server's {code, message}, or makes one up from the
// status when the body has none (a proxy's error page).
func httpError(resp *http.Response, body []byte) *HTTPError {
	var r workflow.Rejection
	if json.Unmarshal(body, &r) != nil || r.Code == "" || r.Message == "" {
		r = workflow.Rejection{Message: fmt.Sprintf("The server answered %s.", resp.Status)}
		r.Code = syncproto.CodeOfHTTPStatus(resp.StatusCode)
		if r.Code == workflow.CodeRateLimited { // a 429 without a code of its own
			r.Message = "Too many attempts; wait a moment and try again."
			if s := resp.Header.Get("Retry-After"); s != "" {
				r.Message = "Too many attempts; try again in " + s + " seconds."
			}
		}
	}
	return &HTTPError{Status: resp.StatusCode, Rejection: &r}
}
