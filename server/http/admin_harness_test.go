package http

// Test harness of the admin, status and metrics tests: a real server on a
// fresh seeded database, an injectable clock, sessions for every role and a
// minimal workstation (websocket) client. Names start with adm so that they
// cannot collide with the package's other tests.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"wardsync/internal/pgtest"
	"wardsync/server/postgres"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// admClock is now plus an offset tests can move.
type admClock struct{ offset atomic.Int64 }

func (c *admClock) Now() time.Time           { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *admClock) Set(offset time.Duration) { c.offset.Store(int64(offset)) }

type admEnv struct {
	t      testing.TB
	dbURL  string
	db     *postgres.DB
	srv    *Server
	clock  *admClock
	admin  string // an ADMIN dashboard token
	device string // a workstation serving every role
	// client makes the HTTP calls (one trusting the test CA with TLS).
	client *http.Client
}

func admLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func admStart(t testing.TB) *admEnv {
	t.Helper()
	return admStartWith(t, nil, nil)
}

// admStartWith is admStart with a change to the server before it opens
// (TLS, limits).
func admStartWith(t testing.TB, setup func(*Server), client *http.Client) *admEnv {
	t.Helper()
	ctx := context.Background()
	if client == nil {
		client = http.DefaultClient
	}
	e := &admEnv{t: t, dbURL: pgtest.NewDatabase(t, true), clock: &admClock{}, client: client}
	db, err := postgres.Open(ctx, e.dbURL, postgres.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	db.Now = e.clock.Now
	e.db = db
	if _, err := db.Seed(ctx); err != nil {
		t.Fatal(err)
	}
	e.srv = New(db, admLogger())
	e.srv.SetLoginLimits(10000, 10000)
	e.srv.SetMetricsToken(admMetricsToken)
	if setup != nil {
		setup(e.srv)
	}
	if err := e.srv.Open(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.srv.Close(c)
		_ = db.Close(c)
	})
	e.admin = e.login("admin@hospital.com", "admin123", "")
	d, err := db.AddDevice(ctx, "", "Every role", workflow.Roles)
	if err != nil {
		t.Fatal(err)
	}
	e.device = d.ID
	return e
}

func admPassword(role workflow.Role) string {
	return strings.ToLower(string(role)) + "123"
}

func admEmail(role workflow.Role) string { return strings.ToLower(string(role)) + "@hospital.com" }

// login returns a token or fails the test.
func (e *admEnv) login(email, password, device string) string {
	e.t.Helper()
	pub, priv := syncproto.NewKey()
	st, body := e.do("POST", "/api/v1/auth/login", "", map[string]any{"email": email, "password": password, "deviceId": device, "signKey": []byte(pub)})
	if st != http.StatusOK {
		e.t.Fatalf("login %s on %q: %d %v", email, device, st, body)
	}
	tok := body["token"].(string)
	sid, _ := body["sessionId"].(string)
	admKeys.Put(tok, syncproto.SessionKey{SessionID: sid, Priv: priv})
	if u, ok := body["user"].(map[string]any); ok {
		id, _ := u["id"].(string)
		tokenUsers.Store(tok, id)
	}
	return tok
}

// roleToken is a workstation session of the seed's user of role.
func (e *admEnv) roleToken(role workflow.Role) string {
	return e.login(admEmail(role), admPassword(role), e.device)
}

// do sends a JSON request and decodes a JSON object reply.
func (e *admEnv) do(method, path, token string, body any) (int, map[string]any) {
	e.t.Helper()
	st, raw := e.raw(method, path, token, body)
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			e.t.Fatalf("%s %s: reply is not a JSON object: %v: %s", method, path, err, raw)
		}
	}
	return st, out
}

func (e *admEnv) raw(method, path, token string, body any) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.srv.URL()+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// getInto decodes a 200 reply into v.
func (e *admEnv) getInto(path, token string, v any) {
	e.t.Helper()
	st, raw := e.raw("GET", path, token, nil)
	if st != http.StatusOK {
		e.t.Fatalf("GET %s: %d %s", path, st, raw)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		e.t.Fatalf("GET %s: %v: %s", path, err, raw)
	}
}

// status reads /api/v1/sync/status as the admin.
func (e *admEnv) status() syncStatusJSON {
	e.t.Helper()
	var st syncStatusJSON
	e.getInto("/api/v1/sync/status", e.admin, &st)
	return st
}

func (st syncStatusJSON) device(id string) *deviceStatusJSON {
	for i := range st.Devices {
		if st.Devices[i].ID == id {
			return &st.Devices[i]
		}
	}
	return nil
}

// admWS is a minimal workstation: hello, push, and frames read in the
// background.
type admWS struct {
	t      testing.TB
	c      *websocket.Conn
	device string
	seq    int64
	chain  syncproto.Chainer
	frames chan syncproto.Frame
	closed chan error
	n      int
}

