package remote

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"wardsync/syncproto"
	"wardsync/workflow"
)

// Options tune a connection; the zero value is usable.
type Options struct {
	// Dialer defaults to a websocket dialer with a 15 s handshake timeout.
	Dialer *websocket.Dialer
	// PingInterval is how often the client pings (default 20 s), and
	// ReadTimeout how long it waits for any frame or pong before calling
	// the connection dead (default 3 × PingInterval): a cable pulled out
	// shows no error, only silence.
	PingInterval time.Duration
	ReadTimeout  time.Duration
	// WriteTimeout bounds one frame's write (default 15 s).
	WriteTimeout time.Duration
}

// FrameError is an error frame the server sent. errors.As finds the
// *workflow.Rejection in it.
type FrameError struct{ Frame *syncproto.Error }

func (e *FrameError) Error() string {
	fatal := ""
	if e.Frame.Fatal {
		fatal = " (fatal)"
	}
	return fmt.Sprintf("server error frame%s: %s: %s", fatal, e.Frame.Code, e.Frame.Message)
}

func (e *FrameError) Unwrap() error { return e.Frame.Rejection() }

// ErrClosed is returned by calls on a connection closed by this side.
var ErrClosed = errors.New("remote: connection closed")

// Conn is one /sync websocket. Requests may be issued from several
// goroutines; each waits for the reply carrying its requestId.
type Conn struct {
	ws   *websocket.Conn
	opts Options

	writeMu sync.Mutex
	nextID  atomic.Int64

	mu      sync.Mutex
	waiting map[string]chan syncproto.Frame

	pokes chan syncproto.Poke
	pages chan *syncproto.Changes

	done      chan struct{}
	closeOnce sync.Once
	err       error // why done closed; set before done closes
}

// SyncURL turns the server's base URL into its websocket endpoint.
func SyncURL(serverURL string) (string, error) {
	u, err := url.Parse(serverURL)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("remote: server URL %q must be http(s)://host[:port]", serverURL)
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("remote: server URL %q must be http(s)://host[:port]", serverURL)
	}
	if err := CheckURL(serverURL); err != nil {
		return "", err
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/sync"
	return u.String(), nil
}

// Dial opens the websocket with token as bearer. A refusal of the upgrade
// (401, 403…) is an *HTTPError.
func Dial(ctx context.Context, serverURL, token string, opts Options) (*Conn, error) {
	h := http.Header{}
	h.Set("Authorization", "Bearer "+token)
	return dial(ctx, serverURL, h, opts)
}

// DialProved opens /sync as protocol 2 does: over a fresh challenge, the
// device proves its key (deviceKey; nil for a workstation claimed before
// device keys) and session sk proves its own. client fetches the nonce.
func DialProved(ctx context.Context, client *http.Client, serverURL, deviceID string, deviceKey ed25519.PrivateKey, sk syncproto.SessionKey, opts Options) (*Conn, error) {
	nonce, err := Challenge(ctx, client, serverURL)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	for k, v := range syncproto.UpgradeHeaders(deviceID, deviceKey, sk, nonce) {
		h.Set(k, v)
	}
	return dial(ctx, serverURL, h, opts)
}

func dial(ctx context.Context, serverURL string, h http.Header, opts Options) (*Conn, error) {
	if opts.PingInterval <= 0 {
		opts.PingInterval = 20 * time.Second
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = 3 * opts.PingInterval
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 15 * time.Second
	}
	d := opts.Dialer
	if d == nil {
		d = &websocket.Dialer{Proxy: http.ProxyFromEnvironment, HandshakeTimeout: 15 * time.Second}
	}
	u, err := SyncURL(serverURL)
	if err != nil {
		return nil, err
	}
	ws, resp, err := d.DialContext(ctx, u, h)
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
			return nil, httpError(resp, body)
		}
		if sec := explainTLS(err, serverURL); sec != err {
			return nil, sec
		}
		return nil, fmt.Errorf("remote: dial %s: %w", u, err)
	}
	// Frames are bounded by the protocol; anything larger is refused
	// before it is read into memory.
	ws.SetReadLimit(syncproto.MaxFrameBytes + 1024)
	c := &Conn{ws: ws, opts: opts, waiting: map[string]chan syncproto.Frame{},
		pokes: make(chan syncproto.Poke, 1), pages: make(chan *syncproto.Changes, pushedPagesQueued), done: make(chan struct{})}
	ws.SetReadDeadline(time.Now().Add(opts.ReadTimeout))
	ws.SetPongHandler(func(string) error {
		return ws.SetReadDeadline(time.Now().Add(opts.ReadTimeout))
	})
	go c.readLoop()
	go c.pingLoop()
	return c, nil
}

