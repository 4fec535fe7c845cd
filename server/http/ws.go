package http

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"wardsync/server/postgres"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// MsgBearerSocket refuses a bearer token alone at the upgrade of a
// workstation that has a device key (or of any, with RequireDeviceKey).
const MsgBearerSocket = "A socket needs this workstation's device proof and a live session's proof (protocol 2, headers X-Wardsync-*); a session token alone opens nothing: update the workstation."

// syncSession is who opens /sync. Protocol 2: the device proves its key
// and a live session its own, over one nonce (syncproto.Header*). A
// bearer token alone is accepted only from a workstation that has no
// device key yet, while RequireDeviceKey is off.
func (s *Server) syncSession(r *http.Request) (*postgres.Session, *postgres.Device, error) {
	ctx := r.Context()
	if sid := r.Header.Get(syncproto.HeaderSession); sid != "" {
		dev, err := s.DB.Device(ctx, r.Header.Get(syncproto.HeaderDevice))
		if err != nil {
			return nil, nil, err
		}
		nonce := r.Header.Get(syncproto.HeaderNonce)
		if nonce == "" {
			return nil, nil, workflow.Reject(workflow.CodeUnauthenticated, postgres.MsgNoDeviceProof)
		}
		if err := s.DB.CheckDeviceProof(ctx, dev, syncproto.PurposeSync, postgres.DeviceProof{Nonce: nonce, Proof: r.Header.Get(syncproto.HeaderDeviceProof)}); err != nil {
			return nil, nil, err
		}
		sess, err := s.DB.SessionByProof(ctx, sid, dev.ID, nonce, r.Header.Get(syncproto.HeaderSessionProof))
		if err != nil {
			return nil, nil, err
		}
		return sess, dev, nil
	}
	sess, err := s.DB.Authenticate(ctx, bearer(r))
	if err != nil {
		return nil, nil, err
	}
	if sess.DeviceID == "" {
		return nil, nil, workflow.Reject(workflow.CodeForbidden, "An admin dashboard session cannot synchronise; log in on a workstation.")
	}
	dev, err := s.DB.Device(ctx, sess.DeviceID)
	if err != nil {
		return nil, nil, err
	}
	if dev.Unclaimed {
		return nil, nil, workflow.Reject(workflow.CodeUnauthenticated, postgres.MsgUnclaimed, dev.Name)
	}
	if len(dev.PublicKey) > 0 || s.DB.Config.RequireDeviceKey {
		return nil, nil, workflow.Reject(workflow.CodeUnauthenticated, MsgBearerSocket)
	}
	return sess, dev, nil
}

// upgrader keeps an idle connection small, for 10,000 of them per
// instance (make bench, "Connections"): the read buffer is the 4 KB one the
// HTTP server already allocated (gorilla reuses it when it is at least
// ReadBufferSize; a bigger frame is read in several calls), and the 32 KB
// write buffer is taken from a pool for each message, not held by every
// connection for its lifetime.
var upgrader = websocket.Upgrader{
	ReadBufferSize:  4 << 10,
	WriteBufferSize: 32 << 10,
	WriteBufferPool: &sync.Pool{},
	// A client that stalls the upgrade does not hold a goroutine.
	HandshakeTimeout: HandshakeTimeout,
	// Workstations are not browsers; the admin page does not use /sync.
	CheckOrigin: func(*http.Request) bool { return true },
}

// hub knows every open device connection of this instance, to poke them
// or push them the new page (feedpush.go).
type hub struct {
	mu      sync.Mutex
	conns   map[*conn]struct{}
	closing bool
	wg      sync.WaitGroup

	db     *postgres.DB
	logger *slog.Logger
	fan    fanOut
}

func newHub(db *postgres.DB, logger *slog.Logger) *hub {
	return &hub{conns: map[*conn]struct{}{}, db: db, logger: logger}
}

// add registers c; false when the server is shutting down, so that a
// connection upgraded during the shutdown is not left open behind it.
func (h *hub) add(c *conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return false
	}
	h.conns[c] = struct{}{}
	return true
}

func (h *hub) remove(c *conn) {
	h.mu.Lock()
	delete(h.conns, c)
	h.mu.Unlock()
}

func (h *hub) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns)
}

func (h *hub) snapshot() []*conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*conn, 0, len(h.conns))
	for c := range h.conns {
		out = append(out, c)
	}
	return out
}

