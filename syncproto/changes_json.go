package syncproto

import (
	"bytes"
	"encoding/json"
	"errors"
)

// A page of changes is most of what the server sends (an initial sync is
// hundreds of pages of up to a thousand rows), and encoding/json spends
// most of its time on it re-scanning every row: a json.RawMessage is run
// through its compacting scanner, one byte at a time through a function
// pointer, although Encode has just checked that very row (a valid JSON
// object, valid UTF-8). encodeChanges writes the changes array itself and
// leaves the frame's other members to encoding/json; the bytes are the
// same as MarshalJSON's (TestEncodeChangesMatchesEncodingJSON).

// changesMember is how the empty changes array reads in the frame's other
// members. It cannot occur inside a string there: encoding/json writes a
// string's quotes as \".
var changesMember = []byte(`"changes":[]`)

// encodeChanges is MarshalJSON for a page whose rows Encode has checked.
func (f *Changes) encodeChanges() ([]byte, error) {
	type plain Changes
	head := plain(*f)
	head.Changes = []Change{}
	frame, err := marshalFrame(TypeChanges, head)
	if err != nil {
		return nil, err
	}
	at := bytes.Index(frame, changesMember)
	if at < 0 {
		return nil, errors.New("changes member not found")
	}
	at += len(changesMember) - 1 // before the closing bracket
	size := len(frame)
	for i := range f.Changes {
		size += len(f.Changes[i].Row) + len(f.Changes[i].ID) + len(f.Changes[i].Table) + 40
	}
	out := make([]byte, 0, size)
	out = append(out, frame[:at]...)
	for i := range f.Changes {
		c := &f.Changes[i]
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"table":`...)
		out = appendJSONString(out, c.Table)
		out = append(out, `,"op":`...)
		out = appendJSONString(out, string(c.Op))
		out = append(out, `,"id":`...)
		out = appendJSONString(out, c.ID)
		if len(c.Row) > 0 {
			out = append(out, `,"row":`...)
			out = appendCompactChecked(out, c.Row)
		}
		out = append(out, '}')
	}
	return append(out, frame[at:]...), nil
}

// appendJSONString appends s as encoding/json writes it without HTML
// escaping: plain printable ASCII as is, anything else through
// encoding/json itself.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(s) // a string always encodes
			return append(dst, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// appendCompactChecked appends src, a JSON value already checked to be
// valid, without its insignificant white space: what encoding/json's
// compacting does to such a value with HTML escaping off. In valid JSON
// white space outside strings is always insignificant, and inside a string
// only a backslash or a quote matters.
func appendCompactChecked(dst, src []byte) []byte {
	start := 0
	for i := 0; i < len(src); {
		switch src[i] {
		case '"':
			// To the string's closing quote: the next quote not escaped.
			// IndexByte is vectorised; clinical text is most of a row.
			i++
			for {
				j := bytes.IndexByte(src[i:], '"')
				if j < 0 {
					return append(dst, src[start:]...) // not reached: src is valid
				}
				if k := bytes.IndexByte(src[i:i+j], '\\'); k >= 0 {
					i += k + 2
					continue
				}
				i += j + 1
				break
			}
		case ' ', '\t', '\n', '\r':
			dst = append(dst, src[start:i]...)
			i++
			start = i
		default:
			i++
		}
	}
	return append(dst, src[start:]...)
}
