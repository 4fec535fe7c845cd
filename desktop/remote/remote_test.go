package remote

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"wardsync/syncproto"
	"wardsync/workflow"
)

func TestLogin(t *testing.T) {
	expires := time.Date(2026, 1, 12, 9, 0, 0, 0, time.UTC)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/base/api/v1/auth/login":
		case "/base/api/v1/auth/logout":
			if r.Header.Get("Authorization") != "Bearer tok-1" {
				w.WriteHeader(401)
				return
			}
			w.WriteHeader(204)
			return
		default:
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("login request %s %s", r.Method, r.Header.Get("Content-Type"))
		}
		var body map[string]string
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Error(err)
		}
		w.Header().Set("Content-Type", "application/json")
		switch body["email"] {
		case "nurse@hospital.com":
			if body["password"] != "nurse123" || body["deviceId"] != "dev-1" || len(body["signKey"]) != 44 || len(body) != 4 {
				t.Errorf("login body %v", body)
			}
			json.NewEncoder(w).Encode(map[string]any{"token": "tok-1", "sessionId": "ses-1", "expiresAt": expires,
				"user": map[string]any{"id": "u1", "name": "Infirmier Test", "role": "NURSE"}})
		case "wrong@hospital.com":
			w.WriteHeader(401)
			io.WriteString(w, `{"code":"UNAUTHENTICATED","message":"Wrong email or password."}`)
		case "lab@hospital.com":
			w.WriteHeader(403)
			io.WriteString(w, `{"code":"FORBIDDEN","message":"This workstation does not serve the laboratory."}`)
		case "many@hospital.com":
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(429)
		case "boom@hospital.com":
			w.WriteHeader(502)
		case "odd@hospital.com":
			io.WriteString(w, `{"token":"t","user":{"id":"u","name":"n","role":"JANITOR"}}`)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	base := srv.URL + "/base/"

	res, err := Login(ctx, nil, base, "nurse@hospital.com", "nurse123", "dev-1", testSignKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Token != "tok-1" || res.User != (User{ID: "u1", Name: "Infirmier Test", Role: workflow.RoleNurse}) || !res.ExpiresAt.Equal(expires) {
		t.Errorf("login result %+v", res)
	}
	refusals := []struct {
		email  string
		status int
		code   workflow.Code
		msg    string
	}{
		{"wrong@hospital.com", 401, workflow.CodeUnauthenticated, "Wrong email or password."},
		{"lab@hospital.com", 403, workflow.CodeForbidden, "This workstation does not serve the laboratory."},
		{"many@hospital.com", 429, workflow.CodeRateLimited, "Too many attempts; try again in 30 seconds."},
	}
	for _, c := range refusals {
		_, err := Login(ctx, nil, base, c.email, "x", "dev-1", testSignKey, nil)
		var he *HTTPError
		if !errors.As(err, &he) || he.Status != c.status {
			t.Errorf("%s: %v", c.email, err)
			continue
		}
		if r, ok := workflow.AsRejection(err); !ok || r.Code != c.code || r.Message != c.msg {
			t.Errorf("%s: rejection %+v", c.email, r)
		}
		if Unreachable(err) {
			t.Errorf("%s: a refusal is not unreachability", c.email)
		}
	}
	_, err = Login(ctx, nil, base, "boom@hospital.com", "x", "dev-1", testSignKey, nil)
	if !Unreachable(err) {
		t.Errorf("a 502 must count as unreachable: %v", err)
	}
	// A proxy's bare 502 names the server unreachable, not failing.
	if r, ok := workflow.AsRejection(err); !ok || r.Code != workflow.CodeUnavailable || r.Message != "The server answered 502 Bad Gateway." {
		t.Errorf("a bare 502: rejection %+v", r)
	}
	if _, err := Login(ctx, nil, base, "odd@hospital.com", "x", "dev-1", testSignKey, nil); err == nil {
		t.Error("an answer with an unknown role was accepted")
	}
	if err := Logout(ctx, nil, base, "tok-1"); err != nil {
		t.Errorf("logout: %v", err)
	}
	if err := Logout(ctx, nil, base, "tok-2"); err == nil {
		t.Error("logout with a wrong token succeeded")
	}
	srv.Close()
	if _, err := Login(ctx, nil, base, "nurse@hospital.com", "nurse123", "dev-1", testSignKey, nil); !Unreachable(err) {
		t.Errorf("a closed server must be unreachable: %v", err)
	}
	if _, err := Login(ctx, nil, "ftp://x", "a", "b", "c", testSignKey, nil); err == nil {
		t.Error("bad URL accepted")
	}
}

func TestSyncURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8420":   "ws://127.0.0.1:8420/sync",
		"https://ward.example/x/": "wss://ward.example/x/sync",
	} {
		if got, err := SyncURL(in); err != nil || got != want {
			t.Errorf("%s: %s %v", in, got, err)
		}
	}
}

