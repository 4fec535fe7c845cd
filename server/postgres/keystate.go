package postgres

// What the server knows of each workstation's keys (sync.device_key_state)
// and the idle lock an administrator set for it. The server never sees a
// workstation's disk: "claimed", "last proof" and "told revoked" are what
// happened between the two; "wiped" is what the workstation reported after
// destroying its keys, which the server records but cannot check.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"wardsync/workflow"
)

// KeyState is what the server knows of one workstation's keys.
type KeyState struct {
	DeviceID string
	// ClaimedAt is when the device's one-time code was last used (the
	// security log's device_claim); nil for a device never claimed (one
	// made by `seed`, or whose code is still pending).
	ClaimedAt *time.Time
	// LastProofAt is when the device last proved its identity: a login or
	// a websocket hello from it that succeeded.
	LastProofAt *time.Time
	// ToldRevokedAt is when the revoked device first asked for its standing
	// after its revocation: from then on it knows, and wipes.
	ToldRevokedAt *time.Time
	// WipedAt is when the revoked device reported that it destroyed its
	// data key and key slots (its own word).
	WipedAt *time.Time
	// IdleLockMinutes is the idle lock set on the dashboard (0: off); nil
	// leaves the workstation's -idle-lock flag.
	IdleLockMinutes *int
}

// KeyStates reads every registered device's key state, by device id.
func (db *DB) KeyStates(ctx context.Context) (map[string]KeyState, error) {
	rows, err := db.Pool.Query(ctx, `
		SELECT d.id,
		       (SELECT max(e.at) FROM sync.security_events e
		         WHERE e.kind = $1 AND e.device_id = d.id AND e.reason IS NULL),
		       k.last_proof_at, k.told_revoked_at, k.wiped_at, k.idle_lock_minutes
		  FROM sync.devices d
		  LEFT JOIN sync.device_key_state k ON k.device_id = d.id`, EventDeviceClaim)
	if err != nil {
		return nil, err
	}
	out := map[string]KeyState{}
	var k KeyState
	scans := []any{&k.DeviceID, &k.ClaimedAt, &k.LastProofAt, &k.ToldRevokedAt, &k.WipedAt, &k.IdleLockMinutes}
	if _, err := pgx.ForEachRow(rows, scans, func() error {
		out[k.DeviceID] = k
		return nil
	}); err != nil {
		return nil, err
	}
	return out, nil
}

// NoteDeviceProof records that the device proved its key at at: a login
// from it, or its socket's upgrade, signed a fresh nonce (CheckDeviceProof). Only the newest time
// is kept; the dashboard hears of it with its next refresh rather than at
// once, since every hello would otherwise wake every open dashboard.
func (db *DB) NoteDeviceProof(ctx context.Context, deviceID string, at time.Time) error {
	if deviceID == "" {
		return nil
	}
	_, err := db.Pool.Exec(ctx, `
		INSERT INTO sync.device_key_state (device_id, last_proof_at)
		SELECT id, $2 FROM sync.devices WHERE id = $1
		ON CONFLICT (device_id) DO UPDATE
		   SET last_proof_at = GREATEST(sync.device_key_state.last_proof_at, EXCLUDED.last_proof_at)`,
		deviceID, at.UTC())
	return err
}

// NoteToldRevoked records that the revoked device asked for its standing
// and so learnt it was revoked. The first time after the revocation is
// kept: that is when its wipe began.
func (db *DB) NoteToldRevoked(ctx context.Context, deviceID string) error {
	tag, err := db.Pool.Exec(ctx, `
		INSERT INTO sync.device_key_state (device_id, told_revoked_at)
		SELECT id, $2 FROM sync.devices WHERE id = $1 AND revoked_at IS NOT NULL
		ON CONFLICT (device_id) DO UPDATE SET told_revoked_at = EXCLUDED.told_revoked_at
		 WHERE sync.device_key_state.told_revoked_at IS NULL
		    OR sync.device_key_state.told_revoked_at < (SELECT revoked_at FROM sync.devices WHERE id = $1)`,
		deviceID, db.now())
	if err == nil && tag.RowsAffected() > 0 {
		db.announce(adminNotice("devices"))
	}
	return err
}

