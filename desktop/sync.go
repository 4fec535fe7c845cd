package desktop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"wardsync/desktop/remote"
	"wardsync/desktop/sqlite"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// ErrNoSession means no user holds an open session on this workstation, so
// it has no token to connect with; a login ends the wait.
var ErrNoSession = errors.New("nobody has logged in online on this workstation yet")

// Run keeps the workstation in sync until ctx ends (or Close): connect,
// hello, push the outbox, pull until up to date, then push new acts and
// pull on every poke. A lost connection is retried with capped exponential
// backoff and jitter. Run returns nil when stopped.
func (e *Engine) Run(ctx context.Context) error {
	if e.cfg.ServerURL == "" || e.cfg.DeviceID == "" {
		return errors.New("desktop: run needs a server URL and a device id")
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return errClosed
	}
	if e.running {
		e.mu.Unlock()
		return errors.New("desktop: already running")
	}
	ctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	e.running, e.stopRun, e.runDone = true, stop, done
	e.mu.Unlock()
	defer func() {
		stop()
		e.mu.Lock()
		e.running, e.stopRun = false, nil
		e.mu.Unlock()
		close(done)
	}()

	if e.cfg.NetworkEvents {
		go watchNetwork(ctx, e.log, func() { kick(e.retryKick) })
	}
	backoff := e.cfg.BackoffMin
	for {
		// Nothing to sync before a login opens the replica.
		if !e.db.Unlocked() {
			e.setOffline(ErrNoSession)
		}
		if !e.waitUnlocked(ctx) {
			e.setOffline(nil)
			return nil
		}
		e.update(func(s *Status) { s.RetryAt = nil })
		// A kick that came before this attempt (a login before Run, a
		// "Send now" during the last wait) is answered by it: left in its
		// channel it would cut the next wait short, and a workstation the
		// server refuses as too old would ask again at once.
		drain(e.loginKick)
		drain(e.retryKick)
		connected, err := e.session(ctx)
		if err != nil && ctx.Err() == nil && !errors.Is(err, sqlite.ErrLocked) && remote.MayBeRevoked(err) {
			// A refusal may be a revocation: asked, it wipes the keys.
			if w := e.checkRevoked(ctx, nil); w != nil {
				err = w
			}
		}
		if ctx.Err() != nil {
			e.setOffline(nil)
			return nil
		}
		e.setOffline(err)
		if connected {
			backoff = e.cfg.BackoffMin
		}
		// Wait, probing cheaply, until the server's port answers; then
		// dial. A kick (login, "Send now", a network change) dials at once.
		for {
			// While acts are queued the wait is capped low (at most
			// MaxQueuedBackoff): they should flow within seconds of the
			// link returning. Full jitter over the upper half: a ward's
			// workstations that lost the server together do not come
			// back together.
			// Without a session nothing can be sent: a login kicks.
			limit := backoff
			if e.Status().Pending > 0 && !errors.Is(err, ErrNoSession) {
				limit = min(limit, e.cfg.QueuedBackoffMax)
			}
			wait := limit/2 + rand.N(limit/2+1)
			if upgradeRequired(err) {
				// Only an update helps: ask again rarely. The queue stays
				// as it is, for after the update.
				wait = e.cfg.UpgradeRetry
			}
			at := e.cfg.Now().Add(wait)
			e.update(func(s *Status) { s.RetryAt = &at })
			e.log.Info("sync disconnected", "err", err, "retry_in", wait)
			backoff = min(backoff*2, e.cfg.BackoffMax)
			t := time.NewTimer(wait)
			kicked := false
			select {
			case <-ctx.Done():
				t.Stop()
				e.setOffline(nil)
				return nil
			case <-t.C:
			case <-e.loginKick:
				t.Stop()
				kicked = true
			case <-e.retryKick:
				t.Stop()
				kicked = true
			}
			if kicked {
				break
			}
			perr := remote.Probe(ctx, e.cfg.ServerURL, e.cfg.ProbeTimeout)
			if perr == nil {
				break
			}
			err = perr
		}
	}
}

