package http_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/jackc/pgx/v5/pgxpool"

	"wardsync/internal/pgtest"
	httpserver "wardsync/server/http"
	"wardsync/server/postgres"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// waitTimeout bounds every wait for something the server should do soon.
// Generous, because test databases share one cluster (and its xid horizon)
// with other packages running at the same time.
const waitTimeout = 30 * time.Second

// testClock is the server's clock: real time plus an offset tests move.
type testClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// testEnv is one fresh, seeded database and a server in front of it.
type testEnv struct {
	Pool  *pgxpool.Pool
	DBURL string
	DB    *postgres.DB
	Srv   *httpserver.Server
	Clock *testClock
	cfg   postgres.Config
	opts  envOptions
}

type envOptions struct {
	perEmail, perIP int
	config          func(*postgres.Config)
}

type envOption func(*envOptions)

func withLoginLimits(perEmail, perIP int) envOption {
	return func(o *envOptions) { o.perEmail, o.perIP = perEmail, perIP }
}

func withConfig(f func(*postgres.Config)) envOption {
	return func(o *envOptions) { o.config = f }
}

func testLogger() *slog.Logger {
	if os.Getenv("WARDSYNC_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// newTestServer gives the test its own migrated, seeded database and a
// server listening on loopback; both are closed when the test ends.
func newTestServer(t testing.TB, opts ...envOption) *testEnv {
	t.Helper()
	o := envOptions{perEmail: 100000, perIP: 100000}
	for _, f := range opts {
		f(&o)
	}
	pool, url := pgtest.MustOpenDB(t)
	cfg := postgres.DefaultConfig()
	cfg.MaxConns = 10
	if o.config != nil {
		o.config(&cfg)
	}
	env := &testEnv{Pool: pool, DBURL: url, Clock: &testClock{}, cfg: cfg, opts: o}
	env.DB = env.openDB(t)
	if _, err := env.DB.Seed(context.Background()); err != nil {
		t.Fatalf("seed: %v", err)
	}
	env.Srv = env.startServer(t, env.DB)
	return env
}

func (e *testEnv) openDB(t testing.TB) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), e.DBURL, e.cfg)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	db.Now = e.Clock.Now
	t.Cleanup(func() { _ = db.Close(context.Background()) })
	return db
}

func (e *testEnv) startServer(t testing.TB, db *postgres.DB) *httpserver.Server {
	t.Helper()
	srv := httpserver.New(db, testLogger())
	srv.SetLoginLimits(e.opts.perEmail, e.opts.perIP)
	if err := srv.Open(context.Background(), "127.0.0.1:0"); err != nil {
		t.Fatalf("server open: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Close(ctx)
	})
	return srv
}

// secondInstance starts another server on the same database, with its own pool.
func (e *testEnv) secondInstance(t testing.TB) *httpserver.Server {
	t.Helper()
	return e.startServer(t, e.openDB(t))
}

// Seeded ids.
var (
	adminID     = postgres.SeedID("user:admin@hospital.com")
	doctorID    = postgres.SeedID("user:doctor@hospital.com")
	biologistID = postgres.SeedID("user:biologist@hospital.com")
	nurseID     = postgres.SeedID("user:nurse@hospital.com")
	secretaryID = postgres.SeedID("user:secretary@hospital.com")
	demo        = postgres.DemoDeviceID
)

func emailOf(role workflow.Role) string { return strings.ToLower(string(role)) + "@hospital.com" }
func passwordOf(role workflow.Role) string {
	return strings.ToLower(string(role)) + "123"
}

// postJSON posts v and decodes the JSON answer.
func postJSON(t testing.TB, url, token string, v any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(v)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("POST %s: answer is not JSON (%v): %s", url, err, body)
	}
	return resp.StatusCode, out
}

// loginBody is a login request as a workstation of protocol 2 sends it:
// with a fresh session signing key when it names a device.
func loginBody(email, password, device string) map[string]any {
	b := map[string]any{"email": email, "password": password, "deviceId": device}
	if device != "" {
		pub, _ := syncproto.NewKey()
		b["signKey"] = []byte(pub)
	}
	return b
}

