package sqlite

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// decodeWireRow reads a row in wire form (one JSON object) straight into
// the stored values of tbl's columns, in tbl.columns order: one validation
// of the text and one walk over its members, instead of decoding it into a
// map first and each member again (that was a third of an initial sync's
// CPU). Members that name no column are skipped; columns the object lacks,
// and secret ones, stay nil (NULL). When a member appears twice the last
// one counts, as with encoding/json.
func decodeWireRow(tbl *table, id string, row []byte) ([]any, error) {
	if !json.Valid(row) {
		var probe any
		err := json.Unmarshal(row, &probe) // says where the text is broken
		return nil, fmt.Errorf("sqlite: %s %s: row is not a JSON object: %w", tbl.name, id, err)
	}
	i := skipSpace(row, 0)
	if i >= len(row) || row[i] != '{' {
		return nil, fmt.Errorf("sqlite: %s %s: row is not a JSON object: %s", tbl.name, id, clip(row))
	}
	args := make([]any, len(tbl.columns))
	args[tbl.index["id"]] = id
	i = skipSpace(row, i+1)
	if row[i] == '}' {
		return args, nil
	}
	for {
		// The text is valid JSON: a member is "key" : value, then , or }.
		end := skipString(row, i)
		key, err := wireString(row[i:end])
		if err != nil {
			return nil, fmt.Errorf("sqlite: %s %s: member name %s: %w", tbl.name, id, clip(row[i:end]), err)
		}
		i = skipSpace(row, end)
		i = skipSpace(row, i+1) // the colon
		end = skipValue(row, i)
		raw := row[i:end]
		if col, ok := tbl.index[key]; ok {
			switch {
			case key == "id":
				if rowID, err := wireString(raw); err != nil || rowID != id {
					return nil, fmt.Errorf("sqlite: %s %s: row carries id %s", tbl.name, id, clip(raw))
				}
			case secret(tbl.name, key):
			default:
				v, err := wireValue(tbl.kinds[key], raw)
				if err != nil {
					return nil, fmt.Errorf("sqlite: %s %s: column %s: %w", tbl.name, id, key, err)
				}
				args[col] = v
			}
		}
		i = skipSpace(row, end)
		if row[i] == '}' {
			break
		}
		i = skipSpace(row, i+1) // the comma
	}
	return args, nil
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

// The skip functions walk text already known to be valid JSON, so they
// only look for where a token ends.

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at b[i].
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// skipValue returns the index just past the value starting at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	}
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}
