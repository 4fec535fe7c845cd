package postgres

// Workstations: registering and revoking them, each device's sync health
// as the admin API and the monitoring see it (the read model behind
// /api/v1/sync/status and the Prometheus scrape) and the one-time
// registration codes. Every statement
// reads or writes schema "sync"; none of them is a workflow rule.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"wardsync/workflow"
)

// LagCountCap bounds how many changes are counted behind one device's cursor,
// so that a workstation that has been away for months cannot make a status
// request or a scrape slow. A lag at the cap reads "at least".
const LagCountCap = 100000

// FeedStatus is the change feed's extent.
type FeedStatus struct {
	// Head is the newest change's id (the pruned position when the feed is
	// empty).
	Head int64
	// PrunedID is the id of the last pruned change: a cursor at or below it
	// must resync.
	PrunedID int64
	// Retained is the number of changes the feed still holds (capped at
	// LagCountCap like a lag).
	Retained int64
}

// DeviceHealth is what the server knows of one workstation's sync.
type DeviceHealth struct {
	ID                string
	Name              string
	Roles             []workflow.Role
	CreatedAt         time.Time
	RevokedAt         *time.Time
	RegistrationUntil *time.Time // an unredeemed registration code expires then
	LastSeen          *time.Time
	// DisconnectedAt is when the device's last socket ended, if no socket
	// has been welcomed since (see Disconnected).
	DisconnectedAt *time.Time
	// ConnectedAt is when its latest socket opened (stamped again at its
	// welcome); QueueReportedAt when Pending and OldestPendingAt were
	// reported. A report older than the socket is from an earlier link.
	ConnectedAt, QueueReportedAt *time.Time
	// FeedCursor says whether the device follows the feed; false while it
	// has not finished its first snapshot (its lag then counts the whole
	// retained feed).
	FeedCursor      bool
	CursorLag       int64 // changes after its cursor, at most LagCountCap
	Pending         int64 // uploads the device reported still queued
	OldestPendingAt *time.Time
	LastMutationSeq int64
	LastError       string
	LastErrorAt     *time.Time
	// ClientVersion is the release the workstation said it runs at its
	// last hello ("" before its first, or from a build that did not say).
	ClientVersion string

	AppliedLastHour, RejectedLastHour int64
	AppliedTotal, RejectedTotal       int64
	UnresolvedRejected                int64
	// ChainBreaks counts the device's acts refused CHAIN_BROKEN: edited or
	// removed on the workstation after they were written.
	ChainBreaks int64
}

