package http_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"wardsync/internal/wardtest"
	httpserver "wardsync/server/http"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// expectedError is the error frame the protocol documents for data:
// syncproto's own verdict on it.
func expectedError(t testing.TB, data []byte) (workflow.Code, string) {
	t.Helper()
	_, err := syncproto.DecodeFromClient(data)
	rej, ok := workflow.AsRejection(err)
	if !ok {
		t.Fatalf("syncproto accepts %s", wardtest.Clip(data))
	}
	return rej.Code, rej.Message
}

func checkErrorFrame(t testing.TB, r wardtest.Received, code workflow.Code, message string, fatal bool) {
	t.Helper()
	e, ok := r.F.(*syncproto.Error)
	if !ok {
		t.Fatalf("want an error frame, got %s", wardtest.Clip(r.Raw))
	}
	if e.Code != code || e.Message != message || e.Fatal != fatal {
		t.Fatalf("error frame %s\nwant code %s, message %q, fatal %v", r.Raw, code, message, fatal)
	}
}

// TestHostileInput sends what a broken or hostile client might, on its own
// connections, while another workstation keeps working: every case gets its
// documented error, nothing is written, and the server goes on serving.
func TestHostileInput(t *testing.T) {
	t.Parallel()
	env := wardtest.StartServer(t, wardtest.Options{})
	sec := env.Login(t, workflow.RoleSecretary, demo)
	ward := env.AddDevice(t, "Ward 2", workflow.Roles...)
	wardSec := env.Login(t, workflow.RoleSecretary, ward)
	bystander := env.Connect(t, wardSec, ward)
	bystanderRep := wardtest.NewReplica()
	bystander.PullAll(t, bystanderRep, 0)

	// stillServing: the bystander pushes and pulls as if nothing happened.
	stillServing := func(t *testing.T, what string) {
		t.Helper()
		p := uuid.NewString()
		bystander.Act(t, "patient.register", registerArgs(p, "Bystander"), wardSec, ms(time.Now()))
		wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
			bystander.PullAll(t, bystanderRep, 0)
			if _, ok := bystanderRep.Rows["patients"][p]; !ok {
				return "after " + what + ": the bystander does not see its patient"
			}
			return ""
		})
	}
	var before map[string]int64
	snapshot := func(t *testing.T) {
		before = wardtest.TableCounts(t, env.Pool)
	}
	nothingWritten := func(t *testing.T, what string) {
		t.Helper()
		after := wardtest.TableCounts(t, env.Pool)
		for _, k := range append(append([]string{}, workflow.Tables...), "sync.mutations") {
			if after[k] != before[k] {
				t.Fatalf("%s wrote to %s: %d → %d", what, k, before[k], after[k])
			}
		}
	}
	hello := func(deviceID string, protocol int) []byte {
		b, _ := json.Marshal(map[string]any{"type": "hello", "requestId": "h", "protocol": protocol, "deviceId": deviceID, "cursor": "", "lastMutationSeq": 0, "pending": 0})
		return b
	}

	// Fatal before hello: error frame, then close with 1008.
	fatalCases := []struct {
		name string
		data []byte
		msg  string // when not syncproto's own verdict
	}{
		{"bad JSON", []byte(`{"type":"hello",`), ""},
		{"not an object", []byte(`[1,2,3]`), ""},
		{"unknown frame type", []byte(`{"type":"bogus","requestId":"x"}`), ""},
		{"server frame from a client", []byte(`{"type":"poke","head":"1"}`), ""},
		{"wrong protocol version", hello(demo, 3), ""},
		{"protocol version 1", hello(demo, 1), ""},
		{"first frame not hello", []byte(`{"type":"pull","requestId":"p1","cursor":""}`), "The first frame must be hello, not pull."},
		{"hello for another device", hello(ward, syncproto.Version), "The hello names workstation " + ward + " but the token was issued on " + demo + "."},
	}
	for _, tc := range fatalCases {
		t.Run(tc.name, func(t *testing.T) {
			snapshot(t)
			c := env.Dial(t, sec, demo)
			c.SendRaw(t, tc.data)
			code, msg := workflow.CodeProtocolError, tc.msg
			if msg == "" {
				code, msg = expectedError(t, tc.data)
			}
			if strings.HasPrefix(tc.name, "hello for") {
				code = workflow.CodeForbidden
			}
			checkErrorFrame(t, c.Next(t), code, msg, true)
			if got := c.WaitClosed(t); got != websocket.ClosePolicyViolation {
				t.Fatalf("closed with %d, want %d", got, websocket.ClosePolicyViolation)
			}
			nothingWritten(t, tc.name)
			stillServing(t, tc.name)
		})
	}

	t.Run("frame over 1 MiB", func(t *testing.T) {
		snapshot(t)
		c := env.Connect(t, sec, demo)
		big := `{"type":"pull","requestId":"big","cursor":"","pad":"` + strings.Repeat("x", syncproto.MaxFrameBytes) + `"}`
		c.SendRaw(t, []byte(big))
		checkErrorFrame(t, c.Next(t), workflow.CodeProtocolError, "frame of more than 1048576 bytes exceeds the 1 MiB limit", true)
		// 1009 (message too big), as docs/protocol.md §4 says for size.
		if got := c.WaitClosed(t); got != websocket.CloseMessageTooBig {
			t.Fatalf("closed with %d, want %d", got, websocket.CloseMessageTooBig)
		}
		nothingWritten(t, "oversized frame")
		stillServing(t, "oversized frame")
	})

	// Unreadable frames are fatal after hello too; so is a second hello.
	t.Run("unreadable after hello", func(t *testing.T) {
		snapshot(t)
		for _, tc := range []struct{ data, msg string }{
			{`{"type":"pull","requestId":"p1",`, ""},
			{`{"type":"bogus","requestId":"p2"}`, ""},
			{`{"requestId":"p3","cursor":""}`, ""},
			{`{"type":"changes","requestId":"p4","cursor":"x","lastMutationSeq":0,"changes":[],"more":false}`, ""},
			{`{"type":"pull","requestId":"p5","cursor":"","x":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`, ""},
			{`{"type":"hello","requestId":"h2","protocol":2,"deviceId":"` + demo + `","cursor":"","lastMutationSeq":0,"pending":0}`, "hello was already received on this connection."},
		} {
			c := env.Connect(t, sec, demo)
			c.SendRaw(t, []byte(tc.data))
			code, msg := workflow.CodeProtocolError, tc.msg
			if msg == "" {
				code, msg = expectedError(t, []byte(tc.data))
			}
			checkErrorFrame(t, c.Next(t), code, msg, true)
			if got := c.WaitClosed(t); got != websocket.ClosePolicyViolation {
				t.Fatalf("%s: closed with %d", tc.data, got)
			}
		}
		nothingWritten(t, "unreadable frames")
		stillServing(t, "unreadable frames")
	})

	// Readable frames with wrong members, after hello: an error frame, and
	// the connection goes on.
	t.Run("after hello", func(t *testing.T) {
		snapshot(t)
		c := env.Connect(t, sec, demo)
		for _, data := range [][]byte{
			[]byte(`{"type":"pull","requestId":"p2","cursor":"","extra":1}`),
			[]byte(`{"type":"pull","requestId":"p3","cursor":"","limit":5000}`),
			[]byte(`{"type":"push","requestId":"p4","mutations":[]}`),
			[]byte(`{"type":"push","requestId":"p5","mutations":[{"seq":1,"id":"not-a-uuid","name":"patient.register","args":{},"occurredAt":"2026-01-01T00:00:00Z","authorToken":"x"}]}`),
			[]byte(`{"type":"push","requestId":"p6","mutations":[{"seq":1,"id":"` + uuid.NewString() + `","name":"patient.register","args":[1],"occurredAt":"2026-01-01T00:00:00Z","authorToken":"x"}]}`),
			[]byte(`{"type":"pull","requestId":"p7","cursor":"nonsense"}`),
		} {
			c.SendRaw(t, data)
			r := c.Next(t)
			if string(data) == `{"type":"pull","requestId":"p7","cursor":"nonsense"}` {
				checkErrorFrame(t, r, workflow.CodeProtocolError, `Cursor "nonsense" is not one this server issued; pull with an empty cursor to start over.`, false)
				continue
			}
			code, msg := expectedError(t, data)
			checkErrorFrame(t, r, code, msg, false)
			if want := syncproto.PeekRequestID(data); syncproto.RequestIDOf(r.F) != want {
				t.Fatalf("error frame answers %q, want %q", syncproto.RequestIDOf(r.F), want)
			}
		}
		hello2(t, c) // a fresh connection of the device is still welcome
		rep := wardtest.NewReplica()
		c.PullAll(t, rep, 0)
		nothingWritten(t, "malformed frames")
		stillServing(t, "malformed frames")
	})

	t.Run("no token", func(t *testing.T) {
		for _, tc := range []struct{ token, msg string }{
			{"", "No token was given; log in first."},
			{"forged", "The token is not valid; log in again."},
		} {
			_, resp, err := wardtest.DialConn(env.URL(), tc.token, 0)
			if err == nil || resp == nil {
				t.Fatalf("token %q: upgrade succeeded", tc.token)
			}
			body, _ := io.ReadAll(resp.Body)
			var out map[string]any
			if resp.StatusCode != http.StatusUnauthorized || json.Unmarshal(body, &out) != nil ||
				out["code"] != "UNAUTHENTICATED" || out["message"] != tc.msg || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("token %q: %d %s", tc.token, resp.StatusCode, body)
			}
		}
		dash := wardtest.LoginAs(t, env.URL(), "admin@hospital.com", "admin123", "")
		_, resp, err := wardtest.DialConn(env.URL(), dash, 0)
		if err == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("dashboard session may not sync: %v %v", err, resp)
		}
	})

	// Mutation-level refusals: rejected and audited, no seed row written.
	t.Run("bad mutations", func(t *testing.T) {
		c := env.Connect(t, sec, demo)
		otherDev := env.AddDevice(t, "Ward 3", workflow.RoleSecretary)
		otherTok := env.Login(t, workflow.RoleSecretary, otherDev)
		now := ms(time.Now())
		cases := []struct {
			name  string
			args  any
			token string
			code  workflow.Code
			msg   string
			field string
		}{
			{"patient.delete", map[string]any{"id": seedID("patient:1")}, sec, workflow.CodeUnknownMutation,
				`Unknown act "patient.delete"; this version knows ` + strings.Join(workflow.Names(), ", ") + ".", ""},
			{"appointment.checkIn", map[string]any{"id": 42}, sec, workflow.CodeValidationFailed, "The appointment id must be text, not a number.", "id"},
			{"appointment.schedule", map[string]any{"id": uuid.NewString(), "patientId": seedID("patient:1"), "doctorId": doctorID, "date": true, "motif": "x"}, sec,
				workflow.CodeValidationFailed, "Appointment date must be text, not true/false.", "date"},
			{"patient.register", map[string]any{"id": uuid.NewString(), "firstName": []any{"a"}, "lastName": "B", "birthDate": "1980-01-01T00:00:00Z"}, sec,
				workflow.CodeValidationFailed, "First name must be text, not a list.", "firstName"},
			{"patient.register", json.RawMessage(`{"id":"` + uuid.NewString() + `","firstName":"A\u0000B","lastName":"B","birthDate":"1980-01-01T00:00:00Z"}`), sec,
				workflow.CodeValidationFailed, "First name: the text contains a NUL character (U+0000), which cannot be stored.", "firstName"},
			{"appointment.checkIn", map[string]any{"id": seedID("a:scheduled")}, otherTok, workflow.CodeUnauthenticated,
				"The act's session was issued on another workstation; acts are accepted only from the workstation where the author logged in.", ""},
		}
		for _, tc := range cases {
			snapshot(t)
			res := c.Reject(t, tc.name, tc.args, tc.token, now, tc.code, tc.msg, tc.field)
			checkAudited(t, env, demo, res)
			after := wardtest.TableCounts(t, env.Pool)
			for _, table := range workflow.Tables {
				if after[table] != before[table] {
					t.Fatalf("%s wrote to %s", tc.name, table)
				}
			}
			if after["sync.mutations"] != before["sync.mutations"]+1 {
				t.Fatalf("%s: audit log grew by %d, want 1", tc.name, after["sync.mutations"]-before["sync.mutations"])
			}
		}
		c.Act(t, "appointment.checkIn", map[string]any{"id": seedID("a:scheduled")}, sec, now)
		stillServing(t, "bad mutations")
	})

	t.Run("SQL metacharacters are stored verbatim", func(t *testing.T) {
		c := env.Connect(t, sec, demo)
		tok := map[workflow.Role]string{}
		for _, r := range workflow.Roles {
			tok[r] = env.Login(t, r, demo)
		}
		evil := []string{`'; DROP TABLE users; --`, `"`, `\`, `\\'"`, `$1`, `%s`, `'); DELETE FROM sync.mutations; --`, "é\t\n"}
		for i, s := range evil {
			now := ms(time.Now())
			P, A, RX, R, D := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
			c.Act(t, "patient.register", map[string]any{"id": P, "firstName": s, "lastName": s + "x", "birthDate": "1980-01-01T00:00:00Z",
				"sex": s, "phone": s, "address": s, "emergencyContact": s, "insurance": s, "idNumber": s}, tok[workflow.RoleSecretary], now)
			c.Act(t, "patient.update", map[string]any{"id": P, "medicalHistory": map[string]any{s: s}}, tok[workflow.RoleDoctor], now)
			c.Act(t, "appointment.schedule", map[string]any{"id": A, "patientId": P, "doctorId": doctorID, "date": now.Format(time.RFC3339), "motif": s}, tok[workflow.RoleSecretary], now)
			c.Act(t, "appointment.checkIn", map[string]any{"id": A}, tok[workflow.RoleSecretary], now)
			c.Act(t, "appointment.recordVitals", map[string]any{"id": A, "vitals": vitalsArg, "medicalHistoryNotes": s}, tok[workflow.RoleNurse], now)
			c.Act(t, "appointment.completeConsultation", map[string]any{"id": A, "consultationNotes": s}, tok[workflow.RoleDoctor], now)
			c.Act(t, "prescription.create", map[string]any{"id": RX, "patientId": P, "text": s}, tok[workflow.RoleDoctor], now)
			c.Act(t, "prescription.sendToLab", map[string]any{"id": RX}, tok[workflow.RoleDoctor], now)
			c.Act(t, "prescription.collectSample", map[string]any{"id": RX}, tok[workflow.RoleNurse], now)
			c.Act(t, "prescription.startAnalysis", map[string]any{"id": RX}, tok[workflow.RoleBiologist], now)
			c.Act(t, "result.create", map[string]any{"id": R, "prescriptionId": RX, "text": s, "data": map[string]any{"k": s}}, tok[workflow.RoleBiologist], now)
			c.Act(t, "result.review", map[string]any{"id": R, "interpretation": s}, tok[workflow.RoleDoctor], now)
			c.Act(t, "document.attach", map[string]any{"id": D, "patientId": P, "name": s, "type": s, "url": s}, tok[workflow.RoleNurse], now)

			ctx := context.Background()
			var texts []string
			row := env.Pool.QueryRow(ctx, `SELECT p."firstName", p.sex, p.phone, p.address, p."emergencyContact", p.insurance, p."idNumber",
				a.motif, a."medicalHistoryNotes", a."consultationNotes", rx.text, r.text, r.interpretation, d.name, d.type, d.url,
				p."medicalHistory"->>$2, r.data->>'k'
				FROM patients p, appointments a, prescriptions rx, results r, documents d
				WHERE p.id = $1 AND a."patientId" = p.id AND rx."patientId" = p.id AND r."prescriptionId" = rx.id AND d."patientId" = p.id`, P, s)
			vals := make([]any, 18)
			ptrs := make([]string, 18)
			for j := range vals {
				vals[j] = &ptrs[j]
			}
			if err := row.Scan(vals...); err != nil {
				t.Fatalf("case %d: %v", i, err)
			}
			texts = ptrs
			for j, got := range texts {
				if got != s {
					t.Fatalf("case %d column %d stored %q, want %q verbatim", i, j, got, s)
				}
			}
		}
		if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM users`); n != 5 {
			t.Fatalf("users: %d", n)
		}
		stillServing(t, "metacharacters")
	})
}

