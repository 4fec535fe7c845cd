package wardtest

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"wardsync/syncproto"
	"wardsync/workflow"
)

// Received is one frame from the server, as sent and as decoded.
type Received struct {
	Raw []byte
	F   syncproto.Frame
}

// Conn is a lean /sync websocket: no read loop, buffers the caller sizes,
// frames read by the caller. Benchmarks hold thousands of them.
type Conn struct {
	WS *websocket.Conn
	mu sync.Mutex // one writer at a time
}

// DialConn opens /sync at baseURL with token (none when empty), with read
// and write buffers of buf bytes (0: gorilla's default).
func DialConn(baseURL, token string, buf int) (*Conn, *http.Response, error) {
	h := http.Header{}
	bearer(h, token)
	d := websocket.Dialer{HandshakeTimeout: time.Minute, ReadBufferSize: buf, WriteBufferSize: buf}
	ws, resp, err := d.Dial("ws"+strings.TrimPrefix(baseURL, "http")+"/sync", h)
	if err != nil {
		return nil, resp, err
	}
	ws.SetReadLimit(8 << 20)
	return &Conn{WS: ws}, resp, nil
}

// DialHello is DialConn followed by hello h (its request id and protocol
// filled in when empty); the read deadline is lifted once welcomed.
func DialHello(baseURL, token string, buf int, h syncproto.Hello) (*Conn, *syncproto.Welcome, error) {
	c, _, err := DialConn(baseURL, token, buf)
	if err != nil {
		return nil, nil, err
	}
	h.RequestID, h.Protocol = cmp.Or(h.RequestID, "hello"), cmp.Or(h.Protocol, syncproto.Version)
	f, err := c.Request(&h, 2*time.Minute)
	if err == nil {
		err = c.WS.SetReadDeadline(time.Time{})
	}
	if err != nil {
		c.WS.Close()
		return nil, nil, err
	}
	return c, f.(*syncproto.Welcome), nil
}

// WriteMessage sends b as a frame of type typ (websocket.BinaryMessage...).
func (c *Conn) WriteMessage(typ int, b []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.WS.SetWriteDeadline(time.Now().Add(30 * time.Second))
	return c.WS.WriteMessage(typ, b)
}

// Write sends b as a text frame.
func (c *Conn) Write(b []byte) error { return c.WriteMessage(websocket.TextMessage, b) }

// Send encodes f and sends it as it is.
func (c *Conn) Send(f syncproto.Frame) error {
	b, err := syncproto.Encode(f)
	if err != nil {
		return err
	}
	return c.Write(b)
}

// Read reads the next frame, waiting at most d (0: for ever).
func (c *Conn) Read(d time.Duration) (syncproto.Frame, error) {
	var deadline time.Time
	if d > 0 {
		deadline = time.Now().Add(d)
	}
	_ = c.WS.SetReadDeadline(deadline)
	_, data, err := c.WS.ReadMessage()
	if err != nil {
		return nil, err
	}
	return syncproto.DecodeFromServer(data)
}

// Request sends f and returns the reply to its request id, skipping pokes;
// an error frame or another request's reply is an error.
func (c *Conn) Request(f syncproto.Frame, d time.Duration) (syncproto.Frame, error) {
	b, err := syncproto.Encode(f)
	if err != nil {
		return nil, err
	}
	var req struct {
		ID string `json:"requestId"`
	}
	_ = json.Unmarshal(b, &req)
	id := req.ID
	if err := c.Write(b); err != nil {
		return nil, err
	}
	for {
		r, err := c.Read(d)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", id, err)
		}
		switch got := syncproto.RequestIDOf(r); {
		case got == "":
		case got != id:
			return nil, fmt.Errorf("a reply to %q while waiting for %q", got, id)
		default:
			if e, ok := r.(*syncproto.Error); ok {
				return nil, fmt.Errorf("%s refused: %s %s", id, e.Code, e.Message)
			}
			return r, nil
		}
	}
}

// Close says goodbye and closes.
func (c *Conn) Close() {
	c.mu.Lock()
	_ = c.WS.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	c.mu.Unlock()
	_ = c.WS.Close()
}