// Done is closed when the connection has ended; Err then says why.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err is the reason the connection ended (nil while it is open).
func (c *Conn) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// Pokes delivers the server's pokes. Pokes coalesce: only the latest
// waits, since each just means "pull".
func (c *Conn) Pokes() <-chan syncproto.Poke { return c.pokes }

// pushedPagesQueued bounds the pushed pages waiting to be applied. Each
// follows the one before (its from is that one's cursor), so when the
// queue is full the oldest is dropped: the pages after it no longer match
// the replica's cursor, and the workstation pulls instead.
const pushedPagesQueued = 16

// Pages delivers the pages the server pushed unasked (changes frames with
// from; the hello asked for them with pages), in the order sent.
func (c *Conn) Pages() <-chan *syncproto.Changes { return c.pages }

// Close ends the connection with a normal closure.
func (c *Conn) Close() error {
	c.writeMu.Lock()
	c.ws.SetWriteDeadline(time.Now().Add(time.Second))
	c.ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"))
	c.writeMu.Unlock()
	c.fail(ErrClosed)
	return nil
}

func (c *Conn) fail(err error) {
	c.closeOnce.Do(func() {
		c.err = err
		close(c.done)
		c.ws.Close()
	})
}

// readFrame reads the next message into buf, which it empties first, and
// returns its bytes (valid until the next call).
func (c *Conn) readFrame(buf *bytes.Buffer) ([]byte, error) {
	_, r, err := c.ws.NextReader()
	if err != nil {
		return nil, err
	}
	buf.Reset()
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (c *Conn) readLoop() {
	// One buffer for every frame: a page is near 1 MiB, and reading each
	// into a fresh slice grown from 512 bytes copied it twice over. The
	// decoded frame does not alias the bytes it was read from.
	var buf bytes.Buffer
	for {
		data, err := c.readFrame(&buf)
		if err != nil {
			c.fail(fmt.Errorf("remote: read: %w", err))
			return
		}
		c.ws.SetReadDeadline(time.Now().Add(c.opts.ReadTimeout))
		f, err := syncproto.DecodeFromServer(data)
		if err != nil {
			// A server that speaks something else cannot be trusted with
			// the next frame either.
			c.fail(fmt.Errorf("remote: undecodable frame from the server: %w", err))
			return
		}
		switch f := f.(type) {
		case *syncproto.Poke:
			select {
			case <-c.pokes: // drop the older one
			default:
			}
			c.pokes <- *f
			continue
		case *syncproto.Changes:
			if f.From == "" {
				break // an answer to a pull
			}
			for {
				select {
				case c.pages <- f:
				default:
					select {
					case <-c.pages: // drop the oldest
					default:
					}
					continue
				}
				break
			}
			continue
		case *syncproto.Error:
			if f.RequestID == "" || !c.deliver(f.RequestID, f) {
				if f.Fatal {
					c.fail(&FrameError{Frame: f})
					return
				}
			}
			continue
		}
		c.deliver(syncproto.RequestIDOf(f), f)
	}
}

func (c *Conn) deliver(id string, f syncproto.Frame) bool {
	c.mu.Lock()
	ch, ok := c.waiting[id]
	delete(c.waiting, id)
	c.mu.Unlock()
	if ok {
		ch <- f
	}
	return ok
}

func (c *Conn) pingLoop() {
	t := time.NewTicker(c.opts.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			c.writeMu.Lock()
			err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.opts.WriteTimeout))
			c.writeMu.Unlock()
			if err != nil {
				c.fail(fmt.Errorf("remote: ping: %w", err))
				return
			}
		}
	}
}

