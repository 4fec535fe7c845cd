package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"wardsync/syncproto"
	"wardsync/workflow"
)

// replicaIndexes lists the replicated tables' indexes by name, with their
// definitions.
func replicaIndexes(t *testing.T, db *DB) map[string]string {
	t.Helper()
	rows, err := db.SQL().Query(`SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL
		AND tbl_name IN ('users', 'patients', 'appointments', 'prescriptions', 'results', 'documents')`)
	must(t, err)
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, def string
		must(t, rows.Scan(&name, &def))
		out[name] = def
	}
	must(t, rows.Err())
	return out
}

// tableIndexes is the part of indexes (replicaIndexes' map) on the tables
// named.
func tableIndexes(t *testing.T, indexes map[string]string, tables ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for name, def := range indexes {
		for _, tbl := range tables {
			if strings.Contains(def, ` ON "`+tbl+`"`) {
				out[name] = def
			}
		}
	}
	return out
}

func deferredCount(t *testing.T, db *DB) int {
	t.Helper()
	var n int
	must(t, db.SQL().QueryRow(`SELECT count(*) FROM deferred_indexes`).Scan(&n))
	return n
}

// loadPage is a snapshot page of n scheduled appointments numbered from
// first (ids in order, as the server pages them).
func loadPage(cursor string, more bool, first, n int) *syncproto.Changes {
	p := &syncproto.Changes{RequestID: "r", Cursor: cursor, More: more, Changes: []syncproto.Change{}}
	for i := first; i < first+n; i++ {
		id := fmt.Sprintf("bbbbbbbb-1000-4000-8000-%012d", i)
		p.Changes = append(p.Changes, syncproto.Change{Table: workflow.TableAppointments, Op: syncproto.OpUpsert, ID: id,
			Row: appointmentRow(id, patient1ID, doctorID, t0.Add(time.Duration(i)*time.Minute), workflow.AppointmentScheduled, nil)})
	}
	return p
}

