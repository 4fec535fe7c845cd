package desktop

import (
	"context"
	"time"

	"wardsync/workflow"
)

// Status is what the status line shows.
type Status struct {
	DeviceID  string `json:"deviceId"`
	ServerURL string `json:"serverUrl"`
	Online    bool   `json:"online"`
	// OfflineSince is when the workstation last lost (or, at start, had
	// not yet made) its connection; nil while online.
	OfflineSince *time.Time `json:"offlineSince,omitempty"`
	// Syncing is true while a push or pull is in flight.
	Syncing bool `json:"syncing"`
	// Pending counts acts whose outcome the server has not yet told.
	Pending         int64      `json:"pending"`
	OldestPendingAt *time.Time `json:"oldestPendingAt,omitempty"`
	// OldestPendingAgeSeconds is how long the oldest pending act has waited.
	OldestPendingAgeSeconds int64 `json:"oldestPendingAgeSeconds"`
	// LikelyRejected counts queued acts that no longer apply to the
	// server's newer state.
	LikelyRejected int64 `json:"likelyRejected"`
	// Waiting counts acts that came before their predecessor and wait
	// for it ("waiting for check-in at reception"), queued here or parked
	// on the server.
	Waiting int64 `json:"waiting"`
	// Rejected counts rejected acts not yet dismissed.
	Rejected   int64      `json:"rejected"`
	LastSyncAt *time.Time `json:"lastSyncAt,omitempty"`
	// InitialSync is the progress of a snapshot (first sync or resync);
	// nil when none is under way.
	InitialSync *Progress `json:"initialSync,omitempty"`
	LastError   string    `json:"lastError,omitempty"`
	// RetryAt is when an offline engine next tries the server ("Retrying
	// in 3 s — Send now"); nil while online or trying.
	RetryAt *time.Time `json:"retryAt,omitempty"`
	// ChainError says that the queue's act chain is broken: an act was
	// edited or deleted in the replica's file outside the app. The server
	// refuses the acts concerned; this says so before they are sent.
	ChainError string          `json:"chainError,omitempty"`
	Roles      []workflow.Role `json:"roles"`
	// UpgradeRequired is the server's sentence when it refuses this
	// workstation's release ("this workstation runs 1.2.0; the server
	// needs 1.3.0 or later: ask IT to update it"); the queued acts wait
	// for the update. Empty otherwise.
	UpgradeRequired string `json:"upgradeRequired,omitempty"`
	// Version is the release this workstation runs (the About box).
	Version string `json:"version"`
	// Locked is true until a login opens the encrypted replica.
	Locked bool `json:"locked"`
	// LockedBy names the user whose session was on screen when the idle
	// lock closed the replica; "" otherwise.
	LockedBy string `json:"lockedBy,omitempty"`
	// Wiped says why this workstation destroyed its keys (it was revoked);
	// "" otherwise.
	Wiped string `json:"wiped,omitempty"`
	// IdleLockMinutes is the idle lock an administrator set for this
	// workstation on the dashboard (0: never), as the server last said;
	// nil when none is set and the app's -idle-lock holds (IdleLockAfter).
	IdleLockMinutes *int `json:"idleLockMinutes,omitempty"`
}

// Progress counts the rows of a snapshot received so far.
type Progress struct {
	Rows  int64 `json:"rows"`
	Total int64 `json:"total"`
}

// Status returns the current status.
func (e *Engine) Status() Status {
	e.mu.Lock()
	s := e.status
	e.mu.Unlock()
	return e.aged(s)
}

func (e *Engine) aged(s Status) Status {
	s.OldestPendingAgeSeconds = 0
	if s.OldestPendingAt != nil {
		s.OldestPendingAgeSeconds = max(0, int64(e.cfg.Now().Sub(*s.OldestPendingAt)/time.Second))
	}
	if s.InitialSync != nil {
		p := *s.InitialSync
		s.InitialSync = &p
	}
	s.Roles = append([]workflow.Role(nil), s.Roles...)
	return s
}

// Subscribe returns a channel that receives the status whenever it
// changes. Only the latest status waits in it: a slow reader skips
// intermediate ones, never blocks the engine. cancel ends the subscription
// (Close ends all of them by closing their channels).
func (e *Engine) Subscribe() (<-chan Status, func()) {
	ch := make(chan Status, 1)
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		close(ch)
		return ch, func() {}
	}
	id := e.nextSub
	e.nextSub++
	e.subs[id] = ch
	ch <- e.aged(e.status)
	e.mu.Unlock()
	return ch, func() {
		e.mu.Lock()
		if _, ok := e.subs[id]; ok {
			delete(e.subs, id)
			close(ch)
		}
		e.mu.Unlock()
	}
}

// update changes the status under the lock and tells the subscribers.
func (e *Engine) update(fn func(*Status)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	fn(&e.status)
	s := e.aged(e.status)
	for _, ch := range e.subs {
		select {
		case <-ch:
		default:
		}
		ch <- s
	}
}

// refresh re-reads the queue counts and sync state from the replica.
func (e *Engine) refresh(ctx context.Context) error {
	c, st, err := e.db.CountsAndState(ctx)
	if err != nil {
		return err
	}
	e.update(func(s *Status) {
		s.Pending, s.OldestPendingAt = c.Pending, c.OldestPendingAt
		s.LikelyRejected, s.Rejected, s.Waiting = c.LikelyRejected, c.Rejected, c.Waiting
		s.LastSyncAt, s.Roles = st.LastSyncAt, st.Roles
	})
	return nil
}

func (e *Engine) refreshQuietly(ctx context.Context) {
	if err := e.refresh(ctx); err != nil && ctx.Err() == nil {
		e.log.Warn("status refresh failed", "err", err)
	}
}

func (e *Engine) setOnline() {
	e.update(func(s *Status) {
		s.Online, s.OfflineSince, s.LastError, s.UpgradeRequired, s.RetryAt = true, nil, "", "", nil
	})
}

func (e *Engine) setOffline(err error) {
	now := e.cfg.Now()
	e.update(func(s *Status) {
		if s.Online || s.OfflineSince == nil {
			s.OfflineSince = &now
		}
		s.Online, s.Syncing, s.InitialSync = false, false, nil
		if err != nil {
			s.LastError = err.Error()
			s.UpgradeRequired = ""
			if upgradeRequired(err) {
				r, _ := workflow.AsRejection(err)
				s.LastError, s.UpgradeRequired = r.Message, r.Message
			}
		}
	})
}

// checkChain re-verifies the pending acts' chain, closes holes left by
// deleted acts (so that the rest can still be sent and judged), and shows
// the first problem in the status.
func (e *Engine) checkChain(ctx context.Context) error {
	rej, err := e.db.VerifyChain(ctx)
	if err != nil {
		return err
	}
	// Only a broken chain can hide a hole; an intact one costs no write.
	if rej != nil {
		if n, err := e.db.CloseQueueHoles(ctx); err != nil {
			return err
		} else if n > 0 {
			e.log.Warn("acts were deleted from the queue outside the app; the acts after them moved down", "moved", n)
		}
	}
	msg := ""
	if rej != nil {
		msg = rej.Message
		e.log.Warn("act chain broken", "message", msg)
	}
	e.update(func(s *Status) { s.ChainError = msg })
	return nil
}