// NoteWiped records the revoked device's report that it destroyed its
// keys, and returns the time recorded. A device that is not revoked has
// nothing to wipe: its report is refused, so that a stray call cannot mark
// a working station wiped. The first report after the revocation is kept
// (and logged); the workstation repeats it at every contact, in case one
// was lost.
func (db *DB) NoteWiped(ctx context.Context, deviceID string) (time.Time, error) {
	at := db.now()
	fresh := false
	err := db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		var revoked, wiped *time.Time
		var name string
		err := tx.QueryRow(ctx, `
			SELECT d.name, d.revoked_at, k.wiped_at
			  FROM sync.devices d LEFT JOIN sync.device_key_state k ON k.device_id = d.id
			 WHERE d.id = $1 FOR UPDATE OF d`, deviceID).Scan(&name, &revoked, &wiped)
		if errors.Is(err, pgx.ErrNoRows) {
			return workflow.Reject(workflow.CodeNotFound, "Workstation %s is not registered with this server.", deviceID)
		}
		if err != nil {
			return err
		}
		if revoked == nil {
			return workflow.Reject(workflow.CodeInvalidTransition, "Workstation %s is not revoked: it has no keys to report wiped.", deviceID)
		}
		if wiped != nil && !wiped.Before(*revoked) {
			at = *wiped
			return nil
		}
		fresh = true
		if _, err := tx.Exec(ctx, `
			INSERT INTO sync.device_key_state (device_id, told_revoked_at, wiped_at) VALUES ($1, $2, $2)
			ON CONFLICT (device_id) DO UPDATE
			   SET wiped_at = EXCLUDED.wiped_at,
			       told_revoked_at = CASE WHEN sync.device_key_state.told_revoked_at >= $3
			                              THEN sync.device_key_state.told_revoked_at ELSE EXCLUDED.told_revoked_at END`,
			deviceID, at, *revoked); err != nil {
			return err
		}
		return db.logEvent(ctx, tx, SecurityEvent{Kind: EventDeviceRevoke, DeviceID: deviceID,
			Target: "workstation " + name, Reason: "the workstation reported its keys wiped"}, nil, nil)
	})
	if err != nil {
		return time.Time{}, err
	}
	if fresh {
		db.announce(adminNotice("devices"))
	}
	return at, nil
}

// DeviceIdleLock is the idle lock set on the dashboard for the device, in
// minutes (0: off); nil when none is set.
func (db *DB) DeviceIdleLock(ctx context.Context, deviceID string) (*int, error) {
	var m *int
	err := db.Pool.QueryRow(ctx, `SELECT idle_lock_minutes FROM sync.device_key_state WHERE device_id = $1`, deviceID).Scan(&m)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return m, err
}

// SetDeviceIdleLock sets the device's idle lock (nil: back to the
// workstation's own -idle-lock flag) and logs the change, before and
// after, as a setting_change in the same transaction. The workstation
// takes it at its next login or websocket hello.
func (db *DB) SetDeviceIdleLock(ctx context.Context, deviceID string, minutes *int) error {
	if minutes != nil {
		if err := workflow.CheckIdleLock(*minutes); err != nil {
			return err
		}
	}
	err := db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		var name string
		var revoked *time.Time
		err := tx.QueryRow(ctx, `SELECT name, revoked_at FROM sync.devices WHERE id = $1 FOR UPDATE`, deviceID).Scan(&name, &revoked)
		if errors.Is(err, pgx.ErrNoRows) {
			return workflow.Reject(workflow.CodeNotFound, "Workstation %s is not registered.", deviceID)
		}
		if err != nil {
			return err
		}
		if revoked != nil {
			return workflow.Reject(workflow.CodeInvalidTransition, "Workstation %s is revoked: its idle lock can no longer be set.", name)
		}
		var before *int
		err = tx.QueryRow(ctx, `SELECT idle_lock_minutes FROM sync.device_key_state WHERE device_id = $1`, deviceID).Scan(&before)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO sync.device_key_state (device_id, idle_lock_minutes) VALUES ($1, $2)
			ON CONFLICT (device_id) DO UPDATE SET idle_lock_minutes = EXCLUDED.idle_lock_minutes`,
			deviceID, minutes); err != nil {
			return err
		}
		e := SecurityEvent{Kind: EventSettingChange, DeviceID: deviceID, Target: "idle lock of workstation " + name}
		if minutes == nil {
			e.Reason = "reset to the workstation's -idle-lock flag"
		}
		return db.logEvent(ctx, tx, e, idleLockLog(before), idleLockLog(minutes))
	})
	if err != nil {
		return err
	}
	db.announce(adminNotice("devices"))
	return nil
}

// idleLockLog is an idle lock as the security log's before or after.
func idleLockLog(m *int) any {
	if m == nil {
		return nil
	}
	return map[string]any{"idleLockMinutes": *m, "text": IdleLockText(*m)}
}

// IdleLockText says an idle lock in words for the log.
func IdleLockText(m int) string {
	if m == 0 {
		return "off"
	}
	return fmt.Sprintf("%d min", m)
}
