package postgres

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"wardsync/internal/pgtest"
	"wardsync/workflow"
)

// TestTriggersNotifyOtherWritersOnly: the writes every act makes (the feed
// row of a seed row's change, the audit row, the device's seq advance)
// notify at commit when another program makes them, and never when the
// server does (it announces its own commits after them, announce.go; the
// triggers skip its sessions in their WHEN, migration 00031). A marker
// notified after the server's write proves that nothing came before it.
func TestTriggersNotifyOtherWritersOnly(t *testing.T) {
	t.Parallel()
	foreign, url := pgtest.MustOpenDB(t)
	ctx := context.Background()
	db, err := Open(ctx, url, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close(ctx) })
	if _, err := db.Seed(ctx); err != nil {
		t.Fatal(err)
	}
	dev, err := db.AddDevice(ctx, "", "Trigger notifications", workflow.Roles)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := foreign.Exec(ctx, `INSERT INTO sync.clients (device_id) VALUES ($1) ON CONFLICT DO NOTHING`, dev.ID); err != nil {
		t.Fatal(err)
	}
	listener, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = listener.Close(ctx) })
	for _, ch := range []string{ChannelChanges, ChannelAdmin} {
		if _, err := listener.Exec(ctx, "LISTEN "+ch); err != nil {
			t.Fatal(err)
		}
	}
	// next is the next notification heard, or "" after a second of silence.
	next := func() string {
		wctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		n, err := listener.WaitForNotification(wctx)
		if err != nil {
			return ""
		}
		return n.Channel + ":" + n.Payload
	}
	for next() != "" { // the set-up's own notifications
	}
	seq := int64(0)
	for _, c := range []struct {
		name  string
		write func(execer) error
		heard string
	}{
		{"feed row of a seed row's change", func(q execer) error {
			_, err := q.Exec(ctx, `UPDATE patients SET phone = $1, "updatedAt" = now() WHERE id = $2`, time.Now().String(), SeedID("patient:1"))
			return err
		}, ChannelChanges + ":"},
		{"audit row", func(q execer) error {
			seq++
			_, err := q.Exec(ctx, `INSERT INTO sync.mutations (device_id, seq, mutation_id, name, args, occurred_at, received_at, outcome)
				VALUES ($1, $2, $3, 'patient.update', '{}', now(), now(), 'applied')`, dev.ID, seq, "trigger-test-"+strings.Repeat("x", int(seq)))
			return err
		}, ChannelAdmin + ":mutations"},
		{"device's seq advance", func(q execer) error {
			_, err := q.Exec(ctx, `UPDATE sync.clients SET last_mutation_seq = last_mutation_seq + 1 WHERE device_id = $1`, dev.ID)
			return err
		}, ChannelAdmin + ":clients"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := c.write(db.Pool); err != nil {
				t.Fatal(err)
			}
			if _, err := foreign.Exec(ctx, `SELECT pg_notify($1, 'marker')`, ChannelAdmin); err != nil {
				t.Fatal(err)
			}
			if got := next(); got != ChannelAdmin+":marker" {
				t.Fatalf("after the server's write heard %q first, want only the marker", got)
			}
			if err := c.write(foreign); err != nil {
				t.Fatal(err)
			}
			if got := next(); got != c.heard {
				t.Fatalf("another program's write: heard %q, want %q", got, c.heard)
			}
			for next() != "" { // the rest of that commit's notifications
			}
		})
	}
}
