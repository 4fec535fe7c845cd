package postgres

// Live notifications for dashboards.

import (
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

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

// listenConn takes a pooled connection and LISTENs on channel there.
// release stops listening before it hands the connection back to the pool,
// whose next user must not hear this channel.
func (db *DB) listenConn(ctx context.Context, channel string) (conn *pgxpool.Conn, release func(), err error) {
	conn, err = db.Pool.Acquire(ctx)
	if err != nil {
		return nil, nil, err
	}
	if _, err := conn.Exec(ctx, `LISTEN `+channel); err != nil {
		conn.Release()
		return nil, nil, err
	}
	return conn, func() {
		c, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, _ = conn.Exec(c, `UNLISTEN *`)
		conn.Release()
	}, nil
}