// loginOn logs role's seeded user in on device and returns the token.
func loginOn(t testing.TB, srv *httpserver.Server, role workflow.Role, device string) string {
	t.Helper()
	return login(t, srv, emailOf(role), passwordOf(role), device)
}

func login(t testing.TB, srv *httpserver.Server, email, password, device string) string {
	t.Helper()
	pub, priv := syncproto.NewKey()
	code, out := postJSON(t, srv.URL()+"/api/v1/auth/login", "", map[string]any{"email": email, "password": password, "deviceId": device, "signKey": []byte(pub)})
	if code != http.StatusOK {
		t.Fatalf("login %s on %s: %d %v", email, device, code, out)
	}
	tok, _ := out["token"].(string)
	if tok == "" {
		t.Fatalf("login %s: no token in %v", email, out)
	}
	rememberKey(tok, out, priv)
	if u, ok := out["user"].(map[string]any); ok {
		id, _ := u["id"].(string)
		tokenUsers.Store(tok, id)
		if sid, _ := out["sessionId"].(string); sid != "" {
			tokenUsers.Store(sid, id)
		}
	}
	return tok
}

var chainers sync.Map // database name + device id → *syncproto.Chainer

// chainerOf is the chain of device's acts as the tests sent them to srv's
// database. Keyed by database too: parallel tests each have their own
// database but share device ids (the demo workstation), and one chain for
// all of them broke each other's links.
func chainerOf(srv *httpserver.Server, device string) *syncproto.Chainer {
	key := srv.DB.Pool.Config().ConnConfig.Database + "/" + device
	c, _ := chainers.LoadOrStore(key, &syncproto.Chainer{DeviceID: device})
	return c.(*syncproto.Chainer)
}

// tokenUsers maps each session token a test logged in to its user id, the
// author id a workstation would hash and send with its acts.
var tokenUsers sync.Map

// authorOf is the user id of token's session, or a stand-in for a token no
// login issued (the server refuses the act UNAUTHENTICATED anyway).
func authorOf(token string) string {
	if id, ok := tokenUsers.Load(token); ok && id.(string) != "" {
		return id.(string)
	}
	if k, ok := sessionKeys.Get(token); ok {
		token = k.SessionID
	}
	if id, ok := tokenUsers.Load(token); ok && id.(string) != "" {
		return id.(string)
	}
	return "unknown-author"
}

// sessionKeys are the session keys of the tests' logins, by token and by
// session id: a test names an act's session by the token its login
// returned (SessionID: tok), and chainMutations swaps in the session id
// and signs, as a workstation would.
var sessionKeys syncproto.Keyring

// rememberKey keeps the key of the login that answered out with tok.
func rememberKey(tok string, out map[string]any, priv ed25519.PrivateKey) {
	sid, _ := out["sessionId"].(string)
	sessionKeys.Put(tok, syncproto.SessionKey{SessionID: sid, Priv: priv})
	sessionKeys.Put(sid, syncproto.SessionKey{SessionID: sid, Priv: priv})
}

// chainMutations sets authorId, links muts and signs them as an honest
// workstation would. An act whose session no login of the tests opened is
// left unsigned.
func chainMutations(t testing.TB, c *syncproto.Chainer, muts []syncproto.Mutation) {
	t.Helper()
	for i := range muts {
		if muts[i].AuthorID == "" {
			muts[i].AuthorID = authorOf(muts[i].SessionID)
		}
	}
	if err := c.Link(muts); err != nil {
		t.Fatal(err)
	}
	signAll(muts)
}

// signAll signs each of muts whose session a test login opened.
func signAll(muts []syncproto.Mutation) {
	for i := range muts {
		if k, ok := sessionKeys.Get(muts[i].SessionID); ok {
			syncproto.SignAct(k.Priv, k.SessionID, &muts[i])
		}
	}
}

// addDevice registers a workstation serving roles.
func (e *testEnv) addDevice(t testing.TB, name string, roles ...workflow.Role) string {
	t.Helper()
	d, err := e.DB.AddDevice(context.Background(), "", name, roles)
	if err != nil {
		t.Fatalf("add device: %v", err)
	}
	return d.ID
}