// preparedPoke is the poke frame for head, encoded once for every device
// (gorilla's PreparedMessage): with 10,000 devices, encoding it and
// borrowing a 32 KB write buffer per device was most of a poke's cost
// (make bench, "Connections").
func preparedPoke(head int64) (*websocket.PreparedMessage, error) {
	b, err := syncproto.Encode(&syncproto.Poke{Head: strconv.FormatInt(head, 10)})
	if err != nil {
		return nil, err // cannot happen: a poke is a number
	}
	return websocket.NewPreparedMessage(websocket.TextMessage, b)
}

// kick closes the connections of a device (revoked) or of every device.
func (h *hub) kick(deviceID string, code int, reason string) {
	for _, c := range h.snapshot() {
		if deviceID == "" || c.deviceID == deviceID {
			c.close(code, reason)
		}
	}
}

func (h *hub) closeAll() {
	h.mu.Lock()
	h.closing = true
	h.mu.Unlock()
	h.kick("", websocket.CloseGoingAway, "server shutting down")
}

func (h *hub) wait(ctx context.Context) {
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// conn is one device's websocket. One goroutine reads and handles requests
// in order; one writes, so a slow reader only ever stalls itself: its
// replies wait in its own queue, pokes are coalesced, and a write that
// exceeds the deadline drops the connection.
type conn struct {
	s        *Server
	ws       *websocket.Conn
	session  *postgres.Session
	deviceID string
	roles    []workflow.Role

	out      chan []byte
	pokeFlag chan *websocket.PreparedMessage
	done     chan struct{}
	once     sync.Once
	closeMsg []byte
	welcomed atomic.Bool
	readDone chan struct{} // closed when the reader has stopped
	// connectedAt is the device's connected_at: the socket's opening, then
	// the welcome's time. Its end is recorded against it
	// (postgres.DB.Disconnected).
	connectedAt time.Time

	// ended is set when the socket's session ended (session_watch.go):
	// nothing but endFrame and the close is written after it.
	ended    atomic.Bool
	endOnce  sync.Once
	endFrame []byte

	// sigAhead checks the signatures of the push waiting behind the one
	// being applied; handling: readLoop is answering a request.
	sigAhead postgres.SigAhead
	handling atomic.Bool

	// pages: the workstation takes pushed pages (hello.pages). at is the
	// cursor it was last handed with more: false, "" when unknown (never
	// pulled to the head, or paging): the cursor it is at, unless it has
	// not applied that page yet, which it checks (changes.from).
	pages bool
	atMu  sync.Mutex
	at    string
}

func (s *Server) handleSync(w http.ResponseWriter, r *http.Request) {
	sess, dev, err := s.syncSession(r)
	if err != nil {
		writeError(w, err)
		return
	}
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	c := &conn{
		s: s, ws: ws, session: sess, deviceID: sess.DeviceID, roles: dev.Roles,
		out: make(chan []byte, 64), pokeFlag: make(chan *websocket.PreparedMessage, 1), done: make(chan struct{}), readDone: make(chan struct{}),
	}
	s.hub.wg.Add(1)
	defer s.hub.wg.Done()
	// Recorded before the socket counts as connected anywhere: from then
	// on, the queue on record is one from an earlier link until the hello
	// reports it again, and no dashboard may call it "in sync".
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	opened, err := s.DB.Opened(ctx, c.deviceID)
	cancel()
	if err != nil {
		s.Logger.Warn("record a workstation's socket", "device", c.deviceID, "err", err)
		// Said as a failed hello says it (UNAVAILABLE with its sentence, or
		// INTERNAL), then 1013 whatever it was: the workstation keeps its
		// acts and tries again.
		close(c.readDone)
		c.failWith(websocket.CloseTryAgainLater, "", unavailable(err))
		c.writeLoop()
		return
	}
	c.connectedAt = opened
	if !s.hub.add(c) {
		close(c.readDone)
		c.close(websocket.CloseGoingAway, "server shutting down")
		c.writeLoop()
		c.disconnected()
		return
	}
	s.metrics.connected.Inc()
	defer func() {
		s.hub.remove(c)
		s.metrics.connected.Dec()
	}()
	stopExpiry := c.watchExpiry()
	defer stopExpiry()
	go c.writeLoop()
	c.readLoop()
	close(c.readDone)
	c.close(websocket.CloseNormalClosure, "")
	c.disconnected()
}

// disconnected records at once that the device's socket ended, welcomed
// or not, so that the dashboard shows it offline now rather than after the
// online window.
func (c *conn) disconnected() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.s.DB.Disconnected(ctx, c.deviceID, c.connectedAt); err != nil {
		c.s.Logger.Warn("record a workstation's disconnection", "device", c.deviceID, "err", err)
	}
}

