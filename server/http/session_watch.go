package http

// Access that ends (docs/protocol.md, "Access that ends"). Every open /sync
// socket streams under the session whose token opened it. This instance
// re-checks the sessions of its sockets whenever any instance ends a session
// (LISTEN wardsync_sessions: a disable, role change, password reset, logout
// or workstation revoke), at the moment a socket's session reaches its
// expiry, and every SessionCheckEvery regardless. A socket whose session
// ended stops at once: nothing more is sent on it, not even the answer to a
// pull in flight; the workstation is told why in a fatal error frame
// (UNAUTHENTICATED and the sentence) and the socket closes with
// SessionEndedCloseCode and the same sentence. Dashboards' event streams
// re-check on the same signal.

import (
	"context"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"wardsync/server"
	"wardsync/server/postgres"
	"wardsync/syncproto"
)

// SessionEndedCloseCode closes a socket whose session ended (also used for
// any UNAUTHENTICATED refusal).
const SessionEndedCloseCode = 4401

// SessionCheckEvery is the longest a socket streams on a session that ended
// without this instance being told (a lost notification, an expiry the
// timer missed).
const SessionCheckEvery = 30 * time.Second

type sessionWatch struct {
	wake chan struct{}
}

// watchSessions runs until ctx ends: it re-checks the sessions of the open
// sockets on every notification and tick.
func (s *Server) watchSessions(ctx context.Context) {
	w := &sessionWatch{wake: make(chan struct{}, 1)}
	a := s.access()
	a.mu.Lock()
	a.watch = w
	a.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.DB.ListenSessions(ctx, w.signal)
	}()
	defer func() { <-done }()
	server.Every(ctx, SessionCheckEvery, w.wake, func(ticked bool) {
		// Counters of the login limits that went quiet are dropped.
		if ticked {
			if err := s.DB.PruneLoginLimits(ctx, s.DB.Config.LoginQuiet); err != nil && ctx.Err() == nil {
				s.Logger.Warn("prune login limits", "err", err)
			}
		}
		s.recheckSessions(ctx)
	})
}

func (w *sessionWatch) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// recheckSessions ends the sockets whose session ended, and tells the
// dashboards' event streams to re-check theirs.
func (s *Server) recheckSessions(ctx context.Context) {
	s.admin().events.publish("sessions")
	conns := s.hub.snapshot()
	if len(conns) == 0 {
		if _, err := s.DB.ExpireSessions(ctx); err != nil && ctx.Err() == nil {
			s.Logger.Warn("expire sessions", "err", err)
		}
		return
	}
	seen := map[string]bool{}
	var ids []string
	for _, c := range conns {
		if !seen[c.session.ID] {
			seen[c.session.ID] = true
			ids = append(ids, c.session.ID)
		}
	}
	ended, err := s.DB.EndedSessions(ctx, ids)
	if err != nil && ctx.Err() == nil {
		s.Logger.Warn("re-check sessions", "err", err)
	}
	for _, c := range conns {
		if end, ok := ended[c.session.ID]; ok {
			c.end(end)
		}
	}
}

// watchExpiry ends c when its session reaches its expiry; the returned
// func stops the timer.
func (c *conn) watchExpiry() (stop func()) {
	var (
		mu sync.Mutex
		t  *time.Timer
	)
	check := func() {
		select {
		case <-c.done:
			return // closed already: nothing to end
		default:
		}
		ended, err := c.s.DB.EndedSessions(context.Background(), []string{c.session.ID})
		if end, ok := ended[c.session.ID]; err == nil && ok {
			c.end(end)
			return
		}
		// The clocks disagree by a hair, or the database did not answer:
		// look again shortly.
		mu.Lock()
		t.Reset(200 * time.Millisecond)
		mu.Unlock()
	}
	mu.Lock()
	defer mu.Unlock()
	t = time.AfterFunc(c.session.ExpiresAt.Sub(c.s.DB.Now())+5*time.Millisecond, check)
	return func() {
		mu.Lock()
		t.Stop()
		mu.Unlock()
	}
}

// end stops c because its session ended: the queued answers are dropped,
// the fatal error frame and the close carry the sentence. A revoked
// workstation's sockets close with DeviceRevokedCloseCode, as when the
// revoking instance kicks them itself.
func (c *conn) end(end postgres.SessionEnd) {
	c.endOnce.Do(func() {
		c.s.Logger.Info("session ended: socket closed", "device", c.deviceID, "session", c.session.ID, "reason", end.Message)
		b, err := syncproto.Encode(syncproto.ErrorFrame("", end.Rejection, true))
		if err == nil {
			c.endFrame = b
		}
		code := SessionEndedCloseCode
		if end.DeviceRevoked {
			code = DeviceRevokedCloseCode
		}
		c.ended.Store(true)
		c.close(code, closeReason(end.Message))
	})
}

// finishEnded writes the end frame and the close, and nothing else.
func (c *conn) finishEnded() {
	deadline := time.Now().Add(time.Second)
	if c.endFrame != nil {
		_ = c.ws.SetWriteDeadline(deadline)
		_ = c.ws.WriteMessage(websocket.TextMessage, c.endFrame)
	}
	_ = c.ws.WriteControl(websocket.CloseMessage, c.closeMsg, deadline)
}

// closeReason fits a sentence into a close frame's 123 bytes, whole runes.
func closeReason(s string) string {
	const maxReason = 123
	if len(s) <= maxReason {
		return s
	}
	s = s[:maxReason-3]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "..."
}