// received is one frame from the server, as sent and as decoded.
type received struct {
	raw []byte
	f   syncproto.Frame
}

// wsClient is a workstation's websocket as a test drives it.
type wsClient struct {
	t      testing.TB
	ws     *websocket.Conn
	srv    *httpserver.Server
	token  string
	device string
	seq    int64
	reqN   int
	chain  *syncproto.Chainer // shared by every connection of the device

	frames chan received
	pokes  chan string

	mu       sync.Mutex
	raw      [][]byte // every frame received, pokes included
	badFrame error    // a frame the protocol refuses
	closeErr error
	closed   chan struct{}
	writeMu  sync.Mutex
}

func wsURL(srv *httpserver.Server) string { return "ws://" + srv.Addr() + "/sync" }

// dialRaw opens /sync with token (none when empty).
func dialRaw(srv *httpserver.Server, token string) (*websocket.Conn, *http.Response, error) {
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	return d.Dial(wsURL(srv), h)
}

// dial connects device with token; hello is left to the test.
func dial(t testing.TB, srv *httpserver.Server, token, device string) *wsClient {
	t.Helper()
	ws, resp, err := dialRaw(srv, token)
	if err != nil {
		body := ""
		if resp != nil {
			b, _ := io.ReadAll(resp.Body)
			body = fmt.Sprintf(" (HTTP %d %s)", resp.StatusCode, b)
		}
		t.Fatalf("dial /sync: %v%s", err, body)
	}
	ws.SetReadLimit(4 << 20)
	c := &wsClient{t: t, ws: ws, srv: srv, token: token, device: device, chain: chainerOf(srv, device), frames: make(chan received, 4096), pokes: make(chan string, 4096), closed: make(chan struct{})}
	go c.readLoop()
	t.Cleanup(func() { c.ws.Close() })
	return c
}

// connect dials and says hello.
func connect(t testing.TB, srv *httpserver.Server, token, device string) *wsClient {
	t.Helper()
	c := dial(t, srv, token, device)
	c.hello(t, "")
	return c
}

func (c *wsClient) readLoop() {
	defer close(c.closed)
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			c.mu.Lock()
			c.closeErr = err
			c.mu.Unlock()
			return
		}
		c.mu.Lock()
		c.raw = append(c.raw, data)
		c.mu.Unlock()
		f, err := syncproto.DecodeFromServer(data)
		if err != nil {
			c.mu.Lock()
			if c.badFrame == nil {
				c.badFrame = fmt.Errorf("server sent a frame the protocol refuses: %v: %s", err, clip(data))
			}
			c.mu.Unlock()
			continue
		}
		if w, ok := f.(*syncproto.Welcome); ok && w.ChainHead != "" {
			c.chain.Follow(w.LastMutationSeq, w.ChainHead)
		}
		if p, ok := f.(*syncproto.Poke); ok {
			select {
			case c.pokes <- p.Head:
			default:
			}
			continue
		}
		c.frames <- received{raw: data, f: f}
	}
}

func clip(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

func (c *wsClient) checkFrames(t testing.TB) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.badFrame != nil {
		t.Fatal(c.badFrame)
	}
}

func (c *wsClient) nextID(prefix string) string {
	c.reqN++
	return fmt.Sprintf("%s-%d", prefix, c.reqN)
}

func (c *wsClient) sendFrame(t testing.TB, f syncproto.Frame) {
	t.Helper()
	if p, ok := f.(*syncproto.Push); ok {
		// Chained here, as a workstation would, so that every test's
		// pushes carry a valid chain.
		cp := *p
		cp.Mutations = append([]syncproto.Mutation(nil), p.Mutations...)
		chainMutations(t, c.chain, cp.Mutations)
		f = &cp
	}
	b, err := syncproto.Encode(f)
	if err != nil {
		t.Fatalf("encode %T: %v", f, err)
	}
	c.sendRaw(t, b)
}

