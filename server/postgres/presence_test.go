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

// TestOpenedBeforeHello: a socket's opening is recorded before its hello,
// so that its queue on record reads as from an earlier link until the
// hello reports again; the late end of the socket it replaces records
// nothing, its own end (welcomed or not) does.
func TestOpenedBeforeHello(t *testing.T) {
	t.Parallel()
	db, pool := openSeeded(t)
	ctx := context.Background()
	d, err := db.AddDevice(ctx, "", "Reopened", workflow.Roles)
	if err != nil {
		t.Fatal(err)
	}
	// state: was the queue reported on the latest socket, and did it end.
	state := func() (reported, ended bool) {
		if err := pool.QueryRow(ctx, `SELECT COALESCE(queue_reported_at >= connected_at, false), disconnected_at IS NOT NULL
		                                FROM sync.clients WHERE device_id = $1`, d.ID).Scan(&reported, &ended); err != nil {
			t.Fatal(err)
		}
		return reported, ended
	}
	want := func(when string, reported, ended bool) {
		t.Helper()
		if r, e := state(); r != reported || e != ended {
			t.Errorf("%s: queue reported on the latest socket %v, ended %v; want %v, %v", when, r, e, reported, ended)
		}
	}
	if _, err := db.Opened(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	want("a first socket, before its hello", false, false)
	w, err := db.Hello(ctx, d.ID, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	want("after the hello", true, false)
	opened, err := db.Opened(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	want("a second socket, before its hello", false, false)
	if err := db.Disconnected(ctx, d.ID, w.ServerTime); err != nil {
		t.Fatal(err)
	}
	want("the first socket's late end", false, false)
	if err := db.Disconnected(ctx, d.ID, opened); err != nil {
		t.Fatal(err)
	}
	want("the second socket's end before its hello", false, true)
	if _, err := db.Opened(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	want("a third socket", false, false)
	if err := db.Report(ctx, d.ID, 0, nil); err != nil {
		t.Fatal(err)
	}
	want("a report", true, false)
}
