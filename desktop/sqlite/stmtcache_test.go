package sqlite

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestStatementCache: statements run through a Tx are prepared once and
// reused; the cache stops growing at maxStmts (statements past it still
// run); a statement that does not prepare reports its own error and is
// not kept; Close empties the cache and later statements fail cleanly.
func TestStatementCache(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	seed(t, db)
	cached := func() int {
		db.stmtMu.Lock()
		defer db.stmtMu.Unlock()
		return len(db.stmts)
	}

	t.Run("an act's statements are reused", func(t *testing.T) {
		mustAct(t, db, secretary, "appointment.checkIn", obj{"id": appt1ID}, t0)
		n := cached()
		if n == 0 {
			t.Fatal("no statement cached after an act")
		}
		mustAct(t, db, secretary, "appointment.checkIn", obj{"id": appt2ID}, t0)
		if got := cached(); got != n {
			t.Fatalf("a second act of the same kind grew the cache from %d to %d statements", n, got)
		}
		if v := column(t, db, "appointments", appt2ID, "status"); v != "CHECKED_IN" {
			t.Fatalf("status through cached statements = %v, want CHECKED_IN", v)
		}
	})

	t.Run("bounded", func(t *testing.T) {
		err := db.read(ctx, func(tx *Tx) error {
			for i := 0; i < maxStmts+20; i++ {
				var got int
				if err := tx.queryRow(fmt.Sprintf(`SELECT %d`, i)).Scan(&got); err != nil {
					return err
				}
				if got != i {
					return fmt.Errorf("SELECT %d answered %d", i, got)
				}
			}
			return nil
		})
		must(t, err)
		if got := cached(); got != maxStmts {
			t.Fatalf("cache holds %d statements, want the bound %d", got, maxStmts)
		}
	})

	t.Run("a bad statement keeps its error", func(t *testing.T) {
		before := cached()
		err := db.write(ctx, func(tx *Tx) error {
			_, err := tx.exec(`UPDATE no_such_table SET x = 1`)
			return err
		})
		if err == nil || !strings.Contains(err.Error(), "no such table: no_such_table") {
			t.Fatalf("error = %v, want SQLite's no such table: no_such_table", err)
		}
		if got := cached(); got != before {
			t.Fatalf("a failed statement changed the cache from %d to %d", before, got)
		}
	})

	t.Run("closed", func(t *testing.T) {
		must(t, db.Close())
		if got := cached(); got != 0 {
			t.Fatalf("%d statements left after Close", got)
		}
		if _, err := db.State(ctx); err == nil || !strings.Contains(err.Error(), "closed") {
			t.Fatalf("State after Close: %v, want a closed-database error", err)
		}
	})
}
