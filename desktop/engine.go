// Package desktop is the workstation engine: it keeps the SQLite replica
// (desktop/sqlite), performs acts optimistically through the same
// workflow mutators the server runs, queues them in an outbox, syncs with
// the server over its websocket (desktop/remote), logs users in online and,
// when the network is down, offline by opening the user's key slot
// (desktop/keyfile), and answers the role dashboards from the replica. It
// runs headless; the Wails adapter (desktop/app) only calls into it.
//
// The replica is encrypted under a data key that only a login gives: the
// engine starts locked, and the first login (online, or offline with a key
// slot) opens it.
package desktop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"wardsync/desktop/keyfile"
	"wardsync/desktop/remote"
	"wardsync/desktop/sqlite"
	"wardsync/syncproto"
	"wardsync/version"
	"wardsync/workflow"
)

// Config builds an Engine. Only DBPath is required to open one; Run needs
// ServerURL and a device id (given here or stored in the key file).
type Config struct {
	DBPath string
	// KeyFile holds the key slots, the device id and the server URL
	// (default DBPath + ".keys").
	KeyFile string
	// KeyFileWait is how long a change to the key file waits for another
	// process holding its lock (default keyfile.DefaultWait) before it is
	// refused KEY_FILE_BUSY.
	KeyFileWait time.Duration
	// DeviceKeyFile holds the workstation's own key from its claim
	// (desktop/devicekey); default DBPath + ".device".
	DeviceKeyFile string
	ServerURL     string
	DeviceID      string
	// Now is the clock acts are stamped with (default time.Now).
	Now func() time.Time
	// HTTPClient makes the login and logout calls (default: one applying
	// Security, 15 s timeout).
	HTTPClient *http.Client
	// Security is how the server is checked: a CA file besides the
	// system's roots, an optional key pin (security.go).
	Security remote.Security
	// OfflineWindow bounds offline authoring after an online login when
	// the server's answer carries no expiry (default 7 days).
	OfflineWindow time.Duration
	// Location decides what "today" is for the dashboards (default time.Local).
	Location *time.Location
	Logger   *slog.Logger
	// BackoffMin and BackoffMax bound the reconnection delay (default
	// 250 ms and 30 s); each failure doubles it, with jitter.
	BackoffMin, BackoffMax time.Duration
	// QueuedBackoffMax caps the delay instead while acts wait to be sent
	// (default 2 s, never above MaxQueuedBackoff): each attempt starts with
	// a cheap probe (remote.Probe), so that queued work flows within
	// seconds of the link returning.
	QueuedBackoffMax time.Duration
	// ProbeTimeout bounds one probe (default 1 s).
	ProbeTimeout time.Duration
	// NetworkEvents, when true, also retries at once when the operating
	// system reports a network change (Linux: a netlink route socket;
	// elsewhere nothing is watched). The app turns it on; tests leave it
	// off.
	NetworkEvents bool
	// PushBatch is the most mutations one push carries (default 200).
	PushBatch int
	// PollInterval is how often a connected engine looks for acts queued
	// by another process on the same file (default 2 s), and PullInterval
	// how often it pulls without a poke, in case one was lost (default 60 s).
	PollInterval, PullInterval time.Duration
	// Remote tunes the websocket.
	Remote remote.Options
	// Version is the release sent in hello (default version.Version).
	Version string
	// UpgradeRetry is how long a workstation the server refused as too old
	// waits before asking again (default 15 min): only an update helps, so
	// it does not hammer the server, and a login or Send now still tries at
	// once (the server's minimum may have been lowered).
	UpgradeRetry time.Duration
	// DataKey, when set, opens the replica at once under this key instead
	// of at the first login (tests and benchmarks; the app leaves it nil).
	DataKey []byte
	// SlotParams are Argon2id's costs for new key slots (default
	// keyfile.DefaultParams; tests lower them).
	SlotParams *keyfile.Params
	// Unencrypted opens the replica unencrypted at once and keeps no key
	// slots: the benchmarks' baseline only, never a workstation.
	Unencrypted bool
	// SessionKeys, by user id, are session signing keys to start with:
	// the unencrypted baseline has no slot to unseal them from at an
	// offline login (benchmarks only; the app leaves it nil).
	SessionKeys map[string]syncproto.SessionKey
}

// MaxQueuedBackoff is the longest wait between two attempts to reach the
// server while acts wait to be sent: queued work flows within a few
// seconds of the link returning.
const MaxQueuedBackoff = 5 * time.Second

