package http

import (
	"context"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"wardsync/server/postgres"
	"wardsync/syncproto"
)

// Pushed pages: one feed read per change, shared.
//
// A poke used to make every connected device pull the same change: with 50
// devices, 49 pulls of one act, each a transaction of its own (make bench,
// "propagation"). Now a device that takes pushed pages (hello.pages) and is
// known to be at the head (its last pull was answered with more: false)
// is sent the new page itself, unasked, instead of the poke: one
// transaction reads it for every device at the same cursor
// (postgres.SharedPages), rows read once and projected once per visibility
// class. Anything else gets the poke and pulls, as before: a device behind
// or paging, one that does not take pages, a device the shared read left
// out (revoked, resync, a page too large or with more after it), and every
// device of a shared read that failed.

// sharedReadTimeout bounds one shared read: past it the devices are poked
// and pull, so a stuck read delays a change by this much at worst. Pokes
// are sent one commit after another (fanOut), so it also bounds how long a
// stuck read holds back the pokes of the commits after it: well within
// the second a foreign write has to reach the devices (docs/protocol.md
// §6). A read takes 2–5 ms on average on a loaded machine (docs/bench.md).
const sharedReadTimeout = 500 * time.Millisecond

// fanOut runs the pokes one at a time, newest head last: a poke that
// arrives while one is being sent is coalesced with any other that
// follows, and sent after it. The devices' own pulls are not serialised.
type fanOut struct {
	mu      sync.Mutex
	running bool
	pending bool
	head    int64
}

// poke tells every connected device that changes were committed: the new
// page to those at the head that take pages, a poke to the others. It
// never blocks the caller (the feed listener).
func (h *hub) poke(head int64) {
	f := &h.fan
	f.mu.Lock()
	f.pending, f.head = true, head
	start := !f.running
	f.running = true
	f.mu.Unlock()
	if start {
		go h.fanOutLoop()
	}
}

func (h *hub) fanOutLoop() {
	f := &h.fan
	for {
		f.mu.Lock()
		if !f.pending {
			f.running = false
			f.mu.Unlock()
			return
		}
		head := f.head
		f.pending = false
		f.mu.Unlock()
		h.announce(head)
	}
}

// announce pokes the devices that must pull, then serves the others their
// page, one shared read per cursor.
func (h *hub) announce(head int64) {
	pm, err := preparedPoke(head)
	if err != nil {
		return
	}
	groups := map[string][]*conn{}
	for _, c := range h.snapshot() {
		if at := c.pushFrom(); at != "" && h.db != nil {
			groups[at] = append(groups[at], c)
			continue
		}
		c.poke(pm)
	}
	for cursor, conns := range groups {
		h.pushPages(cursor, conns, pm)
	}
}

// pushPages reads the page after cursor for conns once and sends each its
// own; a device left without one is poked.
func (h *hub) pushPages(cursor string, conns []*conn, pm *websocket.PreparedMessage) {
	devs := make([]postgres.PageDevice, 0, len(conns))
	seen := map[string]bool{}
	for _, c := range conns {
		if !seen[c.deviceID] {
			seen[c.deviceID] = true
			devs = append(devs, postgres.PageDevice{ID: c.deviceID, Roles: c.roles})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), sharedReadTimeout)
	start := time.Now()
	pages, err := h.db.SharedPages(ctx, cursor, devs)
	cancel()
	m := conns[0].s.metrics
	m.sharedReadSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		// The devices pull, each in its own transaction, as without pages.
		h.logger.Warn("shared page read failed; devices poked to pull", "cursor", cursor, "devices", len(devs), "err", err)
		for _, c := range conns {
			c.poke(pm)
		}
		m.pagesPoked.Add(float64(len(conns)))
		return
	}
	if pages == nil {
		return // nothing after cursor: these devices have everything
	}
	// One encoding per distinct page: devices of one visibility class
	// with no per-device members share it.
	encoded := map[*syncproto.Changes][]byte{}
	for _, c := range conns {
		p, ok := pages[c.deviceID]
		if ok && c.pushPage(p, cursor, encoded) {
			m.pagesPushed.Inc()
			continue
		}
		c.poke(pm)
		m.pagesPoked.Inc()
	}
}

// pushFrom is the cursor to push this device's next page from, "" when it
// must be poked instead.
func (c *conn) pushFrom() string {
	// welcomed first: its Store follows the hello's write of pages.
	if !c.welcomed.Load() || !c.pages {
		return ""
	}
	c.atMu.Lock()
	defer c.atMu.Unlock()
	return c.at
}

// setAt records where the answer to a pull left the device: at the head
// (more: false), or somewhere it will pull on from.
func (c *conn) setAt(ch *syncproto.Changes) {
	if !c.pages {
		return
	}
	c.atMu.Lock()
	defer c.atMu.Unlock()
	if ch.More {
		c.at = ""
	} else {
		c.at = ch.Cursor
	}
}

// pushPage queues the pushed page p (from cursor from) without waiting;
// false when the device's queue is full, or it has moved meanwhile (a pull
// answered), so that it is poked instead.
func (c *conn) pushPage(p *syncproto.Changes, from string, encoded map[*syncproto.Changes][]byte) bool {
	b, ok := encoded[p]
	if !ok {
		var err error
		if b, err = syncproto.Encode(p); err != nil {
			c.s.Logger.Error("encode pushed page", "device", c.deviceID, "err", err)
			return false
		}
		encoded[p] = b
	}
	c.atMu.Lock()
	defer c.atMu.Unlock()
	if c.at != from {
		return false
	}
	select {
	case c.out <- b:
		c.at = p.Cursor
		return true
	case <-c.done:
		return true // closing: nothing to poke either
	default:
		return false
	}
}