// session is one connection's life. connected reports whether the server
// welcomed us (the backoff restarts then).
func (e *Engine) session(ctx context.Context) (connected bool, err error) {
	conn, err := e.dial(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	st, err := e.db.State(ctx)
	if err != nil {
		return false, err
	}
	c, err := e.db.Counts(ctx)
	if err != nil {
		return false, err
	}
	w, err := conn.Hello(ctx, syncproto.Hello{DeviceID: e.cfg.DeviceID, Cursor: st.Cursor, LastMutationSeq: st.LastSeq,
		Pending: c.Pending, OldestPendingAt: c.OldestPendingAt, ClientVersion: e.cfg.Version, Pages: true})
	if err != nil {
		return false, err
	}
	if err := e.db.SetRoles(ctx, w.Roles); err != nil {
		return true, err
	}
	if err := e.setIdleLock(ctx, w.IdleLock()); err != nil {
		return true, err
	}
	if moved, err := e.db.CatchUpSeq(ctx, w.LastMutationSeq, w.ChainHead); err != nil {
		return true, err
	} else if moved {
		e.log.Warn("the server knows more seqs of this device than the replica; queued acts renumbered",
			"server_last_seq", w.LastMutationSeq, "replica_last_seq", st.LastSeq)
	}
	if w.LastMutationSeq < st.AckedSeq {
		// The server lost acts it had acknowledged: its database was
		// restored from a backup. What the outbox still holds is sent again.
		n, err := e.db.RewindSeq(ctx, w.LastMutationSeq, w.ChainHead)
		if err != nil {
			return true, err
		}
		e.log.Warn("the server has fewer seqs of this device than it acknowledged (a restored database); acts still in the outbox renumbered and sent again",
			"server_last_seq", w.LastMutationSeq, "replica_acked_seq", st.AckedSeq, "resent", n)
	}
	if st, err = e.db.State(ctx); err != nil {
		return true, err
	}
	e.setOnline()
	e.refreshQuietly(ctx)
	// Normally the server has every acknowledged seq; one that lost some
	// (a restored database) is asked for them again from its own last.
	s := &syncSession{e: e, conn: conn, pushFrom: min(st.AckedSeq, w.LastMutationSeq) + 1, reportedAt: time.Now()}
	return true, s.loop(ctx)
}

// upgradeRequired says whether the server refused this workstation's
// release (workflow.CodeUpgradeRequired).
func upgradeRequired(err error) bool {
	r, ok := workflow.AsRejection(err)
	return ok && r.Code == workflow.CodeUpgradeRequired
}

// dial connects with the newest open session's token, trying older ones
// when the server refuses it (revoked, expired there).
func (e *Engine) dial(ctx context.Context) (*remote.Conn, error) {
	creds, err := e.db.Credentials(ctx)
	if err != nil {
		return nil, err
	}
	now := e.cfg.Now()
	lastErr := ErrNoSession
	for _, c := range creds {
		if c.Token == "" || !now.Before(c.ExpiresAt) {
			continue
		}
		// Protocol 2: the device's and the session's proofs. A session
		// whose key this workstation does not hold (its user has not
		// logged in since the app started) falls back to its token, which
		// only a workstation without a device key may still use.
		var conn *remote.Conn
		var err error
		if k, ok := e.signKeys.Get(c.UserID); ok && k.SessionID == c.SessionID {
			conn, err = remote.DialProved(ctx, e.cfg.HTTPClient, e.cfg.ServerURL, e.cfg.DeviceID, e.deviceKey(), k, e.cfg.Remote)
		} else {
			conn, err = remote.Dial(ctx, e.cfg.ServerURL, c.Token, e.cfg.Remote)
		}
		if err == nil {
			return conn, nil
		}
		lastErr = err
		var he *remote.HTTPError
		if !errors.As(err, &he) || (he.Status != http.StatusUnauthorized && he.Status != http.StatusForbidden) {
			break
		}
	}
	return nil, lastErr
}

type syncSession struct {
	e        *Engine
	conn     *remote.Conn
	pushFrom int64 // the first seq whose outcome this session still needs
	// reportedAt is when the backlog was last reported (pushAll).
	reportedAt time.Time
}

// reportEvery spaces the backlog reports of a long drain. The server
// handles a connection's frames in order, and a report is a write of the
// device's row there: sent after every push, it stood between each push
// and the next, a commit each.
const reportEvery = time.Second

func (s *syncSession) loop(ctx context.Context) error {
	e := s.e
	poll := time.NewTicker(e.cfg.PollInterval)
	defer poll.Stop()
	lastPull := time.Time{}
	needPull := true
	for {
		pushed, err := s.pushAll(ctx)
		if err != nil {
			return err
		}
		if needPull || pushed > 0 || time.Since(lastPull) >= e.cfg.PullInterval {
			if err := s.pullAll(ctx); err != nil {
				return err
			}
			lastPull, needPull = time.Now(), false
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.conn.Done():
			return s.conn.Err()
		case <-s.conn.Pokes():
			needPull = true
		case page := <-s.conn.Pages():
			applied, err := s.applyPushed(ctx, page)
			if err != nil {
				return err
			}
			if applied {
				lastPull = time.Now()
			} else {
				needPull = true
			}
		case <-e.actKick:
		case <-poll.C:
		}
	}
}

func (s *syncSession) syncing(on bool) {
	s.e.update(func(st *Status) { st.Syncing = on })
}

// pushAll pushes every act whose outcome is unknown, in seq order and in
// batches, and records the outcomes. It returns how many it pushed.
//
// Pushes are pipelined one deep: the next batch is read from the outbox
// and sent before the previous one's result has arrived, so the server
// applies it while this side records the previous outcomes (the server
// handles a connection's frames in order, docs/protocol.md §1). Order and
// exactly-once are the server's seq rules as before: if a push fails, the
// one behind it meets a gap or a duplicate, the session ends, and the next
// one resends from the server's last seq.
func (s *syncSession) pushAll(ctx context.Context) (int, error) {
	e := s.e
	total := 0
	if err := e.checkChain(ctx); err != nil {
		return 0, err
	}
	type inFlight struct {
		muts []syncproto.Mutation
		wait remote.PushWait
	}
	var ahead *inFlight // sent, result not yet recorded
	next := s.pushFrom  // the first seq not yet sent
	defer func() {
		if ahead != nil {
			s.syncing(false)
		}
	}()
	for {
		entries, err := e.db.Outbox(ctx, next, e.cfg.PushBatch)
		if err != nil {
			return total, err
		}
		var sent *inFlight
		if muts := batch(entries, e.signMissing); len(muts) > 0 {
			s.syncing(true)
			wait, err := s.conn.StartPush(muts)
			if err != nil {
				return total, fmt.Errorf("push: %w", err)
			}
			sent = &inFlight{muts, wait}
			next = muts[len(muts)-1].Seq + 1
		}
		if ahead != nil {
			if err := s.record(ctx, ahead.muts, ahead.wait); err != nil {
				return total, err
			}
			total += len(ahead.muts)
		}
		if sent == nil {
			s.syncing(false)
			if total > 0 {
				return total, s.report(ctx)
			}
			return total, nil
		}
		ahead = sent
		if time.Since(s.reportedAt) >= reportEvery {
			if err := s.report(ctx); err != nil {
				return total, err
			}
		}
	}
}

// report tells the server the backlog left: once the outbox's acts are all
// pushed, and during a long drain at most once every reportEvery (the
// hello told it the backlog at the start).
func (s *syncSession) report(ctx context.Context) error {
	c, err := s.e.db.Counts(ctx)
	if err != nil {
		return err
	}
	s.reportedAt = time.Now()
	return s.conn.Report(c.Pending, c.OldestPendingAt)
}

// record waits for one push's result and records its outcomes.
func (s *syncSession) record(ctx context.Context, muts []syncproto.Mutation, wait remote.PushWait) error {
	e := s.e
	res, err := wait(ctx)
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	out, err := e.db.RecordResults(ctx, res.Results, e.cfg.Now())
	if err != nil {
		return err
	}
	for _, r := range out.Rejected {
		e.log.Info("act rejected", "seq", r.Seq, "name", r.Name, "code", r.Rejection.Code, "message", r.Rejection.Message)
	}
	for _, seq := range out.Deferred {
		e.log.Info("act on hold at the server until its predecessor lands", "seq", seq)
	}
	s.pushFrom = muts[len(muts)-1].Seq + 1
	e.refreshQuietly(ctx)
	return nil
}

// batch turns the outbox's head into one push: consecutive seqs only (the
// protocol requires them), within the frame size limit.
func batch(entries []sqlite.OutboxEntry, sign func(*syncproto.Mutation)) []syncproto.Mutation {
	const budget = syncproto.MaxFrameBytes - 16<<10 // room for the frame's own members
	var muts []syncproto.Mutation
	size := 0
	for i, x := range entries {
		if i > 0 && x.Seq != entries[i-1].Seq+1 {
			break
		}
		m := syncproto.Mutation{Seq: x.Seq, ID: x.ID, Name: x.Name, Args: x.Args, OccurredAt: x.OccurredAt, SessionID: x.Author.SessionID,
			Signature: x.Signature, AuthorID: x.Author.ID, PrevHash: x.PrevHash, Hash: x.Hash, ReissueOf: x.ReissueOf}
		if m.Signature == "" && sign != nil {
			sign(&m)
		}
		b, _ := json.Marshal(m)
		if i > 0 && size+len(b)+1 > budget {
			break
		}
		size += len(b) + 1
		muts = append(muts, m)
	}
	return muts
}

// applyPushed applies a page the server pushed unasked, exactly as a pulled
// one, when it starts at the replica's cursor (its from): then it is the
// page a pull would have brought. Any other (the replica moved meanwhile,
// or a page before it was dropped) is not applied, and false says to pull.
func (s *syncSession) applyPushed(ctx context.Context, page *syncproto.Changes) (bool, error) {
	e := s.e
	st, err := e.db.State(ctx)
	if err != nil {
		return false, err
	}
	if page.From != st.Cursor || page.Resync {
		return false, nil
	}
	if err := e.db.ApplyChanges(ctx, page, e.cfg.Now()); err != nil {
		return false, err
	}
	e.update(func(st *Status) { st.InitialSync = nil })
	e.refreshQuietly(ctx)
	// A pushed page reaches the head; one that says more is followed by pulls.
	return !page.More, nil
}

// pullAll pulls pages until the server says there is no more, applying
// each in its own transaction. Pulls are pipelined one page deep: the
// request for the next page (its cursor is the one this page ends at) goes
// out before this page is applied, so that the server reads and encodes it
// while the replica writes this one. Every pull goes out after the push
// results the replica had recorded when the pulls began (this session
// pushes nothing meanwhile), so each page is read after the acts up to
// that acked seq committed, and applied as such (sqlite.ApplyPulled).
func (s *syncSession) pullAll(ctx context.Context) error {
	e := s.e
	s.syncing(true)
	defer s.syncing(false)
	st, err := e.db.State(ctx)
	if err != nil {
		return err
	}
	type pulled struct {
		page *syncproto.Changes
		err  error
	}
	fetch := func(cursor string) <-chan pulled {
		ch := make(chan pulled, 1) // never blocks: the answer may go unread after an error
		go func() {
			page, err := s.conn.Pull(ctx, cursor, 0)
			ch <- pulled{page, err}
		}()
		return ch
	}
	next := fetch(st.Cursor)
	for {
		r := <-next
		if r.err != nil {
			return fmt.Errorf("pull: %w", r.err)
		}
		page := r.page
		if page.More {
			next = fetch(page.Cursor)
		}
		if page.Resync {
			e.log.Warn("server asks for a resync: the replica starts over, queued acts kept", "reason", page.ResyncReason)
		}
		if err := e.db.ApplyPulled(ctx, page, st.AckedSeq, e.cfg.Now()); err != nil {
			return err
		}
		e.update(func(st *Status) {
			st.InitialSync = nil
			if page.More && page.Total > 0 {
				st.InitialSync = &Progress{Rows: page.Sent, Total: page.Total}
			}
		})
		e.refreshQuietly(ctx)
		if !page.More {
			return nil
		}
	}
}
