package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"wardsync/workflow"
)

// rowJSON reads one replicated row in wire form (a JSON object with every
// column of the table, NULL as null), or nil when there is no such row.
func (t *Tx) rowJSON(tbl *table, id string) (json.RawMessage, error) {
	rows, err := t.query(`SELECT `+tbl.colList+` FROM `+quote(tbl.name)+` WHERE "id" = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read %s %s: %w", tbl.name, id, err)
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, rows.Err()
	}
	out, err := scanWire(tbl, rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read %s %s: %w", tbl.name, id, err)
	}
	return out, rows.Close()
}

// scanWire renders the current row of rows (selected with tbl.colList) as
// a wire JSON object.
func scanWire(tbl *table, rows rowScanner) (json.RawMessage, error) {
	vals := make([]any, len(tbl.columns))
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 256)
	b = append(b, '{')
	for i, c := range tbl.columns {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, c...)
		b = append(b, '"', ':')
		var err error
		if b, err = appendWire(b, tbl.kinds[c], vals[i]); err != nil {
			return nil, fmt.Errorf("column %s: %w", c, err)
		}
	}
	return append(b, '}'), nil
}

// putWire replaces (or creates) a replicated row with a row in wire form.
// Columns the object lacks are stored as NULL: a server row is the whole row
// as far as this device may see it, never a patch. Unknown members are
// ignored, so a newer server may add columns.
func (t *Tx) putWire(tbl *table, id string, row json.RawMessage) error {
	args, err := decodeWireRow(tbl, id, row)
	if err != nil {
		return err
	}
	if _, err := t.execStmt(tbl.upsert, args...); err != nil {
		return fmt.Errorf("sqlite: write %s %s: %w", tbl.name, id, err)
	}
	return nil
}

func (t *Tx) deleteRow(tbl *table, id string) error {
	if _, err := t.execStmt(`DELETE FROM `+quote(tbl.name)+` WHERE "id" = ?`, id); err != nil {
		return fmt.Errorf("sqlite: delete %s %s: %w", tbl.name, id, err)
	}
	return nil
}

// recordBase remembers the server's version of a row before a queued act
// changes it for the first time. Every row an effect touches passes here
// first, so a rebase can always find the server's version again.
func (t *Tx) recordBase(tbl *table, id string) error {
	var exists int
	err := t.queryRow(`SELECT 1 FROM rebase_base WHERE tbl = ? AND id = ?`, tbl.name, id).Scan(&exists)
	if err == nil {
		return nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlite: read rebase base: %w", err)
	}
	row, err := t.rowJSON(tbl, id)
	if err != nil {
		return err
	}
	var stored any
	if row != nil {
		stored = string(row)
	}
	if _, err := t.exec(`INSERT INTO rebase_base (tbl, id, row) VALUES (?, ?, ?)`, tbl.name, id, stored); err != nil {
		return fmt.Errorf("sqlite: write rebase base: %w", err)
	}
	return nil
}

// applyEffect writes an accepted act's effect on top of the replica.
func (t *Tx) applyEffect(eff workflow.Effect) error {
	for _, op := range eff.Ops {
		tbl, err := lookupTable(op.Table)
		if err != nil {
			return err
		}
		if err := t.recordBase(tbl, op.ID); err != nil {
			return err
		}
		if op.Kind == workflow.OpDelete {
			if err := t.deleteRow(tbl, op.ID); err != nil {
				return err
			}
			continue
		}
		cols := make([]string, 0, len(op.Values))
		for c := range op.Values {
			if _, ok := tbl.kinds[c]; !ok {
				return fmt.Errorf("sqlite: effect on %s names unknown column %q", op.Table, c)
			}
			if c != "id" {
				cols = append(cols, c)
			}
		}
		// Sorted so that the statement text, and SQLite's statement cache,
		// is the same for the same act.
		sort.Strings(cols)
		args := make([]any, 0, len(cols)+1)
		for _, c := range cols {
			v, err := effectValue(op.Values[c])
			if err != nil {
				return fmt.Errorf("%w (column %s.%s)", err, op.Table, c)
			}
			args = append(args, v)
		}
		switch op.Kind {
		case workflow.OpInsert:
			q := `INSERT INTO ` + quote(tbl.name) + ` ("id"`
			for _, c := range cols {
				q += ", " + quote(c)
			}
			q += `) VALUES (?` + strings.Repeat(", ?", len(cols)) + `)`
			if _, err := t.exec(q, append([]any{op.ID}, args...)...); err != nil {
				return fmt.Errorf("sqlite: insert %s %s: %w", op.Table, op.ID, err)
			}
		case workflow.OpUpdate:
			set := make([]string, len(cols))
			for i, c := range cols {
				set[i] = quote(c) + " = ?"
			}
			q := `UPDATE ` + quote(tbl.name) + ` SET ` + strings.Join(set, ", ") + ` WHERE "id" = ?`
			res, err := t.exec(q, append(args, op.ID)...)
			if err != nil {
				return fmt.Errorf("sqlite: update %s %s: %w", op.Table, op.ID, err)
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return fmt.Errorf("sqlite: update of missing %s %s", op.Table, op.ID)
			}
		default:
			return fmt.Errorf("sqlite: unknown op kind %q", op.Kind)
		}
	}
	return nil
}

// reader is workflow.Reader over a write transaction, noting every row
// the mutator asks for (seen: what the act read, for the selective
// rebase). SQLite's write lock, taken when the transaction began, is what
// keeps the rows it returns current until the effect is written.
type reader struct {
	t    *Tx
	seen touchSet
}

func newReader(t *Tx) *reader { return &reader{t: t, seen: touchSet{}} }

// readRow reads the row id of table name, noting it.
func readRow[T any](r *reader, name, id string) (*T, error) {
	r.seen.add(name, id)
	return decodeRow[T](r.t, name, id)
}

func decodeRow[T any](t *Tx, name, id string) (*T, error) {
	tbl, err := lookupTable(name)
	if err != nil {
		return nil, err
	}
	raw, err := t.rowJSON(tbl, id)
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, fmt.Errorf("%s %s: %w", name, id, workflow.ErrNotFound)
	}
	var row T
	if err := json.Unmarshal(raw, &row); err != nil {
		return nil, fmt.Errorf("sqlite: decode %s %s: %w", name, id, err)
	}
	return &row, nil
}

func (r *reader) User(_ context.Context, id string) (*workflow.User, error) {
	return readRow[workflow.User](r, workflow.TableUsers, id)
}

func (r *reader) Patient(_ context.Context, id string) (*workflow.Patient, error) {
	return readRow[workflow.Patient](r, workflow.TablePatients, id)
}

func (r *reader) Appointment(_ context.Context, id string) (*workflow.Appointment, error) {
	return readRow[workflow.Appointment](r, workflow.TableAppointments, id)
}

func (r *reader) Prescription(_ context.Context, id string) (*workflow.Prescription, error) {
	return readRow[workflow.Prescription](r, workflow.TablePrescriptions, id)
}

func (r *reader) Result(_ context.Context, id string) (*workflow.Result, error) {
	return readRow[workflow.Result](r, workflow.TableResults, id)
}

func (r *reader) ResultByPrescription(_ context.Context, prescriptionID string) (*workflow.Result, error) {
	// Which result it finds depends on every result's prescriptionId.
	r.seen.add(workflow.TableResults, wildcard)
	var id string
	err := r.t.queryRow(`SELECT "id" FROM "results" WHERE "prescriptionId" = ? ORDER BY "createdAt", "id" LIMIT 1`, prescriptionID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("result of prescription %s: %w", prescriptionID, workflow.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: read result of prescription %s: %w", prescriptionID, err)
	}
	return decodeRow[workflow.Result](r.t, workflow.TableResults, id)
}

func (r *reader) Document(_ context.Context, id string) (*workflow.Document, error) {
	return readRow[workflow.Document](r, workflow.TableDocuments, id)
}

// PatientRecords lists the replica's rows referring to a patient. SQLite's
// write lock, held by the transaction, already keeps others from adding one.
func (r *reader) PatientRecords(_ context.Context, patientID string) (*workflow.PatientRecords, error) {
	for _, t := range []string{workflow.TableAppointments, workflow.TablePrescriptions, workflow.TableDocuments} {
		r.seen.add(t, wildcard)
	}
	if _, err := readRow[workflow.Patient](r, workflow.TablePatients, patientID); err != nil {
		return nil, err
	}
	out := &workflow.PatientRecords{}
	for _, x := range []struct {
		table string
		ids   *[]string
	}{{workflow.TableAppointments, &out.Appointments}, {workflow.TablePrescriptions, &out.Prescriptions}, {workflow.TableDocuments, &out.Documents}} {
		rows, err := r.t.query(`SELECT "id" FROM `+quote(x.table)+` WHERE "patientId" = ? ORDER BY "id"`, patientID)
		if *x.ids, err = scanAll(rows, err, "records of patient "+patientID, oneColumn[string]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (db *DB) Row(ctx context.Context, table, id string) (json.RawMessage, error) {
	tbl, err := lookupTable(table)
	if err != nil {
		return nil, err
	}
	var out json.RawMessage
	err = db.read(ctx, func(t *Tx) error {
		out, err = t.rowJSON(tbl, id)
		return err
	})
	return out, err
}

// PutRows stores server rows directly, outside any page: seeding a test
// replica or importing a snapshot. Rows are in wire form, keyed by id.
func (db *DB) PutRows(ctx context.Context, table string, rows ...json.RawMessage) error {
	tbl, err := lookupTable(table)
	if err != nil {
		return err
	}
	return db.write(ctx, func(t *Tx) error {
		for _, r := range rows {
			var head struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(r, &head); err != nil || head.ID == "" {
				return fmt.Errorf("sqlite: row without id: %s", clip(r))
			}
			if err := t.putWire(tbl, head.ID, r); err != nil {
				return err
			}
		}
		return nil
	})
}

// attachOutboxProvenance gives each timeline entry the queued acts on its
