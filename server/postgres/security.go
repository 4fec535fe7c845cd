package postgres

// The security log (sync.security_events, append-only by trigger): who
// logged in, failed, logged out or expired, and every administrative act
// with who, what, before and after.
// An event is written in the same transaction as the change it records, so
// the log never claims a change that did not happen, nor misses one that
// did.

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"wardsync/workflow"
)

// Kinds of security event. docs/security.md, "Security log", lists them.
const (
	EventLogin          = "login"
	EventLoginFailed    = "login_failed"
	EventLogout         = "logout"
	EventSessionExpired = "session_expired"
	EventUserCreate     = "user_create"
	EventUserDisable    = "user_disable"
	EventUserEnable     = "user_enable"
	EventUserRole       = "user_role"
	EventUserPassword   = "user_password"
	EventDeviceRegister = "device_register"
	EventDeviceCode     = "device_code"
	EventDeviceClaim    = "device_claim"
	EventDeviceRevoke   = "device_revoke"
	EventPatientMerge   = "patient_merge"
	EventDuplicateClear = "duplicate_dismiss"
	EventReviewResolve  = "review_resolve"
	EventSettingChange  = "setting_change"
)

// EventKinds lists every kind, in the order the dashboard offers them.
var EventKinds = []string{
	EventLogin, EventLoginFailed, EventLogout, EventSessionExpired,
	EventUserCreate, EventUserDisable, EventUserEnable, EventUserRole, EventUserPassword,
	EventDeviceRegister, EventDeviceCode, EventDeviceClaim, EventDeviceRevoke,
	EventPatientMerge, EventDuplicateClear, EventReviewResolve, EventSettingChange,
}

// Who is the person and address behind a request. The HTTP edge puts it in
// the request's context (WithWho), as it does the deadline; the methods
// that change accounts read it to say who did it in the security log. A
// context without one is the command line on the server itself.
type Who struct {
	UserID  string
	Name    string
	Address string
}

type whoKey struct{}

// WithWho returns ctx carrying w.
func WithWho(ctx context.Context, w Who) context.Context {
	return context.WithValue(ctx, whoKey{}, w)
}

func whoOf(ctx context.Context) Who {
	w, _ := ctx.Value(whoKey{}).(Who)
	return w
}

// SecurityEvent is one entry of the security log, as it is written and as
// the admin dashboard lists it.
type SecurityEvent struct {
	ID        int64           `json:"id,string"`
	At        time.Time       `json:"at"`
	Kind      string          `json:"kind"`
	ActorID   string          `json:"actorId,omitempty"`
	ActorName string          `json:"actorName,omitempty"`
	UserID    string          `json:"userId,omitempty"`
	UserEmail string          `json:"userEmail,omitempty"`
	DeviceID  string          `json:"deviceId,omitempty"`
	Address   string          `json:"address,omitempty"`
	Reason    string          `json:"reason,omitempty"`
	Target    string          `json:"target,omitempty"`
	Before    json.RawMessage `json:"before,omitempty"`
	After     json.RawMessage `json:"after,omitempty"`
}

type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func jsonOrNil(v any) any {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return string(b)
}

// logEvent appends e, its actor taken from ctx when e names none. The
// actor's name is looked up in the same statement, so the log reads as
// words even after the user is renamed.
func (db *DB) logEvent(ctx context.Context, q execer, e SecurityEvent, before, after any) error {
	if e.At.IsZero() {
		e.At = db.now()
	}
	return appendEvent(ctx, q, e, before, after)
}

// appendEvent is logEvent for an event whose time is set.
func appendEvent(ctx context.Context, q execer, e SecurityEvent, before, after any) error {
	// What a stranger typed (an e-mail at a failed login) is kept, but not
	// at any length.
	e.UserEmail, e.Reason, e.Target = clipText(e.UserEmail), clipText(e.Reason), clipText(e.Target)
	who := whoOf(ctx)
	if e.ActorID == "" {
		e.ActorID, e.ActorName = who.UserID, who.Name
	}
	if e.Address == "" {
		e.Address = who.Address
	}
	_, err := q.Exec(ctx, `
		INSERT INTO sync.security_events (at, kind, actor_id, actor_name, user_id, user_email, device_id, address, reason, target, before, after)
		VALUES ($1, $2, $3, COALESCE($4, (SELECT name FROM users WHERE id = $3)), $5,
		        COALESCE($6, (SELECT email FROM users WHERE id = $5)), $7, $8, $9, $10, $11::jsonb, $12::jsonb)`,
		e.At, e.Kind, nullable(e.ActorID), nullable(e.ActorName), nullable(e.UserID), nullable(e.UserEmail),
		nullable(e.DeviceID), nullable(e.Address), nullable(e.Reason), nullable(e.Target), jsonOrNil(before), jsonOrNil(after))
	return err
}