// Client is a workstation's /sync websocket as a test drives it: a read
// loop sorts pokes from the other frames.
type Client struct {
	*Conn
	Server *Server
	Token  string
	Device string
	Seq    int64              // the device's last act's seq
	Chain  *syncproto.Chainer // shared by every connection of the device
	Frames chan Received      // every frame but pokes

	pokes    chan string
	reqN     atomic.Int64
	mu       sync.Mutex
	raw      [][]byte // every frame received, pokes included
	badFrame error    // a frame the protocol refuses
	closeErr error
	closed   chan struct{}
}

var chains sync.Map // database URL + device id → *syncproto.Chainer

// ChainOf is the chain of device's acts as tests sent them to s's
// database. Keyed by database too: parallel tests each have their own
// database but share device ids (the demo workstation).
func ChainOf(s *Server, device string) *syncproto.Chainer {
	c, _ := chains.LoadOrStore(s.DatabaseURL+"/"+device, &syncproto.Chainer{DeviceID: device})
	return c.(*syncproto.Chainer)
}

// DialError is a refused websocket handshake.
type DialError struct {
	Status int
	Body   string
}

func (e *DialError) Error() string {
	return fmt.Sprintf("dial /sync: HTTP %d %s", e.Status, e.Body)
}

// TryDial connects device with token, or says why not (a *DialError when
// the server refused the handshake).
func (s *Server) TryDial(tb testing.TB, token, device string) (*Client, error) {
	conn, resp, err := DialConn(s.URL(), token, 0)
	if err != nil {
		if resp != nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return nil, &DialError{resp.StatusCode, string(b)}
		}
		return nil, err
	}
	c := &Client{Conn: conn, Server: s, Token: token, Device: device, Chain: ChainOf(s, device),
		Frames: make(chan Received, 4096), pokes: make(chan string, 4096), closed: make(chan struct{})}
	go c.readLoop()
	tb.Cleanup(func() { c.WS.Close() })
	return c, nil
}

// Dial connects device with token; the hello is left to the test.
func (s *Server) Dial(tb testing.TB, token, device string) *Client {
	tb.Helper()
	c, err := s.TryDial(tb, token, device)
	check(tb, err)
	return c
}

// Connect dials and says hello; the device's next act follows the last
// one the server has.
func (s *Server) Connect(tb testing.TB, token, device string) *Client {
	tb.Helper()
	c := s.Dial(tb, token, device)
	c.Seq = c.Hello(tb, "").LastMutationSeq
	return c
}

func (c *Client) readLoop() {
	defer close(c.closed)
	for {
		_, data, err := c.WS.ReadMessage()
		c.mu.Lock()
		if err != nil {
			c.closeErr = err
			c.mu.Unlock()
			return
		}
		c.raw = append(c.raw, data)
		f, err := syncproto.DecodeFromServer(data)
		if err != nil && c.badFrame == nil {
			c.badFrame = fmt.Errorf("server sent a frame the protocol refuses: %v: %s", err, Clip(data))
		}
		c.mu.Unlock()
		if w, ok := f.(*syncproto.Welcome); ok && w.ChainHead != "" {
			c.Chain.Follow(w.LastMutationSeq, w.ChainHead)
		}
		if p, ok := f.(*syncproto.Poke); ok {
			select {
			case c.pokes <- p.Head:
			default:
			}
		} else if err == nil {
			c.Frames <- Received{Raw: data, F: f}
		}
	}
}

