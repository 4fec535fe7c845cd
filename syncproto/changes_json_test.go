package syncproto

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestEncodeChangesMatchesEncodingJSON: Encode writes a page's changes
// itself (changes_json.go); the bytes must be exactly what encoding/json
// writes for the same frame (MarshalJSON), whatever the rows hold: white
// space inside and outside strings, escapes, quotes and backslashes next to
// a string's end, HTML characters, U+2028, non-ASCII text, quotes and backslashes in ids, deletes
// without a row, an empty page, and the members around the array.
func TestEncodeChangesMatchesEncodingJSON(t *testing.T) {
	rows := []string{
		`{"id":"a","n":1}`,
		`{ "id" : "a" , "notes" : "two  spaces\tand a tab escaped\\t" }`,
		"{\n\t\"id\": \"a\",\n\t\"v\": [1, 2, {\"x\": null}]\r\n}",
		`{"id":"a","q":"ends with a backslash\\","r":"a \"quoted\" word"}`,
		`{"id":"a","html":"<b> & </b>","sep":"line\u2028separator","raw":"` + "\u2028\u2029" + `"}`,
		`{"id":"a","name":"Élodie Ngô — 診察","t":true,"f":false,"z":-0.5e+3}`,
		`{"id":"a","nested":{"deep":{"deeper":[[],{},""]}}}`,
	}
	ids := []string{"0190-ab", `q"uote`, `back\slash`, "<&>"}
	rng := rand.New(rand.NewPCG(7, 9))
	var pages []*Changes
	pages = append(pages, &Changes{RequestID: "r-1", Cursor: "c"}, &Changes{From: "f", Cursor: "c", Changes: []Change{}})
	for p := 0; p < 20; p++ {
		page := &Changes{RequestID: fmt.Sprintf("r-%d", p), Cursor: "s.1.2.3", LastMutationSeq: int64(p), More: p%2 == 0,
			Resync: p%3 == 0, Total: 100, Sent: int64(p)}
		if page.Resync {
			page.ResyncReason = `the cursor "x" is <old> & gone`
		}
		if p%4 == 0 {
			page.Outcomes = []Outcome{{Seq: 3, ID: "m-3", Status: StatusApplied}}
		}
		for i := 0; i < 1+rng.IntN(30); i++ {
			c := Change{Table: "appointments", Op: OpUpsert, ID: ids[rng.IntN(len(ids))], Row: json.RawMessage(rows[rng.IntN(len(rows))])}
			if rng.IntN(5) == 0 {
				c.Op, c.Row = OpDelete, nil
			}
			page.Changes = append(page.Changes, c)
		}
		pages = append(pages, page)
	}
	for i, page := range pages {
		got, err := Encode(page)
		if err != nil {
			t.Fatalf("page %d: Encode: %v", i, err)
		}
		want, err := page.MarshalJSON()
		if err != nil {
			t.Fatalf("page %d: MarshalJSON: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("page %d: Encode wrote\n%s\nencoding/json writes\n%s", i, got, want)
		}
	}
}