// SyncHealth reads the feed's extent and every registered device's sync
// standing, as of db.Now.
func (db *DB) SyncHealth(ctx context.Context) (FeedStatus, []DeviceHealth, error) {
	// The positions this instance's pulls reached are written before they
	// are read, so that the dashboard never shows an older one.
	db.writeCursors(ctx, false)
	now := db.now()
	var fs FeedStatus
	err := db.Pool.QueryRow(ctx, `
		SELECT COALESCE((SELECT max(id) FROM sync.changes), f.pruned_id), f.pruned_id,
		       (SELECT count(*) FROM (SELECT 1 FROM sync.changes LIMIT $1) x)
		  FROM sync.feed_state f`, LagCountCap).Scan(&fs.Head, &fs.PrunedID, &fs.Retained)
	if err != nil {
		return fs, nil, err
	}
	rows, err := db.Pool.Query(ctx, `
		SELECT d.id, d.name, d.roles, d.created_at, d.revoked_at,
		       CASE WHEN d.registration_hash IS NOT NULL THEN d.registration_until END,
		       c.last_seen, c.cursor_xid IS NOT NULL,
		       CASE WHEN c.cursor_xid IS NULL
		            THEN (SELECT count(*) FROM (SELECT 1 FROM sync.changes LIMIT $2) x)
		            ELSE (SELECT count(*) FROM (SELECT 1 FROM sync.changes ch
		                   WHERE (ch.xid, ch.id) > (c.cursor_xid, c.cursor_id) LIMIT $2) x) END,
		       COALESCE(c.pending, 0), c.oldest_pending_at, COALESCE(c.last_mutation_seq, 0),
		       COALESCE(c.last_error, ''), c.last_error_at, COALESCE(c.client_version, ''),
		       h.applied, h.rejected,
		       COALESCE((SELECT sum(n) FROM sync.mutation_counts mc WHERE mc.device_id = d.id AND mc.outcome = 'applied'), 0)::bigint,
		       COALESCE((SELECT sum(n) FROM sync.mutation_counts mc WHERE mc.device_id = d.id AND mc.outcome = 'rejected'), 0)::bigint,
		       (SELECT count(*) FROM sync.rejection_resolutions r WHERE r.device_id = d.id),
		       COALESCE((SELECT sum(n) FROM sync.mutation_counts mc WHERE mc.device_id = d.id AND mc.code = $3), 0)::bigint,
		       c.disconnected_at, c.connected_at, c.queue_reported_at
		  FROM sync.devices d
		  LEFT JOIN sync.clients c ON c.device_id = d.id
		  CROSS JOIN LATERAL (
		       SELECT count(*) FILTER (WHERE m.outcome = 'applied') AS applied,
		              count(*) FILTER (WHERE m.outcome = 'rejected') AS rejected
		         FROM sync.mutations m WHERE m.device_id = d.id AND m.received_at >= $1) h
		 ORDER BY d.revoked_at IS NOT NULL, lower(d.name), d.id`, now.Add(-time.Hour), LagCountCap, string(workflow.CodeChainBroken))
	if err != nil {
		return fs, nil, err
	}
	defer rows.Close()
	var out []DeviceHealth
	for rows.Next() {
		var (
			d        DeviceHealth
			roles    []string
			resolved int64
		)
		if err := rows.Scan(&d.ID, &d.Name, &roles, &d.CreatedAt, &d.RevokedAt, &d.RegistrationUntil,
			&d.LastSeen, &d.FeedCursor, &d.CursorLag, &d.Pending, &d.OldestPendingAt, &d.LastMutationSeq,
			&d.LastError, &d.LastErrorAt, &d.ClientVersion, &d.AppliedLastHour, &d.RejectedLastHour, &d.AppliedTotal, &d.RejectedTotal,
			&resolved, &d.ChainBreaks, &d.DisconnectedAt, &d.ConnectedAt, &d.QueueReportedAt); err != nil {
			return fs, nil, err
		}
		d.Roles = toRoles(roles)
		d.UnresolvedRejected = max(d.RejectedTotal-resolved, 0)
		out = append(out, d)
	}
	return fs, out, rows.Err()
}

// UnresolvedRejectedByCode counts, per rejection code, the rejected acts of
// registered devices that no administrator has resolved yet.
func (db *DB) UnresolvedRejectedByCode(ctx context.Context) (map[string]int64, error) {
	return db.countBy(ctx, `
		SELECT code, sum(n)::bigint FROM (
		    SELECT mc.code, mc.n FROM sync.mutation_counts mc WHERE mc.outcome = 'rejected'
		    UNION ALL
		    SELECT COALESCE(m.code, ''), -count(*) FROM sync.rejection_resolutions r
		      JOIN sync.mutations m ON m.device_id = r.device_id AND m.seq = r.seq
		     GROUP BY 1) x
		 GROUP BY code`)
}

// TouchLastSeen marks devices connected to this instance as seen now, so
// that other instances (and a dashboard served by them) see them online.
// A device whose row a push holds is skipped, not waited for: that push
// marks it seen itself, and one statement waiting on each of them in turn
// held every pushing device it had already marked for the whole wait
// (measured: 0.2–0.3 s with 20 devices pushing one act at a time).
func (db *DB) TouchLastSeen(ctx context.Context, deviceIDs []string) error {
	if len(deviceIDs) == 0 {
		return nil
	}
	_, err := db.Pool.Exec(ctx, `
		UPDATE sync.clients SET last_seen = $2
		 WHERE device_id IN (SELECT device_id FROM sync.clients
		                      WHERE device_id = ANY($1) AND (last_seen IS NULL OR last_seen < $2)
		                      FOR NO KEY UPDATE SKIP LOCKED)`,
		deviceIDs, db.now())
	return err
}

