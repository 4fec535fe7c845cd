package desktop

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"wardsync/desktop/keyfile"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// fakeServer is a small authoritative server for the engine's tests: the
// login endpoint and /sync as docs/protocol.md describes them, with the rows in
// memory, the workflow's mutators applying pushes, a change feed, pokes,
// need-to-know filtering, and switches to go down or compact the feed.
// It stands in for the real server (which lives in server/ and is tested
// against this engine separately).
type fakeServer struct {
	t   *testing.T
	srv *httptest.Server

	mu   sync.Mutex
	down bool
	// limited answers every login 429 RATE_LIMITED, as the real server does
	// to a login it holds back for its limits.
	limited  bool
	rows     map[string]map[string]map[string]any // table → id → column → JSON value
	feed     []feedEntry
	minFeed  int // entries before it are "compacted": older cursors must resync
	pageSize int
	users    map[string]fakeUser   // email → user
	tokens   map[string]fakeToken  // token → session
	devices  map[string]fakeDevice // device id → device
	conns    map[*websocket.Conn]*sync.Mutex
	nextTok  int
	// expiresIn is the validity of the sessions it issues.
	expiresIn time.Duration
	now       func() time.Time
	pushes    int
	pulls     int
	dials     int // /sync requests, refused ones included
	// escrow, when non-nil, holds the data key the server escrows per
	// device, made at the device's first login and given with every one.
	escrow map[string][]byte
	// failPush, when set, is the push (counted from 1) that is refused
	// with a non-fatal error frame, nothing applied, as a server whose
	// database failed mid-push answers.
	failPush int
}

type feedEntry struct {
	table, id string
	deleted   bool
	device    string
	seq       int64 // the mutation that caused it, 0 for outside writes
}

type fakeUser struct {
	ID, Name, Password string
	Role               workflow.Role
	Disabled           bool
}

type fakeToken struct {
	id      string // the session id acts name
	signKey []byte // the session's public signing key
	user    fakeUser
	device  string
	expires time.Time
	revoked bool
}

type fakeDevice struct {
	roles     []workflow.Role
	revokedAt *time.Time
	lastSeq   int64
	seqAt     []seqMark // where each seq's effects end in the feed
	results   map[int64]syncproto.MutationResult
	reports   []syncproto.Report
}

type seqMark struct {
	seq     int64
	feedEnd int
}

func newFakeServer(t *testing.T, now func() time.Time) *fakeServer {
	fs := &fakeServer{t: t, rows: map[string]map[string]map[string]any{}, users: map[string]fakeUser{},
		tokens: map[string]fakeToken{}, devices: map[string]fakeDevice{}, conns: map[*websocket.Conn]*sync.Mutex{},
		pageSize: 100, expiresIn: 7 * 24 * time.Hour, now: now}
	for _, tbl := range workflow.Tables {
		fs.rows[tbl] = map[string]map[string]any{}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/auth/login", fs.login)
	mux.HandleFunc("POST /api/v1/auth/logout", fs.logout)
	mux.HandleFunc("GET /sync", fs.sync)
	mux.HandleFunc("POST /api/v1/auth/challenge", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"nonce": syncproto.NewNonce()})
	})
	mux.HandleFunc("GET /api/v1/devices/{id}/standing", fs.standing)
	fs.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		fs.setDown(true)
		fs.srv.Close()
	})
	return fs
}

func (fs *fakeServer) URL() string { return fs.srv.URL }

func (fs *fakeServer) addDevice(id string, roles ...workflow.Role) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.devices[id] = fakeDevice{roles: roles, results: map[int64]syncproto.MutationResult{}}
}

func (fs *fakeServer) addUser(email, password string, u fakeUser) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	u.Password = password
	fs.users[email] = u
	fs.put(workflow.TableUsers, map[string]any{"id": u.ID, "name": u.Name, "email": email, "role": string(u.Role),
		"createdAt": "2025-12-01T00:00:00.000Z", "updatedAt": "2025-12-01T00:00:00.000Z"}, "", 0)
}

// put writes a row as a direct SQL write would (no mutation), and pokes.
func (fs *fakeServer) putRow(table string, row map[string]any) {
	fs.mu.Lock()
	fs.put(table, row, "", 0)
	fs.mu.Unlock()
	fs.poke()
}