func (c *wsClient) sendRaw(t testing.TB, b []byte) {
	t.Helper()
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// next returns the next frame that is not a poke.
func (c *wsClient) next(t testing.TB) received {
	t.Helper()
	select {
	case r := <-c.frames:
		c.checkFrames(t)
		return r
	case <-c.closed:
		select {
		case r := <-c.frames:
			return r
		default:
		}
		c.checkFrames(t)
		t.Fatalf("connection closed while waiting for a frame: %v", c.closeError())
	case <-time.After(waitTimeout):
		t.Fatalf("no frame within %s", waitTimeout)
	}
	return received{}
}

// waitFor returns the reply to requestID, failing on anything else.
func (c *wsClient) waitFor(t testing.TB, requestID string) received {
	t.Helper()
	r := c.next(t)
	if id := requestIDOf(r.f); id != requestID {
		t.Fatalf("waiting for the reply to %s, got %s", requestID, r.raw)
	}
	return r
}

func requestIDOf(f syncproto.Frame) string {
	switch f := f.(type) {
	case *syncproto.Welcome:
		return f.RequestID
	case *syncproto.PushResult:
		return f.RequestID
	case *syncproto.Changes:
		return f.RequestID
	case *syncproto.Error:
		return f.RequestID
	}
	return ""
}

func (c *wsClient) closeError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeErr
}

// waitClosed waits for the server to close the connection and returns the
// close code (or -1 when it ended without a close frame).
func (c *wsClient) waitClosed(t testing.TB) int {
	t.Helper()
	select {
	case <-c.closed:
	case <-time.After(waitTimeout):
		t.Fatalf("connection still open after %s", waitTimeout)
	}
	var ce *websocket.CloseError
	if errors.As(c.closeError(), &ce) {
		return ce.Code
	}
	return -1
}

// waitPoke waits up to d for a poke.
func (c *wsClient) waitPoke(d time.Duration) bool {
	select {
	case <-c.pokes:
		return true
	case <-time.After(d):
		return false
	}
}

func (c *wsClient) drainPokes() {
	for {
		select {
		case <-c.pokes:
		default:
			return
		}
	}
}

func (c *wsClient) rawFrames() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.raw...)
}

func (c *wsClient) hello(t testing.TB, cursor string) *syncproto.Welcome {
	t.Helper()
	id := c.nextID("hello")
	c.sendFrame(t, &syncproto.Hello{RequestID: id, Protocol: syncproto.Version, DeviceID: c.device, Cursor: cursor, LastMutationSeq: c.seq})
	r := c.waitFor(t, id)
	w, ok := r.f.(*syncproto.Welcome)
	if !ok {
		t.Fatalf("hello answered with %s", r.raw)
	}
	return w
}

// mut builds the device's next mutation.
func (c *wsClient) mut(name string, args any, token string, at time.Time) syncproto.Mutation {
	c.seq++
	return syncproto.Mutation{Seq: c.seq, ID: uuid.NewString(), Name: name, Args: mustJSON(args), OccurredAt: at, SessionID: token}
}

