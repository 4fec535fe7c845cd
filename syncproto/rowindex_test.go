package syncproto

import (
	"bytes"
	"testing"
)

// TestRowMembers: DecodeFromServer locates each member of a page's rows,
// and a row whose spans cannot hold (compacted by the decoding, replaced
// since, absent) has none, so that its reader walks it as any JSON.
func TestRowMembers(t *testing.T) {
	row := `{"id":"p-1","firstName":"A\"wa","na\u006De":"Sé","n":-1.5,"o":{"x":[1,"]"]},"z":null}`
	frame := `{"type":"changes","requestId":"r-1","cursor":"c-1","lastMutationSeq":0,"more":false,"changes":[` +
		`{"table":"patients","op":"upsert","id":"p-1","row":` + row + `},` +
		`{"table":"patients","op":"delete","id":"p-2"},` +
		`{"table":"patients","op":"upsert","id":"p-3","row":{ "id" : "p-3" }},` +
		`{"table":"patients","op":"upsert","id":"p-4","row":{}}]}`
	f, err := DecodeFromServer([]byte(frame))
	if err != nil {
		t.Fatal(err)
	}
	page := f.(*Changes)
	members, ok := page.RowMembers(0)
	if !ok {
		t.Fatal("the first row is not indexed")
	}
	want := []struct {
		name, value               string
		nameEscaped, valueEscaped bool
	}{
		{`"id"`, `"p-1"`, false, false},
		{`"firstName"`, `"A\"wa"`, false, true},
		{`"na\u006De"`, `"Sé"`, true, false},
		{`"n"`, `-1.5`, false, false},
		{`"o"`, `{"x":[1,"]"]}`, false, false},
		{`"z"`, `null`, false, false},
	}
	got := page.Changes[0].Row
	if string(got) != row || len(members) != len(want) {
		t.Fatalf("row %s with %d members, want %s with %d", got, len(members), row, len(want))
	}
	for i, m := range members {
		w := want[i]
		name, value := got[m.NameStart:m.NameEnd], got[m.ValueStart:m.ValueEnd]
		if string(name) != w.name || string(value) != w.value || m.NameEscaped != w.nameEscaped || m.ValueEscaped != w.valueEscaped {
			t.Errorf("member %d: %s (escaped %v) = %s (escaped %v), want %s (%v) = %s (%v)",
				i, name, m.NameEscaped, value, m.ValueEscaped, w.name, w.nameEscaped, w.value, w.valueEscaped)
		}
	}
	if text := page.RowText(0); text != row {
		t.Errorf("RowText(0) = %s, want %s", text, row)
	}
	if m, ok := page.RowMembers(3); !ok || len(m) != 0 {
		t.Errorf("the empty row: %v, %v; want no members, indexed", m, ok)
	}
	for _, c := range []struct {
		name string
		i    int
	}{{"a delete", 1}, {"a row with white space (compacted)", 2}, {"past the last change", 4}, {"a negative index", -1}} {
		if _, ok := page.RowMembers(c.i); ok || page.RowText(c.i) != "" {
			t.Errorf("%s is indexed", c.name)
		}
	}
	// The spans hold for the decoded bytes only, not for equal ones.
	page.Changes[0].Row = bytes.Clone(page.Changes[0].Row)
	if _, ok := page.RowMembers(0); ok || page.RowText(0) != "" {
		t.Error("a replaced row is still indexed")
	}
	// Decode (the server's, the tests') indexes nothing, and a page built
	// in memory has no index either.
	f, err = Decode([]byte(frame))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.(*Changes).RowMembers(0); ok {
		t.Error("Decode indexed a row")
	}
	built := &Changes{Changes: []Change{{Table: "patients", Op: OpUpsert, ID: "p-1", Row: []byte(row)}}}
	if _, ok := built.RowMembers(0); ok {
		t.Error("a page built in memory is indexed")
	}
}

// TestDecodeKeepsNoInputBytes: a decoded frame shares no bytes with its
// input, so that a reader may read the next frame into the same buffer
// (desktop/remote does) while the page is still being applied.
func TestDecodeKeepsNoInputBytes(t *testing.T) {
	frame := []byte(`{"type":"changes","requestId":"r-1","cursor":"c-1","lastMutationSeq":0,"more":true,"changes":[` +
		`{"table":"patients","op":"upsert","id":"p-1","row":{"id":"p-1","firstName":"Awa","vitals":{"t":[37.5]}}},` +
		`{"table":"patients","op":"upsert","id":"p-2","row":{ "id" : "p-2" }}],` +
		`"outcomes":[{"seq":1,"id":"m-1","status":"rejected","code":"NOT_FOUND","message":"no such patient"}]}`)
	want, err := DecodeFromServer(bytes.Clone(frame))
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeFromServer(frame)
	if err != nil {
		t.Fatal(err)
	}
	for i := range frame {
		frame[i] = 'x'
	}
	a, _ := Encode(want)
	b, err := Encode(got)
	if err != nil || !bytes.Equal(a, b) {
		t.Fatalf("after its input was overwritten the frame encodes as %s (%v), want %s", b, err, a)
	}
	page := got.(*Changes)
	if m, ok := page.RowMembers(0); !ok || len(m) != 3 || page.RowText(0) != string(page.Changes[0].Row) {
		t.Fatalf("row after the input was overwritten: %v, %v, %q", m, ok, page.RowText(0))
	}
}
