package syncproto

import (
	"bytes"
	"encoding/json"
)

// Encode checks every row of a page before it leaves, with the same scan
// Decode runs on arrival: a tenth of the server's CPU in an initial sync,
// for rows the server itself had just written with encoding/json from the
// values it read from PostgreSQL. Such a row is valid JSON in valid UTF-8
// and names no member twice (encoding/json writes a struct's or a map's
// members once each, and jsonb keeps one of each name); only its nesting
// is not bounded by the encoder (a jsonb column can nest deeper than
// MaxDepth). AddProjected records such rows, and Encode checks only their
// nesting, in a pass that skips strings whole.

// AddProjected appends an upsert of row to the page: a row the caller
// encoded with encoding/json from values read from its own database.
// Encode checks only the row's nesting, so nothing else may write it.
func (f *Changes) AddProjected(table, id string, row json.RawMessage) {
	if len(f.projected) != len(f.Changes) {
		// Rows appended otherwise meanwhile: they keep the full check.
		f.projected = append(f.projected, make([]json.RawMessage, len(f.Changes)-len(f.projected))...)
	}
	f.Changes = append(f.Changes, Change{Table: table, Op: OpUpsert, ID: id, Row: row})
	f.projected = append(f.projected, row)
}

// projectedRow says whether Changes[i].Row is still the row AddProjected
// appended there (the same bytes, not merely equal ones).
func (f *Changes) projectedRow(i int) bool {
	if i >= len(f.projected) || i >= len(f.Changes) {
		return false
	}
	p, row := f.projected[i], f.Changes[i].Row
	return len(p) > 0 && len(row) == len(p) && &row[0] == &p[0]
}

// nestsWithin says whether raw, valid JSON starting at depth (the row of
// a change is at 4), nests no deeper than MaxDepth.
func nestsWithin(raw []byte, depth int) bool {
	d := depth - 1
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case '"':
			// To the closing quote: the next one not escaped, that is
			// preceded by an even number of backslashes.
			for {
				j := bytes.IndexByte(raw[i+1:], '"')
				if j < 0 {
					return false // not valid JSON after all
				}
				i += j + 1
				k := i - 1
				for raw[k] == '\\' {
					k--
				}
				if (i-1-k)%2 == 0 {
					break
				}
			}
		case '{', '[':
			if d++; d > MaxDepth {
				return false
			}
		case '}', ']':
			d--
		}
	}
	return true
}
