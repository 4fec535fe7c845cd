package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"wardsync/syncproto"
	"wardsync/workflow"
)

// State is the workstation's place in the protocol.
type State struct {
	DeviceID  string
	ServerURL string
	Cursor    string
	// LastSeq is the highest seq ever assigned (hello.lastMutationSeq).
	LastSeq int64
	// AckedSeq: every seq at or below it has a known outcome.
	AckedSeq int64
	// ReflectedSeq: every seq at or below it is reflected in the pulled
	// server state.
	ReflectedSeq int64
	Roles        []workflow.Role
	LastSyncAt   *time.Time
}

// ErrOtherDevice is returned when a replica is opened for another device
// than the one it was created for: its outbox's seqs belong to that device.
type ErrOtherDevice struct{ Stored, Asked string }

func (e *ErrOtherDevice) Error() string {
	return fmt.Sprintf("sqlite: this replica belongs to device %s, not %s", e.Stored, e.Asked)
}

// State reads the sync state.
func (db *DB) State(ctx context.Context) (State, error) {
	return readValue(ctx, db, (*Tx).state)
}

func (t *Tx) state() (State, error) {
	var s State
	var roles string
	err := t.queryRow(`SELECT deviceId, serverUrl, cursor, lastSeq, ackedSeq, reflectedSeq, roles, lastSyncAt
		FROM sync_state WHERE singleton = 1`).Scan(&s.DeviceID, &s.ServerURL, &s.Cursor, &s.LastSeq, &s.AckedSeq,
		&s.ReflectedSeq, &roles, nullTime{&s.LastSyncAt})
	if err != nil {
		return s, fmt.Errorf("sqlite: read sync state: %w", err)
	}
	if err := json.Unmarshal([]byte(roles), &s.Roles); err != nil {
		return s, fmt.Errorf("sqlite: sync state roles: %w", err)
	}
	return s, nil
}

// Bind ties the replica to a device and server. A replica made for one
// device refuses another (ErrOtherDevice); an empty deviceID keeps the
// stored one. A new server URL is recorded (the same server may move).
func (db *DB) Bind(ctx context.Context, deviceID, serverURL string) (State, error) {
	var s State
	err := db.write(ctx, func(t *Tx) error {
		var err error
		if s, err = t.state(); err != nil {
			return err
		}
		if deviceID != "" && s.DeviceID != "" && s.DeviceID != deviceID {
			return &ErrOtherDevice{Stored: s.DeviceID, Asked: deviceID}
		}
		if deviceID != "" {
			s.DeviceID = deviceID
		}
		if serverURL != "" {
			s.ServerURL = serverURL
		}
		_, err = t.exec(`UPDATE sync_state SET deviceId = ?, serverUrl = ? WHERE singleton = 1`, s.DeviceID, s.ServerURL)
		if err != nil {
			return err
		}
		// Acts queued before the device was known, or before the chain
		// existed, are chained now.
		return t.chainUnhashed()
	})
	return s, err
}

// SetRoles records the roles the device serves, as the server's welcome said.
func (db *DB) SetRoles(ctx context.Context, roles []workflow.Role) error {
	b, err := json.Marshal(roles)
	if err != nil {
		return err
	}
	return db.write(ctx, func(t *Tx) error {
		_, err := t.exec(`UPDATE sync_state SET roles = ? WHERE singleton = 1`, string(b))
		return err
	})
}

