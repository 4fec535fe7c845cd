package postgres

import (
	"context"
	"testing"
	"time"

	"wardsync/workflow"
)

// TestTouchLastSeenSkipsPushingDevice: marking the connected devices seen
// does not wait for a device whose row a push holds (that push marks it
// itself); the others are marked at once, and the skipped one at the next
// touch.
func TestTouchLastSeenSkipsPushingDevice(t *testing.T) {
	t.Parallel()
	db, pool := openSeeded(t)
	ctx := context.Background()
	var ids []string
	for _, name := range []string{"Pushing", "Idle"} {
		d, err := db.AddDevice(ctx, "", name, workflow.Roles)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `INSERT INTO sync.clients (device_id) VALUES ($1) ON CONFLICT DO NOTHING`, d.ID); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.ID)
	}
	push, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = push.Rollback(ctx) }()
	// As a push locks its device's row (push.go).
	if _, err := push.Exec(ctx, `SELECT 1 FROM sync.clients WHERE device_id = $1 FOR UPDATE`, ids[0]); err != nil {
		t.Fatal(err)
	}
	tctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := db.TouchLastSeen(tctx, ids); err != nil {
		t.Fatalf("touch while a push holds a device: %v", err)
	}
	seen := func(id string) bool {
		return scalar[bool](t, pool, `SELECT last_seen IS NOT NULL FROM sync.clients WHERE device_id = $1`, id)
	}
	if seen(ids[0]) || !seen(ids[1]) {
		t.Fatalf("pushing device seen %v (want false: skipped), idle device seen %v (want true)", seen(ids[0]), seen(ids[1]))
	}
	if err := push.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.TouchLastSeen(ctx, ids); err != nil {
		t.Fatal(err)
	}
	if !seen(ids[0]) {
		t.Fatal("the device skipped while pushing was not marked seen at the next touch")
	}
}
