package sqlite

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// The status line recounts the queues after every act, and a ward offline
// for a day queues thousands of acts: counting must not read every queued
// act. Before outbox_conflict_idx, the count of flagged acts scanned the
// whole outbox, decoding each act's arguments, and an act with 10,000 acts
// queued took ten times as long as one with an empty queue.
func TestCountsDoNotScanTheOutbox(t *testing.T) {
	db := openTest(t)
	rows, err := db.SQL().Query(`EXPLAIN QUERY PLAN ` + countsQuery)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
		// "SCAN outbox" alone reads every row of the table; a covering
		// index scan or a rowid range search does not decode the args.
		if detail == "SCAN outbox" {
			t.Errorf("the counts read every queued act: %q", detail)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(plan, "\n"), "outbox_conflict_idx") {
		t.Errorf("flagged acts not counted through outbox_conflict_idx; plan:\n%s", strings.Join(plan, "\n"))
	}

	// And the counts stay right: two flagged among three queued.
	ctx := context.Background()
	for i := 1; i <= 3; i++ {
		mustAct(t, db, secretary, "patient.register", obj{"id": fmt.Sprintf("aaaaaaaa-0000-4000-8000-00000000010%d", i),
			"firstName": "A", "lastName": "B", "birthDate": "1990-01-01T00:00:00Z"}, t0.Add(time.Duration(i)*time.Minute))
	}
	if _, err := db.SQL().Exec(`UPDATE outbox SET conflictCode = 'NOT_FOUND', conflictMessage = 'gone' WHERE seq IN (1, 3)`); err != nil {
		t.Fatal(err)
	}
	c, err := db.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Pending != 3 || c.Unreflected != 3 || c.LikelyRejected != 2 || c.OldestPendingAt == nil || !c.OldestPendingAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("counts %+v", c)
	}
}