// RevokedAmong returns those of ids that are revoked workstations.
func (db *DB) RevokedAmong(ctx context.Context, ids []string) ([]string, error) {
	rows, err := db.Pool.Query(ctx, `SELECT id FROM sync.devices WHERE id = ANY($1) AND revoked_at IS NOT NULL`, ids)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func toRoles(rs []string) []workflow.Role {
	out := make([]workflow.Role, len(rs))
	for i, r := range rs {
		out[i] = workflow.Role(r)
	}
	return out
}

// RegistrationTTL is how long a workstation's one-time registration code
// stays valid.
const RegistrationTTL = 24 * time.Hour

// codeAlphabet avoids letters and digits that read alike (0/O, 1/I/L).
const codeAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

// newRegistrationCode returns a code such as "K7QM-3XZA-PR9D" (about 59
// bits), easy to read out over the phone.
func newRegistrationCode() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	var sb strings.Builder
	for i, c := range b {
		if i > 0 && i%4 == 0 {
			sb.WriteByte('-')
		}
		sb.WriteByte(codeAlphabet[int(c)%len(codeAlphabet)])
	}
	return sb.String()
}

func hashRegistrationCode(code string) []byte {
	norm := strings.ToUpper(strings.NewReplacer("-", "", " ", "").Replace(code))
	h := sha256.Sum256([]byte("wardsync-registration:" + norm))
	return h[:]
}

// RegisterDevice registers a workstation and issues its one-time
// registration code (returned once, stored only hashed).
func (db *DB) RegisterDevice(ctx context.Context, name string, roles []workflow.Role) (*Device, string, time.Time, error) {
	d, err := db.AddDevice(ctx, "", strings.TrimSpace(name), roles)
	if err != nil {
		return nil, "", time.Time{}, err
	}
	code, until, err := db.IssueRegistrationCode(ctx, d.ID)
	if err != nil {
		return nil, "", time.Time{}, err
	}
	return d, code, until, nil
}

// IssueRegistrationCode replaces a workstation's registration code with a
// new one, valid for RegistrationTTL.
func (db *DB) IssueRegistrationCode(ctx context.Context, deviceID string) (string, time.Time, error) {
	code := newRegistrationCode()
	until := db.now().Add(RegistrationTTL).Truncate(time.Microsecond)
	err := db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE sync.devices SET registration_hash = $2, registration_until = $3 WHERE id = $1 AND revoked_at IS NULL`,
			deviceID, hashRegistrationCode(code), until)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return workflow.Reject(workflow.CodeNotFound, "Workstation %s is not registered or was revoked.", deviceID)
		}
		// The code itself is never logged: it is a secret until used.
		return db.logEvent(ctx, tx, SecurityEvent{Kind: EventDeviceCode, DeviceID: deviceID}, nil, map[string]any{"codeValidUntil": until})
	})
	if err != nil {
		return "", time.Time{}, err
	}
	db.announce(adminNotice("devices"))
	return code, until, nil
}

// RedeemRegistrationCode is the workstation's side of registration: given
// its id and the code an administrator read out, it learns its name and
// roles. The code works once and only before it expires.
//
// publicKey is the public half of the key pair the workstation made for
// this claim (device_identity.go): it replaces any earlier one, so a
// workstation claimed again (a new PC, a wiped disk) proves with its new
// key only. A claim without one (a workstation of protocol 1) leaves the
// device keyless.
func (db *DB) RedeemRegistrationCode(ctx context.Context, deviceID, code string, publicKey []byte) (*Device, error) {
	var d Device
	var roles []string
	refused := workflow.Reject(workflow.CodeUnauthenticated, "This registration code is not valid for workstation %s: it is wrong, was already used, or has expired; ask an administrator for a new one.", deviceID)
	if publicKey != nil && len(publicKey) != 32 {
		return nil, &workflow.Rejection{Code: workflow.CodeValidationFailed, Field: "publicKey", Message: "The device's public key must be an Ed25519 key of 32 bytes."}
	}
	var claimedAt any
	if publicKey != nil {
		claimedAt = db.now()
	}
	err := db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			UPDATE sync.devices SET registration_hash = NULL, registration_until = NULL,
			       public_key = $4, key_claimed_at = $5
			 WHERE id = $1 AND registration_hash = $2 AND registration_until > $3 AND revoked_at IS NULL
			 RETURNING id, name, roles, created_at`, deviceID, hashRegistrationCode(code), db.now(), publicKey, claimedAt).
			Scan(&d.ID, &d.Name, &roles, &d.CreatedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return refused
		}
		if err != nil {
			return err
		}
		return db.logEvent(ctx, tx, SecurityEvent{Kind: EventDeviceClaim, DeviceID: d.ID, Target: "workstation " + d.Name},
			map[string]any{"claimed": false}, map[string]any{"claimed": true})
	})
	if errors.Is(err, refused) {
		// A wrong code is a guess: it is logged on its own.
		if lerr := db.LogSecurityEvent(ctx, SecurityEvent{Kind: EventDeviceClaim, DeviceID: deviceID, Reason: "code refused"}); lerr != nil {
			return nil, lerr
		}
	}
	if err != nil {
		return nil, err
	}
	d.Roles = toRoles(roles)
	db.announce(adminNotice("devices"))
	return &d, nil
}

