package postgres

import (
	"context"
	"testing"
	"time"
)

// TestWaitNoticeSaysTheConnectionFailed: a listening connection that dies
// (PostgreSQL restarting, its backend terminated) is an error from
// waitNotice at once, not a quiet wait that ended: read as a quiet wait,
// the deferred sweeper and the feed's listener called it again at once,
// in a loop that logged some 12,000 lines a second per server while
// PostgreSQL restarted in the soak.
func TestWaitNoticeSaysTheConnectionFailed(t *testing.T) {
	t.Parallel()
	db, pool := openSeeded(t)
	ctx := context.Background()
	conn, release, err := db.listenConn(ctx, ChannelDeferred)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	wake, unsubscribe := db.ann.wakeOn(ChannelDeferred)
	defer unsubscribe()

	// A quiet wait ends without an error, timed out.
	heard, timedOut, err := db.ann.waitNotice(ctx, conn.Conn(), wake, 50*time.Millisecond)
	if err != nil || heard || !timedOut {
		t.Fatalf("quiet wait: heard %v, timed out %v, err %v", heard, timedOut, err)
	}
	// A wake from this instance ends it without an error, heard.
	db.announce(deferredNotice)
	heard, timedOut, err = db.ann.waitNotice(ctx, conn.Conn(), wake, 10*time.Second)
	if err != nil || !heard || timedOut {
		t.Fatalf("woken wait: heard %v, timed out %v, err %v", heard, timedOut, err)
	}
	// Its echo from PostgreSQL (this instance's own NOTIFY) is read and
	// not heard again; then the line is quiet.
	for quiet := false; !quiet; {
		heard, quiet, err = db.ann.waitNotice(ctx, conn.Conn(), wake, 500*time.Millisecond)
		if err != nil || heard {
			t.Fatalf("after the wake: heard %v, err %v", heard, err)
		}
	}

	pid := conn.Conn().PgConn().PID()
	if _, err := pool.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	heard, timedOut, err = db.ann.waitNotice(ctx, conn.Conn(), wake, 10*time.Second)
	if err == nil {
		t.Fatalf("the terminated connection read as a wait that ended (heard %v, timed out %v)", heard, timedOut)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Fatalf("the connection's failure took %s to show", waited)
	}
	// Again on the dead connection: still an error, never a quiet wait.
	if _, _, err := db.ann.waitNotice(ctx, conn.Conn(), wake, 10*time.Second); err == nil {
		t.Fatal("a dead connection read as a quiet wait")
	}
}