func (fs *fakeServer) put(table string, row map[string]any, device string, seq int64) {
	id := row["id"].(string)
	cur := fs.rows[table][id]
	if cur == nil {
		cur = map[string]any{}
		fs.rows[table][id] = cur
	}
	for k, v := range row {
		cur[k] = v
	}
	fs.feed = append(fs.feed, feedEntry{table: table, id: id, device: device, seq: seq})
}

func (fs *fakeServer) row(table, id string) map[string]any {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	r := fs.rows[table][id]
	if r == nil {
		return nil
	}
	out := map[string]any{}
	for k, v := range r {
		out[k] = v
	}
	return out
}

func (fs *fakeServer) setDown(down bool) {
	fs.mu.Lock()
	fs.down = down
	var conns []*websocket.Conn
	if down {
		for c := range fs.conns {
			conns = append(conns, c)
		}
	}
	fs.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// compact forgets the feed so far: cursors older than its end must resync.
func (fs *fakeServer) compact() {
	fs.mu.Lock()
	fs.minFeed = len(fs.feed)
	fs.mu.Unlock()
}

func (fs *fakeServer) device(id string) fakeDevice {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.devices[id]
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (fs *fakeServer) login(w http.ResponseWriter, r *http.Request) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.down {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if fs.limited {
		w.Header().Set("Retry-After", "30")
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"code": "RATE_LIMITED",
			"message": "Too many failed logins for this account or from this address; try again in 30 seconds.", "retryAfter": 30})
		return
	}
	var body struct {
		Email, Password, DeviceID string
		SignKey                   []byte
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeJSON(w, 400, map[string]string{"code": "VALIDATION_FAILED", "message": "bad body"})
		return
	}
	u, ok := fs.users[strings.ToLower(body.Email)]
	if !ok || u.Password != body.Password {
		writeJSON(w, 401, map[string]string{"code": "UNAUTHENTICATED", "message": "Wrong email or password."})
		return
	}
	d, ok := fs.devices[body.DeviceID]
	if ok && d.revokedAt != nil {
		writeJSON(w, 403, map[string]string{"code": "FORBIDDEN", "message": "Workstation " + body.DeviceID + " was revoked; ask an administrator to register it again."})
		return
	}
	if u.Disabled || !ok || !contains(d.roles, u.Role) {
		writeJSON(w, 403, map[string]string{"code": "FORBIDDEN", "message": "This workstation does not serve " + string(u.Role) + "."})
		return
	}
	fs.nextTok++
	tok := fmt.Sprintf("tok-%d", fs.nextTok)
	exp := fs.now().Add(fs.expiresIn).UTC()
	sid := fmt.Sprintf("ses-%d", fs.nextTok)
	fs.tokens[tok] = fakeToken{id: sid, signKey: body.SignKey, user: u, device: body.DeviceID, expires: exp}
	answer := map[string]any{"token": tok, "sessionId": sid, "expiresAt": exp,
		"user": map[string]any{"id": u.ID, "name": u.Name, "role": u.Role}}
	if fs.escrow != nil {
		if fs.escrow[body.DeviceID] == nil {
			fs.escrow[body.DeviceID] = keyfile.NewDataKey()
		}
		answer["replicaKey"] = fs.escrow[body.DeviceID]
	}
	writeJSON(w, 200, answer)
}

func (fs *fakeServer) standing(w http.ResponseWriter, r *http.Request) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	d, ok := fs.devices[r.PathValue("id")]
	if !ok {
		writeJSON(w, 404, map[string]string{"code": "NOT_FOUND", "message": "No such workstation."})
		return
	}
	writeJSON(w, 200, map[string]any{"deviceId": r.PathValue("id"), "revoked": d.revokedAt != nil, "revokedAt": d.revokedAt})
}

// revoke revokes a device (its sessions end); register lifts it again.
func (fs *fakeServer) revoke(id string, revoked bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	d := fs.devices[id]
	if revoked {
		at := fs.now().UTC()
		d.revokedAt = &at
		for tok, s := range fs.tokens {
			if s.device == id {
				s.revoked = true
				fs.tokens[tok] = s
			}
		}
	} else {
		d.revokedAt = nil
	}
	fs.devices[id] = d
}

func (fs *fakeServer) logout(w http.ResponseWriter, r *http.Request) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	s, ok := fs.tokens[tok]
	if !ok {
		writeJSON(w, 401, map[string]string{"code": "UNAUTHENTICATED", "message": "Unknown session."})
		return
	}
	s.revoked = true
	fs.tokens[tok] = s
	w.WriteHeader(204)
}