// Device is a registered workstation.
type Device struct {
	ID        string
	Name      string
	Roles     []workflow.Role
	CreatedAt time.Time
	RevokedAt *time.Time
	// PublicKey is the device's own Ed25519 key, registered when it was
	// claimed with its one-time code (nil before: device_identity.go).
	PublicKey []byte
	// Unclaimed: an administrator issued a one-time code for it and it
	// was never claimed with it (a workstation registered on the
	// dashboard, or told to claim again).
	Unclaimed bool
}

// Serves says whether the device may be used by role.
func (d *Device) Serves(role workflow.Role) bool {
	return workflow.Serves(d.Roles, role)
}

// Device reads a registered workstation.
func (db *DB) Device(ctx context.Context, id string) (*Device, error) {
	var d Device
	var roles []string
	err := db.Pool.QueryRow(ctx, `SELECT id, name, roles, created_at, revoked_at, public_key, registration_hash IS NOT NULL
		  FROM sync.devices WHERE id = $1`, id).
		Scan(&d.ID, &d.Name, &roles, &d.CreatedAt, &d.RevokedAt, &d.PublicKey, &d.Unclaimed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, workflow.Reject(workflow.CodeUnauthenticated, "Workstation %s is not registered with this server; ask an administrator to register it.", id)
	}
	if err != nil {
		return nil, err
	}
	for _, r := range roles {
		d.Roles = append(d.Roles, workflow.Role(r))
	}
	return &d, nil
}

// AddDevice registers a workstation for roles. An empty id gets a new UUID.
func (db *DB) AddDevice(ctx context.Context, id, name string, roles []workflow.Role) (*Device, error) {
	if err := checkName("workstation", name); err != nil {
		return nil, err
	}
	if len(roles) == 0 {
		return nil, &workflow.Rejection{Code: workflow.CodeValidationFailed, Field: "roles", Message: "A workstation must serve at least one role."}
	}
	rs := make([]string, len(roles))
	for i, r := range roles {
		if err := checkRole("roles", r); err != nil {
			return nil, err
		}
		rs[i] = string(r)
	}
	if id == "" {
		id = uuid.NewString()
	}
	d := &Device{ID: id, Name: name, Roles: roles}
	err := db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `
			INSERT INTO sync.devices (id, name, roles, created_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, roles = EXCLUDED.roles, revoked_at = NULL
			RETURNING created_at`, id, name, rs, db.now()).Scan(&d.CreatedAt); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO sync.clients (device_id) VALUES ($1) ON CONFLICT DO NOTHING`, id); err != nil {
			return err
		}
		return db.logEvent(ctx, tx, SecurityEvent{Kind: EventDeviceRegister, DeviceID: id, Target: "workstation " + name}, nil,
			map[string]any{"name": name, "roles": rs})
	})
	if err != nil {
		return nil, err
	}
	db.announce(adminNotice("devices"), adminNotice("clients"))
	return d, nil
}

// RevokeDevice stops a workstation: its sessions end and it can no longer push.
func (db *DB) RevokeDevice(ctx context.Context, id string) error {
	return db.announced(db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		var name string
		err := tx.QueryRow(ctx, `UPDATE sync.devices SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING name`, id, db.now()).Scan(&name)
		if errors.Is(err, pgx.ErrNoRows) {
			return workflow.Reject(workflow.CodeNotFound, "Workstation %s is not registered or already revoked.", id)
		}
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE sync.sessions SET revoked_at = $2, ended_reason = 'device_revoked' WHERE device_id = $1 AND revoked_at IS NULL`, id, db.now())
		if err != nil {
			return err
		}
		if err := db.logEvent(ctx, tx, SecurityEvent{Kind: EventDeviceRevoke, DeviceID: id, Target: "workstation " + name},
			map[string]any{"revoked": false}, map[string]any{"revoked": true, "sessionsEnded": tag.RowsAffected()}); err != nil {
			return err
		}
		return notifySessions(ctx, tx)
	}), adminNotice("devices"))
}