func (c *Config) defaults() {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.KeyFile == "" {
		c.KeyFile = c.DBPath + ".keys"
	}
	if c.DeviceKeyFile == "" {
		c.DeviceKeyFile = DeviceKeyPath(*c)
	}
	if c.KeyFileWait <= 0 {
		c.KeyFileWait = keyfile.DefaultWait
	}
	if c.SlotParams == nil {
		c.SlotParams = &keyfile.DefaultParams
	}
	if c.OfflineWindow <= 0 {
		c.OfflineWindow = workflow.OfflineWindow
	}
	if c.Location == nil {
		c.Location = time.Local
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.BackoffMin <= 0 {
		c.BackoffMin = 250 * time.Millisecond
	}
	if c.BackoffMax < c.BackoffMin {
		c.BackoffMax = max(30*time.Second, c.BackoffMin)
	}
	if c.QueuedBackoffMax <= 0 {
		c.QueuedBackoffMax = 2 * time.Second
	}
	c.QueuedBackoffMax = min(c.QueuedBackoffMax, MaxQueuedBackoff, c.BackoffMax)
	if c.ProbeTimeout <= 0 {
		c.ProbeTimeout = time.Second
	}
	if c.PushBatch <= 0 {
		c.PushBatch = 200
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 2 * time.Second
	}
	if c.PullInterval <= 0 {
		c.PullInterval = 60 * time.Second
	}
	if c.Version == "" {
		c.Version = version.Version
	}
	if c.UpgradeRetry <= 0 {
		c.UpgradeRetry = 15 * time.Minute
	}
}

// Engine is one workstation. It is safe for concurrent use.
type Engine struct {
	cfg Config
	db  *sqlite.DB
	log *slog.Logger

	// signKeys are the session signing keys of the users logged in here,
	// by user id, in memory only: an online login makes one, an offline
	// login or an unlock takes it back out of the user's key slot, a
	// logout destroys it (sign.go).
	signKeys syncproto.Keyring

	// actKick wakes a connected loop to push; loginKick also cuts short
	// a reconnection wait, since a new session token may be what it lacked.
	actKick   chan struct{}
	loginKick chan struct{}
	// retryKick cuts a reconnection wait short: "Send now", or a
	// network change the operating system reported.
	retryKick chan struct{}

	mu      sync.Mutex
	status  Status
	subs    map[int]chan Status
	nextSub int
	running bool
	stopRun context.CancelFunc
	runDone chan struct{}
	closed  bool

	// keyMu serialises unlocking and changes to the key file; key is the
	// data key once a login opened the replica (kept for adding slots).
	keyMu    sync.Mutex
	key      []byte
	unlocked chan struct{} // closed when the replica opens
	lockedBy string        // the user on screen when Lock closed the replica
}

// Open binds the engine to its replica and key file. The replica stays
// locked until a login (or Config.DataKey) opens it.
func Open(ctx context.Context, cfg Config) (*Engine, error) {
	cfg.defaults()
	if err := cfg.transport(); err != nil {
		return nil, err
	}
	var wiped *keyfile.Wipe
	err := updateKeys(cfg, func(kf *keyfile.File) (bool, error) {
		if cfg.DeviceID != "" && kf.DeviceID != "" && cfg.DeviceID != kf.DeviceID {
			return false, &sqlite.ErrOtherDevice{Stored: kf.DeviceID, Asked: cfg.DeviceID}
		}
		changed := (cfg.DeviceID != "" && kf.DeviceID == "") || (cfg.ServerURL != "" && cfg.ServerURL != kf.ServerURL)
		if cfg.DeviceID == "" {
			cfg.DeviceID = kf.DeviceID
		}
		if cfg.ServerURL == "" {
			cfg.ServerURL = kf.ServerURL
		}
		kf.DeviceID, kf.ServerURL = cfg.DeviceID, cfg.ServerURL
		wiped = kf.Wiped
		return changed, nil
	})
	if err != nil {
		return nil, err
	}
	db, err := sqlite.OpenLocked(cfg.DBPath)
	if err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, db: db, log: cfg.Logger.With("device", cfg.DeviceID),
		actKick: make(chan struct{}, 1), loginKick: make(chan struct{}, 1), retryKick: make(chan struct{}, 1), subs: map[int]chan Status{},
		unlocked: make(chan struct{})}
	for user, k := range cfg.SessionKeys {
		e.signKeys.Put(user, k)
	}
	db.SetResigner(e.resign)
	now := cfg.Now()
	e.status = Status{DeviceID: cfg.DeviceID, ServerURL: cfg.ServerURL, OfflineSince: &now, Locked: true, Version: cfg.Version}
	if wiped != nil {
		e.status.Wiped = wiped.Reason
	}
	if cfg.DataKey != nil || cfg.Unencrypted {
		if err := e.unlock(ctx, cfg.DataKey); err != nil {
			db.Close()
			return nil, err
		}
	}
	return e, nil
}

// Close stops Run (waiting for it until ctx ends) and closes the replica.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	stop, done := e.stopRun, e.runDone
	subs := e.subs
	e.subs = map[int]chan Status{}
	e.mu.Unlock()
	if stop != nil {
		stop()
		select {
		case <-done:
		case <-ctx.Done():
			return fmt.Errorf("desktop: close: sync loop still running: %w", ctx.Err())
		}
	}
	for _, ch := range subs {
		close(ch)
	}
	return e.db.Close()
}

// DB gives tests and the Wails adapter's diagnostics the replica.
func (e *Engine) DB() *sqlite.DB { return e.db }

// DeviceID is the device this replica belongs to.
func (e *Engine) DeviceID() string { return e.cfg.DeviceID }

var errClosed = errors.New("desktop: engine closed")

func kick(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// drain takes back a kick not yet seen.
func drain(ch chan struct{}) {
	select {
	case <-ch:
	default:
	}
}

// SyncNow asks a connected engine to push and pull at once, and an offline
// one to try the server at once ("Send now").
func (e *Engine) SyncNow() {
	kick(e.actKick)
	kick(e.loginKick)
	kick(e.retryKick)
}

func rejection(code workflow.Code, msg string) *workflow.Rejection {
	return &workflow.Rejection{Code: code, Message: msg}
}