// fakeServer is the server side of one websocket, scripted by the test:
// it reads client frames from in and writes what the test sends.
type fakeServer struct {
	*httptest.Server
	conns chan *serverConn
}

type serverConn struct {
	ws *websocket.Conn
	in chan syncproto.Frame
}

func (s *serverConn) send(t *testing.T, f syncproto.Frame) {
	t.Helper()
	data, err := syncproto.Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ws.WriteMessage(websocket.TextMessage, data); err != nil {
		t.Fatal(err)
	}
}

func (s *serverConn) next(t *testing.T) syncproto.Frame {
	t.Helper()
	select {
	case f := <-s.in:
		return f
	case <-time.After(5 * time.Second):
		t.Fatal("no frame from the client")
		return nil
	}
}

func newFakeServer(t *testing.T, token string, read bool) *fakeServer {
	fs := &fakeServer{conns: make(chan *serverConn, 4)}
	up := websocket.Upgrader{}
	fs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/sync" {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(401)
			io.WriteString(w, `{"code":"UNAUTHENTICATED","message":"Unknown session."}`)
			return
		}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		sc := &serverConn{ws: ws, in: make(chan syncproto.Frame, 16)}
		fs.conns <- sc
		if !read {
			return
		}
		go func() {
			for {
				_, data, err := ws.ReadMessage()
				if err != nil {
					close(sc.in)
					return
				}
				f, err := syncproto.DecodeFromClient(data)
				if err != nil {
					t.Errorf("client sent an undecodable frame: %v", err)
					continue
				}
				sc.in <- f
			}
		}()
	}))
	t.Cleanup(fs.Close)
	return fs
}