func contains[T comparable](list []T, x T) bool {
	for _, y := range list {
		if y == x {
			return true
		}
	}
	return false
}

func (fs *fakeServer) session(tok string) (fakeToken, bool) {
	s, ok := fs.tokens[tok]
	return s, ok && !s.revoked && fs.now().Before(s.expires)
}

func (fs *fakeServer) sync(w http.ResponseWriter, r *http.Request) {
	fs.mu.Lock()
	fs.dials++
	down := fs.down
	s, ok := fs.session(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
	if sid := r.Header.Get(syncproto.HeaderSession); sid != "" {
		// Protocol 2: the session proves its key over the nonce (this
		// fake's devices have no device key).
		ok = false
		for tok, t := range fs.tokens {
			if t.id == sid {
				s, ok = fs.session(tok)
			}
		}
		ok = ok && syncproto.VerifySession(s.signKey, sid, r.Header.Get(syncproto.HeaderDevice), r.Header.Get(syncproto.HeaderNonce),
			r.Header.Get(syncproto.HeaderSessionProof))
	}
	fs.mu.Unlock()
	if down {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if !ok {
		writeJSON(w, 401, map[string]string{"code": "UNAUTHENTICATED", "message": "Unknown session."})
		return
	}
	ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
	if err != nil {
		return
	}
	wmu := &sync.Mutex{}
	fs.mu.Lock()
	fs.conns[ws] = wmu
	fs.mu.Unlock()
	defer func() {
		fs.mu.Lock()
		delete(fs.conns, ws)
		fs.mu.Unlock()
		ws.Close()
	}()
	send := func(f syncproto.Frame) bool {
		data, err := syncproto.Encode(f)
		if err != nil {
			fs.t.Errorf("fake server: encode %s: %v", f.FrameType(), err)
			return false
		}
		wmu.Lock()
		defer wmu.Unlock()
		return ws.WriteMessage(websocket.TextMessage, data) == nil
	}
	device := ""
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		f, err := syncproto.DecodeFromClient(data)
		if err != nil {
			fs.t.Errorf("fake server: client sent %s: %v", data, err)
			send(syncproto.ErrorFrame(syncproto.PeekRequestID(data), err, true))
			return
		}
		switch f := f.(type) {
		case *syncproto.Hello:
			fs.mu.Lock()
			d, ok := fs.devices[f.DeviceID]
			if ok {
				d.reports = append(d.reports, syncproto.Report{Pending: f.Pending, OldestPendingAt: f.OldestPendingAt})
				fs.devices[f.DeviceID] = d
			}
			fs.mu.Unlock()
			if !ok || s.device != f.DeviceID {
				send(&syncproto.Error{RequestID: f.RequestID, Code: workflow.CodeForbidden, Message: "Unknown device.", Fatal: true})
				return
			}
			device = f.DeviceID
			send(&syncproto.Welcome{RequestID: f.RequestID, ServerTime: fs.now(), Head: fs.head(), LastMutationSeq: d.lastSeq, Roles: d.roles})
		case *syncproto.Push:
			res, perr := fs.push(device, f)
			if perr != nil {
				send(syncproto.ErrorFrame(f.RequestID, perr, false))
				continue
			}
			send(res)
			fs.poke()
		case *syncproto.Pull:
			fs.mu.Lock()
			fs.pulls++
			fs.mu.Unlock()
			page, perr := fs.pull(device, f)
			if perr != nil {
				send(syncproto.ErrorFrame(f.RequestID, perr, false))
				continue
			}
			send(page)
		case *syncproto.Report:
			fs.mu.Lock()
			d := fs.devices[device]
			d.reports = append(d.reports, *f)
			fs.devices[device] = d
			fs.mu.Unlock()
		}
	}
}

func (fs *fakeServer) head() string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return "h" + strconv.Itoa(len(fs.feed))
}

func (fs *fakeServer) poke() {
	head := fs.head()
	fs.mu.Lock()
	type target struct {
		ws *websocket.Conn
		mu *sync.Mutex
	}
	var ts []target
	for c, m := range fs.conns {
		ts = append(ts, target{c, m})
	}
	fs.mu.Unlock()
	data, _ := syncproto.Encode(&syncproto.Poke{Head: head})
	for _, x := range ts {
		x.mu.Lock()
		x.ws.WriteMessage(websocket.TextMessage, data)
		x.mu.Unlock()
	}
}

