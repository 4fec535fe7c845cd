package postgres

// Parked acts as others read them: the dashboard's list and the
// monitoring's counts of the acts waiting now, and the outcomes, decided
// later, that the feed hands to the acts' devices. Parking and deciding
// them is deferred.go's.

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"wardsync/syncproto"
	"wardsync/workflow"
)

// ParkedCount is how many acts are parked now, all devices together.
func (db *DB) ParkedCount(ctx context.Context) (int64, error) {
	var n int64
	err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM sync.deferred WHERE outcome IS NULL`).Scan(&n)
	return n, err
}

// ParkedAct is a parked act as the admin dashboard lists it.
type ParkedAct struct {
	DeviceID   string    `json:"deviceId"`
	DeviceName string    `json:"deviceName"`
	Seq        int64     `json:"seq"`
	Name       string    `json:"name"`
	AuthorName string    `json:"authorName"`
	OccurredAt time.Time `json:"occurredAt"`
	ParkedAt   time.Time `json:"parkedAt"`
	ExpiresAt  time.Time `json:"expiresAt"`
	WaitingFor string    `json:"waitingFor"`
	WaitTable  string    `json:"waitTable"`
	WaitID     string    `json:"waitId"`
	WaitState  string    `json:"waitState"`
	// Subject names the patient and visit the act concerns.
	Subject *workflow.ActSubject `json:"subject,omitempty"`
}

// ParkedActs lists up to limit parked acts, oldest first.
func (db *DB) ParkedActs(ctx context.Context, limit int) ([]ParkedAct, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	rows, err := db.Pool.Query(ctx, `
		SELECT d.device_id, dev.name, d.seq, m.name, d.author_name, m.occurred_at, d.parked_at, d.expires_at,
		       d.waiting_for, d.wait_table, d.wait_id, d.wait_state, m.args
		  FROM sync.deferred d JOIN sync.mutations m USING (device_id, seq) JOIN sync.devices dev ON dev.id = d.device_id
		 WHERE d.outcome IS NULL ORDER BY d.arrival LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []ParkedAct{}
	var refs []workflow.ActRefs
	for rows.Next() {
		var p ParkedAct
		var args []byte
		if err := rows.Scan(&p.DeviceID, &p.DeviceName, &p.Seq, &p.Name, &p.AuthorName, &p.OccurredAt, &p.ParkedAt, &p.ExpiresAt,
			&p.WaitingFor, &p.WaitTable, &p.WaitID, &p.WaitState, &args); err != nil {
			return nil, err
		}
		p.OccurredAt, p.ParkedAt, p.ExpiresAt = p.OccurredAt.UTC(), p.ParkedAt.UTC(), p.ExpiresAt.UTC()
		out = append(out, p)
		refs = append(refs, workflow.RefsOf(p.Name, args))
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	subjects, err := db.Subjects(ctx, refs)
	if err != nil {
		return nil, err
	}
	for i := range out {
		if subjects[i].Known() {
			out[i].Subject = &subjects[i]
		}
	}
	return out, nil
}

// ParkedByDevice counts the parked acts of each device that has any.
func (db *DB) ParkedByDevice(ctx context.Context) (map[string]int64, error) {
	return db.countBy(ctx, `SELECT device_id, count(*) FROM sync.deferred WHERE outcome IS NULL GROUP BY device_id`)
}

// SoonestParkedExpiry is when the first still parked act will be rejected
// for waiting too long (nil when none waits): monitoring warns before a
// ward loses an act to the window.
func (db *DB) SoonestParkedExpiry(ctx context.Context) (*time.Time, error) {
	var t *time.Time
	err := db.Pool.QueryRow(ctx, `SELECT min(expires_at) FROM sync.deferred WHERE outcome IS NULL`).Scan(&t)
	return t, err
}

// outcomesBetween lists the device's parked acts decided by transactions
// in [from, to): each lands in exactly one page, the one whose range holds
// the deciding transaction, with the changes that transaction made.
func outcomesBetween(ctx context.Context, tx pgx.Tx, deviceID string, from, to uint64) ([]syncproto.Outcome, error) {
	if deviceID == "" || from >= to {
		return nil, nil
	}
	rows, err := tx.Query(ctx, `
		SELECT d.seq, m.mutation_id, d.outcome, COALESCE(m.code, ''), COALESCE(m.message, ''), COALESCE(m.field, '')
		  FROM sync.deferred d JOIN sync.mutations m USING (device_id, seq)
		 WHERE d.device_id = $1 AND d.decided_xid >= $2::text::xid8 AND d.decided_xid < $3::text::xid8
		 ORDER BY d.seq LIMIT $4`,
		deviceID, strconv.FormatUint(from, 10), strconv.FormatUint(to, 10), syncproto.MaxPullLimit)
	if err != nil {
		return nil, err
	}
	return scanOutcomes(rows)
}

// scanOutcomes reads rows of (seq, mutation id, outcome, code, message,
// field) as outcomes, in the order given.
func scanOutcomes(rows pgx.Rows) ([]syncproto.Outcome, error) {
	defer rows.Close()
	var out []syncproto.Outcome
	for rows.Next() {
		var o syncproto.Outcome
		var status, code string
		if err := rows.Scan(&o.Seq, &o.ID, &status, &code, &o.Message, &o.Field); err != nil {
			return nil, err
		}
		o.Status, o.Code = syncproto.Status(status), workflow.Code(code)
		out = append(out, o)
	}
	return out, rows.Err()
}

// outcomesBefore lists, for the last page of a snapshot (first sync or
// resync), the device's decided parked acts whose deciding transaction lies
// below the snapshot's horizon: the feed after it starts at that horizon,
// so they would never come otherwise. The most recent MaxPullLimit only; a
// workstation ignores outcomes of acts it no longer holds.
func outcomesBefore(ctx context.Context, tx pgx.Tx, deviceID string, horizon uint64) ([]syncproto.Outcome, error) {
	if deviceID == "" {
		return nil, nil
	}
	rows, err := tx.Query(ctx, `
		SELECT d.seq, m.mutation_id, d.outcome, COALESCE(m.code, ''), COALESCE(m.message, ''), COALESCE(m.field, '')
		  FROM sync.deferred d JOIN sync.mutations m USING (device_id, seq)
		 WHERE d.device_id = $1 AND d.decided_xid < $2::text::xid8
		 ORDER BY d.seq DESC LIMIT $3`,
		deviceID, strconv.FormatUint(horizon, 10), syncproto.MaxPullLimit)
	if err != nil {
		return nil, err
	}
	out, err := scanOutcomes(rows)
	// Newest first in the query (to keep the latest), oldest first out.
	slices.Reverse(out)
	return out, err
}
