package postgres

// Monitoring and administration: the read models behind /api/v1/sync/status,
// the Prometheus scrape and the admin API (users, workstations, rejected
// acts, audit search, workflow board). Every statement reads or writes the
// seed's tables or schema "sync"; none of them is a workflow rule.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"

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
		       COALESCE((SELECT sum(n) FROM sync.mutation_counts mc WHERE mc.device_id = d.id AND mc.code = 'CHAIN_BROKEN'), 0)::bigint,
		       c.disconnected_at
		  FROM sync.devices d
		  LEFT JOIN sync.clients c ON c.device_id = d.id
		  CROSS JOIN LATERAL (
		       SELECT count(*) FILTER (WHERE m.outcome = 'applied') AS applied,
		              count(*) FILTER (WHERE m.outcome = 'rejected') AS rejected
		         FROM sync.mutations m WHERE m.device_id = d.id AND m.received_at >= $1) h
		 ORDER BY d.revoked_at IS NOT NULL, lower(d.name), d.id`, now.Add(-time.Hour), LagCountCap)
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
			&resolved, &d.ChainBreaks, &d.DisconnectedAt); err != nil {
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
	rows, err := db.Pool.Query(ctx, `
		SELECT code, sum(n)::bigint FROM (
		    SELECT mc.code, mc.n FROM sync.mutation_counts mc WHERE mc.outcome = 'rejected'
		    UNION ALL
		    SELECT COALESCE(m.code, ''), -count(*) FROM sync.rejection_resolutions r
		      JOIN sync.mutations m ON m.device_id = r.device_id AND m.seq = r.seq
		     GROUP BY 1) x
		 GROUP BY code`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var code string
		var n int64
		if err := rows.Scan(&code, &n); err != nil {
			return nil, err
		}
		out[code] = n
	}
	return out, rows.Err()
}

// TouchLastSeen marks devices connected to this instance as seen now, so
// that other instances (and a dashboard served by them) see them online.
func (db *DB) TouchLastSeen(ctx context.Context, deviceIDs []string) error {
	if len(deviceIDs) == 0 {
		return nil
	}
	_, err := db.Pool.Exec(ctx, `UPDATE sync.clients SET last_seen = $2 WHERE device_id = ANY($1) AND (last_seen IS NULL OR last_seen < $2)`,
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

// ---- users ----

// UserInfo is a user as the admin API shows it: never the password hash.
type UserInfo struct {
	ID             string
	Name           string
	Email          string
	Role           workflow.Role
	CreatedAt      time.Time
	DisabledAt     *time.Time
	ActiveSessions int64
	// LastDisabledAt and EnabledAt keep the last disable and re-enable
	// (the full history is in the security log).
	LastDisabledAt *time.Time
	EnabledAt      *time.Time
}

const userInfoQuery = `
	SELECT u.id, u.name, u.email, u.role::text, u."createdAt", st.disabled_at,
	       (SELECT count(*) FROM sync.sessions s WHERE s.user_id = u.id AND s.revoked_at IS NULL AND s.expires_at > $1),
	       st.last_disabled_at, st.enabled_at
	  FROM users u LEFT JOIN sync.user_status st ON st.user_id = u.id`

func scanUserInfo(r pgx.Row) (UserInfo, error) {
	var u UserInfo
	err := r.Scan(&u.ID, &u.Name, &u.Email, &u.Role, &u.CreatedAt, &u.DisabledAt, &u.ActiveSessions, &u.LastDisabledAt, &u.EnabledAt)
	return u, err
}

// ListUsers lists every user, admins first, then by name.
func (db *DB) ListUsers(ctx context.Context) ([]UserInfo, error) {
	rows, err := db.Pool.Query(ctx, userInfoQuery+` ORDER BY u.role::text = 'ADMIN' DESC, lower(u.name), u.id`, db.now())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []UserInfo
	for rows.Next() {
		u, err := scanUserInfo(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// User reads one user.
func (db *DB) User(ctx context.Context, id string) (*UserInfo, error) {
	u, err := scanUserInfo(db.Pool.QueryRow(ctx, userInfoQuery+` WHERE u.id = $2`, db.now(), id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, workflow.Reject(workflow.CodeNotFound, "User %s does not exist.", id)
	}
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// otherActiveAdmins counts the enabled ADMIN users other than userID.
func otherActiveAdmins(ctx context.Context, q pgx.Tx, userID string) (int64, error) {
	var n int64
	err := q.QueryRow(ctx, `
		SELECT count(*) FROM users u LEFT JOIN sync.user_status st ON st.user_id = u.id
		 WHERE u.role = 'ADMIN' AND st.disabled_at IS NULL AND u.id <> $1`, userID).Scan(&n)
	return n, err
}

// lockUser locks a user's row and returns its role and whether it is
// enabled. Admin changes that could remove the last administrator take the
// lock on every ADMIN row first, so two of them cannot race past the check.
func lockUser(ctx context.Context, tx pgx.Tx, userID string) (workflow.Role, bool, error) {
	if _, err := tx.Exec(ctx, `SELECT 1 FROM users WHERE role = 'ADMIN' OR id = $1 ORDER BY id FOR UPDATE`, userID); err != nil {
		return "", false, err
	}
	var role workflow.Role
	var disabled *time.Time
	err := tx.QueryRow(ctx, `SELECT u.role::text, st.disabled_at FROM users u LEFT JOIN sync.user_status st ON st.user_id = u.id WHERE u.id = $1`, userID).
		Scan(&role, &disabled)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, workflow.Reject(workflow.CodeNotFound, "User %s does not exist.", userID)
	}
	return role, disabled == nil, err
}

// revokeUserSessions ends every open session of a user, saying why, and
// returns how many it ended.
func revokeUserSessions(ctx context.Context, tx pgx.Tx, userID string, at time.Time, reason string) (int64, error) {
	tag, err := tx.Exec(ctx, `UPDATE sync.sessions SET revoked_at = $2, ended_reason = $3 WHERE user_id = $1 AND revoked_at IS NULL`, userID, at, reason)
	return tag.RowsAffected(), err
}

// ErrLastAdmin refuses a change that would leave no enabled administrator.
var ErrLastAdmin = workflow.Reject(workflow.CodeForbidden, "This is the last enabled ADMIN account; create or enable another administrator first.")

// SetUserRole changes a user's role and ends their sessions, so that every
// workstation asks them to log in again under the new role. The last
// enabled ADMIN cannot be demoted.
func (db *DB) SetUserRole(ctx context.Context, userID string, role workflow.Role) error {
	if !role.Valid() {
		return &workflow.Rejection{Code: workflow.CodeValidationFailed, Field: "role", Message: fmt.Sprintf("%q is not a role; roles are ADMIN, DOCTOR, BIOLOGIST, NURSE, SECRETARY.", role)}
	}
	return db.announced(db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		cur, enabled, err := lockUser(ctx, tx, userID)
		if err != nil {
			return err
		}
		if cur == role {
			return nil
		}
		if cur == workflow.RoleAdmin && enabled {
			n, err := otherActiveAdmins(ctx, tx, userID)
			if err != nil {
				return err
			}
			if n == 0 {
				return ErrLastAdmin
			}
		}
		now := db.now()
		if _, err := tx.Exec(ctx, `UPDATE users SET role = $2::"Role", "updatedAt" = $3 WHERE id = $1`, userID, string(role), now.Truncate(time.Millisecond)); err != nil {
			return err
		}
		n, err := revokeUserSessions(ctx, tx, userID, now, EndRoleChanged)
		if err != nil {
			return err
		}
		if err := db.logEvent(ctx, tx, SecurityEvent{Kind: EventUserRole, UserID: userID},
			map[string]any{"role": cur}, map[string]any{"role": role, "sessionsEnded": n}); err != nil {
			return err
		}
		return notifySessions(ctx, tx)
	}), feedNotice, adminNotice("users"))
}

// ResetPassword sets a new password (bcrypt at the seed's cost) and ends the
// user's sessions. Acts a workstation queued before the reset still count:
// a revoked session covers what happened while it was valid.
func (db *DB) ResetPassword(ctx context.Context, userID, password string) error {
	if len(password) < 6 || len(password) > 72 {
		return &workflow.Rejection{Code: workflow.CodeValidationFailed, Field: "password", Message: "A password needs 6 to 72 characters."}
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), BcryptCost)
	if err != nil {
		return err
	}
	return db.announced(db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		now := db.now()
		tag, err := tx.Exec(ctx, `UPDATE users SET password = $2, "updatedAt" = $3 WHERE id = $1`, userID, string(hash), now.Truncate(time.Millisecond))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return workflow.Reject(workflow.CodeNotFound, "User %s does not exist.", userID)
		}
		n, err := revokeUserSessions(ctx, tx, userID, now, EndPasswordReset)
		if err != nil {
			return err
		}
		// The log never holds a password or its hash: only that it changed.
		if err := db.logEvent(ctx, tx, SecurityEvent{Kind: EventUserPassword, UserID: userID},
			nil, map[string]any{"passwordChangedAt": now, "sessionsEnded": n}); err != nil {
			return err
		}
		return notifySessions(ctx, tx)
	}), feedNotice, adminNotice("users"))
}

// CheckCanDisable refuses to disable the last enabled administrator.
func (db *DB) CheckCanDisable(ctx context.Context, userID string) error {
	return db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		role, enabled, err := lockUser(ctx, tx, userID)
		if err != nil || role != workflow.RoleAdmin || !enabled {
			return err
		}
		n, err := otherActiveAdmins(ctx, tx, userID)
		if err != nil {
			return err
		}
		if n == 0 {
			return ErrLastAdmin
		}
		return nil
	})
}

// EnableUser lifts a user's disablement. Their old sessions stay ended.
// The disable time is kept (last_disabled_at) beside the enable time, and
// both acts stay in the security log.
func (db *DB) EnableUser(ctx context.Context, userID string) error {
	return db.announced(db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		var was *time.Time
		err := tx.QueryRow(ctx, `SELECT disabled_at FROM sync.user_status WHERE user_id = $1 FOR UPDATE`, userID).Scan(&was)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && was == nil) {
			_, err := db.User(ctx, userID)
			return err // not disabled: nothing changes, nothing to log
		}
		if err != nil {
			return err
		}
		now := db.now()
		if _, err := tx.Exec(ctx, `UPDATE sync.user_status SET disabled_at = NULL, enabled_at = $2 WHERE user_id = $1`, userID, now); err != nil {
			return err
		}
		return db.logEvent(ctx, tx, SecurityEvent{Kind: EventUserEnable, UserID: userID},
			map[string]any{"disabled": true, "disabledAt": was}, map[string]any{"disabled": false, "enabledAt": now})
	}), adminNotice("users"))
}

// ---- workstations ----

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

// ---- audit log ----

// AuditFilter selects audit log entries; empty fields do not filter.
type AuditFilter struct {
	DeviceID  string
	UserID    string
	PatientID string // acts on the patient or on their appointments, prescriptions, results, documents
	Code      string
	Outcome   string // "applied", "rejected" or "deferred" (on hold, docs/deferred.md)
	Name      string // mutation name
	// Unresolved keeps only rejected acts no administrator has resolved.
	Unresolved bool
	// ChainBroken keeps only acts whose chain link broke at push.
	ChainBroken  bool
	Since, Until *time.Time // received between
	Limit        int
	// After continues a listing from the Next key of a previous page.
	After string
}

// AuditEntry is one recorded mutation.
type AuditEntry struct {
	DeviceID    string
	DeviceName  string
	Seq         int64
	MutationID  string
	Name        string
	Args        json.RawMessage
	AuthorID    string
	AuthorName  string
	AuthorRole  string
	OccurredAt  time.Time
	ReceivedAt  time.Time
	Outcome     string
	Code        string
	Message     string
	Field       string
	TargetTable string
	TargetID    string
	ResolvedAt  *time.Time
	ResolvedBy  string
	Note        string
	// ResolutionKind is "closed" or "reissued"; ResolvedBySeq the device's
	// own act that resolved it (its close, or its re-issue), nil when an
	// administrator closed it from the dashboard.
	ResolutionKind string
	ResolvedBySeq  *int64
	// ReissueOf is the mutation id of the rejected act this act re-issues
	// (same device), ReissueOfSeq that act's seq when the server has it.
	ReissueOf    string
	ReissueOfSeq *int64
	// PrevHash and Hash are the act's chain link (hex; empty for acts
	// recorded before the chain existed); ChainBreak is "content" or
	// "link" when the link broke at push.
	PrevHash, Hash, ChainBreak string
	// ClaimedAuthorID is the author the workstation hashed, kept even when
	// the act was refused before its author was authenticated.
	ClaimedAuthorID string
	// Subject names the patient and visit the act concerns (nil when it
	// names none).
	Subject *workflow.ActSubject
}

// MaxAuditPage bounds one page of audit entries.
const MaxAuditPage = 500

func encodeAuditKey(e AuditEntry) string {
	s := e.ReceivedAt.UTC().Format(time.RFC3339Nano) + "|" + strconv.FormatInt(e.Seq, 10) + "|" + e.DeviceID
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

func decodeAuditKey(k string) (time.Time, int64, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(k)
	bad := &workflow.Rejection{Code: workflow.CodeValidationFailed, Field: "after", Message: "The page key is not one this server issued; start the search again."}
	if err != nil {
		return time.Time{}, 0, "", bad
	}
	parts := strings.SplitN(string(b), "|", 3)
	if len(parts) != 3 {
		return time.Time{}, 0, "", bad
	}
	at, err1 := time.Parse(time.RFC3339Nano, parts[0])
	seq, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil {
		return time.Time{}, 0, "", bad
	}
	return at, seq, parts[2], nil
}

// Audit lists audit log entries, newest received first, one page at a time;
// next is the key of the following page, empty on the last.
func (db *DB) Audit(ctx context.Context, f AuditFilter) (entries []AuditEntry, next string, err error) {
	if f.Limit <= 0 || f.Limit > MaxAuditPage {
		f.Limit = 100
	}
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.DeviceID != "" {
		where = append(where, "m.device_id = "+arg(f.DeviceID))
	}
	if f.UserID != "" {
		where = append(where, "m.author_id = "+arg(f.UserID))
	}
	if f.Code != "" {
		where = append(where, "m.code = "+arg(f.Code))
	}
	if f.Name != "" {
		where = append(where, "m.name = "+arg(f.Name))
	}
	switch f.Outcome {
	case "":
	case "applied", "rejected", "deferred":
		where = append(where, "m.outcome = "+arg(f.Outcome))
	default:
		return nil, "", &workflow.Rejection{Code: workflow.CodeValidationFailed, Field: "outcome", Message: fmt.Sprintf("Outcome %q is not applied, rejected or deferred.", f.Outcome)}
	}
	if f.Unresolved {
		where = append(where, "m.outcome = 'rejected' AND r.seq IS NULL")
	}
	if f.ChainBroken {
		where = append(where, "m.chain_break IS NOT NULL")
	}
	if f.Since != nil {
		where = append(where, "m.received_at >= "+arg(*f.Since))
	}
	if f.Until != nil {
		where = append(where, "m.received_at < "+arg(*f.Until))
	}
	if f.PatientID != "" {
		p := arg(f.PatientID)
		where = append(where, `(m.target_id IN (
			SELECT `+p+`::text
			UNION ALL SELECT id FROM appointments WHERE "patientId" = `+p+`
			UNION ALL SELECT id FROM prescriptions WHERE "patientId" = `+p+`
			UNION ALL SELECT r.id FROM results r JOIN prescriptions pr ON pr.id = r."prescriptionId" WHERE pr."patientId" = `+p+`
			UNION ALL SELECT id FROM documents WHERE "patientId" = `+p+`)
			OR (m.outcome = 'rejected' AND jsonb_typeof(m.args) = 'object' AND m.args->>'patientId' = `+p+`))`)
	}
	if f.After != "" {
		at, seq, dev, err := decodeAuditKey(f.After)
		if err != nil {
			return nil, "", err
		}
		where = append(where, "(m.received_at, m.seq, m.device_id) < ("+arg(at)+", "+arg(seq)+", "+arg(dev)+")")
	}
	q := `
		SELECT m.device_id, COALESCE(d.name, ''), m.seq, m.mutation_id, m.name, m.args, COALESCE(m.author_id, ''),
		       COALESCE(u.name, ''), COALESCE(u.role::text, ''), m.occurred_at, m.received_at, m.outcome,
		       COALESCE(m.code, ''), COALESCE(m.message, ''), COALESCE(m.field, ''),
		       COALESCE(m.target_table, ''), COALESCE(m.target_id, ''),
		       r.resolved_at, COALESCE(ru.name, ''), COALESCE(r.note, ''),
		       COALESCE(r.kind, ''), r.by_seq, COALESCE(m.reissue_of, ''),
		       (SELECT min(o.seq) FROM sync.mutations o WHERE o.device_id = m.device_id AND o.mutation_id = m.reissue_of),
		       COALESCE(encode(m.prev_hash, 'hex'), ''), COALESCE(encode(m.hash, 'hex'), ''), COALESCE(m.chain_break, ''),
		       COALESCE(m.chain_author, '')
		  FROM sync.mutations m
		  LEFT JOIN sync.devices d ON d.id = m.device_id
		  LEFT JOIN users u ON u.id = m.author_id
		  LEFT JOIN sync.rejection_resolutions r ON r.device_id = m.device_id AND r.seq = m.seq
		  LEFT JOIN users ru ON ru.id = r.resolved_by`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY m.received_at DESC, m.seq DESC, m.device_id DESC LIMIT " + arg(f.Limit+1)
	rows, err := db.Pool.Query(ctx, q, args...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	for rows.Next() {
		var e AuditEntry
		var argsText []byte
		if err := rows.Scan(&e.DeviceID, &e.DeviceName, &e.Seq, &e.MutationID, &e.Name, &argsText, &e.AuthorID,
			&e.AuthorName, &e.AuthorRole, &e.OccurredAt, &e.ReceivedAt, &e.Outcome, &e.Code, &e.Message, &e.Field,
			&e.TargetTable, &e.TargetID, &e.ResolvedAt, &e.ResolvedBy, &e.Note,
			&e.ResolutionKind, &e.ResolvedBySeq, &e.ReissueOf, &e.ReissueOfSeq,
			&e.PrevHash, &e.Hash, &e.ChainBreak, &e.ClaimedAuthorID); err != nil {
			return nil, "", err
		}
		e.Args = json.RawMessage(argsText)
		entries = append(entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	if len(entries) > f.Limit {
		entries = entries[:f.Limit]
		next = encodeAuditKey(entries[len(entries)-1])
	}
	refs := make([]workflow.ActRefs, len(entries))
	for i, e := range entries {
		refs[i] = workflow.RefsOf(e.Name, e.Args)
	}
	subjects, err := db.Subjects(ctx, refs)
	if err != nil {
		return nil, "", err
	}
	for i := range entries {
		if subjects[i].Known() {
			entries[i].Subject = &subjects[i]
		}
	}
	return entries, next, nil
}

// PatientMatch is a patient found by the audit search's patient lookup.
type PatientMatch struct {
	ID        string
	Name      string
	BirthDate time.Time
}

// SearchPatients finds up to limit patients whose name contains q (any
// order of first and last name) or whose id starts with q.
func (db *DB) SearchPatients(ctx context.Context, q string, limit int) ([]PatientMatch, error) {
	q = strings.TrimSpace(q)
	if q == "" {
		return nil, nil
	}
	if limit <= 0 || limit > 50 {
		limit = 20
	}
	esc := strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(q)
	like := "%" + esc + "%"
	rows, err := db.Pool.Query(ctx, `
		SELECT id, "firstName" || ' ' || "lastName", "birthDate" FROM patients
		 WHERE ("firstName" || ' ' || "lastName") ILIKE $1 OR ("lastName" || ' ' || "firstName") ILIKE $1 OR id LIKE $2
		 ORDER BY "lastName", "firstName", id LIMIT $3`, like, esc+"%", limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []PatientMatch
	for rows.Next() {
		var p PatientMatch
		if err := rows.Scan(&p.ID, &p.Name, &p.BirthDate); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// ---- workflow board ----

// StatusCount is how many rows are in one status.
type StatusCount struct {
	Status string
	Total  int64 // all rows in that status
	Today  int64 // appointments dated today (prescriptions: same as Total)
}

// QueueHead is one workflow queue: the rows waiting for the next act, and
// the one waiting longest.
type QueueHead struct {
	Table         string
	Status        string
	Count         int64
	OldestID      string
	OldestSince   *time.Time
	OldestPatient string
}

// BoardData is the raw material of the workflow board for one day.
type BoardData struct {
	Appointments  []StatusCount
	Prescriptions []StatusCount
	Queues        []QueueHead
	// ActsByHour counts applied acts by name and hour since the day's start
	// (clinical time: occurredAt).
	ActsByHour map[string][]int64
}

// Board reads the workflow board for the day [dayStart, dayEnd): appointment
// and prescription counts per status, the waiting queues (today's
// appointments in an open status or awaiting payment; every open
// prescription) with their oldest item, and the applied acts per hour.
func (db *DB) Board(ctx context.Context, dayStart, dayEnd time.Time) (*BoardData, error) {
	// Seed timestamps are TIMESTAMP(3) holding UTC: compare in UTC.
	from, to := dayStart.UTC(), dayEnd.UTC()
	b := &BoardData{ActsByHour: map[string][]int64{}}
	err := db.inTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		b.Appointments, b.Prescriptions, b.Queues = nil, nil, nil
		clear(b.ActsByHour)
		rows, err := tx.Query(ctx, `
			SELECT status::text, count(*), count(*) FILTER (WHERE date >= $1 AND date < $2)
			  FROM appointments GROUP BY 1`, from, to)
		if err != nil {
			return err
		}
		b.Appointments, err = scanCounts(rows)
		if err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT status::text, count(*), count(*) FROM prescriptions GROUP BY 1`)
		if err != nil {
			return err
		}
		b.Prescriptions, err = scanCounts(rows)
		if err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `
			WITH q AS (
			  SELECT 'appointments' AS tbl, a.id, a.status::text AS status, a."patientId",
			         CASE a.status WHEN 'SCHEDULED' THEN a.date
			                       WHEN 'CHECKED_IN' THEN a."checkedInAt"
			                       WHEN 'IN_CONSULTATION' THEN a."vitalsEnteredAt"
			                       WHEN 'CONSULTATION_COMPLETED' THEN a."consultedAt"
			                       WHEN 'COMPLETED' THEN a."closedAt" END AS since
			    FROM appointments a
			   WHERE a.date >= $1 AND a.date < $2
			     AND (a.status IN ('SCHEDULED', 'CHECKED_IN', 'IN_CONSULTATION', 'CONSULTATION_COMPLETED')
			          OR (a.status = 'COMPLETED' AND a."billingStatus" IS DISTINCT FROM 'PAID'))
			  UNION ALL
			  SELECT 'prescriptions', p.id, p.status::text, p."patientId",
			         CASE p.status WHEN 'CREATED' THEN p."createdAt"
			                       WHEN 'SENT_TO_LAB' THEN p."updatedAt"
			                       WHEN 'SAMPLE_COLLECTED' THEN p."sampleCollectedAt"
			                       WHEN 'IN_PROGRESS' THEN p."analysisStartedAt"
			                       WHEN 'RESULTS_AVAILABLE' THEN p."analysisCompletedAt" END
			    FROM prescriptions p WHERE p.status <> 'COMPLETED')
			SELECT DISTINCT ON (q.tbl, q.status) q.tbl, q.status, count(*) OVER (PARTITION BY q.tbl, q.status),
			       q.id, q.since, COALESCE(pt."firstName" || ' ' || pt."lastName", '')
			  FROM q LEFT JOIN patients pt ON pt.id = q."patientId"
			 ORDER BY q.tbl, q.status, q.since ASC NULLS LAST, q.id`, from, to)
		if err != nil {
			return err
		}
		for rows.Next() {
			var h QueueHead
			if err := rows.Scan(&h.Table, &h.Status, &h.Count, &h.OldestID, &h.OldestSince, &h.OldestPatient); err != nil {
				rows.Close()
				return err
			}
			b.Queues = append(b.Queues, h)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		hours := int(dayEnd.Sub(dayStart) / time.Hour)
		if hours <= 0 || hours > 25 {
			hours = 24
		}
		// An act is received at most MaxSkew before it occurred, so the
		// received_at index bounds the scan.
		rows, err = tx.Query(ctx, `
			SELECT name, floor(extract(epoch FROM occurred_at - $1::timestamptz) / 3600)::int, count(*)
			  FROM sync.mutations
			 WHERE outcome = 'applied' AND occurred_at >= $1 AND occurred_at < $2 AND received_at >= $3
			 GROUP BY 1, 2`, dayStart, dayEnd, dayStart.Add(-db.Config.MaxSkew-time.Minute))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var name string
			var h int
			var n int64
			if err := rows.Scan(&name, &h, &n); err != nil {
				return err
			}
			if h < 0 || h >= hours {
				continue
			}
			if b.ActsByHour[name] == nil {
				b.ActsByHour[name] = make([]int64, hours)
			}
			b.ActsByHour[name][h] += n
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}