func (c *conn) close(code int, reason string) {
	c.once.Do(func() {
		c.closeMsg = websocket.FormatCloseMessage(code, reason)
		close(c.done)
	})
}

func (c *conn) poke(pm *websocket.PreparedMessage) {
	if !c.welcomed.Load() {
		return // pokes come after welcome (docs/protocol.md, "Poke")
	}
	// At most one poke waits per device, and it is the newest: a device
	// pulls everything on any poke, but the head it is told should be the
	// latest (a monitor or a test waits for a given head).
	for {
		select {
		case c.pokeFlag <- pm:
			return
		default:
		}
		select {
		case <-c.pokeFlag:
		default:
		}
	}
}

func (c *conn) send(f syncproto.Frame) bool {
	b, err := syncproto.Encode(f)
	if err != nil {
		// A frame the protocol refuses is a bug of ours; the device is
		// told, rather than left waiting for an answer.
		c.s.Logger.Error("encode frame", "device", c.deviceID, "type", f.FrameType(), "err", err)
		b, _ = syncproto.Encode(syncproto.ErrorFrame(syncproto.RequestIDOf(f), errors.New("encode"), false))
	}
	// Queue when there is room, even while closing: the answer to a request
	// in flight when the server shuts down is still flushed before the close.
	select {
	case c.out <- b:
		return true
	default:
	}
	select {
	case c.out <- b:
		return true
	case <-c.done:
		return false
	case <-time.After(c.s.WriteTimeout):
		c.s.Logger.Warn("slow device dropped", "device", c.deviceID)
		c.close(websocket.ClosePolicyViolation, "too slow")
		return false
	}
}

func (c *conn) writeLoop() {
	ping := time.NewTicker(c.s.PingInterval)
	defer ping.Stop()
	defer c.ws.Close()
	write := func(typ int, b []byte) error {
		_ = c.ws.SetWriteDeadline(time.Now().Add(c.s.WriteTimeout))
		return c.ws.WriteMessage(typ, b)
	}
	for {
		select {
		case b := <-c.out:
			if c.ended.Load() {
				continue // the session ended: not another byte of data
			}
			if write(websocket.TextMessage, b) != nil {
				c.close(websocket.CloseAbnormalClosure, "")
				return
			}
		case pm := <-c.pokeFlag:
			if c.ended.Load() {
				continue
			}
			// Replies already queued (the welcome) go first.
			for flushed := false; !flushed; {
				select {
				case b := <-c.out:
					if write(websocket.TextMessage, b) != nil {
						c.close(websocket.CloseAbnormalClosure, "")
						return
					}
				default:
					flushed = true
				}
			}
			_ = c.ws.SetWriteDeadline(time.Now().Add(c.s.WriteTimeout))
			if c.ws.WritePreparedMessage(pm) != nil {
				c.close(websocket.CloseAbnormalClosure, "")
				return
			}
		case <-ping.C:
			_ = c.ws.SetWriteDeadline(time.Now().Add(c.s.WriteTimeout))
			if c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.s.WriteTimeout)) != nil {
				c.close(websocket.CloseAbnormalClosure, "")
				return
			}
		case <-c.done:
			if c.ended.Load() {
				c.finishEnded()
				return
			}
			// The request in flight finishes (its transaction commits, on
			// shutdown too) and its answer is sent before the close.
			select {
			case <-c.readDone:
			case <-time.After(c.s.WriteTimeout):
			}
			// Flush what is queued (an error frame before a fatal close).
			for {
				select {
				case b := <-c.out:
					if write(websocket.TextMessage, b) != nil {
						return
					}
					continue
				default:
				}
				break
			}
			_ = c.ws.WriteControl(websocket.CloseMessage, c.closeMsg, time.Now().Add(time.Second))
			return
		}
	}
}

