package syncproto

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"wardsync/workflow"
)

// TestAddProjected: a page of rows the server projected encodes exactly as
// the same page built plainly; only the rows' nesting is checked, and a row
// not appended by AddProjected (before it, or replaced since) gets the
// whole check.
func TestAddProjected(t *testing.T) {
	rows := []json.RawMessage{
		json.RawMessage(`{"id":"p-1","firstName":"A\"wa [{","vitals":{"bp":[12,8]}}`),
		json.RawMessage(`{"id":"p-2","lastName":"\\"}`),
	}
	plain := &Changes{RequestID: "r-1", Cursor: "c-1", More: true}
	projected := &Changes{RequestID: "r-1", Cursor: "c-1", More: true}
	for i, row := range rows {
		id := "p-" + string(rune('1'+i))
		plain.Changes = append(plain.Changes, Change{Table: "patients", Op: OpUpsert, ID: id, Row: row})
		projected.AddProjected("patients", id, row)
	}
	want, err := Encode(plain)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Encode(projected)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("Encode = %s, %v\nwant %s", got, err, want)
	}

	deep := json.RawMessage(`{"a":` + strings.Repeat("[", MaxDepth-3) + strings.Repeat("]", MaxDepth-3) + `}`)
	within := json.RawMessage(`{"a":` + strings.Repeat("[", MaxDepth-4) + strings.Repeat("]", MaxDepth-4) + `}`)
	const tooDeep = "changes.changes[0].row must be a valid JSON object (frame nests JSON deeper than 64 levels)"
	const broken = "changes.changes[0].row must be a valid JSON object (frame is not valid JSON: unexpected character \"}\" at byte 5)"
	for _, c := range []struct {
		name  string
		build func(f *Changes)
		want  string // "" when Encode accepts
	}{
		{"nested to the limit", func(f *Changes) { f.AddProjected("patients", "p-1", within) }, ""},
		{"nested past the limit", func(f *Changes) { f.AddProjected("patients", "p-1", deep) }, tooDeep},
		{"replaced since", func(f *Changes) {
			f.AddProjected("patients", "p-1", rows[0])
			f.Changes[0].Row = json.RawMessage(`{"a":}`)
		}, broken},
		{"appended plainly before", func(f *Changes) {
			f.Changes = append(f.Changes, Change{Table: "patients", Op: OpUpsert, ID: "p-1", Row: json.RawMessage(`{"a":}`)})
			f.AddProjected("patients", "p-2", rows[1])
		}, broken},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &Changes{RequestID: "r-1", Cursor: "c-1"}
			c.build(f)
			_, err := Encode(f)
			if c.want == "" {
				if err != nil {
					t.Fatalf("Encode: %v", err)
				}
				return
			}
			r, _ := workflow.AsRejection(err)
			if r == nil || r.Code != workflow.CodeValidationFailed || r.Field != "changes[0].row" || r.Message != c.want {
				t.Fatalf("Encode: %v, want VALIDATION_FAILED on changes[0].row: %s", err, c.want)
			}
		})
	}
}

func TestNestsWithin(t *testing.T) {
	for _, c := range []struct {
		raw  string
		want bool
	}{
		{`{}`, true},
		{`{"a":"[[[[","b":"\"{{{"}`, true},
		{`{"a":"\\","b":[[]]}`, true},
		{`{"a":` + strings.Repeat("[", MaxDepth-4) + strings.Repeat("]", MaxDepth-4) + `}`, true},
		{`{"a":` + strings.Repeat("[", MaxDepth-3) + strings.Repeat("]", MaxDepth-3) + `}`, false},
		// Brackets inside strings, quotes escaped or after an escaped
		// backslash, do not count.
		{`{"a":"\\\"` + strings.Repeat("[", MaxDepth) + `"}`, true},
		{`{"a":"unterminated}`, false},
	} {
		if got := nestsWithin([]byte(c.raw), 4); got != c.want {
			t.Errorf("nestsWithin(%s) = %v, want %v", c.raw, got, c.want)
		}
	}
}