// TestNoHelloIsRefused: a socket that says nothing is refused once the
// hello timeout has passed (PROTOCOL_ERROR, fatal, 1008) and recorded
// offline, instead of holding a connection and a dashboard row that reads
// "checking its queue" for ever; one that said hello in time is not.
func TestNoHelloIsRefused(t *testing.T) {
	t.Parallel()
	env := wardtest.StartServer(t, wardtest.Options{Configure: func(s *httpserver.Server) { s.HelloTimeout = time.Second }})
	sec := env.Login(t, workflow.RoleSecretary, demo)

	silent := env.Dial(t, sec, demo)
	checkErrorFrame(t, silent.Next(t), workflow.CodeProtocolError, "No hello within 1 s of connecting; a workstation says hello first.", true)
	if got := silent.WaitClosed(t); got != websocket.ClosePolicyViolation {
		t.Fatalf("closed with %d, want %d", got, websocket.ClosePolicyViolation)
	}
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
		if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM sync.clients WHERE device_id = $1 AND disconnected_at IS NOT NULL`, demo); n != 1 {
			return "the refused socket is not recorded as ended"
		}
		return ""
	})

	talker := env.Connect(t, sec, demo)
	time.Sleep(1500 * time.Millisecond) // past the timeout: it must not fire after the hello
	if ch := talker.Pull(t, "", 1); ch == nil {
		t.Fatal("no changes frame after the hello timeout had passed")
	}
	select {
	case <-talker.Closed():
		t.Fatalf("the socket that said hello was closed: %v", talker.CloseError())
	default:
	}
}