// inbound is one message the reader took off the socket, or the error that
// stopped it. A text message comes decoded (frame, or why not: decodeErr).
type inbound struct {
	typ       int
	data      []byte
	err       error
	frame     syncproto.Frame
	decodeErr error
	// sigs: a push's signatures verified meanwhile (postgres.SigAhead).
	sigs *syncproto.SigMemo
}

// readLoop handles the device's frames in order. Frames come from a reader
// goroutine of their own (readFrames), which keeps reading while a request
// is handled: a push may take longer than the read deadline (a burst of
// registrations, a slow disk), and the pongs that extend the deadline are
// read only by a pending read. Without one, the deadline expired during a
// long push and the device's next frame was lost with the socket.
func (c *conn) readLoop() {
	frames := make(chan inbound)
	c.s.hub.wg.Add(1)
	go func() {
		defer c.s.hub.wg.Done()
		c.readFrames(frames)
	}()
	go func() {
		// Unblock a pending read when the connection is closed from our side.
		<-c.done
		_ = c.ws.SetReadDeadline(time.Now())
	}()
	helloDone := false
	helloWait := time.NewTimer(c.s.HelloTimeout)
	defer helloWait.Stop()
	for {
		var in inbound
		select {
		case in = <-frames:
		case <-c.done:
			return
		case <-helloWait.C:
			// Counted from the socket's opening to the hello's arrival: a
			// hello the database is slow to answer is not cut short.
			c.s.metrics.protocolErrors.Inc()
			c.fail("", workflow.Reject(workflow.CodeProtocolError, "No hello within %s of connecting; a workstation says hello first.", humanDuration(c.s.HelloTimeout)))
			return
		}
		select {
		case <-c.done:
			return // closed meanwhile (shutdown, revoked): no new request
		default:
		}
		typ, data, f, err := in.typ, in.data, in.frame, in.err
		if errors.Is(err, errFrameTooLarge) {
			c.s.metrics.protocolErrors.Inc()
			c.failWith(websocket.CloseMessageTooBig, "", workflow.Reject(workflow.CodeProtocolError, "frame of more than %d bytes exceeds the 1 MiB limit", syncproto.MaxFrameBytes))
			return
		}
		if err != nil {
			return
		}
		if typ != websocket.TextMessage {
			c.fail("", workflow.Reject(workflow.CodeProtocolError, "Frames are JSON text messages; a binary message was received."))
			return
		}
		if err := in.decodeErr; err != nil {
			c.s.metrics.protocolErrors.Inc()
			// Bad frames before hello, and unreadable ones at any time, are
			// fatal (docs/protocol.md, "Fatal or not"); a readable frame of
			// a known type with wrong members is not: the device is told
			// and goes on.
			if !helloDone || unreadable(data) {
				c.fail(syncproto.PeekRequestID(data), err)
				return
			}
			c.send(syncproto.ErrorFrame(syncproto.PeekRequestID(data), err, false))
			continue
		}
		if !helloDone {
			h, ok := f.(*syncproto.Hello)
			if !ok {
				c.fail(syncproto.PeekRequestID(data), workflow.Reject(workflow.CodeProtocolError, "The first frame must be hello, not %s.", f.FrameType()))
				return
			}
			if err := c.hello(h); err != nil {
				c.fail(h.RequestID, err)
				return
			}
			helloDone = true
			helloWait.Stop()
			continue
		}
		c.handling.Store(true)
		ok := c.handle(f, in.sigs)
		c.handling.Store(false)
		if !ok {
			return
		}
	}
}

// readFrames reads the device's messages and hands them to readLoop, one
// at a time and decoded, until the socket fails or the connection closes.
// A workstation draining its backlog has its next push on the socket
// before this one's result: that push is decoded here while readLoop
// applies this one, not after. Every read
// waits at most three ping intervals, and every pong (read here, also
// while readLoop is busy with a request) extends the wait: a device that
// stops answering pings is dropped, one whose request is slow is not. While
// a frame waits for readLoop, nothing is read, and the deadline starts
// afresh with the next read.
func (c *conn) readFrames(out chan<- inbound) {
	pongWait := 3 * c.s.PingInterval
	c.ws.SetPongHandler(func(string) error {
		return c.ws.SetReadDeadline(time.Now().Add(pongWait))
	})
	for {
		_ = c.ws.SetReadDeadline(time.Now().Add(pongWait))
		in := inbound{}
		in.typ, in.data, in.err = c.readFrame()
		if in.err == nil && in.typ == websocket.TextMessage {
			in.frame, in.decodeErr = syncproto.DecodeFromClient(in.data)
			// Only a push that waits behind another request is checked
			// ahead: one the handler takes at once (an online workstation's
			// push of one act) is checked there, not twice.
			if p, ok := in.frame.(*syncproto.Push); ok && c.handling.Load() {
				in.sigs = c.sigAhead.Start(c.deviceID, p.Mutations)
			}
		}
		select {
		case out <- in:
		case <-c.done:
			return
		}
		if in.err != nil {
			return
		}
	}
}

