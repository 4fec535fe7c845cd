package sqlite

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"wardsync/syncproto"
)

// The status line recounts the queues after every act, and a ward offline
// for a day queues thousands of acts: counting must not read every queued
// act. It used to (the pending count, the oldest pending act and the
// flagged acts each walked the outbox's rows), and an act with 10,000 acts
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
		// "SCAN outbox" alone, or a search for every seq above the
		// acknowledged ones, reads the queued acts' rows; a covering index
		// scan does not.
		if detail == "SCAN outbox" || strings.Contains(detail, "INTEGER PRIMARY KEY (rowid>?)") {
			t.Errorf("the counts read every queued act: %q", detail)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, idx := range []string{"outbox_conflict_idx", "outbox_occurredAt_idx"} {
		if !strings.Contains(strings.Join(plan, "\n"), idx) {
			t.Errorf("%s unused; plan:\n%s", idx, strings.Join(plan, "\n"))
		}
	}

	// And the counts stay right: three queued, the first acknowledged
	// (applied, awaiting a pull), two flagged.
	ctx := context.Background()
	for i := 1; i <= 3; i++ {
		mustAct(t, db, secretary, "patient.register", obj{"id": fmt.Sprintf("aaaaaaaa-0000-4000-8000-00000000010%d", i),
			"firstName": "A", "lastName": "B", "birthDate": "1990-01-01T00:00:00Z"}, t0.Add(time.Duration(i)*time.Minute))
	}
	if _, err := db.SQL().Exec(`UPDATE outbox SET conflictCode = 'NOT_FOUND', conflictMessage = 'gone' WHERE seq IN (2, 3)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RecordResults(ctx, []syncproto.MutationResult{{Seq: 1, Status: syncproto.StatusApplied}}, t0); err != nil {
		t.Fatal(err)
	}
	c, err := db.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Pending != 2 || c.Unreflected != 3 || c.LikelyRejected != 2 || c.OldestPendingAt == nil || !c.OldestPendingAt.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("counts %+v", c)
	}
}
