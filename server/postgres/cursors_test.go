package postgres

import (
	"context"
	"sync"
	"testing"
)

// Pulls note their position off the pull's path; the admin figures must
// still see the latest one (SyncHealth writes what is pending first), and
// Close must not lose it.
func TestPulledCursorsReachSyncClients(t *testing.T) {
	ctx := context.Background()
	db, pool := openSeeded(t)
	if _, err := db.Hello(ctx, DemoDeviceID, 0, nil); err != nil {
		t.Fatal(err)
	}
	dev, err := db.Device(ctx, DemoDeviceID)
	if err != nil {
		t.Fatal(err)
	}
	// Pull to the head: snapshot pages, then the feed.
	cursor := ""
	for {
		page, err := db.Pull(ctx, DemoDeviceID, dev.Roles, cursor, 0)
		if err != nil {
			t.Fatal(err)
		}
		cursor = page.Cursor
		if !page.More {
			break
		}
	}
	t.Run("SyncHealth sees the last position pulled", func(t *testing.T) {
		_, devs, err := db.SyncHealth(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range devs {
			// (Its lag depends on the cluster-wide xid horizon, which other
			// databases' transactions hold back: not checked here.)
			if d.ID == DemoDeviceID && !d.FeedCursor {
				t.Fatalf("demo device: no feed cursor after pulling to the head")
			}
		}
		if got := scalar[string](t, pool, `SELECT cursor FROM sync.clients WHERE device_id = $1`, DemoDeviceID); got != cursor {
			t.Fatalf("sync.clients.cursor = %q, want %q", got, cursor)
		}
	})
	t.Run("concurrent pulls leave the latest position", func(t *testing.T) {
		// At the head a pull's cursor is the cluster-wide horizon, which
		// other databases' transactions move meanwhile: the pulls may end
		// at different positions, and the one kept must be one of them.
		var wg sync.WaitGroup
		var mu sync.Mutex
		returned := map[string]bool{}
		if _, err := pool.Exec(ctx, `UPDATE sync.clients SET cursor = 'stale' WHERE device_id = $1`, DemoDeviceID); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				page, err := db.Pull(ctx, DemoDeviceID, dev.Roles, cursor, 0)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				returned[page.Cursor] = true
				mu.Unlock()
			}()
		}
		wg.Wait()
		db.writeCursors(ctx, false)
		if got := scalar[string](t, pool, `SELECT cursor FROM sync.clients WHERE device_id = $1`, DemoDeviceID); !returned[got] {
			t.Fatalf("sync.clients.cursor = %q, want one of the pulls' cursors %v", got, returned)
		}
	})
	t.Run("Close writes what is pending", func(t *testing.T) {
		if _, err := pool.Exec(ctx, `UPDATE sync.clients SET cursor = '' WHERE device_id = $1`, DemoDeviceID); err != nil {
			t.Fatal(err)
		}
		page, err := db.Pull(ctx, DemoDeviceID, dev.Roles, cursor, 0)
		if err != nil {
			t.Fatal(err)
		}
		cursor = page.Cursor
		if err := db.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if got := scalar[string](t, pool, `SELECT cursor FROM sync.clients WHERE device_id = $1`, DemoDeviceID); got != cursor {
			t.Fatalf("after Close, sync.clients.cursor = %q, want %q", got, cursor)
		}
	})
}