var errFrameTooLarge = errors.New("frame too large")

// clientFrameTypes are the frames a workstation may send.
var clientFrameTypes = map[string]bool{
	syncproto.TypeHello: true, syncproto.TypePush: true, syncproto.TypePull: true, syncproto.TypeReport: true,
}

// unreadable says whether a refused frame cannot be read at all (not
// UTF-8, not JSON, not an object, nested too deep, no or unknown type, a
// server's type), as opposed to a readable frame whose members are wrong.
// The size is checked while reading. UTF-8 needs its own check: json.Valid
// accepts invalid UTF-8 inside strings.
func unreadable(data []byte) bool {
	if !utf8.Valid(data) || !json.Valid(data) {
		return true
	}
	depth, maxDepth, inString, escaped := 0, 0, false, false
	for _, b := range data {
		switch {
		case escaped:
			escaped = false
		case inString && b == '\\':
			escaped = true
		case b == '"':
			inString = !inString
		case inString:
		case b == '{' || b == '[':
			depth++
			maxDepth = max(maxDepth, depth)
		case b == '}' || b == ']':
			depth--
		}
	}
	if maxDepth > syncproto.MaxDepth {
		return true
	}
	var members map[string]json.RawMessage
	var typ string
	if json.Unmarshal(data, &members) != nil || json.Unmarshal(members["type"], &typ) != nil {
		return true
	}
	return !clientFrameTypes[typ]
}

// readFrame reads one message, at most MaxFrameBytes of it. The limit is
// applied here rather than with SetReadLimit, which would make the library
// close the connection (1009) before the device could be told why. The rest
// of an oversized message is drained, within bounds, so that closing the
// socket does not reset it before the error frame has been read.
func (c *conn) readFrame() (int, []byte, error) {
	typ, r, err := c.ws.NextReader()
	if err != nil {
		return 0, nil, err
	}
	data, err := io.ReadAll(io.LimitReader(r, syncproto.MaxFrameBytes+1))
	if err != nil {
		return 0, nil, err
	}
	if len(data) > syncproto.MaxFrameBytes {
		_ = c.ws.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, _ = io.Copy(io.Discard, io.LimitReader(r, 16<<20))
		return typ, nil, errFrameTooLarge
	}
	return typ, data, nil
}

// fail sends a fatal error frame and closes: 4401 when the refusal is
// UNAUTHENTICATED, 1013 (try again later) when the database was out of
// reach, 1008 (policy violation) otherwise.
func (c *conn) fail(requestID string, err error) {
	code := websocket.ClosePolicyViolation
	if err = unavailable(err); isCode(err, workflow.CodeUnavailable) {
		code = websocket.CloseTryAgainLater
	} else if isCode(err, workflow.CodeUnauthenticated) {
		code = 4401
	}
	c.failWith(code, requestID, err)
}

// failWith sends a fatal error frame and closes with code (1009, message
// too big, for a frame over the size limit).
func (c *conn) failWith(code int, requestID string, err error) {
	c.send(syncproto.ErrorFrame(requestID, err, true))
	c.close(code, "")
}