func TestInitialLoadDefersIndexes(t *testing.T) {
	ctx := context.Background()
	fresh := replicaIndexes(t, openTest(t))
	if len(fresh) < 16 {
		t.Fatalf("a fresh replica has %d indexes on its replicated tables, want the migrations' 16 or more", len(fresh))
	}
	assertIndexes := func(t *testing.T, db *DB, want map[string]string, deferred int) {
		t.Helper()
		got := replicaIndexes(t, db)
		if len(got) != len(want) {
			t.Fatalf("replica has %d indexes, want %d", len(got), len(want))
		}
		for name, def := range want {
			if got[name] != def {
				t.Fatalf("index %s is %q, want %q", name, got[name], def)
			}
		}
		if n := deferredCount(t, db); n != deferred {
			t.Fatalf("%d deferred indexes listed, want %d", n, deferred)
		}
	}
	const big = bulkLoadMinChanges

	t.Run("small first page keeps the indexes", func(t *testing.T) {
		db := openTest(t)
		must(t, db.ApplyChanges(ctx, loadPage("s1", true, 0, big-1), t0))
		assertIndexes(t, db, fresh, 0)
	})

	// A snapshot of appointments has paged past users and patients (it
	// pages workflow.Tables in order): theirs are built at once.
	before := tableIndexes(t, fresh, workflow.TableUsers, workflow.TablePatients)
	t.Run("big first page defers them until the snapshot has paged past their table", func(t *testing.T) {
		db := openTest(t)
		must(t, db.ApplyChanges(ctx, loadPage("s1", true, 0, big), t0))
		assertIndexes(t, db, before, len(fresh)-len(before))
		// Later pages of the same table, even big ones, change nothing.
		must(t, db.ApplyChanges(ctx, loadPage("s2", true, big, big), t0))
		assertIndexes(t, db, before, len(fresh)-len(before))
		must(t, db.ApplyChanges(ctx, loadPage("f1", false, 2*big, 3), t0))
		assertIndexes(t, db, fresh, 0)
		if c := counts(t, db); c[workflow.TableAppointments] != 2*big+3 {
			t.Fatalf("replica holds %d appointments, want %d", c[workflow.TableAppointments], 2*big+3)
		}
		// The dashboards' queues walk their index again.
		rows, err := db.SQL().Query(`EXPLAIN QUERY PLAN SELECT "id" FROM "appointments" WHERE "status" = 'SCHEDULED' ORDER BY "date" LIMIT 50`)
		must(t, err)
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			must(t, rows.Scan(&id, &parent, &unused, &detail))
			plan = append(plan, detail)
		}
		rows.Close()
		if p := strings.Join(plan, "; "); !strings.Contains(p, "appointments_scheduled_idx") {
			t.Fatalf("query plan after the load: %s", p)
		}
	})

	t.Run("a crash mid-load leaves them listed and the resumed pull restores them", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "replica.db")
		db, err := Open(ctx, path, testKey)
		must(t, err)
		must(t, db.ApplyChanges(ctx, loadPage("s1", true, 0, big), t0))
		must(t, db.Close())
		db, err = Open(ctx, path, testKey)
		must(t, err)
		t.Cleanup(func() { db.Close() })
		assertIndexes(t, db, before, len(fresh)-len(before))
		st, err := db.State(ctx)
		must(t, err)
		if st.Cursor != "s1" {
			t.Fatalf("cursor after reopening is %q, want s1", st.Cursor)
		}
		must(t, db.ApplyChanges(ctx, loadPage("f1", false, big, 1), t0))
		assertIndexes(t, db, fresh, 0)
	})

	t.Run("an act during the load applies and survives the rebase", func(t *testing.T) {
		db := openTest(t)
		seed(t, db) // users and patients an act needs, written before any pull
		must(t, db.ApplyChanges(ctx, loadPage("s1", true, 0, big), t0))
		id := fmt.Sprintf("bbbbbbbb-1000-4000-8000-%012d", 7)
		seq := mustAct(t, db, secretary, "appointment.checkIn", obj{"id": id}, t0.Add(time.Hour))
		must(t, db.ApplyChanges(ctx, loadPage("f1", false, 0, big), t0)) // the server's rows again, act not yet reflected
		assertIndexes(t, db, fresh, 0)
		if got := column(t, db, workflow.TableAppointments, id, "status"); got != string(workflow.AppointmentCheckedIn) {
			t.Fatalf("appointment after the load is %v, want the queued check-in on top (CHECKED_IN)", got)
		}
		if seqs := outboxSeqs(t, db); len(seqs) != 1 || seqs[0] != seq {
			t.Fatalf("outbox holds %v, want the queued act %d", seqs, seq)
		}
	})

	t.Run("a resync defers them too", func(t *testing.T) {
		db := openTest(t)
		must(t, db.ApplyChanges(ctx, loadPage("f1", false, 0, 5), t0))
		p := loadPage("s1", true, 0, big)
		p.Resync = true
		must(t, db.ApplyChanges(ctx, p, t0))
		assertIndexes(t, db, before, len(fresh)-len(before))
		must(t, db.ApplyChanges(ctx, loadPage("f2", false, big, 0), t0))
		assertIndexes(t, db, fresh, 0)
	})

	t.Run("each table's indexes once the snapshot has paged past it", func(t *testing.T) {
		db := openTest(t)
		patients := func(cursor string, first, n int) *syncproto.Changes {
			p := page(cursor, 0, patientPage(first, n, "P")...)
			p.More = true
			return p
		}
		// Patients only: users (before them) are passed, patients not yet.
		must(t, db.ApplyChanges(ctx, patients("s1", 0, big), t0))
		users := tableIndexes(t, fresh, workflow.TableUsers)
		assertIndexes(t, db, users, len(fresh)-len(users))
		must(t, db.ApplyChanges(ctx, patients("s2", big, 10), t0))
		assertIndexes(t, db, users, len(fresh)-len(users))
		// A page from the last patients into the appointments: patients'
		// indexes are built in its transaction, appointments' wait.
		p := patients("s3", big+10, 5)
		p.Changes = append(p.Changes, loadPage("", true, 0, 5).Changes...)
		must(t, db.ApplyChanges(ctx, p, t0))
		assertIndexes(t, db, before, len(fresh)-len(before))
		if n := len(before) - len(users); n == 0 {
			t.Fatal("patients have no index to defer: the test shows nothing")
		}
		// More appointments change nothing; the last page builds theirs.
		must(t, db.ApplyChanges(ctx, loadPage("s4", true, 5, 10), t0))
		assertIndexes(t, db, before, len(fresh)-len(before))
		must(t, db.ApplyChanges(ctx, loadPage("f1", false, 15, 1), t0))
		assertIndexes(t, db, fresh, 0)
	})

	t.Run("a first page that fails defers nothing", func(t *testing.T) {
		db := openTest(t)
		p := loadPage("s1", true, 0, big)
		p.Changes[big-1].Row = []byte(`["not", "an", "object"]`)
		err := db.ApplyChanges(ctx, p, t0)
		if err == nil || !strings.Contains(err.Error(), "appointments "+p.Changes[big-1].ID+": row is not a JSON object") {
			t.Fatalf("err = %v, want the bad row named", err)
		}
		assertIndexes(t, db, fresh, 0)
		if c := counts(t, db); c[workflow.TableAppointments] != 0 {
			t.Fatalf("%d appointments written by a failed page", c[workflow.TableAppointments])
		}
	})
}