// clipText bounds a free-text field of the log to 500 characters.
// PostgreSQL's text holds neither NUL nor invalid UTF-8.
func clipText(v string) string {
	v = strings.ToValidUTF8(strings.ReplaceAll(v, "\x00", ""), "")
	if r := []rune(v); len(r) > 500 {
		return string(r[:500]) + "…"
	}
	return v
}

// LogSecurityEvent appends one event on its own (a refusal that changed
// nothing else, such as a login held back by the limits).
func (db *DB) LogSecurityEvent(ctx context.Context, e SecurityEvent) error {
	return db.logEvent(ctx, db.Pool, e, nil, nil)
}

// ---- reading the log ----

// SecurityFilter selects security events; empty fields do not filter.
type SecurityFilter struct {
	Kind string
	// User matches the actor or the user the event is about, by id or
	// e-mail.
	User         string
	Since, Until *time.Time
	Limit        int
	// After continues from the Next of a previous page (newest first).
	After string
}

// MaxSecurityPage bounds one page of the security log.
const MaxSecurityPage = 1000

// SecurityEvents lists events newest first, and the key of the next page
// ("" at the end).
func (db *DB) SecurityEvents(ctx context.Context, f SecurityFilter) ([]SecurityEvent, string, error) {
	if f.Kind != "" {
		known := false
		for _, k := range EventKinds {
			known = known || k == f.Kind
		}
		if !known {
			return nil, "", &workflow.Rejection{Code: workflow.CodeValidationFailed, Field: "kind",
				Message: fmt.Sprintf("%q is not a kind of security event; kinds are %s.", f.Kind, strings.Join(EventKinds, ", "))}
		}
	}
	limit := f.Limit
	if limit <= 0 || limit > MaxSecurityPage {
		limit = 200
	}
	var w filter
	w.equal("kind", f.Kind)
	if f.User != "" {
		p := w.arg(strings.ToLower(strings.TrimSpace(f.User)))
		w.where("(actor_id = " + p + " OR user_id = " + p + " OR lower(user_email) = " + p +
			" OR actor_id IN (SELECT id FROM users WHERE lower(email) = " + p + "))")
	}
	if f.Since != nil {
		w.where("at >= " + w.arg(*f.Since))
	}
	if f.Until != nil {
		w.where("at < " + w.arg(*f.Until))
	}
	if f.After != "" {
		id, err := strconv.ParseInt(f.After, 10, 64)
		if err != nil || id < 1 {
			return nil, "", &workflow.Rejection{Code: workflow.CodeValidationFailed, Field: "after", Message: "after must be the next key of a previous page."}
		}
		w.where("id < " + w.arg(id))
	}
	q := `SELECT id, at, kind, COALESCE(actor_id, ''), COALESCE(actor_name, ''), COALESCE(user_id, ''), COALESCE(user_email, ''),
	             COALESCE(device_id, ''), COALESCE(address, ''), COALESCE(reason, ''), COALESCE(target, ''), before, after
	        FROM sync.security_events` + w.clause()
	q += " ORDER BY id DESC LIMIT " + w.arg(limit+1)
	rows, err := db.Pool.Query(ctx, q, w.args...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	out := []SecurityEvent{}
	for rows.Next() {
		var e SecurityEvent
		var before, after []byte
		if err := rows.Scan(&e.ID, &e.At, &e.Kind, &e.ActorID, &e.ActorName, &e.UserID, &e.UserEmail,
			&e.DeviceID, &e.Address, &e.Reason, &e.Target, &before, &after); err != nil {
			return nil, "", err
		}
		e.At, e.Before, e.After = e.At.UTC(), before, after
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = strconv.FormatInt(out[limit-1].ID, 10)
	}
	return out, next, nil
}

// refuseLogin logs a refused login and returns rej. The login limits are
// counted by the HTTP edge (ReserveLoginAttempt), not here.
func (db *DB) refuseLogin(ctx context.Context, email, userID, deviceID, reason string, rej *workflow.Rejection) error {
	if err := db.LogSecurityEvent(ctx, SecurityEvent{Kind: EventLoginFailed, ActorID: userID, UserID: userID, UserEmail: email,
		DeviceID: deviceID, Reason: reason}); err != nil {
		return err
	}
	return rej
}

// SecurityEventCounts counts the security log's events by kind.
func (db *DB) SecurityEventCounts(ctx context.Context) (map[string]int64, error) {
	return db.countBy(ctx, `SELECT kind, count(*) FROM sync.security_events GROUP BY kind`)
}