// pushPage sends page to every connection unasked, as a pushed page from
// cursor from (docs/protocol.md, "Pushed pages").
func (fs *fakeServer) pushPage(from string, page *syncproto.Changes) {
	p := *page
	p.From, p.RequestID = from, ""
	data, err := syncproto.Encode(&p)
	if err != nil {
		fs.t.Errorf("fake server: encode pushed page: %v", err)
		return
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for c, m := range fs.conns {
		m.Lock()
		c.WriteMessage(websocket.TextMessage, data)
		m.Unlock()
	}
}

// putQuiet writes a row as a direct SQL write would, without a poke.
func (fs *fakeServer) putQuiet(table string, row map[string]any) int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.put(table, row, "", 0)
	return len(fs.feed)
}

func (fs *fakeServer) pullCount() int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.pulls
}

func (fs *fakeServer) push(device string, p *syncproto.Push) (*syncproto.PushResult, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.pushes++
	if fs.pushes == fs.failPush {
		return nil, workflow.Reject("INTERNAL", "internal server error")
	}
	d := fs.devices[device]
	if first := p.Mutations[0].Seq; first > d.lastSeq+1 {
		return nil, workflow.Reject(workflow.CodeProtocolError, "seq %d leaves a gap; resend from %d", first, d.lastSeq+1)
	}
	out := &syncproto.PushResult{RequestID: p.RequestID}
	for _, m := range p.Mutations {
		if m.Seq <= d.lastSeq {
			r := d.results[m.Seq]
			r.Status = syncproto.StatusDuplicate
			out.Results = append(out.Results, r)
			continue
		}
		r := syncproto.MutationResult{Seq: m.Seq, Status: syncproto.StatusApplied}
		if rej := fs.apply(device, m); rej != nil {
			r = syncproto.MutationResult{Seq: m.Seq, Status: syncproto.StatusRejected, Code: rej.Code, Message: rej.Message, Field: rej.Field}
		}
		d.lastSeq = m.Seq
		d.results[m.Seq] = r
		d.seqAt = append(d.seqAt, seqMark{m.Seq, len(fs.feed)})
		out.Results = append(out.Results, r)
	}
	fs.devices[device] = d
	return out, nil
}

// apply runs one mutation as the real server does: the author's token must
// be a live session of this device, then the mutator decides.
func (fs *fakeServer) apply(device string, m syncproto.Mutation) *workflow.Rejection {
	var s fakeToken
	ok := false
	for tok, t := range fs.tokens {
		if t.id == m.SessionID {
			s, ok = fs.session(tok)
		}
	}
	if !ok || s.device != device {
		return workflow.Reject(workflow.CodeUnauthenticated, "The author's session is not valid on this workstation.")
	}
	if rej := syncproto.VerifyAct(s.signKey, device, &m); rej != nil {
		return rej
	}
	if workflow.IsBookkeeping(m.Name) {
		// A close of a rejected act: the real server records it
		// (server/postgres/review.go) and changes no replicated row. This
		// fake keeps no review queue. Refusing it as an unknown act made
		// a test that closes an act while its engine runs depend on
		// whether the push came before its check.
		return nil
	}
	eff, err := workflow.Apply(context.Background(), memReader{fs}, workflow.Mutation{ID: m.ID, Name: m.Name, Args: m.Args,
		OccurredAt: m.OccurredAt, Actor: workflow.Actor{ID: s.user.ID, Name: s.user.Name, Role: s.user.Role}})
	if err != nil {
		if r, ok := workflow.AsRejection(err); ok {
			return r
		}
		fs.t.Errorf("fake server: apply: %v", err)
		return workflow.Reject("INTERNAL", "internal")
	}
	for _, op := range eff.Ops {
		row := map[string]any{"id": op.ID}
		for k, v := range op.Values {
			b, _ := json.Marshal(wireOf(v))
			var x any
			json.Unmarshal(b, &x)
			row[k] = x
		}
		fs.put(op.Table, row, device, m.Seq)
	}
	return nil
}

func wireOf(v any) any {
	if t, ok := v.(time.Time); ok {
		return t.UTC().Format("2006-01-02T15:04:05.000Z")
	}
	return v
}