func mustJSON(v any) json.RawMessage {
	if r, ok := v.(json.RawMessage); ok {
		return r
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// pushFrame sends a push and returns the raw reply.
func (c *wsClient) pushFrame(t testing.TB, muts ...syncproto.Mutation) received {
	t.Helper()
	id := c.nextID("push")
	c.sendFrame(t, &syncproto.Push{RequestID: id, Mutations: muts})
	return c.waitFor(t, id)
}

// push sends mutations and returns their results.
func (c *wsClient) push(t testing.TB, muts ...syncproto.Mutation) []syncproto.MutationResult {
	t.Helper()
	r := c.pushFrame(t, muts...)
	pr, ok := r.f.(*syncproto.PushResult)
	if !ok {
		t.Fatalf("push answered with %s", r.raw)
	}
	if len(pr.Results) != len(muts) {
		t.Fatalf("push of %d mutations got %d results", len(muts), len(pr.Results))
	}
	for i, res := range pr.Results {
		if res.Seq != muts[i].Seq {
			t.Fatalf("result %d has seq %d, want %d", i, res.Seq, muts[i].Seq)
		}
	}
	return pr.Results
}

// act pushes one mutation and requires it applied.
func (c *wsClient) act(t testing.TB, name string, args any, token string, at time.Time) {
	t.Helper()
	res := c.push(t, c.mut(name, args, token, at))[0]
	if res.Status != syncproto.StatusApplied {
		t.Fatalf("%s: %s %s: %s (field %q)", name, res.Status, res.Code, res.Message, res.Field)
	}
}

// reject pushes one mutation and requires its rejection with code and message.
func (c *wsClient) reject(t testing.TB, name string, args any, token string, at time.Time, code workflow.Code, message any, field string) syncproto.MutationResult {
	t.Helper()
	res := c.push(t, c.mut(name, args, token, at))[0]
	checkRejected(t, res, code, message, field)
	return res
}

// checkRejected requires a rejected result; message is a string (exact) or
// a *regexp.Regexp.
func checkRejected(t testing.TB, res syncproto.MutationResult, code workflow.Code, message any, field string) {
	t.Helper()
	if res.Status != syncproto.StatusRejected || res.Code != code {
		t.Fatalf("want rejected %s, got %s %s: %s", code, res.Status, res.Code, res.Message)
	}
	checkMessage(t, res.Message, message)
	if res.Field != field {
		t.Fatalf("rejection field = %q, want %q", res.Field, field)
	}
}

func checkMessage(t testing.TB, got string, want any) {
	t.Helper()
	switch w := want.(type) {
	case string:
		if got != w {
			t.Fatalf("message\n got: %s\nwant: %s", got, w)
		}
	case *regexp.Regexp:
		if !w.MatchString(got) {
			t.Fatalf("message\n got: %s\nwant match: %s", got, w)
		}
	default:
		panic("checkMessage: bad want")
	}
}

func (c *wsClient) pull(t testing.TB, cursor string, limit int) *syncproto.Changes {
	t.Helper()
	id := c.nextID("pull")
	c.sendFrame(t, &syncproto.Pull{RequestID: id, Cursor: cursor, Limit: limit})
	r := c.waitFor(t, id)
	ch, ok := r.f.(*syncproto.Changes)
	if !ok {
		t.Fatalf("pull answered with %s", r.raw)
	}
	return ch
}

// replica is what a device has pulled: table → id → row.
type replica struct {
	rows    map[string]map[string]json.RawMessage
	cursor  string
	lastSeq int64
	pages   int
}

func newReplica() *replica {
	return &replica{rows: map[string]map[string]json.RawMessage{}}
}

func (r *replica) apply(ch *syncproto.Changes) {
	if ch.Resync {
		r.rows = map[string]map[string]json.RawMessage{}
	}
	for _, c := range ch.Changes {
		m := r.rows[c.Table]
		if m == nil {
			m = map[string]json.RawMessage{}
			r.rows[c.Table] = m
		}
		switch c.Op {
		case syncproto.OpUpsert:
			m[c.ID] = c.Row
		case syncproto.OpDelete:
			delete(m, c.ID)
		}
	}
	r.cursor = ch.Cursor
	r.lastSeq = ch.LastMutationSeq
	r.pages++
}

// pullAll pulls until the server says there is no more.
func (c *wsClient) pullAll(t testing.TB, r *replica, limit int) {
	t.Helper()
	for i := 0; ; i++ {
		if i > 10000 {
			t.Fatal("pull never ends")
		}
		ch := c.pull(t, r.cursor, limit)
		r.apply(ch)
		if !ch.More {
			return
		}
	}
}

// pgState reads every row PostgreSQL holds, as a device serving roles may
// see it: table → id → column → normalised value.
func pgState(t testing.TB, pool *pgxpool.Pool, roles []workflow.Role) map[string]map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]map[string]any{}
	for _, table := range workflow.VisibleTables(roles) {
		rows, err := pool.Query(context.Background(), `SELECT id, to_jsonb(t.*)::text FROM `+table+` t`)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]map[string]any{}
		for rows.Next() {
			var id, js string
			if err := rows.Scan(&id, &js); err != nil {
				t.Fatal(err)
			}
			m[id] = normalizeRow(t, []byte(js), workflow.VisibleColumns(roles, table))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if len(m) > 0 {
			out[table] = m
		}
	}
	return out
}