// CatchUpSeq handles a server that has recorded more seqs of this device
// than the replica ever assigned (a replica restored from a backup, a
// reinstall): the server would take the replica's new seqs for duplicates
// and never apply them. The queued acts are renumbered above serverLast.
// It reports whether anything changed. The renumbered acts are re-chained
// after serverHead, the hash of the server's last act of this device
// (welcome.chainHead; "" for none): their seqs are part of what they hash.
func (db *DB) CatchUpSeq(ctx context.Context, serverLast int64, serverHead string) (bool, error) {
	changed := false
	err := db.write(ctx, func(t *Tx) error {
		s, err := t.state()
		if err != nil {
			return err
		}
		if serverLast <= s.LastSeq {
			return nil
		}
		changed = true
		// Only the acts whose outcome is unknown move; they go right above
		// what the server has, in their order.
		delta := serverLast - s.AckedSeq
		// Through negative numbers, so that no intermediate seq collides.
		if _, err := t.exec(`UPDATE outbox SET seq = -(seq + ?) WHERE seq > ?`, delta, s.AckedSeq); err != nil {
			return err
		}
		if _, err := t.exec(`UPDATE outbox SET seq = -seq WHERE seq < 0`); err != nil {
			return err
		}
		_, err = t.exec(`UPDATE sync_state SET lastSeq = ?, ackedSeq = ? WHERE singleton = 1`, s.LastSeq+delta, serverLast)
		if err != nil {
			return err
		}
		s.LastSeq, s.AckedSeq = s.LastSeq+delta, serverLast
		if err := t.chainFrom(s, serverHead, false); err != nil {
			return err
		}
		// With nothing queued the next act still follows the server's head.
		if serverHead != "" {
			if _, err := t.exec(`UPDATE sync_state SET ackedHash = ? WHERE singleton = 1`, serverHead); err != nil {
				return err
			}
			var n int
			if err := t.queryRow(`SELECT COUNT(*) FROM outbox WHERE seq > ?`, serverLast).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				_, err = t.exec(`UPDATE sync_state SET chainHead = ? WHERE singleton = 1`, serverHead)
			}
		}
		return err
	})
	return changed, err
}

// RewindSeq handles a server that has recorded fewer seqs of this device
// than the replica saw acknowledged: the server's database was restored
// from a backup taken before them. Pushing on from the replica's numbering
// would leave a gap the server refuses, so every act still in the outbox
// above serverLast (queued ones, and applied ones no pull has reflected
// yet: the restored server lost them) is renumbered to follow serverLast,
// in its order, and sent again; they are re-chained after serverHead. Acts
// whose effect a pull had already brought back left the outbox and cannot
// be resent: the restore lost them (docs/operations.md). It reports how
// many acts were renumbered (0: nothing to do).
func (db *DB) RewindSeq(ctx context.Context, serverLast int64, serverHead string) (int, error) {
	moved := 0
	err := db.write(ctx, func(t *Tx) error {
		s, err := t.state()
		if err != nil {
			return err
		}
		if serverLast >= s.AckedSeq {
			return nil
		}
		rows, err := t.query(`SELECT seq FROM outbox WHERE seq > ? ORDER BY seq`, serverLast)
		if err != nil {
			return err
		}
		seqs, err := collect(rows, oneColumn[int64])
		if err != nil {
			return err
		}
		// Through negative numbers, so that no intermediate seq collides.
		for i, seq := range seqs {
			// touches = NULL: acts the replica had taken as reflected
			// are replayed again, so the next rebase replays everything.
			if _, err := t.exec(`UPDATE outbox SET seq = ?, status = 'queued', parked = 0, waitingFor = NULL, touches = NULL WHERE seq = ?`, -(serverLast + 1 + int64(i)), seq); err != nil {
				return err
			}
		}
		if _, err := t.exec(`UPDATE outbox SET seq = -seq WHERE seq < 0`); err != nil {
			return err
		}
		last := serverLast + int64(len(seqs))
		if _, err := t.exec(`UPDATE sync_state SET lastSeq = ?, ackedSeq = ?, reflectedSeq = min(reflectedSeq, ?) WHERE singleton = 1`,
			last, serverLast, serverLast); err != nil {
			return err
		}
		s.LastSeq, s.AckedSeq = last, serverLast
		moved = len(seqs)
		if err := t.chainFrom(s, serverHead, false); err != nil {
			return err
		}
		if len(seqs) == 0 {
			// With nothing queued the next act follows the server's head.
			head := serverHead
			if head == "" {
				head = syncproto.Genesis(s.DeviceID)
			}
			_, err = t.exec(`UPDATE sync_state SET chainHead = ?, ackedHash = ? WHERE singleton = 1`, head, head)
		}
		return err
	})
	return moved, err
}
