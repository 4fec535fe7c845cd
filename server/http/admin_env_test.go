package http_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"wardsync/internal/wardtest"
	httpserver "wardsync/server/http"
	"wardsync/server/postgres"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// admEnv is the dashboard tests' view of a wardtest server: an ADMIN
// dashboard session, a workstation serving every role, and JSON calls.
type admEnv struct {
	t      testing.TB
	srv    *httpserver.Server
	db     *postgres.DB
	dbURL  string
	clock  *wardtest.Clock
	kit    *wardtest.Server
	admin  string       // an ADMIN dashboard token
	device string       // a workstation serving every role
	client *http.Client // makes the HTTP calls (one trusting the test CA with TLS)
}

func admStart(t testing.TB) *admEnv {
	t.Helper()
	return admStartWith(t, nil, nil)
}

// admStartWith is admStart with a change to the server before it opens
// (TLS, limits) and the client of the HTTP calls.
func admStartWith(t testing.TB, setup func(*httpserver.Server), client *http.Client) *admEnv {
	t.Helper()
	if client == nil {
		client = http.DefaultClient
	}
	s := wardtest.StartServer(t, wardtest.Options{LoginPerEmail: 10000, LoginPerIP: 10000,
		Config: func(c *postgres.Config) { c.MaxConns = postgres.DefaultConfig().MaxConns }, Configure: func(srv *httpserver.Server) {
			srv.SetMetricsToken(admMetricsToken)
			if setup != nil {
				setup(srv)
			}
		}})
	e := &admEnv{t: t, srv: s.HTTP, db: s.DB, dbURL: s.DatabaseURL, clock: s.Clock, kit: s, client: client}
	e.admin = e.login(wardtest.Email(workflow.RoleAdmin), wardtest.Password(workflow.RoleAdmin), "")
	e.device = s.AddDevice(t, "Every role", workflow.Roles...)
	return e
}

// login returns a token or fails the test.
func (e *admEnv) login(email, password, device string) string {
	e.t.Helper()
	tok, err := wardtest.TryLogin(e.client, e.srv.URL(), email, password, device)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// roleToken is a workstation session of the seed's user of role.
func (e *admEnv) roleToken(role workflow.Role) string {
	return e.kit.Login(e.t, role, e.device)
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
	wardtest.Bearer(req.Header, token)
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
func (e *admEnv) status() admStatus {
	e.t.Helper()
	var st admStatus
	e.getInto("/api/v1/sync/status", e.admin, &st.SyncStatusJSON)
	return st
}

// admStatus is the status page, and the row of each workstation.
type admStatus struct{ httpserver.SyncStatusJSON }

func (st admStatus) device(id string) *httpserver.DeviceStatusJSON {
	for i := range st.Devices {
		if st.Devices[i].ID == id {
			return &st.Devices[i]
		}
	}
	return nil
}

// admWS is a workstation's websocket as the dashboard tests drive it:
// frames sent as they are, replies waited for by request id.
type admWS struct {
	*wardtest.Client
	t testing.TB
}

func (e *admEnv) dial(token, device string) (*admWS, error) {
	c, err := e.kit.TryDial(e.t, token, device)
	if err != nil {
		return nil, err
	}
	return &admWS{c, e.t}, nil
}

// connect dials and says hello, reporting pending acts.
func (e *admEnv) connect(token, device string, pending int64, oldest *time.Time) *admWS {
	e.t.Helper()
	w := &admWS{e.kit.Dial(e.t, token, device), e.t}
	w.Say(e.t, syncproto.Hello{Pending: pending, OldestPendingAt: oldest})
	return w
}

// send sends f as it is: a push's acts are not authored on the way.
func (w *admWS) send(f syncproto.Frame) {
	w.t.Helper()
	b, err := syncproto.Encode(f)
	if err != nil {
		w.t.Fatal(err)
	}
	w.SendRaw(w.t, b)
}

// wait returns the reply to requestID, skipping other frames.
func (w *admWS) wait(requestID string) syncproto.Frame {
	w.t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case r := <-w.Frames:
			if e, ok := r.F.(*syncproto.Error); ok && e.RequestID == requestID {
				w.t.Fatalf("%s answered with error %s: %s", requestID, e.Code, e.Message)
			}
			if syncproto.RequestIDOf(r.F) == requestID {
				return r.F
			}
		case <-w.Closed():
			w.t.Fatalf("connection closed while waiting for %s", requestID)
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
		muts = append(muts, w.Mut(name, a, token, time.Now().UTC().Truncate(time.Millisecond)))
	}
	return w.Push(w.t, muts...)
}

// closeCode waits for the server to close the connection and returns the
// close code (-1 without a close frame, 0 when still open after within)
// and how long it took.
func (w *admWS) closeCode(within time.Duration) (int, time.Duration) {
	w.t.Helper()
	start := time.Now()
	select {
	case <-w.Closed():
	case <-time.After(within):
		return 0, time.Since(start)
	}
	if ce, ok := w.CloseError().(*websocket.CloseError); ok {
		return ce.Code, time.Since(start)
	}
	return -1, time.Since(start)
}

func admPatient(last string) map[string]any {
	return map[string]any{"id": uuid.NewString(), "firstName": "Admin", "lastName": last, "birthDate": "1980-01-02T00:00:00Z"}
}