// Clip shortens b for a message.
func Clip(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// check fails tb on err.
func check(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// CheckFrames fails when the server sent a frame the protocol refuses.
func (c *Client) CheckFrames(tb testing.TB) {
	tb.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	check(tb, c.badFrame)
}

// NextID is a new request id for a frame of c.
func (c *Client) NextID(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, c.reqN.Add(1))
}

// SendFrame encodes and sends f; a push's acts are authored on the way,
// as a workstation would, so that every test's pushes carry a valid chain.
func (c *Client) SendFrame(tb testing.TB, f syncproto.Frame) {
	tb.Helper()
	if p, ok := f.(*syncproto.Push); ok {
		cp := *p
		cp.Mutations = slices.Clone(p.Mutations)
		check(tb, Author(c.Chain, cp.Mutations))
		f = &cp
	}
	b, err := syncproto.Encode(f)
	check(tb, err)
	c.SendRaw(tb, b)
}

// SendRaw sends b as it is.
func (c *Client) SendRaw(tb testing.TB, b []byte) {
	tb.Helper()
	check(tb, c.Write(b))
}

// Next returns the next frame that is not a poke.
func (c *Client) Next(tb testing.TB) Received {
	tb.Helper()
	return c.WaitFor(tb, "")
}

// WaitFor returns the reply to requestID, failing on anything else.
func (c *Client) WaitFor(tb testing.TB, requestID string) Received {
	tb.Helper()
	r, err := c.next(requestID)
	c.CheckFrames(tb)
	check(tb, err)
	return r
}

// request sends f (see SendFrame) and returns the reply to its request id.
func (c *Client) request(tb testing.TB, id string, f syncproto.Frame) Received {
	tb.Helper()
	c.SendFrame(tb, f)
	return c.WaitFor(tb, id)
}

// next is WaitFor for goroutines: it says why no frame came, or why it is
// not the reply to requestID ("": any frame).
func (c *Client) next(requestID string) (r Received, err error) {
	select {
	case r = <-c.Frames:
	case <-c.closed:
		select {
		case r = <-c.Frames:
		default:
			return r, fmt.Errorf("connection closed while waiting for a frame: %v", c.CloseError())
		}
	case <-time.After(WaitTimeout):
		return r, fmt.Errorf("no frame within %s", WaitTimeout)
	}
	if id := syncproto.RequestIDOf(r.F); requestID != "" && id != requestID {
		return r, fmt.Errorf("waiting for the reply to %s, got %s", requestID, Clip(r.Raw))
	}
	return r, nil
}

// Closed is closed once the connection has ended.
func (c *Client) Closed() <-chan struct{} { return c.closed }

// CloseError is how the connection ended (nil while it is open).
func (c *Client) CloseError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeErr
}

// WaitClosed waits for the server to close the connection and returns the
// close code (or -1 when it ended without a close frame).
func (c *Client) WaitClosed(tb testing.TB) int {
	tb.Helper()
	select {
	case <-c.closed:
	case <-time.After(WaitTimeout):
		tb.Fatalf("connection still open after %s", WaitTimeout)
	}
	var ce *websocket.CloseError
	if errors.As(c.CloseError(), &ce) {
		return ce.Code
	}
	return -1
}

// WaitPoke waits up to d for a poke.
func (c *Client) WaitPoke(d time.Duration) bool {
	select {
	case <-c.pokes:
		return true
	case <-time.After(d):
		return false
	}
}

// DrainPokes forgets the pokes received so far.
func (c *Client) DrainPokes() {
	for {
		select {
		case <-c.pokes:
		default:
			return
		}
	}
}

// RawFrames is every frame received, pokes included.
func (c *Client) RawFrames() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.raw)
}

// Hello says hello from cursor and returns the welcome.
func (c *Client) Hello(tb testing.TB, cursor string) *syncproto.Welcome {
	tb.Helper()
	return c.Say(tb, syncproto.Hello{Cursor: cursor})
}

// Say sends h, with the request id, protocol, device and last seq filled
// in when empty, and returns the welcome.
func (c *Client) Say(tb testing.TB, h syncproto.Hello) *syncproto.Welcome {
	tb.Helper()
	h.RequestID = c.NextID("hello")
	h.Protocol = cmp.Or(h.Protocol, syncproto.Version)
	h.DeviceID = cmp.Or(h.DeviceID, c.Device)
	h.LastMutationSeq = cmp.Or(h.LastMutationSeq, c.Seq)
	return reply[*syncproto.Welcome](tb, c.request(tb, h.RequestID, &h))
}

// reply is r's frame as a T, failing tb when it is another kind.
func reply[T syncproto.Frame](tb testing.TB, r Received) T {
	tb.Helper()
	f, ok := r.F.(T)
	if !ok {
		tb.Fatalf("want a %T, the server answered %s", f, Clip(r.Raw))
	}
	return f
}

// Mut builds the device's next act, authored by token's session.
func (c *Client) Mut(name string, args any, token string, at time.Time) syncproto.Mutation {
	c.Seq++
	return syncproto.Mutation{Seq: c.Seq, ID: uuid.NewString(), Name: name, Args: MustJSON(args), OccurredAt: at, SessionID: token}
}