// dialFake connects a client to fs with the token it knows, and returns
// both ends; the caller closes the client.
func dialFake(t *testing.T, ctx context.Context, fs *fakeServer) (*Conn, *serverConn) {
	t.Helper()
	c, err := Dial(ctx, fs.URL, "tok", Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c, fs.accept(t)
}

func (fs *fakeServer) accept(t *testing.T) *serverConn {
	t.Helper()
	select {
	case c := <-fs.conns:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no connection")
		return nil
	}
}

func TestConnSpeaksTheProtocol(t *testing.T) {
	fs := newFakeServer(t, "tok", true)
	ctx := context.Background()
	if _, err := Dial(ctx, fs.URL, "bad", Options{}); err == nil {
		t.Fatal("dial with a bad token succeeded")
	} else if r, ok := workflow.AsRejection(err); !ok || r.Code != workflow.CodeUnauthenticated || r.Message != "Unknown session." {
		t.Fatalf("dial refusal %v", err)
	}
	c, sc := dialFake(t, ctx, fs)
	defer c.Close()
	now := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

	// hello → welcome
	type welcomeOrErr struct {
		w   *syncproto.Welcome
		err error
	}
	wc := make(chan welcomeOrErr, 1)
	go func() {
		w, err := c.Hello(ctx, syncproto.Hello{DeviceID: "dev-1", Cursor: "c0", LastMutationSeq: 3, Pending: 1, OldestPendingAt: &now})
		wc <- welcomeOrErr{w, err}
	}()
	h := sc.next(t).(*syncproto.Hello)
	if h.Protocol != syncproto.Version || h.DeviceID != "dev-1" || h.Cursor != "c0" || h.LastMutationSeq != 3 || h.RequestID == "" {
		t.Errorf("hello %+v", h)
	}
	// A poke in between is not a reply.
	sc.send(t, &syncproto.Poke{Head: "h1"})
	sc.send(t, &syncproto.Welcome{RequestID: h.RequestID, ServerTime: now, Head: "h1", LastMutationSeq: 2, Roles: []workflow.Role{workflow.RoleNurse}})
	got := <-wc
	if got.err != nil || got.w.LastMutationSeq != 2 || got.w.Roles[0] != workflow.RoleNurse {
		t.Fatalf("welcome %+v %v", got.w, got.err)
	}
	select {
	case p := <-c.Pokes():
		if p.Head != "h1" {
			t.Errorf("poke %+v", p)
		}
	case <-time.After(time.Second):
		t.Error("poke not delivered")
	}

	// push → pushResult
	muts := []syncproto.Mutation{
		{Seq: 3, ID: "0f8fad5b-d9cb-469f-a165-70867728950e", Name: "appointment.checkIn", Args: json.RawMessage(`{"id":"x"}`), OccurredAt: now, SessionID: "ses-1", AuthorID: "u-1"},
		{Seq: 4, ID: "1b4e28ba-2fa1-4d2c-883f-0016d3cca427", Name: "appointment.checkIn", Args: json.RawMessage(`{"id":"y"}`), OccurredAt: now, SessionID: "ses-1", AuthorID: "u-1"},
	}
	if _, err := syncproto.Chain("dev-1", "", muts); err != nil {
		t.Fatal(err)
	}
	pc := make(chan error, 1)
	var pr *syncproto.PushResult
	go func() {
		var err error
		pr, err = c.Push(ctx, muts)
		pc <- err
	}()
	p := sc.next(t).(*syncproto.Push)
	if len(p.Mutations) != 2 || p.Mutations[1].Seq != 4 {
		t.Errorf("push %+v", p)
	}
	sc.send(t, &syncproto.PushResult{RequestID: p.RequestID, Results: []syncproto.MutationResult{
		{Seq: 3, Status: syncproto.StatusDuplicate}, {Seq: 4, Status: syncproto.StatusRejected, Code: "INVALID_TRANSITION", Message: "no", Field: "id"}}})
	if err := <-pc; err != nil || pr.Results[1].Field != "id" {
		t.Fatalf("push result %+v %v", pr, err)
	}

	// pull → changes; pull → error frame (not fatal): the connection stays.
	cc := make(chan error, 1)
	go func() {
		ch, err := c.Pull(ctx, "c0", 0)
		if err == nil && (ch.Cursor != "c1" || !ch.More || len(ch.Changes) != 1) {
			t.Errorf("changes %+v", ch)
		}
		cc <- err
	}()
	pl := sc.next(t).(*syncproto.Pull)
	if pl.Cursor != "c0" {
		t.Errorf("pull %+v", pl)
	}
	sc.send(t, &syncproto.Changes{RequestID: pl.RequestID, Cursor: "c1", More: true, Changes: []syncproto.Change{
		{Table: "documents", Op: syncproto.OpDelete, ID: "d1"}}})
	if err := <-cc; err != nil {
		t.Fatal(err)
	}
	go func() {
		_, err := c.Pull(ctx, "bad", 0)
		cc <- err
	}()
	pl = sc.next(t).(*syncproto.Pull)
	sc.send(t, &syncproto.Error{RequestID: pl.RequestID, Code: workflow.CodeValidationFailed, Message: "bad cursor"})
	err := <-cc
	var fe *FrameError
	if !errors.As(err, &fe) || fe.Frame.Message != "bad cursor" {
		t.Fatalf("error frame: %v", err)
	}
	if c.Err() != nil {
		t.Fatalf("a non-fatal error closed the connection: %v", c.Err())
	}

	// report: no reply; pending 0 drops the oldest time.
	if err := c.Report(0, &now); err != nil {
		t.Fatal(err)
	}
	if r := sc.next(t).(*syncproto.Report); r.Pending != 0 || r.OldestPendingAt != nil {
		t.Errorf("report %+v", r)
	}

	// A fatal error without a requestId ends the connection.
	sc.send(t, &syncproto.Error{Code: workflow.CodeUnauthenticated, Message: "session revoked", Fatal: true})
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("connection not closed")
	}
	if !errors.As(c.Err(), &fe) || fe.Frame.Code != workflow.CodeUnauthenticated {
		t.Errorf("err %v", c.Err())
	}
	if _, err := c.Pull(ctx, "", 0); err == nil {
		t.Error("pull on a closed connection")
	}
}

