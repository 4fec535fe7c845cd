package sqlite

import (
	"fmt"
	"slices"
	"strings"

	"wardsync/syncproto"
	"wardsync/workflow"
)

// The initial load. A fresh replica receives the whole database in pages
// of the snapshot, each table in primary-key order: the rows' own B-trees
// then only append, but each secondary index takes its rows under a
// random key (a patient id, a name, a time), and each
// page's commit rewrote thousands of scattered index pages into the WAL
// and, at checkpoints, into the file (≈ 8 KB written per row at 100,000
// appointments, and worse as the trees grow). So the first page of a fresh
// or resynced replica drops the replicated tables' secondary indexes,
// recording their definitions (and tables) in deferred_indexes in the same
// transaction. The snapshot pages the tables one after the other, in
// workflow.Tables' order, so the page that reaches a table builds the
// indexes of the tables before it again, each one sorted once, in that
// page's transaction: those tables are complete, and their pages were
// written last (some still in SQLite's cache). The page that ends the pull
// (more = false) builds whatever is left. Meanwhile every query still
// answers correctly, only by scanning: no replica index is UNIQUE, so no
// constraint is lost. A crash mid-snapshot leaves the definitions listed,
// and the resumed pull builds them as it goes on. Should pages come in
// another order, an index built early only makes that table's later rows
// slower to write.

// bulkLoadMinChanges is the first page's size from which the indexes are
// deferred: a small database (a test's, a new ward's) is not worth it.
const bulkLoadMinChanges = 200

// startsBulkLoad says whether page, applied on a replica at cursor, starts
// an initial load: the first page of a snapshot (an empty cursor, or the
// server's resync), with more to come, and big.
func startsBulkLoad(cursor string, page *syncproto.Changes) bool {
	return (cursor == "" || page.Resync) && page.More && len(page.Changes) >= bulkLoadMinChanges
}

// deferIndexes drops the replicated tables' secondary indexes, recording
// each definition and table first.
func (t *Tx) deferIndexes() error {
	in, args := tableList(workflow.Tables)
	// sql IS NULL: an index SQLite made for a constraint, not ours to drop.
	ours := `type = 'index' AND sql IS NOT NULL AND tbl_name IN ` + in
	if _, err := t.exec(`INSERT OR REPLACE INTO deferred_indexes (name, sql, tbl)
		 SELECT name, sql, tbl_name FROM sqlite_schema WHERE `+ours, args...); err != nil {
		return fmt.Errorf("sqlite: defer indexes: %w", err)
	}
	rows, err := t.query(`SELECT name FROM sqlite_schema WHERE `+ours+` ORDER BY name`, args...)
	names, err := scanAll(rows, err, "defer indexes", func(r rowScanner) (name string, err error) {
		return name, r.Scan(&name)
	})
	if err != nil {
		return err
	}
	for _, name := range names {
		if _, err := t.exec(`DROP INDEX ` + quote(name)); err != nil {
			return fmt.Errorf("sqlite: defer index %s: %w", name, err)
		}
	}
	return nil
}

// tableList is the SQL list "(?, ?, …)" of tables, and its arguments.
func tableList(tables []string) (string, []any) {
	marks := make([]string, len(tables))
	args := make([]any, len(tables))
	for i, name := range tables {
		marks[i], args[i] = "?", name
	}
	return "(" + strings.Join(marks, ", ") + ")", args
}

// restoreIndexes builds every deferred index again; nothing to do (one
// lookup in an empty table) when none is deferred.
func (t *Tx) restoreIndexes() error {
	return t.restoreIndexesWhere(`TRUE`)
}

// restorePassedIndexes builds the deferred indexes of the tables a
// snapshot has paged past once page is applied: those before the table of
// its last change, in workflow.Tables' order.
func (t *Tx) restorePassedIndexes(page *syncproto.Changes) error {
	if len(page.Changes) == 0 {
		return nil
	}
	passed := slices.Index(workflow.Tables, page.Changes[len(page.Changes)-1].Table)
	if passed <= 0 {
		return nil // the first table, or one unknown (refused by then)
	}
	in, args := tableList(workflow.Tables[:passed])
	return t.restoreIndexesWhere(`tbl IN `+in, args...)
}

// restoreIndexesWhere builds the deferred indexes whose row matches cond
// and takes them off the list.
func (t *Tx) restoreIndexesWhere(cond string, args ...any) error {
	// One a migration has created again meanwhile is left as it is.
	rows, err := t.query(`SELECT name, sql FROM deferred_indexes
		 WHERE `+cond+` AND name NOT IN (SELECT name FROM sqlite_schema WHERE type = 'index') ORDER BY name`, args...)
	type index struct{ name, sql string }
	defs, err := scanAll(rows, err, "restore indexes", func(r rowScanner) (index, error) {
		var x index
		err := r.Scan(&x.name, &x.sql)
		return x, err
	})
	if err != nil {
		return err
	}
	for _, def := range defs {
		if _, err := t.exec(def.sql); err != nil {
			return fmt.Errorf("sqlite: restore index (%s): %w", def.sql, err)
		}
	}
	if _, err := t.exec(`DELETE FROM deferred_indexes WHERE `+cond, args...); err != nil {
		return fmt.Errorf("sqlite: restore indexes: %w", err)
	}
	return nil
}

// bulkRows is how many rows one statement writes while no queued act has
// touched a row (rebase_base empty: an initial load, a replica with
// nothing queued): each statement's run through database/sql and the
// driver (locks, argument conversion, a VDBE program start and reset) was
// paid per row, on top of the row's own insertion. 32 rows of the widest
// table (20 columns) bind 640 values, far below SQLite's limit.
const bulkRows = 32

// rowBatch holds the decoded upserts of one table not yet written.
type rowBatch struct {
	tbl  *table
	args []any // len(tbl.columns) values a row, in ids' order
	ids  []string
}

// addUpsert decodes the i-th change of page, an upsert of a row of tbl,
// into b (writing b first when it holds another table's rows) and writes b
// once it holds bulkRows rows.
func (t *Tx) addUpsert(b *rowBatch, tbl *table, page *syncproto.Changes, i int) error {
	if b.tbl != tbl {
		if err := t.flushRows(b); err != nil {
			return err
		}
		b.tbl = tbl
	}
	c := &page.Changes[i]
	var args []any
	var err error
	if members, ok := page.RowMembers(i); ok {
		args, err = appendIndexedRow(b.args, tbl, c.ID, c.Row, page.RowText(i), members)
	} else {
		args, err = appendWireRow(b.args, tbl, c.ID, c.Row)
	}
	if err != nil {
		return err
	}
	b.args, b.ids = args, append(b.ids, c.ID)
	if len(b.ids) == bulkRows {
		return t.flushRows(b)
	}
	return nil
}

// flushRows writes b's rows and empties it: a full batch in one statement,
// a partial one (a page's last rows) row by row. Should the batch's
// statement fail, its rows are written one by one, so that the error
// names the row, as putWire's does.
func (t *Tx) flushRows(b *rowBatch) error {
	tbl, n := b.tbl, len(b.ids)
	if n == 0 {
		return nil
	}
	defer func() { b.args, b.ids = b.args[:0], b.ids[:0] }()
	if n == bulkRows {
		if _, err := t.execStmt(tbl.upsertMany, b.args...); err == nil {
			return nil
		}
	}
	w := len(tbl.columns)
	for i, id := range b.ids {
		if _, err := t.execStmt(tbl.upsert, b.args[i*w:(i+1)*w]...); err != nil {
			return fmt.Errorf("sqlite: write %s %s: %w", tbl.name, id, err)
		}
	}
	return nil
}