func (e *admEnv) dial(token, device string) (*admWS, error) {
	h := http.Header{}
	h.Set("Authorization", "Bearer "+token)
	c, resp, err := websocket.DefaultDialer.Dial("ws://"+e.srv.Addr()+"/sync", h)
	if err != nil {
		if resp != nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return nil, &admDialError{resp.StatusCode, string(b)}
		}
		return nil, err
	}
	w := &admWS{t: e.t, c: c, device: device, chain: syncproto.Chainer{DeviceID: device}, frames: make(chan syncproto.Frame, 256), closed: make(chan error, 1)}
	e.t.Cleanup(func() { c.Close() })
	go func() {
		for {
			_, data, err := c.ReadMessage()
			if err != nil {
				w.closed <- err
				close(w.frames)
				return
			}
			f, err := syncproto.DecodeFromServer(data)
			if err != nil {
				continue
			}
			w.frames <- f
		}
	}()
	return w, nil
}

type admDialError struct {
	status int
	body   string
}

func (e *admDialError) Error() string {
	return "dial: HTTP " + http.StatusText(e.status) + ": " + e.body
}

// connect dials and says hello, reporting pending acts.
func (e *admEnv) connect(token, device string, pending int64, oldest *time.Time) *admWS {
	e.t.Helper()
	w, err := e.dial(token, device)
	if err != nil {
		e.t.Fatal(err)
	}
	w.send(&syncproto.Hello{RequestID: "h", Protocol: syncproto.Version, DeviceID: device, Pending: pending, OldestPendingAt: oldest})
	if _, ok := w.wait("h").(*syncproto.Welcome); !ok {
		e.t.Fatal("hello was not welcomed")
	}
	return w
}

func (w *admWS) send(f syncproto.Frame) {
	w.t.Helper()
	b, err := syncproto.Encode(f)
	if err != nil {
		w.t.Fatal(err)
	}
	if err := w.c.WriteMessage(websocket.TextMessage, b); err != nil {
		w.t.Fatal(err)
	}
}

// wait returns the reply to requestID, skipping pokes.
func (w *admWS) wait(requestID string) syncproto.Frame {
	w.t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case f, ok := <-w.frames:
			if !ok {
				w.t.Fatalf("connection closed while waiting for %s", requestID)
			}
			var id string
			switch f := f.(type) {
			case *syncproto.Welcome:
				id = f.RequestID
			case *syncproto.PushResult:
				id = f.RequestID
			case *syncproto.Error:
				id = f.RequestID
				if id == requestID {
					w.t.Fatalf("%s answered with error %s: %s", requestID, f.Code, f.Message)
				}
			}
			if id == requestID {
				return f
			}
		case <-deadline:
			w.t.Fatalf("no reply to %s", requestID)
		}
	}
}

// push sends one act per args, authored by token, and returns the results.
func (w *admWS) push(token, name string, args ...any) []syncproto.MutationResult {
	w.t.Helper()
	var muts []syncproto.Mutation
	for _, a := range args {
		w.seq++
		b, _ := json.Marshal(a)
		muts = append(muts, syncproto.Mutation{Seq: w.seq, ID: uuid.NewString(), Name: name, Args: b,
			OccurredAt: time.Now().UTC().Truncate(time.Millisecond), SessionID: token})
	}
	w.n++
	id := "p" + uuid.NewString()[:8]
	chainMutations(w.t, &w.chain, muts)
	w.send(&syncproto.Push{RequestID: id, Mutations: muts})
	return w.wait(id).(*syncproto.PushResult).Results
}

// closeCode waits for the server to close the connection and returns the
// close code and how long it took.
func (w *admWS) closeCode(within time.Duration) (int, time.Duration) {
	w.t.Helper()
	start := time.Now()
	timer := time.After(within)
	for {
		select {
		case err := <-w.closed:
			if ce, ok := err.(*websocket.CloseError); ok {
				return ce.Code, time.Since(start)
			}
			return -1, time.Since(start)
		case <-w.frames:
		case <-timer:
			return 0, time.Since(start)
		}
	}
}

func admPatient(last string) map[string]any {
	return map[string]any{"id": uuid.NewString(), "firstName": "Admin", "lastName": last, "birthDate": "1980-01-02T00:00:00Z"}
}

// tokenUsers maps each session token a test logged in to its user id, the
// author id a workstation would hash and send with its acts.
var tokenUsers sync.Map

// admKeys are the session keys of the tests' logins, by token: a test
// names an act's session by its login's token (SessionID: tok), and
// chainMutations swaps in the session id and signs.
var admKeys syncproto.Keyring

// chainMutations sets authorId and links muts as an honest workstation would.
func chainMutations(t testing.TB, c *syncproto.Chainer, muts []syncproto.Mutation) {
	t.Helper()
	for i := range muts {
		if muts[i].AuthorID == "" {
			muts[i].AuthorID = "unknown-author"
			if id, ok := tokenUsers.Load(muts[i].SessionID); ok && id.(string) != "" {
				muts[i].AuthorID = id.(string)
			}
		}
	}
	defer func() { // signed once linked, as a workstation signs
		for i := range muts {
			if k, ok := admKeys.Get(muts[i].SessionID); ok {
				syncproto.SignAct(k.Priv, k.SessionID, &muts[i])
			}
		}
	}()
	if err := c.Link(muts); err != nil {
		t.Fatal(err)
	}
}