// replicaState normalises a replica like pgState.
func replicaState(t testing.TB, r *replica) map[string]map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]map[string]any{}
	for table, rows := range r.rows {
		if len(rows) == 0 {
			continue
		}
		m := map[string]map[string]any{}
		for id, row := range rows {
			m[id] = normalizeRow(t, row, nil)
		}
		out[table] = m
	}
	return out
}

var timestampRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?$`)

// normalizeRow decodes a row; keep limits it to those columns. Numbers
// become their text, timestamps UTC RFC 3339 with milliseconds, so that
// PostgreSQL's to_jsonb and the server's encoding compare equal.
func normalizeRow(t testing.TB, js []byte, keep []string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("row %s: %v", js, err)
	}
	if keep != nil {
		k := map[string]any{}
		for _, c := range keep {
			if v, ok := m[c]; ok {
				k[c] = v
			} else {
				k[c] = nil
			}
		}
		m = k
	}
	for c, v := range m {
		m[c] = normalizeValue(v)
	}
	return m
}

func normalizeValue(v any) any {
	switch x := v.(type) {
	case json.Number:
		return "num:" + x.String()
	case string:
		if timestampRE.MatchString(x) {
			s := x
			if !strings.HasSuffix(s, "Z") && !regexp.MustCompile(`[+-]\d\d:\d\d$`).MatchString(s) {
				s += "Z"
			}
			if tm, err := time.Parse(time.RFC3339Nano, s); err == nil {
				return "time:" + tm.UTC().Format("2006-01-02T15:04:05.000Z")
			}
		}
		// Decimals travel as text ("45.00"), PostgreSQL's to_jsonb writes numbers.
		if regexp.MustCompile(`^-?\d+\.\d\d$`).MatchString(x) {
			return "num:" + x
		}
		return x
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeValue(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normalizeValue(e)
		}
		return x
	}
	return v
}

// diffStates describes how two states differ ("" when equal).
func diffStates(got, want map[string]map[string]map[string]any) string {
	var b strings.Builder
	tables := map[string]bool{}
	for t := range got {
		tables[t] = true
	}
	for t := range want {
		tables[t] = true
	}
	names := make([]string, 0, len(tables))
	for t := range tables {
		names = append(names, t)
	}
	sort.Strings(names)
	n := 0
	for _, table := range names {
		g, w := got[table], want[table]
		for id, wr := range w {
			gr, ok := g[id]
			switch {
			case !ok:
				fmt.Fprintf(&b, "%s %s missing from the replica\n", table, id)
				n++
			case !reflect.DeepEqual(gr, wr):
				for col := range wr {
					if !reflect.DeepEqual(gr[col], wr[col]) {
						fmt.Fprintf(&b, "%s %s.%s: replica %v, PostgreSQL %v\n", table, id, col, gr[col], wr[col])
					}
				}
				for col := range gr {
					if _, ok := wr[col]; !ok {
						fmt.Fprintf(&b, "%s %s: replica has column %s PostgreSQL does not give\n", table, id, col)
					}
				}
				n++
			}
			if n > 20 {
				return b.String() + "…\n"
			}
		}
		for id := range g {
			if _, ok := w[id]; !ok {
				fmt.Fprintf(&b, "%s %s in the replica but not in PostgreSQL\n", table, id)
				n++
			}
		}
	}
	return b.String()
}

// eventually retries check until it returns "" or the deadline passes.
func eventually(t testing.TB, d time.Duration, check func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	pause := 5 * time.Millisecond
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still not true after %s:\n%s", d, msg)
		}
		time.Sleep(pause)
		pause = min(pause*3/2, 200*time.Millisecond)
	}
}

// count runs a count query.
func count(t testing.TB, pool *pgxpool.Pool, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := pool.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// tableCounts counts the rows of every seed table and of the audit log.
func tableCounts(t testing.TB, pool *pgxpool.Pool) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, table := range append(append([]string{}, workflow.Tables...), "sync.mutations", "sync.changes") {
		out[table] = count(t, pool, `SELECT count(*) FROM `+table)
	}
	return out
}

// ms is a time as TIMESTAMP(3) keeps it.
func ms(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

func seedID(name string) string { return postgres.SeedID(name) }

// pullErr is pull for goroutines: it reports instead of failing the test.
func (c *wsClient) pullErr(cursor string, limit int) (*syncproto.Changes, error) {
	c.writeMu.Lock()
	c.reqN++
	id := fmt.Sprintf("bg-%d", c.reqN)
	b, err := syncproto.Encode(&syncproto.Pull{RequestID: id, Cursor: cursor, Limit: limit})
	if err == nil {
		_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
		err = c.ws.WriteMessage(websocket.TextMessage, b)
	}
	c.writeMu.Unlock()
	if err != nil {
		return nil, err
	}
	select {
	case r := <-c.frames:
		ch, ok := r.f.(*syncproto.Changes)
		if !ok || ch.RequestID != id {
			return nil, fmt.Errorf("pull %s answered with %s", id, clip(r.raw))
		}
		return ch, nil
	case <-c.closed:
		return nil, fmt.Errorf("connection closed: %v", c.closeError())
	case <-time.After(waitTimeout):
		return nil, fmt.Errorf("no answer to pull %s", id)
	}
}

// follower keeps a replica up to date the way a workstation does: it pulls
// when poked, and only then.
type follower struct {
	c    *wsClient
	mu   sync.Mutex
	rep  *replica
	err  error
	stop chan struct{}
	done chan struct{}
}

func follow(t testing.TB, c *wsClient) *follower {
	f := &follower{c: c, rep: newReplica(), stop: make(chan struct{}), done: make(chan struct{})}
	pullAll := func() error {
		for {
			f.mu.Lock()
			cur := f.rep.cursor
			f.mu.Unlock()
			ch, err := c.pullErr(cur, 0)
			if err != nil {
				return err
			}
			f.mu.Lock()
			f.rep.apply(ch)
			f.mu.Unlock()
			if !ch.More {
				return nil
			}
		}
	}
	go func() {
		defer close(f.done)
		if err := pullAll(); err != nil {
			f.setErr(err)
			return
		}
		for {
			select {
			case <-f.stop:
				return
			case <-c.pokes:
				if err := pullAll(); err != nil {
					f.setErr(err)
					return
				}
			}
		}
	}()
	t.Cleanup(f.close)
	return f
}

func (f *follower) setErr(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

func (f *follower) close() {
	select {
	case <-f.stop:
	default:
		close(f.stop)
	}
	<-f.done
}

// state is the follower's replica, normalised (and its error, if it stopped).
func (f *follower) state(t testing.TB) (map[string]map[string]map[string]any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return replicaState(t, f.rep), f.err
}

// converges waits until the follower holds what PostgreSQL holds for roles.
func (f *follower) converges(t testing.TB, pool *pgxpool.Pool, roles []workflow.Role, d time.Duration) {
	t.Helper()
	eventually(t, d, func() string {
		got, err := f.state(t)
		if err != nil {
			t.Fatalf("follower stopped: %v", err)
		}
		return diffStates(got, pgState(t, pool, roles))
	})
}

type jsonRaw = json.RawMessage

var jsonUnmarshal = json.Unmarshal

// caughtUp waits until the follower's cursor is past every change made so
// far, so that no row image it receives later can be one it was owed.
func (f *follower) caughtUp(t testing.TB, pool *pgxpool.Pool) {
	t.Helper()
	eventually(t, waitTimeout, func() string {
		f.mu.Lock()
		cur := f.rep.cursor
		f.mu.Unlock()
		var x int64
		if _, err := fmt.Sscanf(cur, "f.%d.", &x); err != nil {
			return "cursor " + cur
		}
		if x <= count(t, pool, `SELECT COALESCE(max(xid)::text::bigint, 0) FROM sync.changes`) {
			return "the follower's cursor is not past the last change"
		}
		return ""
	})
}
