package sqlite

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"wardsync/syncproto"
)

// decodeWireRow reads a row in wire form (one JSON object) straight into
// the stored values of tbl's columns, in tbl.columns order, in one walk
// over its text that also checks its grammar: validating the text first
// (json.Valid) and then walking it again cost an initial sync a tenth of
// its CPU. Members that name no column are skipped; columns the object
// lacks, and secret ones, stay nil (NULL). When a member appears twice the
// last one counts, as with encoding/json. A row that is not valid JSON gets
// encoding/json's own account of what is wrong, whichever of its members
// the walk had reached.
func decodeWireRow(tbl *table, id string, row []byte) ([]any, error) {
	return appendWireRow(nil, tbl, id, row)
}

// appendWireRow is decodeWireRow appending the values to dst (a page's
// batch of rows, bulkload.go), which it returns.
func appendWireRow(dst []any, tbl *table, id string, row []byte) ([]any, error) {
	i := skipSpace(row, 0)
	if i >= len(row) || row[i] != '{' {
		if !json.Valid(row) {
			return nil, notJSON(tbl, id, row)
		}
		return nil, fmt.Errorf("sqlite: %s %s: row is not a JSON object: %s", tbl.name, id, clip(row))
	}
	dst, r := startRow(dst, tbl, id, row)
	// A member's error found before the end of the text is reported only
	// once the rest is known to be valid JSON, as when validation came first.
	memberErr := func(err error) ([]any, error) {
		if !json.Valid(row) {
			return nil, notJSON(tbl, id, row)
		}
		return nil, err
	}
	i = skipSpace(row, i+1)
	if i < len(row) && row[i] == '}' {
		i++
	} else {
		for {
			if i >= len(row) || row[i] != '"' {
				return nil, notJSON(tbl, id, row)
			}
			end, _, ok := scanString(row, i)
			if !ok {
				return nil, notJSON(tbl, id, row)
			}
			// A plain name is looked up as it stands (no string made for
			// it); the column's own name stands for it from then on.
			var col int
			var known bool
			if name := row[i:end]; plainString(name) {
				col, known = tbl.index[string(name[1:len(name)-1])]
			} else {
				key, err := wireString(name)
				if err != nil {
					return memberErr(fmt.Errorf("sqlite: %s %s: member name %s: %w", tbl.name, id, clip(name), err))
				}
				col, known = tbl.index[key]
			}
			i = skipSpace(row, end)
			if i >= len(row) || row[i] != ':' {
				return nil, notJSON(tbl, id, row)
			}
			i = skipSpace(row, i+1)
			end, spaced, ok := scanValue(row, i, 2)
			if !ok {
				return nil, notJSON(tbl, id, row)
			}
			if known {
				if err := r.member(col, i, end, spaced, plainString(row[i:end])); err != nil {
					return memberErr(err)
				}
			}
			i = skipSpace(row, end)
			if i >= len(row) {
				return nil, notJSON(tbl, id, row)
			}
			if row[i] == '}' {
				i++
				break
			}
			if row[i] != ',' {
				return nil, notJSON(tbl, id, row)
			}
			i = skipSpace(row, i+1)
		}
	}
	if skipSpace(row, i) != len(row) {
		return nil, notJSON(tbl, id, row)
	}
	return dst, nil
}

// rowReader stores the members of one row in args, the row's values.
type rowReader struct {
	tbl  *table
	id   string
	row  []byte
	text string // row as a string, once a text column needs it
	args []any
}

// startRow appends to dst the values of a row not yet read: every column
// NULL but its id.
func startRow(dst []any, tbl *table, id string, row []byte) ([]any, rowReader) {
	n := len(dst)
	dst = append(dst, make([]any, len(tbl.columns))...)
	r := rowReader{tbl: tbl, id: id, row: row, args: dst[n:]}
	r.args[tbl.index["id"]] = id
	return dst, r
}

// member stores the value row[start:end], valid JSON, of the column col.
// spaced says the value holds insignificant white space; plain that it is
// a string whose value is its text between the quotes.
func (r *rowReader) member(col, start, end int, spaced, plain bool) error {
	tbl, raw := r.tbl, r.row[start:end]
	key := tbl.columns[col]
	switch k := tbl.kinds[key]; {
	case key == "id":
		if rowID, err := wireString(raw); err != nil || rowID != r.id {
			return fmt.Errorf("sqlite: %s %s: row carries id %s", tbl.name, r.id, clip(raw))
		}
	case secret(tbl.name, key):
	case k == kindJSON && !spaced && string(raw) != "null":
		// Valid and without insignificant space: already compact.
		r.args[col] = string(raw)
	case (k == kindText || k == kindTime) && plain:
		// A slice of the row made a string once: one allocation a row
		// instead of one a value (a 1M initial sync spent a twentieth of
		// its station CPU copying them).
		if r.text == "" {
			r.text = string(r.row)
		}
		s := r.text[start+1 : end-1]
		if k == kindText {
			r.args[col] = s
			return nil
		}
		v, err := wireTime(s, raw)
		if err != nil {
			return fmt.Errorf("sqlite: %s %s: column %s: %w", tbl.name, r.id, key, err)
		}
		r.args[col] = v
	default:
		v, err := wireValue(k, raw)
		if err != nil {
			return fmt.Errorf("sqlite: %s %s: column %s: %w", tbl.name, r.id, key, err)
		}
		r.args[col] = v
	}
	return nil
}