func (c *Conn) send(f syncproto.Frame) error {
	data, err := syncproto.Encode(f)
	if err != nil {
		return err
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	select {
	case <-c.done:
		return c.err
	default:
	}
	c.ws.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
	if err := c.ws.WriteMessage(websocket.TextMessage, data); err != nil {
		err = fmt.Errorf("remote: write: %w", err)
		c.fail(err)
		return err
	}
	return nil
}

func (c *Conn) newRequestID() string { return "r-" + strconv.FormatInt(c.nextID.Add(1), 10) }

// request sends f (whose requestId is id) and waits for its reply.
func (c *Conn) request(ctx context.Context, id string, f syncproto.Frame) (syncproto.Frame, error) {
	wait, err := c.start(id, f)
	if err != nil {
		return nil, err
	}
	return wait(ctx)
}

// start sends f (whose requestId is id) and returns the wait for its
// reply. The frame is on the socket when start returns, so requests
// started one after another reach the server in that order.
func (c *Conn) start(id string, f syncproto.Frame) (func(context.Context) (syncproto.Frame, error), error) {
	ch := make(chan syncproto.Frame, 1)
	c.mu.Lock()
	c.waiting[id] = ch
	c.mu.Unlock()
	forget := func() {
		c.mu.Lock()
		delete(c.waiting, id)
		c.mu.Unlock()
	}
	if err := c.send(f); err != nil {
		forget()
		return nil, err
	}
	return func(ctx context.Context) (syncproto.Frame, error) {
		defer forget()
		return c.await(ctx, ch)
	}, nil
}

func (c *Conn) await(ctx context.Context, ch chan syncproto.Frame) (syncproto.Frame, error) {
	select {
	case r := <-ch:
		if e, ok := r.(*syncproto.Error); ok {
			if e.Fatal {
				c.fail(&FrameError{Frame: e})
			}
			return nil, &FrameError{Frame: e}
		}
		return r, nil
	case <-c.done:
		return nil, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func unexpected(want string, got syncproto.Frame) error {
	return fmt.Errorf("remote: expected %s, the server sent %s", want, got.FrameType())
}

// Hello opens the session; h's requestId and protocol are filled in.
func (c *Conn) Hello(ctx context.Context, h syncproto.Hello) (*syncproto.Welcome, error) {
	h.RequestID, h.Protocol = c.newRequestID(), syncproto.Version
	return ask[*syncproto.Welcome](ctx, c, h.RequestID, &h, "welcome")
}

// ask sends request f and returns the server's answer, a want frame (T).
func ask[T syncproto.Frame](ctx context.Context, c *Conn, requestID string, f syncproto.Frame, want string) (T, error) {
	var none T
	r, err := c.request(ctx, requestID, f)
	if err != nil {
		return none, err
	}
	x, ok := r.(T)
	if !ok {
		return none, unexpected(want, r)
	}
	return x, nil
}

// Push uploads consecutive mutations and returns the server's outcomes.
func (c *Conn) Push(ctx context.Context, muts []syncproto.Mutation) (*syncproto.PushResult, error) {
	wait, err := c.StartPush(muts)
	if err != nil {
		return nil, err
	}
	return wait(ctx)
}

// PushWait waits for the outcomes of a push StartPush sent.
type PushWait func(ctx context.Context) (*syncproto.PushResult, error)

// StartPush sends a push of consecutive mutations without waiting for its
// result, so that the next push can go out while the server applies this
// one: the server handles a connection's frames in order
// (docs/protocol.md §1), so pushes started one after another are applied
// one after another. The returned wait gives the outcomes.
func (c *Conn) StartPush(muts []syncproto.Mutation) (PushWait, error) {
	p := &syncproto.Push{RequestID: c.newRequestID(), Mutations: muts}
	wait, err := c.start(p.RequestID, p)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) (*syncproto.PushResult, error) {
		r, err := wait(ctx)
		if err != nil {
			return nil, err
		}
		return pushResult(r, muts)
	}, nil
}

func pushResult(r syncproto.Frame, muts []syncproto.Mutation) (*syncproto.PushResult, error) {
	res, ok := r.(*syncproto.PushResult)
	if !ok {
		return nil, unexpected("pushResult", r)
	}
	if len(res.Results) != len(muts) || res.Results[0].Seq != muts[0].Seq {
		first := int64(0)
		if len(res.Results) > 0 {
			first = res.Results[0].Seq
		}
		return nil, fmt.Errorf("remote: pushResult for seqs %d.. (%d results) does not answer the push of seqs %d.. (%d)",
			first, len(res.Results), muts[0].Seq, len(muts))
	}
	return res, nil
}

// Pull asks for the changes after cursor (limit 0: the server chooses).
func (c *Conn) Pull(ctx context.Context, cursor string, limit int) (*syncproto.Changes, error) {
	p := &syncproto.Pull{RequestID: c.newRequestID(), Cursor: cursor, Limit: limit}
	return ask[*syncproto.Changes](ctx, c, p.RequestID, p, "changes")
}

// Report tells the server how much is waiting to be uploaded (no reply).
func (c *Conn) Report(pending int64, oldest *time.Time) error {
	if pending == 0 {
		oldest = nil
	}
	return c.send(&syncproto.Report{Pending: pending, OldestPendingAt: oldest})
}

// IsProtocolError reports whether err is the server's PROTOCOL_ERROR
// (for a push: a seq gap).
func IsProtocolError(err error) bool {
	r, ok := workflow.AsRejection(err)
	return ok && r.Code == workflow.CodeProtocolError
}
