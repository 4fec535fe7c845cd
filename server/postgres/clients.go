package postgres

import (
	"context"
	"strconv"
	"time"

	"wardsync/syncproto"
)

// Hello is HelloFrom for a caller that does not know the device's release
// (the one recorded before is kept).
func (db *DB) Hello(ctx context.Context, deviceID string, pending int64, oldest *time.Time) (*syncproto.Welcome, error) {
	return db.HelloFrom(ctx, deviceID, "", pending, oldest)
}

// Opened records, before its hello is read, that a socket of the device
// has opened: seen now, not disconnected, its connected_at now (which
// Disconnected takes back if the socket ends unwelcomed). Until the hello
// reports its queue again, the queue on record predates the connection
// (queue_reported_at < connected_at) and the dashboard says so instead of
// "in sync": acts may have been queued while the link was down.
func (db *DB) Opened(ctx context.Context, deviceID string) (time.Time, error) {
	now := db.now().Truncate(time.Microsecond)
	_, err := db.Pool.Exec(ctx, `
		INSERT INTO sync.clients (device_id, last_seen, connected_at) VALUES ($1, $2, $2)
		ON CONFLICT (device_id) DO UPDATE SET last_seen = EXCLUDED.last_seen,
		       connected_at = EXCLUDED.connected_at, disconnected_at = NULL`, deviceID, now)
	return now, db.announced(err, adminNotice("clients"))
}

// HelloFrom records that a device connected, the release it runs and the
// queue it reports, and returns what it needs to resume: the server's
// time, the feed head and the last seq of its mutations the server has.
// The welcome's ServerTime is the connection's connected_at, which
// Disconnected takes back, and the queue's queue_reported_at.
func (db *DB) HelloFrom(ctx context.Context, deviceID, clientVersion string, pending int64, oldest *time.Time) (*syncproto.Welcome, error) {
	// Microseconds: what PostgreSQL keeps, so that Disconnected finds it.
	now := db.now().Truncate(time.Microsecond)
	w := &syncproto.Welcome{ServerTime: now}
	var head int64
	var chainHead []byte
	err := db.Pool.QueryRow(ctx, `
		WITH c AS (
		  INSERT INTO sync.clients (device_id, last_seen, pending, oldest_pending_at, client_version, connected_at, queue_reported_at)
		  VALUES ($1, $2, $3, $4, $5, $2, $2)
		  ON CONFLICT (device_id) DO UPDATE SET last_seen = EXCLUDED.last_seen, pending = EXCLUDED.pending,
		         oldest_pending_at = EXCLUDED.oldest_pending_at, queue_reported_at = EXCLUDED.queue_reported_at,
		         client_version = COALESCE(NULLIF(EXCLUDED.client_version, ''), sync.clients.client_version),
		         connected_at = EXCLUDED.connected_at, disconnected_at = NULL
		  RETURNING last_mutation_seq, chain_head)
		SELECT c.last_mutation_seq, d.name, COALESCE((SELECT max(id) FROM sync.changes), 0), c.chain_head
		  FROM c, sync.devices d WHERE d.id = $1`, deviceID, now, pending, oldest, clientVersion).Scan(&w.LastMutationSeq, &w.DeviceName, &head, &chainHead)
	if err != nil {
		return nil, err
	}
	w.ChainHead = hashHex(chainHead)
	w.Head = strconv.FormatInt(head, 10)
	db.announce(adminNotice("clients"))
	return w, nil
}

// RefusedHello records a hello the server refused before welcoming it (a
// workstation below the minimum release): it was seen, runs that release,
// still holds that queue, and why it was turned away. Monitoring then
// shows the waiting acts and the dashboard the sentence.
func (db *DB) RefusedHello(ctx context.Context, deviceID, clientVersion string, pending int64, oldest *time.Time, reason string) error {
	now := db.now()
	_, err := db.Pool.Exec(ctx, `
		INSERT INTO sync.clients (device_id, last_seen, pending, oldest_pending_at, client_version, last_error, last_error_at, queue_reported_at)
		VALUES ($1, $2, $3, $4, $5, $6, $2, $2)
		ON CONFLICT (device_id) DO UPDATE SET last_seen = EXCLUDED.last_seen, pending = EXCLUDED.pending,
		       oldest_pending_at = EXCLUDED.oldest_pending_at, queue_reported_at = EXCLUDED.queue_reported_at,
		       client_version = EXCLUDED.client_version,
		       last_error = EXCLUDED.last_error, last_error_at = EXCLUDED.last_error_at`,
		deviceID, now, pending, oldest, clientVersion, reason)
	return db.announced(err, adminNotice("clients"))
}

// Disconnected records that the device's socket welcomed at connectedAt
// (Hello's ServerTime), or opened then and never welcomed (Opened), has
// ended. It does nothing when a newer socket of the device opened since,
// on this instance or another.
func (db *DB) Disconnected(ctx context.Context, deviceID string, connectedAt time.Time) error {
	_, err := db.Pool.Exec(ctx, `UPDATE sync.clients SET disconnected_at = $3 WHERE device_id = $1 AND connected_at = $2`,
		deviceID, connectedAt, db.now())
	// The dashboards show the workstation offline at once, not at their
	// next tick.
	return db.announced(err, adminNotice("clients"))
}

// Report records the queue a device says it still has to upload.
func (db *DB) Report(ctx context.Context, deviceID string, pending int64, oldest *time.Time) error {
	_, err := db.Pool.Exec(ctx, `UPDATE sync.clients SET pending = $2, oldest_pending_at = $3, last_seen = $4, queue_reported_at = $4 WHERE device_id = $1`,
		deviceID, pending, oldest, db.now())
	return db.announced(err, adminNotice("clients"))
}

// RecordError keeps a device's last sync error for monitoring.
func (db *DB) RecordError(ctx context.Context, deviceID, msg string) error {
	_, err := db.Pool.Exec(ctx, `UPDATE sync.clients SET last_error = $2, last_error_at = $3 WHERE device_id = $1`, deviceID, msg, db.now())
	return db.announced(err, adminNotice("clients"))
}