// appendIndexedRow is appendWireRow for a row whose members the frame's
// decoding has located (syncproto.Changes.RowMembers): the frame's scan
// checked the row's grammar, its UTF-8 and that no name repeats, so the
// values are converted without walking the row again. text is the row as
// a string when the decoding has made one (Changes.RowText), or "".
func appendIndexedRow(dst []any, tbl *table, id string, row []byte, text string, members []syncproto.RowMember) ([]any, error) {
	dst, r := startRow(dst, tbl, id, row)
	r.text = text // "" when the row has none yet: made once needed
	for _, m := range members {
		var col int
		var known bool
		if name := row[m.NameStart:m.NameEnd]; !m.NameEscaped {
			col, known = tbl.index[string(name[1:len(name)-1])]
		} else {
			key, err := wireString(name)
			if err != nil {
				return nil, fmt.Errorf("sqlite: %s %s: member name %s: %w", tbl.name, id, clip(name), err)
			}
			col, known = tbl.index[key]
		}
		if !known {
			continue
		}
		// No string in a checked row holds a control character or bad
		// UTF-8, so one without escapes is its text.
		start, end := int(m.ValueStart), int(m.ValueEnd)
		plain := row[start] == '"' && !m.ValueEscaped
		if err := r.member(col, start, end, false, plain); err != nil {
			return nil, err
		}
	}
	return dst, nil
}

// plainString says whether raw is a JSON string of printable ASCII
// without escapes: its value is its text between the quotes.
func plainString(raw []byte) bool {
	if len(raw) < 2 || raw[0] != '"' {
		return false
	}
	for _, c := range raw[1 : len(raw)-1] {
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// notJSON is the error for a row that is not valid JSON, in encoding/json's
// words (it says where the text is broken).
func notJSON(tbl *table, id string, row []byte) error {
	var probe any
	err := json.Unmarshal(row, &probe)
	if err == nil {
		// Unreachable while scanValue accepts what encoding/json accepts.
		err = errors.New("invalid JSON")
	}
	return fmt.Errorf("sqlite: %s %s: row is not a JSON object: %w", tbl.name, id, err)
}

// wireString decodes a JSON string of a row decodeWireRow has validated
// (so no raw control character); one without escapes (the usual case) is
// taken as it is.
func wireString(raw []byte) (string, error) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", errors.New("not a string")
	}
	body := raw[1 : len(raw)-1]
	plain := true
	for _, c := range body {
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	// ASCII without escapes is taken as it is; other UTF-8 too, once checked
	// (encoding/json would replace an invalid sequence).
	if plain || (bytes.IndexByte(body, '\\') < 0 && utf8.Valid(body)) {
		return string(body), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", err
	}
	return s, nil
}

// The scan functions check the grammar of the value that starts at b[i]
// as encoding/json does (its nesting limit included) and return the index
// just past it; ok is false where encoding/json would refuse the text.

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// maxWireDepth is encoding/json's nesting limit: deeper text is refused.
const maxWireDepth = 10000

// scanValue scans the value starting at b[i], at nesting depth depth (the
// row object is 1). spaced reports insignificant whitespace inside it.
func scanValue(b []byte, i, depth int) (end int, spaced, ok bool) {
	if i >= len(b) {
		return i, false, false
	}
	switch c := b[i]; {
	case c == '"':
		end, _, ok = scanString(b, i)
		return end, false, ok
	case c == '{' || c == '[':
		if depth > maxWireDepth {
			return i, false, false
		}
		return scanContainer(b, i, depth)
	case c == '-' || c >= '0' && c <= '9':
		end, ok = scanNumber(b, i)
		return end, false, ok
	case c == 't':
		return scanLiteral(b, i, "true")
	case c == 'f':
		return scanLiteral(b, i, "false")
	case c == 'n':
		return scanLiteral(b, i, "null")
	}
	return i, false, false
}

func scanLiteral(b []byte, i int, lit string) (int, bool, bool) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, false, false
	}
	return i + len(lit), false, true
}

// scanContainer scans the object or array starting at b[i].
func scanContainer(b []byte, i, depth int) (end int, spaced, ok bool) {
	object := b[i] == '{'
	closer := byte(']')
	if object {
		closer = '}'
	}
	j := i + 1
	k := skipSpace(b, j)
	spaced = k != j
	if k < len(b) && b[k] == closer {
		return k + 1, spaced, true
	}
	for {
		if object {
			if k >= len(b) || b[k] != '"' {
				return k, spaced, false
			}
			if k, _, ok = scanString(b, k); !ok {
				return k, spaced, false
			}
			j = skipSpace(b, k)
			spaced = spaced || j != k
			if j >= len(b) || b[j] != ':' {
				return j, spaced, false
			}
			k = skipSpace(b, j+1)
			spaced = spaced || k != j+1
		}
		var inner bool
		if k, inner, ok = scanValue(b, k, depth+1); !ok {
			return k, spaced, false
		}
		j = skipSpace(b, k)
		spaced = spaced || inner || j != k
		if j >= len(b) {
			return j, spaced, false
		}
		switch b[j] {
		case closer:
			return j + 1, spaced, true
		case ',':
			k = skipSpace(b, j+1)
			spaced = spaced || k != j+1
		default:
			return j, spaced, false
		}
	}
}

// scanString scans the string starting at b[i] (its opening quote) and
// reports whether it holds escapes.
func scanString(b []byte, i int) (end int, escaped, ok bool) {
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1, escaped, true
		case c == '\\':
			escaped = true
			i++
			if i >= len(b) {
				return i, escaped, false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(b)-i < 5 {
					return i, escaped, false
				}
				for _, h := range b[i+1 : i+5] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return i, escaped, false
					}
				}
				i += 4
			default:
				return i, escaped, false
			}
		case c < 0x20:
			return i, escaped, false
		}
	}
	return i, escaped, false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// scanNumber scans a number as JSON spells it: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(b []byte, i int) (int, bool) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return i, false
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return i, false
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	return i, true
}
