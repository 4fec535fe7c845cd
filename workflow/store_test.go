package workflow

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// memStore is an in-memory database for tests: rows are column maps, read
// back into the typed rows through JSON exactly as an adapter would scan
// them, and Effects are applied with the checks a database would make
// (insert of a taken id, update of a missing row, unknown column).
type memStore struct {
	tables map[string]map[string]map[string]any
}

func newStore() *memStore {
	s := &memStore{tables: map[string]map[string]map[string]any{}}
	for _, t := range Tables {
		s.tables[t] = map[string]map[string]any{}
	}
	return s
}

// put stores a typed row (User, Patient, …) as its column map.
func (s *memStore) put(table string, row any) {
	b, err := json.Marshal(row)
	if err != nil {
		panic(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		panic(err)
	}
	if u, ok := row.(*User); ok {
		m["password"] = u.Password
	}
	s.tables[table][m["id"].(string)] = m
}

func (s *memStore) get(table, id string, dst any) error {
	row, ok := s.tables[table][id]
	if !ok {
		return fmt.Errorf("%s %s: %w", table, id, ErrNotFound)
	}
	b, err := json.Marshal(row)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, dst)
}

func (s *memStore) User(_ context.Context, id string) (*User, error) {
	var u User
	if err := s.get(TableUsers, id, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

func (s *memStore) Patient(_ context.Context, id string) (*Patient, error) {
	var p Patient
	if err := s.get(TablePatients, id, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

func (s *memStore) Appointment(_ context.Context, id string) (*Appointment, error) {
	var a Appointment
	if err := s.get(TableAppointments, id, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

func (s *memStore) Prescription(_ context.Context, id string) (*Prescription, error) {
	var p Prescription
	if err := s.get(TablePrescriptions, id, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

func (s *memStore) Result(_ context.Context, id string) (*Result, error) {
	var r Result
	if err := s.get(TableResults, id, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

func (s *memStore) ResultByPrescription(ctx context.Context, prescriptionID string) (*Result, error) {
	for id, row := range s.tables[TableResults] {
		if row["prescriptionId"] == prescriptionID {
			return s.Result(ctx, id)
		}
	}
	return nil, ErrNotFound
}

func (s *memStore) Document(_ context.Context, id string) (*Document, error) {
	var d Document
	if err := s.get(TableDocuments, id, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// snapshot renders the whole store canonically, to compare before/after.
func (s *memStore) snapshot() string {
	b, err := json.Marshal(s.tables) // maps marshal with sorted keys
	if err != nil {
		panic(err)
	}
	return string(b)
}

func (s *memStore) clone() *memStore {
	c := newStore()
	for t, rows := range s.tables {
		for id, row := range rows {
			m := make(map[string]any, len(row))
			for k, v := range row {
				m[k] = v
			}
			c.tables[t][id] = m
		}
	}
	return c
}

// masked is what a workstation serving roles holds: only the visible
// tables and columns. Mutators run on it must behave as on the full store.
func (s *memStore) masked(roles ...Role) *memStore {
	c := newStore()
	for t, rows := range s.tables {
		for id, row := range rows {
			m := map[string]any{}
			for k, v := range row {
				if CanRead(roles, t, k) {
					m[k] = v
				}
			}
			if len(m) > 0 {
				c.tables[t][id] = m
			}
		}
	}
	return c
}

// checkOp reports what is wrong with an op, or "".
func checkOp(op Op) string {
	cols := Columns(op.Table)
	if cols == nil {
		return "unknown table " + op.Table
	}
	if !IsUUID(op.ID) {
		return "op id is not a UUID: " + op.ID
	}
	if op.Kind == OpDelete {
		if len(op.Values) != 0 {
			return "delete with values"
		}
		return ""
	}
	if op.Kind != OpInsert && op.Kind != OpUpdate {
		return "unknown op kind " + string(op.Kind)
	}
	if len(op.Values) == 0 {
		return "op without values"
	}
	if _, ok := op.Values["updatedAt"]; !ok {
		return "op does not set updatedAt"
	}
	if op.Kind == OpInsert {
		if op.Values["id"] != op.ID {
			return "insert's id column differs from Op.ID"
		}
		if _, ok := op.Values["createdAt"]; !ok {
			return "insert does not set createdAt"
		}
	} else if _, ok := op.Values["id"]; ok {
		return "update changes the id"
	}
	for k, v := range op.Values {
		if !contains(cols, k) {
			return "unknown column " + op.Table + "." + k
		}
		switch x := v.(type) {
		case nil, string, bool, Decimal:
		case json.RawMessage:
			if !json.Valid(x) {
				return "invalid JSON in " + k
			}
		case time.Time:
			if x.Location() != time.UTC {
				return "time not in UTC in " + k
			}
			if x.Nanosecond()%int(time.Millisecond) != 0 {
				return "time finer than a millisecond in " + k
			}
		default:
			return fmt.Sprintf("column %s has Go type %T, which Op does not allow", k, v)
		}
	}
	return ""
}

// apply writes an effect, failing as a database would.
func (s *memStore) apply(eff Effect) error {
	for _, op := range eff.Ops {
		if msg := checkOp(op); msg != "" {
			return fmt.Errorf("bad op on %s %s: %s", op.Table, op.ID, msg)
		}
	}
	for _, op := range eff.Ops {
		rows := s.tables[op.Table]
		row, exists := rows[op.ID]
		switch op.Kind {
		case OpInsert:
			if exists {
				return fmt.Errorf("insert of existing %s %s", op.Table, op.ID)
			}
			if op.Table == TableResults {
				for _, r := range rows {
					if r["prescriptionId"] == op.Values["prescriptionId"] {
						return fmt.Errorf("second result for prescription %v", op.Values["prescriptionId"])
					}
				}
			}
			row = map[string]any{}
			rows[op.ID] = row
		case OpUpdate:
			if !exists {
				return fmt.Errorf("update of missing %s %s", op.Table, op.ID)
			}
		case OpDelete:
			if !exists {
				return fmt.Errorf("delete of missing %s %s", op.Table, op.ID)
			}
			delete(rows, op.ID)
			continue
		}
		for k, v := range op.Values {
			row[k] = jsonValue(v)
		}
	}
	return nil
}

// jsonValue stores a value the way put would, so reads see one shape.
func jsonValue(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

func (s *memStore) ids(table string) []string {
	var out []string
	for id := range s.tables[table] {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

func (s *memStore) PatientRecords(_ context.Context, patientID string) (*PatientRecords, error) {
	if _, ok := s.tables[TablePatients][patientID]; !ok {
		return nil, fmt.Errorf("patient %s: %w", patientID, ErrNotFound)
	}
	out := &PatientRecords{}
	for _, x := range []struct {
		table string
		ids   *[]string
	}{{TableAppointments, &out.Appointments}, {TablePrescriptions, &out.Prescriptions}, {TableDocuments, &out.Documents}} {
		for id, row := range s.tables[x.table] {
			if row["patientId"] == patientID {
				*x.ids = append(*x.ids, id)
			}
		}
		sort.Strings(*x.ids)
	}
	return out, nil
}