func scanCounts(rows pgx.Rows) ([]StatusCount, error) {
	defer rows.Close()
	var out []StatusCount
	for rows.Next() {
		var c StatusCount
		if err := rows.Scan(&c.Status, &c.Total, &c.Today); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// ---- live notifications for dashboards ----

// AdminChannels are the notification channels a dashboard follows: the
// change feed (any committed change) and wardsync_admin (a mutation was
// recorded, a workstation reported or failed, a device changed).
var AdminChannels = []string{ChannelChanges, ChannelAdmin}

// ListenAdmin calls fn with the channel and payload (the table, on
// wardsync_admin) of every commit on AdminChannels until ctx ends: this
// instance's, announced in-process, and the other instances' and
// programs', by notification. fn may be called from several goroutines at
// once and must not block. It uses a connection of its own, outside the
// pool, and returns when that connection fails (the caller reconnects).
func (db *DB) ListenAdmin(ctx context.Context, fn func(channel, payload string)) error {
	conn, err := pgx.ConnectConfig(ctx, db.Pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer func() {
		c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = conn.Close(c)
	}()
	for _, ch := range AdminChannels {
		if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{ch}.Sanitize()); err != nil {
			return err
		}
	}
	unsubscribe := db.ann.subscribe(func(n notice) {
		if slices.Contains(AdminChannels, n.channel) {
			fn(n.channel, n.payload)
		}
	})
	defer unsubscribe()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if what, echo := db.ann.fromPeer(n.Payload); !echo {
			fn(n.Channel, what)
		}
	}
}