// MustJSON is v as JSON (a json.RawMessage as it is).
func MustJSON(v any) json.RawMessage {
	if r, ok := v.(json.RawMessage); ok {
		return r
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// PushFrame sends a push and returns the raw reply.
func (c *Client) PushFrame(tb testing.TB, muts ...syncproto.Mutation) Received {
	tb.Helper()
	id := c.NextID("push")
	return c.request(tb, id, &syncproto.Push{RequestID: id, Mutations: muts})
}

// Push sends acts and returns their results, one per act in order.
func (c *Client) Push(tb testing.TB, muts ...syncproto.Mutation) []syncproto.MutationResult {
	tb.Helper()
	pr := reply[*syncproto.PushResult](tb, c.PushFrame(tb, muts...))
	if len(pr.Results) != len(muts) {
		tb.Fatalf("push of %d mutations got %d results", len(muts), len(pr.Results))
	}
	for i, res := range pr.Results {
		if res.Seq != muts[i].Seq {
			tb.Fatalf("result %d has seq %d, want %d", i, res.Seq, muts[i].Seq)
		}
	}
	return pr.Results
}

// PushEach pushes one act name per args, authored by token now.
func (c *Client) PushEach(tb testing.TB, token, name string, args ...any) []syncproto.MutationResult {
	tb.Helper()
	muts := make([]syncproto.Mutation, len(args))
	for i, a := range args {
		muts[i] = c.Mut(name, a, token, time.Now().UTC().Truncate(time.Millisecond))
	}
	return c.Push(tb, muts...)
}

// Act pushes one act and requires it applied.
func (c *Client) Act(tb testing.TB, name string, args any, token string, at time.Time) {
	tb.Helper()
	res := c.Push(tb, c.Mut(name, args, token, at))[0]
	if res.Status != syncproto.StatusApplied {
		tb.Fatalf("%s: %s %s: %s (field %q)", name, res.Status, res.Code, res.Message, res.Field)
	}
}

// Reject pushes one act and requires its rejection with code, message
// (see CheckMessage) and field.
func (c *Client) Reject(tb testing.TB, name string, args any, token string, at time.Time, code workflow.Code, message any, field string) syncproto.MutationResult {
	tb.Helper()
	res := c.Push(tb, c.Mut(name, args, token, at))[0]
	CheckRejected(tb, res, code, message, field)
	return res
}

// CheckRejected requires a rejected result with code, message and field.
func CheckRejected(tb testing.TB, res syncproto.MutationResult, code workflow.Code, message any, field string) {
	tb.Helper()
	if res.Status != syncproto.StatusRejected || res.Code != code {
		tb.Fatalf("want rejected %s, got %s %s: %s", code, res.Status, res.Code, res.Message)
	}
	CheckMessage(tb, res.Message, message)
	if res.Field != field {
		tb.Fatalf("rejection field = %q, want %q", res.Field, field)
	}
}

// CheckMessage requires got to be want: a string (exact) or a
// *regexp.Regexp.
func CheckMessage(tb testing.TB, got string, want any) {
	tb.Helper()
	switch w := want.(type) {
	case string:
		if got != w {
			tb.Fatalf("message\n got: %s\nwant: %s", got, w)
		}
	case *regexp.Regexp:
		if !w.MatchString(got) {
			tb.Fatalf("message\n got: %s\nwant match: %s", got, w)
		}
	default:
		panic("CheckMessage: want is neither a string nor a *regexp.Regexp")
	}
}

// Pull asks for the changes after cursor.
func (c *Client) Pull(tb testing.TB, cursor string, limit int) *syncproto.Changes {
	tb.Helper()
	ch, err := c.PullErr(cursor, limit)
	c.CheckFrames(tb)
	check(tb, err)
	return ch
}

// PullErr is Pull for goroutines: it reports instead of failing the test.
func (c *Client) PullErr(cursor string, limit int) (*syncproto.Changes, error) {
	id := c.NextID("pull")
	if err := c.Send(&syncproto.Pull{RequestID: id, Cursor: cursor, Limit: limit}); err != nil {
		return nil, err
	}
	r, err := c.next(id)
	if ch, ok := r.F.(*syncproto.Changes); ok || err != nil {
		return ch, err
	}
	return nil, fmt.Errorf("pull %s answered with %s", id, Clip(r.Raw))
}

// PullAll pulls into r until the server says there is no more.
func (c *Client) PullAll(tb testing.TB, r *Replica, limit int) {
	tb.Helper()
	for i := 0; ; i++ {
		if i > 10000 {
			tb.Fatal("pull never ends")
		}
		ch := c.Pull(tb, r.Cursor, limit)
		r.Apply(ch)
		if !ch.More {
			return
		}
	}
}