func TestConnFailsOnGarbageAndSilence(t *testing.T) {
	ctx := context.Background()
	fs := newFakeServer(t, "tok", true)
	c, sc := dialFake(t, ctx, fs)
	sc.ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"hello","requestId":"x"}`)) // a client frame
	select {
	case <-c.Done():
		if !strings.Contains(c.Err().Error(), "undecodable") {
			t.Errorf("err %v", c.Err())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("garbage accepted")
	}

	// A server that never reads never answers pings: the client notices.
	silent := newFakeServer(t, "tok", false)
	c, err := Dial(ctx, silent.URL, "tok", Options{PingInterval: 30 * time.Millisecond, ReadTimeout: 150 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	silent.accept(t)
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("a silent connection was not noticed")
	}
	// A request in flight when the connection dies returns at once.
	fs2 := newFakeServer(t, "tok", true)
	c, err = Dial(ctx, fs2.URL, "tok", Options{})
	if err != nil {
		t.Fatal(err)
	}
	sc = fs2.accept(t)
	done := make(chan error, 1)
	go func() {
		_, err := c.Pull(ctx, "", 0)
		done <- err
	}()
	sc.next(t)
	sc.ws.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Error("no error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("request hung on a dead connection")
	}
}

// TestPushesArePipelined: StartPush puts a push on the socket and returns
// at once, so a second push reaches the server before the first one's
// result has been sent, in the order they were started; each wait gets
// its own push's outcomes, whatever order the waits run in.
func TestPushesArePipelined(t *testing.T) {
	fs := newFakeServer(t, "tok", true)
	ctx := context.Background()
	c, sc := dialFake(t, ctx, fs)
	defer c.Close()
	now := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	muts := []syncproto.Mutation{
		{Seq: 1, ID: "0f8fad5b-d9cb-469f-a165-70867728950e", Name: "appointment.checkIn", Args: json.RawMessage(`{"id":"x"}`), OccurredAt: now, SessionID: "ses-1", AuthorID: "u-1"},
		{Seq: 2, ID: "1b4e28ba-2fa1-4d2c-883f-0016d3cca427", Name: "appointment.checkIn", Args: json.RawMessage(`{"id":"y"}`), OccurredAt: now, SessionID: "ses-1", AuthorID: "u-1"},
	}
	if _, err := syncproto.Chain("dev-1", "", muts); err != nil {
		t.Fatal(err)
	}
	first, err := c.StartPush(muts[:1])
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.StartPush(muts[1:])
	if err != nil {
		t.Fatal(err)
	}
	// Both are on the wire, in order, before any result.
	p1, p2 := sc.next(t).(*syncproto.Push), sc.next(t).(*syncproto.Push)
	if p1.Mutations[0].Seq != 1 || p2.Mutations[0].Seq != 2 {
		t.Fatalf("pushes arrived as seqs %d then %d", p1.Mutations[0].Seq, p2.Mutations[0].Seq)
	}
	sc.send(t, &syncproto.PushResult{RequestID: p1.RequestID, Results: []syncproto.MutationResult{{Seq: 1, Status: syncproto.StatusApplied}}})
	sc.send(t, &syncproto.PushResult{RequestID: p2.RequestID, Results: []syncproto.MutationResult{
		{Seq: 2, Status: syncproto.StatusRejected, Code: "INVALID_TRANSITION", Message: "no"}}})
	r2, err := second(ctx)
	if err != nil || r2.Results[0].Seq != 2 || r2.Results[0].Code != "INVALID_TRANSITION" {
		t.Fatalf("second push: %+v %v", r2, err)
	}
	r1, err := first(ctx)
	if err != nil || r1.Results[0].Seq != 1 || r1.Results[0].Status != syncproto.StatusApplied {
		t.Fatalf("first push: %+v %v", r1, err)
	}
}

// testSignKey is a session signing key's public half, as Login sends it.
var testSignKey, _ = syncproto.NewKey()
