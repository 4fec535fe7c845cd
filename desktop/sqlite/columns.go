package sqlite

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"wardsync/workflow"
)

// kind is how a column is stored (see migrations/sqlite/00001_replica.sql).
type kind int

const (
	kindText kind = iota
	kindTime
	kindBool
	kindJSON
	kindDecimal
)

// TimeLayout is the replica's timestamp format: UTC, millisecond precision
// (PostgreSQL's TIMESTAMP(3)), fixed width so that text order is time order.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// FormatTime renders t as the replica stores it.
func FormatTime(t time.Time) string { return t.UTC().Truncate(time.Millisecond).Format(TimeLayout) }

// ParseTime reads a stored timestamp.
func ParseTime(s string) (time.Time, error) { return time.Parse(time.RFC3339Nano, s) }

// nullTime scans a nullable stored timestamp into *at, nil for NULL: the
// scan itself parses it, so no caller holds a NullString to convert after.
type nullTime struct{ at **time.Time }

func (n nullTime) Scan(v any) error {
	var s sql.NullString
	if err := s.Scan(v); err != nil {
		return err
	}
	if !s.Valid {
		*n.at = nil
		return nil
	}
	t, err := ParseTime(s.String)
	if err != nil {
		return fmt.Errorf("sqlite: stored time %q: %w", s.String, err)
	}
	*n.at = &t
	return nil
}

// table describes one replicated table: its columns in the seed's order and
// how each is stored.
type table struct {
	name    string
	columns []string
	kinds   map[string]kind
	index   map[string]int // column → its position in columns
	// quoted column list and placeholders, built once
	colList string
	// upsert writes a whole row (INSERT OR REPLACE), built once;
	// upsertMany writes bulkRows of them (bulkload.go)
	upsert, upsertMany string
}

var tables = map[string]*table{}

// The kinds come from workflow's row types (the Go type of the field whose
// JSON tag names the column), so the replica cannot drift from the rows the
// mutators read.
func init() {
	rowTypes := map[string]any{
		workflow.TableUsers:         workflow.User{},
		workflow.TablePatients:      workflow.Patient{},
		workflow.TableAppointments:  workflow.Appointment{},
		workflow.TablePrescriptions: workflow.Prescription{},
		workflow.TableResults:       workflow.Result{},
		workflow.TableDocuments:     workflow.Document{},
	}
	for _, name := range workflow.Tables {
		t := &table{name: name, columns: workflow.Columns(name), kinds: map[string]kind{}, index: map[string]int{}}
		byTag := map[string]reflect.Type{}
		rt := reflect.TypeOf(rowTypes[name])
		for i := range rt.NumField() {
			f := rt.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			byTag[tag] = f.Type
		}
		quoted := make([]string, len(t.columns))
		for i, c := range t.columns {
			quoted[i] = quote(c)
			t.kinds[c] = kindOf(byTag[c])
			t.index[c] = i
		}
		t.colList = strings.Join(quoted, ", ")
		values := `(?` + strings.Repeat(", ?", len(quoted)-1) + `)`
		t.upsert = `INSERT OR REPLACE INTO ` + quote(t.name) + ` (` + t.colList + `) VALUES ` + values
		t.upsertMany = t.upsert + strings.Repeat(", "+values, bulkRows-1)
		tables[name] = t
	}
}

var (
	timeType    = reflect.TypeFor[time.Time]()
	rawType     = reflect.TypeFor[json.RawMessage]()
	decimalType = reflect.TypeFor[workflow.Decimal]()
)

func kindOf(t reflect.Type) kind {
	if t == nil {
		return kindText // users.password: tagged "-", never stored anyway
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		return kindTime
	case t == rawType:
		return kindJSON
	case t == decimalType:
		return kindDecimal
	case t.Kind() == reflect.Bool:
		return kindBool
	}
	return kindText
}

func quote(ident string) string { return `"` + ident + `"` }

func lookupTable(name string) (*table, error) {
	t := tables[name]
	if t == nil {
		return nil, fmt.Errorf("sqlite: unknown table %q", name)
	}
	return t, nil
}

// secret lists columns that are never stored even if a server sent them.
func secret(tbl, col string) bool { return tbl == workflow.TableUsers && col == "password" }

// effectValue converts a value of a workflow.Op (nil, string, bool,
// time.Time, json.RawMessage, workflow.Decimal) to its stored form.
func effectValue(v any) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		return x, nil
	case bool:
		if x {
			return int64(1), nil
		}
		return int64(0), nil
	case time.Time:
		return FormatTime(x), nil
	case json.RawMessage:
		if x == nil || string(bytes.TrimSpace(x)) == "null" {
			return nil, nil
		}
		return compactJSON(x)
	case workflow.Decimal:
		return string(x), nil
	}
	return nil, fmt.Errorf("sqlite: effect value of type %T", v)
}

func compactJSON(raw []byte) (string, error) {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return "", fmt.Errorf("sqlite: invalid JSON: %w", err)
	}
	return b.String(), nil
}

