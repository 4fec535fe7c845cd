package http_test

import (
	"fmt"
	"strings"
	"testing"

	"wardsync/internal/wardtest"
	"wardsync/workflow"
)

// A cursor ahead of the feed's head, or issued by another copy of the
// database, is answered resync with the sentence that says why: the page
// is the first of a fresh snapshot, never an empty page that leaves the
// cursor where it was (which skipped every change up to that position).
func TestCursorsCheckedAgainstTheFeed(t *testing.T) {
	t.Parallel()
	env := wardtest.StartServer(t, wardtest.Options{})
	sec := env.Login(t, workflow.RoleSecretary, demo)
	c := env.Connect(t, sec, demo)
	rep := wardtest.NewReplica()
	c.PullAll(t, rep, 0)
	var xid, id int64
	var tag string
	if _, err := fmt.Sscanf(strings.ReplaceAll(rep.Cursor, ".", " "), "f %d %d %s", &xid, &id, &tag); err != nil || len(tag) != 8 {
		t.Fatalf("cursor %q: want f.<xid>.<id>.<tag> (%v)", rep.Cursor, err)
	}
	const again = ". The replica starts over from a fresh snapshot; queued acts are kept and sent again."
	for _, tc := range []struct {
		what, cursor, prefix, suffix string
	}{
		{"ahead of the head, as issued before tags", fmt.Sprintf("f.%d.0", xid+10_000_000),
			fmt.Sprintf("Cursor f.%d.0 is ahead of this server's change feed (its head is f.", xid+10_000_000),
			fmt.Sprintf(".0.%s): the server's database was restored to an earlier point%s", tag, again)},
		{"ahead of the head", fmt.Sprintf("f.%d.0.%s", xid+10_000_000, tag),
			fmt.Sprintf("Cursor f.%d.0.%s is ahead of this server's change feed (its head is f.", xid+10_000_000, tag),
			fmt.Sprintf(".0.%s): the server's database was restored to an earlier point%s", tag, again)},
		{"another database", fmt.Sprintf("f.%d.%d.deadbeef", xid, id),
			fmt.Sprintf("Cursor f.%d.%d.deadbeef was issued by another copy of the database (feed deadbeef; this one is %s): the server's database was restored from a backup or replaced%s", xid, id, tag, again), ""},
		{"a snapshot of another database", fmt.Sprintf("s.%d.2.10.4.deadbeef.x", xid),
			fmt.Sprintf("Cursor s.%d.2.10.4.deadbeef.x was issued by another copy of the database (feed deadbeef; this one is %s): the server's database was restored from a backup or replaced%s", xid, tag, again), ""},
	} {
		t.Run(tc.what, func(t *testing.T) {
			ch := c.Pull(t, tc.cursor, 0)
			if !ch.Resync || !strings.HasPrefix(ch.ResyncReason, tc.prefix) || !strings.HasSuffix(ch.ResyncReason, tc.suffix) {
				t.Fatalf("resync %v, reason %q\nwant %q … %q", ch.Resync, ch.ResyncReason, tc.prefix, tc.suffix)
			}
			if ch.Total == 0 || int64(len(ch.Changes)) != ch.Total {
				t.Fatalf("not the first page of a snapshot: cursor %q, total %d, %d changes", ch.Cursor, ch.Total, len(ch.Changes))
			}
		})
	}
	// The device's own cursor is followed as before.
	if ch := c.Pull(t, rep.Cursor, 0); ch.Resync || ch.ResyncReason != "" {
		t.Fatalf("the device's own cursor was refused: %q", ch.ResyncReason)
	}
}
