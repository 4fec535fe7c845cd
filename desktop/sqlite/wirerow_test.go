package sqlite

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"wardsync/syncproto"
	"wardsync/workflow"
)

// mapDecode is how rows were decoded before decodeWireRow: into a map of
// members, then each member on its own. It is the oracle the one-pass
// decoder must agree with.
func mapDecode(tbl *table, id string, row []byte) ([]any, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(row, &members); err != nil {
		return nil, fmt.Errorf("sqlite: %s %s: row is not a JSON object: %w", tbl.name, id, err)
	}
	if v, ok := members["id"]; ok {
		var rowID string
		if json.Unmarshal(v, &rowID) != nil || rowID != id {
			return nil, fmt.Errorf("sqlite: %s %s: row carries id %s", tbl.name, id, clip(v))
		}
	}
	args := make([]any, len(tbl.columns))
	for i, c := range tbl.columns {
		if c == "id" {
			args[i] = id
			continue
		}
		if secret(tbl.name, c) {
			continue
		}
		v, err := wireValue(tbl.kinds[c], members[c])
		if err != nil {
			return nil, fmt.Errorf("sqlite: %s %s: column %s: %w", tbl.name, id, c, err)
		}
		args[i] = v
	}
	return args, nil
}

// decodeThroughFrame decodes row as the workstation decodes a pulled one:
// inside a changes frame read by syncproto.DecodeFromServer, then through
// the members that decoding located. decoded is false when the frame
// itself is refused (a repeated name, bad UTF-8, ...); indexed is false
// when decoding located no members for the row (white space in it).
func decodeThroughFrame(t *testing.T, tbl *table, id string, row []byte) (args []any, err error, decoded, indexed bool) {
	t.Helper()
	frame := `{"type":"changes","requestId":"r-1","cursor":"c-1","lastMutationSeq":0,"more":false,` +
		`"changes":[{"table":"` + tbl.name + `","op":"upsert","id":"` + id + `","row":` + string(row) + `}]}`
	f, derr := syncproto.DecodeFromServer([]byte(frame))
	if derr != nil {
		return nil, nil, false, false
	}
	page := f.(*syncproto.Changes)
	members, ok := page.RowMembers(0)
	if !ok {
		return nil, nil, true, false
	}
	if text := page.RowText(0); text != string(page.Changes[0].Row) {
		t.Fatalf("RowText(0) = %s, want the row %s", text, page.Changes[0].Row)
	}
	args, err = appendIndexedRow(nil, tbl, id, page.Changes[0].Row, page.RowText(0), members)
	return args, err, true, true
}

// compactRow says whether row holds no insignificant white space, which is
// when decoding a frame indexes it.
func compactRow(row []byte) bool {
	var b bytes.Buffer
	return json.Compact(&b, row) == nil && bytes.Equal(b.Bytes(), row)
}