// patientPage is a page of upserts of n patients numbered from first, with
// the last name given.
func patientPage(first, n int, last string) []syncproto.Change {
	var out []syncproto.Change
	for k := first; k < first+n; k++ {
		out = append(out, upsert(workflow.TablePatients, patientRow(fmt.Sprintf("cccccccc-0000-4000-8000-%s", leftPad(k)), "P", last,
			time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC))))
	}
	return out
}

// TestPageRowsWrittenInBatchesKeepPageOrder: with nothing queued, a page's
// upserts go in statements of bulkRows rows; a later change of the same
// row, in the same batch or the next, still wins, and a delete after an
// upsert of its row still deletes it.
func TestPageRowsWrittenInBatchesKeepPageOrder(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	id := func(k int) string { return fmt.Sprintf("cccccccc-0000-4000-8000-%s", leftPad(k)) }
	changes := patientPage(0, 70, "Un")
	changes = append(changes, patientPage(3, 1, "Deux")...)  // its first batch written before
	changes = append(changes, patientPage(40, 1, "Deux")...) // its first write in the same batch
	changes = append(changes, del(workflow.TablePatients, id(50)))
	changes = append(changes, patientPage(70, 40, "Un")...)
	changes = append(changes, patientPage(75, 1, "Trois")...) // within the same batch
	must(t, db.ApplyChanges(ctx, page("c1", 0, changes...), t0))
	if n := counts(t, db)[workflow.TablePatients]; n != 109 {
		t.Errorf("%d patients, want 109 (110 less the one deleted)", n)
	}
	for k, want := range map[int]any{0: "Un", 3: "Deux", 40: "Deux", 50: "<no row>", 75: "Trois", 109: "Un"} {
		if v := column(t, db, workflow.TablePatients, id(k), "lastName"); v != want {
			t.Errorf("patient %d: %v, want %v", k, v, want)
		}
	}
}

// TestBatchedRowFailureNamesTheRow: a row the replica refuses inside a
// full batch fails the page with the row's own error, as written alone.
func TestBatchedRowFailureNamesTheRow(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	bad := "cccccccc-0000-4000-8000-000000000010"
	if _, err := db.SQL().Exec(`CREATE TRIGGER refuse BEFORE INSERT ON patients WHEN NEW.id = '` + bad + `' BEGIN SELECT RAISE(ABORT, 'refused here'); END`); err != nil {
		t.Fatal(err)
	}
	err := db.ApplyChanges(ctx, page("c1", 0, patientPage(0, 40, "Un")...), t0)
	want := "sqlite: write patients " + bad + ": "
	if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "refused here") {
		t.Fatalf("error %v, want %q… refused here", err, want)
	}
	if n := counts(t, db)[workflow.TablePatients]; n != 0 {
		t.Errorf("%d patients kept from a failed page", n)
	}
}