func (fs *fakeServer) pull(device string, p *syncproto.Pull) (*syncproto.Changes, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	d := fs.devices[device]
	start, resync, snapshot := 0, false, p.Cursor == ""
	if p.Cursor != "" {
		// "f<n>": a feed position; "s<n>": a position inside a snapshot,
		// which may lie below the compacted part of the feed.
		n, err := strconv.Atoi(p.Cursor[1:])
		if err != nil || (p.Cursor[0] != 'f' && p.Cursor[0] != 's') {
			return nil, workflow.Reject(workflow.CodeValidationFailed, "bad cursor")
		}
		start, snapshot = n, p.Cursor[0] == 's'
		if !snapshot && start < fs.minFeed {
			start, resync, snapshot = 0, true, true
		}
	}
	end := min(len(fs.feed), start+fs.pageSize)
	page := &syncproto.Changes{RequestID: p.RequestID, Cursor: "f" + strconv.Itoa(end), More: end < len(fs.feed), Resync: resync}
	if snapshot {
		page.Total, page.Sent = int64(len(fs.feed)), int64(end)
		if page.More {
			page.Cursor = "s" + strconv.Itoa(end)
		}
	}
	for _, m := range d.seqAt {
		if m.feedEnd <= end {
			page.LastMutationSeq = m.seq
		}
	}
	for _, e := range fs.feed[start:end] {
		cols := workflow.VisibleColumns(d.roles, e.table)
		if cols == nil {
			continue
		}
		cur := fs.rows[e.table][e.id]
		if cur == nil {
			page.Changes = append(page.Changes, syncproto.Change{Table: e.table, Op: syncproto.OpDelete, ID: e.id})
			continue
		}
		row := map[string]any{}
		for _, c := range cols {
			if v, ok := cur[c]; ok {
				row[c] = v
			}
		}
		b, _ := json.Marshal(row)
		page.Changes = append(page.Changes, syncproto.Change{Table: e.table, Op: syncproto.OpUpsert, ID: e.id, Row: b})
	}
	return page, nil
}

// memReader is workflow.Reader over the fake server's rows.
type memReader struct{ fs *fakeServer }

func memRow[T any](fs *fakeServer, table, id string) (*T, error) {
	r := fs.rows[table][id]
	if r == nil {
		return nil, workflow.ErrNotFound
	}
	b, _ := json.Marshal(r)
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

func (m memReader) User(_ context.Context, id string) (*workflow.User, error) {
	return memRow[workflow.User](m.fs, workflow.TableUsers, id)
}
func (m memReader) Patient(_ context.Context, id string) (*workflow.Patient, error) {
	return memRow[workflow.Patient](m.fs, workflow.TablePatients, id)
}
func (m memReader) Appointment(_ context.Context, id string) (*workflow.Appointment, error) {
	return memRow[workflow.Appointment](m.fs, workflow.TableAppointments, id)
}
func (m memReader) Prescription(_ context.Context, id string) (*workflow.Prescription, error) {
	return memRow[workflow.Prescription](m.fs, workflow.TablePrescriptions, id)
}
func (m memReader) Result(_ context.Context, id string) (*workflow.Result, error) {
	return memRow[workflow.Result](m.fs, workflow.TableResults, id)
}
func (m memReader) ResultByPrescription(_ context.Context, pid string) (*workflow.Result, error) {
	for id, r := range m.fs.rows[workflow.TableResults] {
		if r["prescriptionId"] == pid {
			return memRow[workflow.Result](m.fs, workflow.TableResults, id)
		}
	}
	return nil, workflow.ErrNotFound
}
func (m memReader) Document(_ context.Context, id string) (*workflow.Document, error) {
	return memRow[workflow.Document](m.fs, workflow.TableDocuments, id)
}
func (m memReader) PatientRecords(_ context.Context, pid string) (*workflow.PatientRecords, error) {
	if m.fs.rows[workflow.TablePatients][pid] == nil {
		return nil, workflow.ErrNotFound
	}
	out := &workflow.PatientRecords{}
	for _, x := range []struct {
		table string
		ids   *[]string
	}{{workflow.TableAppointments, &out.Appointments}, {workflow.TablePrescriptions, &out.Prescriptions}, {workflow.TableDocuments, &out.Documents}} {
		for id, r := range m.fs.rows[x.table] {
			if r["patientId"] == pid {
				*x.ids = append(*x.ids, id)
			}
		}
		sort.Strings(*x.ids)
	}
	return out, nil
}

// lastSession is the id of the session the user's latest login opened.
func (fs *fakeServer) lastSession(userID string) string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	last, id := 0, ""
	for tok, s := range fs.tokens {
		n, _ := strconv.Atoi(strings.TrimPrefix(tok, "tok-"))
		if s.user.ID == userID && n > last {
			last, id = n, s.id
		}
	}
	return id
}