func (c *conn) hello(h *syncproto.Hello) error {
	if h.DeviceID != c.deviceID {
		return workflow.Reject(workflow.CodeForbidden, "The hello names workstation %s but the token was issued on %s.", h.DeviceID, c.deviceID)
	}
	ctx := context.Background()
	if rej := syncproto.CheckClientVersion(h.ClientVersion, c.s.minWorkstation.Load()); rej != nil {
		// Seen, with its queue and the sentence, so that the dashboard and
		// the alerts show a workstation waiting for its update.
		if err := c.s.DB.RefusedHello(ctx, c.deviceID, h.ClientVersion, h.Pending, h.OldestPendingAt, rej.Message); err != nil {
			c.s.Logger.Warn("record refused hello", "device", c.deviceID, "err", err)
		}
		c.s.Logger.Warn("workstation below the minimum release refused", "device", c.deviceID, "version", h.ClientVersion)
		return rej
	}
	w, err := c.s.DB.HelloFrom(ctx, c.deviceID, h.ClientVersion, h.Pending, h.OldestPendingAt)
	if err != nil {
		return err
	}
	w.RequestID = h.RequestID
	w.Roles = c.roles
	lock, err := c.s.idleLockFor(ctx, c.deviceID)
	if err != nil {
		return err
	}
	w.SetIdleLock(lock)
	c.connectedAt = w.ServerTime
	c.pages = h.Pages
	c.send(w)
	c.welcomed.Store(true)
	return nil
}

// handle answers one request (sigs: a push's signatures checked ahead);
// false ends the connection.
func (c *conn) handle(f syncproto.Frame, sigs *syncproto.SigMemo) bool {
	ctx := context.Background()
	switch f := f.(type) {
	case *syncproto.Push:
		start := time.Now()
		results, err := c.s.DB.Push(postgres.WithSigMemo(ctx, &c.sigAhead, sigs), c.deviceID, f.Mutations)
		c.s.metrics.pushSeconds.Observe(time.Since(start).Seconds())
		if err != nil {
			return c.refuse(f.RequestID, err)
		}
		for _, r := range results {
			c.s.metrics.countResult(r)
		}
		return c.send(&syncproto.PushResult{RequestID: f.RequestID, Results: results})
	case *syncproto.Pull:
		start := time.Now()
		ch, err := c.s.DB.Pull(ctx, c.deviceID, c.roles, f.Cursor, f.Limit)
		c.s.metrics.pullSeconds.Observe(time.Since(start).Seconds())
		if err != nil {
			return c.refuse(f.RequestID, err)
		}
		ch.RequestID = f.RequestID
		if !c.send(ch) {
			return false
		}
		// Queued: a page pushed from this cursor now follows the answer.
		c.setAt(ch)
		return true
	case *syncproto.Report:
		if err := c.s.DB.Report(ctx, c.deviceID, f.Pending, f.OldestPendingAt); err != nil {
			c.s.Logger.Warn("report", "device", c.deviceID, "err", err)
		}
		return true
	case *syncproto.Hello:
		c.fail(f.RequestID, workflow.Reject(workflow.CodeProtocolError, "hello was already received on this connection."))
		return false
	default:
		return c.send(syncproto.ErrorFrame("", workflow.Reject(workflow.CodeProtocolError, "A workstation may not send %s frames.", f.FrameType()), false))
	}
}

// refuse answers a request the database refused. An UNAUTHENTICATED
// refusal (the workstation was revoked) is fatal: the error frame says so
// and the connection closes. PostgreSQL out of reach is UNAVAILABLE, not
// fatal: the workstation keeps its acts and sends them again.
func (c *conn) refuse(requestID string, err error) bool {
	c.report(err)
	if isCode(err, workflow.CodeUnauthenticated) {
		c.fail(requestID, err)
		return false
	}
	return c.send(syncproto.ErrorFrame(requestID, unavailable(err), false))
}

func isCode(err error, code workflow.Code) bool {
	rej, ok := workflow.AsRejection(err)
	return ok && rej.Code == code
}

func (c *conn) report(err error) {
	msg := err.Error()
	var exhausted *postgres.RetriesExhaustedError
	switch _, isRejection := workflow.AsRejection(err); {
	case errors.As(err, &exhausted):
		// The device hears INTERNAL; the log says why (a deadlock storm
		// reads 40P01 here, and in wardsync_db_retries_total).
		c.s.Logger.Error("sync request failed: transient failures outlasted the retries", "device", c.deviceID,
			"sqlstate", exhausted.SQLState, "attempts", exhausted.Attempts, "err", exhausted.Err)
	case !isRejection:
		c.s.Logger.Error("sync request failed", "device", c.deviceID, "err", err)
	}
	_ = c.s.DB.RecordError(context.Background(), c.deviceID, msg)
}