func TestDecodeWireRow(t *testing.T) {
	const id = appt1ID
	appts, users := tables[workflow.TableAppointments], tables[workflow.TableUsers]
	good := []struct {
		name string
		tbl  *table
		row  string
	}{
		{"a helper's row", appts, string(appointmentRow(id, patient1ID, doctorID, t0, workflow.AppointmentCompleted,
			obj{"vitals": obj{"temperature": 37.5, "bloodPressure": "12/8"}, "billingAmount": "120.5", "consultationNotes": "ok"}))},
		{"whitespace everywhere", appts, " {\n\t\"id\" : \"" + id + "\" ,\r\n \"motif\" :\"Fièvre\" , \"vitals\" : { \"a\" : [ 1 , 2 ] } }\n"},
		{"escapes and unicode", appts, `{"id":"` + id + `","motif":"ligne 1\nligne \"2\" \u00e9\u2028 \\ /","consultationNotes":"é😀"}`},
		{"members unknown, nested, skipped", appts, `{"future":{"x":[{"y":"}]\"{"}],"z":null},"id":"` + id + `","other":[1,"]",{}],"n":-1.5e3,"motif":"m"}`},
		{"a member twice: the last counts", appts, `{"motif":"first","id":"` + id + `","motif":"second"}`},
		{"null and absent columns", appts, `{"id":"` + id + `","motif":null,"vitals":null,"checkedInAt":null}`},
		{"the id omitted", appts, `{"motif":"m"}`},
		{"an empty object", appts, `{}`},
		{"a number or boolean in a text column", appts, `{"motif":12.50,"status":true}`},
		{"an unparsable decimal kept as sent", appts, `{"billingAmount":"12,5"}`},
		{"a numeric decimal", appts, `{"billingAmount":7}`},
		{"times in other offsets and precisions", appts, `{"date":"2026-01-05T10:00:00.123456+01:00","checkedInAt":"2026-01-05T09:00:00Z","closedAt":"2026-01-05T09:00:00.5Z"}`},
		{"a password never stored", users, `{"id":"` + id + `","name":"A","password":"$2a$hash","role":"DOCTOR"}`},
		{"invalid UTF-8 replaced as encoding/json does", appts, "{\"motif\":\"a\xffb\"}"},
	}
	for _, c := range good {
		t.Run(c.name, func(t *testing.T) {
			want, err := mapDecode(c.tbl, id, []byte(c.row))
			must(t, err)
			got, err := decodeWireRow(c.tbl, id, []byte(c.row))
			must(t, err)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("decoded\n %#v\nwant\n %#v", got, want)
			}
			got, err, decoded, indexed := decodeThroughFrame(t, c.tbl, id, []byte(c.row))
			switch {
			case !decoded:
				// A repeated name or bad UTF-8: no frame carries the row.
				if !strings.Contains(c.name, "twice") && !strings.Contains(c.name, "UTF-8") {
					t.Fatalf("the frame carrying the row was refused")
				}
			case indexed != compactRow([]byte(c.row)):
				t.Fatalf("indexed = %v for a row compact = %v", indexed, !indexed)
			case indexed:
				must(t, err)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("decoded through the frame\n %#v\nwant\n %#v", got, want)
				}
			}
		})
	}
	bad := []struct {
		name, row, want string
	}{
		{"not an object", `["a"]`, "sqlite: appointments " + id + ": row is not a JSON object: [\"a\"]"},
		{"a string", `"x"`, "sqlite: appointments " + id + `: row is not a JSON object: "x"`},
		{"truncated", `{"id":"` + id + `","motif":"m`, "sqlite: appointments " + id + ": row is not a JSON object: unexpected end of JSON input"},
		{"trailing text", `{"motif":"m"} x`, "sqlite: appointments " + id + ": row is not a JSON object: invalid character 'x' after top-level value"},
		{"trailing comma", `{"motif":"m",}`, "sqlite: appointments " + id + ": row is not a JSON object: invalid character '}' looking for beginning of object key string"},
		{"empty", ``, "sqlite: appointments " + id + ": row is not a JSON object: unexpected end of JSON input"},
		{"another row's id", `{"id":"` + appt2ID + `"}`, "sqlite: appointments " + id + `: row carries id "` + appt2ID + `"`},
		{"a null id", `{"id":null}`, "sqlite: appointments " + id + ": row carries id null"},
		{"a bad timestamp", `{"date":"yesterday"}`, "sqlite: appointments " + id + `: column date: not a timestamp: "yesterday"`},
		{"a number as timestamp", `{"date":5}`, "sqlite: appointments " + id + ": column date: not a timestamp: 5"},
		{"a bad boolean", `{"consentMedicalData":"yes"}`, ""},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			tbl := appts
			if strings.Contains(c.row, "consent") {
				tbl = tables[workflow.TablePatients]
				c.want = "sqlite: patients " + id + `: column consentMedicalData: not a boolean: "yes"`
			}
			_, wantErr := mapDecode(tbl, id, []byte(c.row))
			_, err := decodeWireRow(tbl, id, []byte(c.row))
			if err == nil || err.Error() != c.want {
				t.Fatalf("err = %v, want %s", err, c.want)
			}
			if wantErr == nil {
				t.Fatalf("the map decoder accepted what decodeWireRow refuses")
			}
			// A row a frame may carry is refused in the same words when
			// read through the members the frame's decoding located.
			_, err, _, indexed := decodeThroughFrame(t, tbl, id, []byte(c.row))
			if want := json.Valid([]byte(c.row)) && strings.HasPrefix(c.row, "{"); indexed != want {
				t.Fatalf("indexed = %v, want %v", indexed, want)
			}
			if indexed && (err == nil || err.Error() != c.want) {
				t.Fatalf("through the frame: err = %v, want %s", err, c.want)
			}
		})
	}
}