// canonicalUTC renders a timestamp that time.Parse accepted as the
// replica stores it, without formatting it again, when it is already in
// UTC ("…Z", as the server sends every time): its fraction truncated or
// padded to milliseconds, as FormatTime would. Formatting was a twentieth
// of an initial sync's CPU.
func canonicalUTC(s string) (string, bool) {
	// "2006-01-02T15:04:05" then an optional ".fraction", then "Z".
	if len(s) < 20 || s[len(s)-1] != 'Z' || s[4] != '-' || s[10] != 'T' {
		return "", false
	}
	frac := s[19 : len(s)-1]
	switch {
	case frac == "":
		return s[:19] + ".000Z", true
	case frac[0] != '.' || len(frac) < 2:
		return "", false
	case len(frac) == 4:
		return s, true // milliseconds already, as the server sends them
	case len(frac) > 4:
		return s[:19] + frac[:4] + "Z", true
	}
	return s[:19] + frac + "000"[:4-len(frac)] + "Z", true
}

// wireValue converts one member of a row in wire form (the server's JSON,
// the seed's column names) to its stored form.
func wireValue(k kind, raw json.RawMessage) (any, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	switch k {
	case kindJSON:
		return compactJSON(raw)
	case kindBool:
		switch string(raw) {
		case "true":
			return int64(1), nil
		case "false":
			return int64(0), nil
		}
		return nil, fmt.Errorf("not a boolean: %s", clip(raw))
	case kindTime:
		s, err := wireString(raw)
		if err != nil {
			return nil, fmt.Errorf("not a timestamp: %s", clip(raw))
		}
		return wireTime(s, raw)
	case kindDecimal:
		s := string(raw)
		if raw[0] == '"' {
			var err error
			if s, err = wireString(raw); err != nil {
				return nil, fmt.Errorf("not a decimal: %s", clip(raw))
			}
		}
		if d, err := workflow.ParseDecimal(s); err == nil {
			return string(d), nil
		}
		// Not ours to judge: the server is the authority; keep what it sent.
		return s, nil
	}
	if raw[0] == '"' {
		s, err := wireString(raw)
		if err != nil {
			return nil, fmt.Errorf("not a string: %s", clip(raw))
		}
		return s, nil
	}
	// A number or boolean in a text column: keep its text.
	return string(raw), nil
}

// wireTime stores the timestamp s, the value of the JSON string raw.
func wireTime(s string, raw []byte) (any, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return nil, fmt.Errorf("not a timestamp: %s", clip(raw))
	}
	if c, ok := canonicalUTC(s); ok {
		return c, nil
	}
	return FormatTime(t), nil
}

// appendWire appends a stored value to b in wire form.
func appendWire(b []byte, k kind, v any) ([]byte, error) {
	if v == nil {
		return append(b, "null"...), nil
	}
	switch k {
	case kindBool:
		n, ok := v.(int64)
		if !ok {
			return nil, fmt.Errorf("stored boolean of type %T", v)
		}
		return strconv.AppendBool(b, n != 0), nil
	case kindJSON:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("stored JSON of type %T", v)
		}
		return append(b, s...), nil
	}
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case []byte:
		s = string(x)
	case int64:
		s = strconv.FormatInt(x, 10)
	case float64:
		s = strconv.FormatFloat(x, 'g', -1, 64)
	default:
		return nil, fmt.Errorf("stored value of type %T", v)
	}
	enc, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	return append(b, enc...), nil
}

func clip(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}

// The setters below fill a view row (views.go) from a column's stored
// value, each exactly as decoding that column's wire form did.

// storedText is a text column's value as appendWire rendered it (SQLite
// may hand back a number for a text column holding digits).
func storedText(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case []byte:
		return string(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	}
	return "", fmt.Errorf("stored value of type %T", v)
}

// setText sets a NOT NULL string field; NULL leaves it empty, as decoding
// null into a string did.
func setText[S ~string](p *S, v any) error {
	if v == nil {
		return nil
	}
	s, err := storedText(v)
	*p = S(s)
	return err
}

func setNullText[S ~string](p **S, v any) error {
	if v == nil {
		return nil
	}
	s, err := storedText(v)
	x := S(s)
	*p = &x
	return err
}

// setTime parses a stored timestamp as decoding its wire form did
// (time.Time's UnmarshalJSON: RFC 3339).
func setTime(p *time.Time, v any) error {
	if v == nil {
		return nil
	}
	s, err := storedText(v)
	if err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return fmt.Errorf("not a timestamp: %q", clip([]byte(s)))
	}
	*p = t
	return nil
}

func setNullTime(p **time.Time, v any) error {
	if v == nil {
		return nil
	}
	var t time.Time
	if err := setTime(&t, v); err != nil {
		return err
	}
	*p = &t
	return nil
}

// setJSON keeps a JSON column's text. NULL becomes the JSON literal null:
// that is what decoding the wire form's null into a json.RawMessage gave.
func setJSON(p *json.RawMessage, v any) error {
	if v == nil {
		*p = json.RawMessage("null")
		return nil
	}
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("stored JSON of type %T", v)
	}
	*p = json.RawMessage(s)
	return nil
}
