package postgres

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// How commits are announced (docs/protocol.md §6, "Pokes").
//
// A NOTIFY inside a writing transaction takes PostgreSQL's notify-queue
// lock at pre-commit and holds it through the commit's WAL flush: every
// notifying transaction of the cluster then commits after the other, and
// group commit is lost (measured: 6,681 → 606 tps, 20 clients). So the server's own transactions do not
// notify (the triggers of migration 00027 stay silent for sessions named
// ApplicationName). Once one of them has committed, the server announces it:
//
//   - at once to its own listeners, in-process: the feed follower that pokes
//     this instance's devices, the dashboards' event stream, the deferred
//     sweeper;
//   - to the other instances on the same database, with a NOTIFY of its own
//     in a separate tiny statement (asynchronous commit, so the lock is held
//     for no WAL flush), coalesced: whatever was announced while one NOTIFY
//     was on its way, or within peerGap of it, goes out in the next one.
//
// Other programs' writes (psql, another application) are still notified by
// the triggers at their commit, as before.

// ApplicationName is how the server's sessions name themselves to
// PostgreSQL (pg_stat_activity shows it). The notifying triggers skip
// sessions with this name: the server announces its commits itself.
const ApplicationName = "wardsync-server"

// The notification channels.
const (
	// ChannelChanges: changes were committed to the feed.
	ChannelChanges = "wardsync_changes"
	// ChannelAdmin: something a dashboard shows changed; the payload names
	// the table (the dashboard's topic).
	ChannelAdmin = "wardsync_admin"
	// ChannelDeferred: a commit woke parked acts the writer did not retry.
	ChannelDeferred = "wardsync_deferred"
)

// peerGap is the least time between two NOTIFYs to the other instances
// while commits keep coming: at most 1/peerGap small transactions a
// second (each takes an xid and a commit record), and at most that much
// added to a peer's poke latency. The first announcement after a quiet
// spell goes out at once.
const peerGap = 5 * time.Millisecond

// notice is one announcement: a channel and its payload (for the admin
// channel, the table that changed).
type notice struct{ channel, payload string }

var (
	feedNotice     = notice{ChannelChanges, ""}
	deferredNotice = notice{ChannelDeferred, ""}
)

// adminNotice says that a table the dashboards show has changed.
func adminNotice(table string) notice { return notice{ChannelAdmin, table} }

// announcer delivers a DB's announcements (see above).
type announcer struct {
	// self is carried in the payloads this instance sends, so that its own
	// listeners skip the echo of what they already heard in-process.
	self string

	mu      sync.Mutex
	subs    map[int]func(notice)
	nextSub int
	pending map[notice]struct{}
	// sending is true while the peer sender runs; it then takes pending
	// again before it stops.
	sending bool
	wg      sync.WaitGroup
}

func newAnnouncer() *announcer {
	return &announcer{self: uuid.NewString(), subs: map[int]func(notice){}, pending: map[notice]struct{}{}}
}

// announce tells everyone who follows the database that a transaction of
// this server committed and touched what the notices name. Call it after
// the commit, never inside the transaction. It does not block on the
// database: the peer NOTIFY is sent by a goroutine of its own.
func (db *DB) announce(ns ...notice) {
	a := db.ann
	a.mu.Lock()
	subs := make([]func(notice), 0, len(a.subs))
	for _, fn := range a.subs {
		subs = append(subs, fn)
	}
	for _, n := range ns {
		a.pending[n] = struct{}{}
	}
	start := !a.sending
	if start {
		a.sending = true
		a.wg.Add(1)
	}
	a.mu.Unlock()
	for _, fn := range subs {
		for _, n := range ns {
			fn(n)
		}
	}
	if start {
		go db.sendPeers()
	}
}

