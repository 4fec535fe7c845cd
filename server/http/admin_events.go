package http

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"

	"wardsync/workflow"
)

// Live updates for the dashboard: GET /api/v1/admin/events is a
// Server-Sent Events stream of small "changed" events. One is sent on every
// committed change (this instance's, announced in-process; another
// instance's or program's, by NOTIFY wardsync_changes), on every recorded
// mutation, workstation report or device change (wardsync_admin), and
// every 5 seconds regardless (which also covers a workstation's last_seen). The page then re-reads what it shows. Bursts
// are coalesced to at most one event per eventMinGap.

const (
	eventTick   = 5 * time.Second
	eventMinGap = 250 * time.Millisecond
)

// eventBroker fans database notifications out to the open streams. It
// listens (on a connection of its own) only while a stream is open.
type eventBroker struct {
	s      *Server
	mu     sync.Mutex
	subs   map[*eventSub]struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

type eventSub struct {
	wake   chan struct{}
	mu     sync.Mutex
	topics map[string]bool
}

func newEventBroker(s *Server) *eventBroker {
	return &eventBroker{s: s, subs: map[*eventSub]struct{}{}}
}

func (b *eventBroker) subscribe() *eventSub {
	sub := &eventSub{wake: make(chan struct{}, 1), topics: map[string]bool{}}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.subs[sub] = struct{}{}
	if b.cancel == nil {
		ctx, cancel := context.WithCancel(context.Background())
		b.cancel, b.done = cancel, make(chan struct{})
		go b.listen(ctx, b.done)
	}
	return sub
}

func (b *eventBroker) unsubscribe(sub *eventSub) {
	b.mu.Lock()
	delete(b.subs, sub)
	var done chan struct{}
	if len(b.subs) == 0 && b.cancel != nil {
		b.cancel()
		done = b.done
		b.cancel, b.done = nil, nil
	}
	b.mu.Unlock()
	if done != nil {
		<-done // the listening connection is closed before the last stream ends
	}
}

func (b *eventBroker) listen(ctx context.Context, done chan struct{}) {
	defer close(done)
	for ctx.Err() == nil {
		err := b.s.DB.ListenAdmin(ctx, func(channel, payload string) {
			topic := payload
			if channel == "wardsync_changes" || topic == "" {
				topic = "feed"
			}
			b.publish(topic)
		})
		if ctx.Err() != nil {
			return
		}
		b.s.Logger.Warn("admin events: listen", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (b *eventBroker) publish(topic string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for sub := range b.subs {
		sub.mu.Lock()
		sub.topics[topic] = true
		sub.mu.Unlock()
		select {
		case sub.wake <- struct{}{}:
		default:
		}
	}
}

func (sub *eventSub) take() []string {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	out := make([]string, 0, len(sub.topics))
	for t := range sub.topics {
		out = append(out, t)
	}
	clear(sub.topics)
	sort.Strings(out)
	return out
}

// shutdownSignal closes when the HTTP server shuts down, so that open
// streams end and Shutdown does not wait for them.
func (s *Server) shutdownSignal() <-chan struct{} {
	a := s.admin()
	a.shutdownOnce.Do(func() {
		if s.httpSrv != nil {
			var once sync.Once // Shutdown may be called more than once
			s.httpSrv.RegisterOnShutdown(func() { once.Do(func() { close(a.shutdown) }) })
		}
	})
	return a.shutdown
}

// sessionEnded says whether tok's session can no longer be used.
func (s *Server) sessionEnded(ctx context.Context, tok string) bool {
	_, err := s.DB.Authenticate(ctx, tok)
	rej, ok := workflow.AsRejection(err)
	return ok && rej.Code == workflow.CodeUnauthenticated
}

func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	// The token comes in the Authorization header like everywhere else
	// (the dashboard reads the stream with fetch): a token in a URL ends up
	// in proxy logs and browser history.
	tok := bearer(r)
	if _, ok := s.requireAdmin(w, r, tok); !ok {
		return
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	sub := s.admin().events.subscribe()
	defer s.admin().events.unsubscribe(sub)
	shutdown := s.shutdownSignal()

	send := func(event string, topics []string) bool {
		b, _ := json.Marshal(map[string]any{"topics": topics, "at": s.DB.Now().UTC()})
		_ = rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := w.Write([]byte("event: " + event + "\ndata: " + string(b) + "\n\n")); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if _, err := w.Write([]byte("retry: 3000\n\n")); err != nil {
		return
	}
	if !send("changed", []string{"all"}) {
		return
	}
	tick := time.NewTicker(eventTick)
	defer tick.Stop()
	ctx := r.Context()
	for {
		select {
		case <-ctx.Done():
			return
		case <-shutdown:
			return
		case <-sub.wake:
			topics := sub.take()
			if slices.Contains(topics, "sessions") && s.sessionEnded(ctx, tok) {
				send("logout", []string{"session"})
				return
			}
			if !send("changed", topics) {
				return
			}
			// Coalesce a burst into the next event.
			select {
			case <-ctx.Done():
				return
			case <-shutdown:
				return
			case <-time.After(eventMinGap):
			}
		case <-tick.C:
			// The session may have ended (logout, disabled, expired).
			if s.sessionEnded(ctx, tok) {
				send("logout", []string{"session"})
				return
			}
			s.touchPresence(ctx)
			if !send("changed", []string{"tick"}) {
				return
			}
		}
	}
}