// TestDecodeWireRowChecksAsItWalks: the one walk that decodes a row also
// checks its grammar, so broken text is refused with encoding/json's own
// sentence wherever it is broken, also past a member whose value is wrong,
// and nesting is limited where encoding/json limits it.
func TestDecodeWireRowChecksAsItWalks(t *testing.T) {
	const id = appt1ID
	appts := tables[workflow.TableAppointments]
	prefix := "sqlite: appointments " + id + ": row is not a JSON object: "
	deep := func(n int) string { return `{"vitals":` + strings.Repeat("[", n-1) + strings.Repeat("]", n-1) + `}` }
	for _, c := range []struct{ name, row, want string }{
		{"a bad escape in a skipped member", `{"x":"\q","motif":"m"}`, prefix + "invalid character 'q' in string escape code"},
		{"a bad timestamp before broken text", `{"date":"yesterday","motif":tru}`, prefix + "invalid character '}' in literal true (expecting 'e')"},
		{"another row's id before broken text", `{"id":"other","motif":01}`, prefix + "invalid character '1' after object key:value pair"},
		{"a raw control character in a nested string", "{\"vitals\":{\"a\":\"x\ty\"}}", prefix + "invalid character '\\t' in string literal"},
		{"a number without digits after the point", `{"vitals":{"t":37.}}`, prefix + "invalid character '}' after decimal point in numeric literal"},
		{"nesting past encoding/json's limit", deep(10001), prefix + "invalid character '[' exceeded max depth"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := decodeWireRow(appts, id, []byte(c.row)); err == nil || err.Error() != c.want {
				t.Fatalf("err = %v, want %s", err, c.want)
			}
		})
	}
	got, err := decodeWireRow(appts, id, []byte(deep(10000)))
	must(t, err)
	want, err := mapDecode(appts, id, []byte(deep(10000)))
	must(t, err)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("nesting at the limit decoded %v, want %v", got, want)
	}
}

// FuzzDecodeWireRow holds decodeWireRow to the map decoder: whatever the
// latter refuses, the former refuses too, and where both accept a row they
// store the same values.
func FuzzDecodeWireRow(f *testing.F) {
	f.Add([]byte(appointmentRow(appt1ID, patient1ID, doctorID, t0, workflow.AppointmentCompleted, obj{"vitals": obj{"t": 37.5}})))
	f.Add([]byte(`{"future":{"x":[{"y":"}]\"{"}]},"motif":"a\u00e9\n","motif":"b","date":"2026-01-05T10:00:00+01:00"}`))
	f.Add([]byte(`{"billingAmount":"12.5","status":true,"vitals":[1,{"a":null}]}`))
	f.Add([]byte(` { "id" : "` + appt1ID + `" } `))
	appts := tables[workflow.TableAppointments]
	f.Fuzz(func(t *testing.T, row []byte) {
		want, wantErr := mapDecode(appts, appt1ID, row)
		got, err := decodeWireRow(appts, appt1ID, row)
		switch {
		case wantErr != nil && err == nil:
			t.Fatalf("accepted %q, which the map decoder refuses: %v", row, wantErr)
		case wantErr == nil && err == nil && !reflect.DeepEqual(got, want):
			t.Fatalf("%q decoded\n %#v\nwant\n %#v", row, got, want)
		}
		// Read through the members a frame's decoding located, a row
		// decodes as decodeWireRow decodes it, or is refused in its words.
		if viaFrame, frameErr, _, indexed := decodeThroughFrame(t, appts, appt1ID, row); indexed {
			switch {
			case (err == nil) != (frameErr == nil) || err != nil && err.Error() != frameErr.Error():
				t.Fatalf("%q: through the frame err = %v, want %v", row, frameErr, err)
			case err == nil && !reflect.DeepEqual(viaFrame, got):
				t.Fatalf("%q decoded through the frame\n %#v\nwant\n %#v", row, viaFrame, got)
			}
		}
		// Text that is not JSON is refused in encoding/json's words, as
		// when the row was validated before it was walked.
		var probe any
		if syntax := json.Unmarshal(row, &probe); !json.Valid(row) {
			want := "sqlite: appointments " + appt1ID + ": row is not a JSON object: " + syntax.Error()
			if err == nil || err.Error() != want {
				t.Fatalf("%q: err = %v, want %s", row, err, want)
			}
		}
	})
}