// sendPeers sends the pending notices to the other instances, one
// statement for all of them, until none is left.
func (db *DB) sendPeers() {
	a := db.ann
	defer a.wg.Done()
	var last time.Time
	for {
		if wait := peerGap - time.Since(last); !last.IsZero() && wait > 0 {
			time.Sleep(wait) // what is announced meanwhile joins this NOTIFY
		}
		a.mu.Lock()
		if len(a.pending) == 0 {
			a.sending = false
			a.mu.Unlock()
			return
		}
		chans := make([]string, 0, len(a.pending))
		payloads := make([]string, 0, len(a.pending))
		for n := range a.pending {
			chans = append(chans, n.channel)
			payloads = append(payloads, n.payload+"@"+a.self)
		}
		clear(a.pending)
		a.mu.Unlock()
		last = time.Now()

		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		// Asynchronous commit: the notification is delivered at commit
		// either way, and a crash loses it no matter what (listeners poke
		// once when they reconnect). Without the WAL flush the
		// notify-queue lock is held only for a moment.
		_, err := db.Pool.Exec(ctx, `
			SELECT set_config('synchronous_commit', 'off', true), pg_notify(c, p)
			  FROM unnest($1::text[], $2::text[]) AS t(c, p)`, chans, payloads)
		cancel()
		if err != nil {
			// Keep them for the next announcement rather than spin on a
			// database that is gone.
			a.mu.Lock()
			for i := range chans {
				a.pending[notice{chans[i], strings.TrimSuffix(payloads[i], "@"+a.self)}] = struct{}{}
			}
			a.sending = false
			a.mu.Unlock()
			return
		}
	}
}

// subscribe calls fn with every notice this instance announces, until the
// returned function is called. fn runs in the announcing goroutine: it
// must not block.
func (a *announcer) subscribe(fn func(notice)) (unsubscribe func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	id := a.nextSub
	a.nextSub++
	a.subs[id] = fn
	return func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		delete(a.subs, id)
	}
}

// wakeOn returns a channel that receives (at most one pending value) when
// this instance announces on channel.
func (a *announcer) wakeOn(channel string) (<-chan struct{}, func()) {
	wake := make(chan struct{}, 1)
	unsub := a.subscribe(func(n notice) {
		if n.channel != channel {
			return
		}
		select {
		case wake <- struct{}{}:
		default:
		}
	})
	return wake, unsub
}

// fromPeer reads a notification's payload: what it says, and whether it
// is the echo of this instance's own announcement (already heard
// in-process). Triggers send bare payloads; instances add "@" and their id.
func (a *announcer) fromPeer(payload string) (what string, echo bool) {
	if i := strings.LastIndexByte(payload, '@'); i >= 0 {
		return payload[:i], payload[i+1:] == a.self
	}
	return payload, false
}

// waitNotice waits up to d for a notification on conn (which LISTENs) or
// a wake from this instance. heard says something was committed that the
// caller has not yet heard of; timedOut that d ran out first.
func (a *announcer) waitNotice(ctx context.Context, conn *pgx.Conn, wake <-chan struct{}, d time.Duration) (heard, timedOut bool, err error) {
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	woke := make(chan bool, 1)
	go func() {
		select {
		case <-wake:
			cancel()
			woke <- true
		case <-wctx.Done():
			woke <- false
		}
	}()
	n, err := conn.WaitForNotification(wctx)
	// Read before cancel, which would make every failure look like the
	// wait's end: a connection that failed (PostgreSQL restarting) would
	// read as a quiet wait, and the caller's loop would spin on it.
	ended := wctx.Err() != nil // d ran out, or a wake cancelled it
	cancel()
	local := <-woke
	if err != nil {
		if ctx.Err() != nil {
			return false, false, ctx.Err()
		}
		if !ended {
			return false, false, err // the connection failed
		}
		return local, !local, nil
	}
	_, echo := a.fromPeer(n.Payload)
	return local || !echo, false, nil
}

// stopAnnouncing waits for the peer NOTIFY in flight (Close).
func (a *announcer) stopAnnouncing() { a.wg.Wait() }

// announced announces ns when err is nil (the transaction committed) and
// returns err: `return db.announced(db.inTx(...), feedNotice)`.
func (db *DB) announced(err error, ns ...notice) error {
	if err == nil {
		db.announce(ns...)
	}
	return err
}
