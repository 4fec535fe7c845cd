package workflow

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Arguments are decoded by hand rather than into structs: encoding/json
// cannot tell a missing field from a null one, silently replaces invalid
// UTF-8 and lone surrogates with U+FFFD, keeps the last of duplicate keys,
// and reports type errors without a path a nurse's screen can point at.
// Every failure here becomes a VALIDATION_FAILED whose Field is the JSON
// path of the offending value.

// presence says whether an argument was sent, sent as null, or sent with a value.
type presence int

const (
	absent presence = iota
	null
	given
)

// obj is one JSON object of arguments. Getters record the first failure in
// err and return zero values after it, so a mutator reads all its fields and
// checks err once; the first failing field in reading order is reported.
type obj struct {
	path   string
	fields map[string]json.RawMessage
	err    *Rejection
}

func joinPath(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

func invalid(field, format string, a ...any) *Rejection {
	r := Reject(CodeValidationFailed, format, a...)
	r.Field = field
	return r
}

// decodeObject parses raw as one JSON object holding only the known keys
// (any keys when known is nil). path is where the object sits ("" for the
// arguments themselves), label how a person calls it.
func decodeObject(raw []byte, path, label string, known []string) (*obj, *Rejection) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, invalid(path, "%s must be given as a JSON object.", label)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, invalid(path, "%s are not valid JSON (%s).", label, jsonErr(err))
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, invalid(path, "%s must be a JSON object, not %s.", label, kindOf(raw))
	}
	o := &obj{path: path, fields: map[string]json.RawMessage{}}
	var order []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, invalid(path, "%s are not valid JSON (%s).", label, jsonErr(err))
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, invalid(joinPath(path, key), "%s are not valid JSON (%s).", label, jsonErr(err))
		}
		if _, dup := o.fields[key]; dup {
			return nil, invalid(joinPath(path, key), "The field %s is given twice.", quote(joinPath(path, key)))
		}
		o.fields[key] = v
		order = append(order, key)
	}
	if _, err := dec.Token(); err != nil {
		return nil, invalid(path, "%s are not valid JSON (%s).", label, jsonErr(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, invalid(path, "%s are followed by unexpected data.", label)
	}
	for _, key := range order {
		if known != nil && !contains(known, key) {
			return nil, invalid(joinPath(path, key), "The field %s is not known here; check the spelling.", quote(joinPath(path, key)))
		}
	}
	return o, nil
}

func jsonErr(err error) string {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "the text ends too early"
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

func contains[T comparable](list []T, x T) bool {
	for _, y := range list {
		if x == y {
			return true
		}
	}
	return false
}

// kindOf names a raw JSON value's type in words a non-programmer reads.
func kindOf(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "text"
	case '{':
		return "an object"
	case '[':
		return "a list"
	case 't', 'f':
		return "true/false"
	case 'n':
		return "null"
	}
	return "a number"
}

func (o *obj) fail(r *Rejection) {
	if o.err == nil {
		o.err = r
	}
}

func (o *obj) has(name string) bool {
	_, ok := o.fields[name]
	return ok
}

// raw returns a field's JSON and whether it was sent, null or not.
func (o *obj) raw(name string) (json.RawMessage, presence) {
	v, ok := o.fields[name]
	switch {
	case !ok:
		return nil, absent
	case string(v) == "null":
		return v, null
	}
	return v, given
}

// wrongType reports a field whose JSON type is wrong.
func (o *obj) wrongType(name, label, want string, v json.RawMessage) {
	o.fail(invalid(joinPath(o.path, name), "%s must be %s, not %s.", label, want, kindOf(v)))
}

func (o *obj) missing(name, label string) {
	o.fail(invalid(joinPath(o.path, name), "%s", say("required", "label", label)))
}

// str reads a string field. Required fields that are absent or null fail;
// optional ones report their presence and let the caller decide about null.
func (o *obj) str(name, label string, required bool) (string, presence) {
	return o.strWant(name, label, "text", required)
}

// strWant is str with a custom description of the expected text, for
// messages such as `must be text such as "120.50"`.
func (o *obj) strWant(name, label, want string, required bool) (string, presence) {
	if o.err != nil {
		return "", absent
	}
	v, p := o.raw(name)
	if p != given {
		if required {
			o.missing(name, label)
		}
		return "", p
	}
	if v[0] != '"' {
		o.wrongType(name, label, want, v)
		return "", absent
	}
	if msg := checkJSONText(v); msg != "" {
		o.fail(invalid(joinPath(o.path, name), "%s: the text %s.", label, msg))
		return "", absent
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		o.wrongType(name, label, "text", v)
		return "", absent
	}
	return s, given
}

// text reads a free-text field and checks its length in characters (runes).
// min ≥ 1 also refuses text made only of spaces: an empty note is no note.
func (o *obj) text(name, label string, min, max int, required bool) (string, presence) {
	s, p := o.str(name, label, required)
	if p != given {
		return s, p
	}
	if r := checkLength(joinPath(o.path, name), label, s, min, max); r != nil {
		o.fail(r)
		return "", absent
	}
	return s, given
}

func checkLength(field, label, s string, min, max int) *Rejection {
	n := utf8.RuneCountInString(s)
	if min > 0 && strings.TrimSpace(s) == "" {
		return invalid(field, "%s", say("textEmpty", "label", label))
	}
	if n < min {
		return invalid(field, "%s", say("textTooShort", "label", label, "bound", thousands(int64(min)), "n", thousands(int64(n))))
	}
	if n > max {
		return invalid(field, "%s", say("textTooLong", "label", label, "bound", thousands(int64(max)), "n", thousands(int64(n))))
	}
	return nil
}

// checkJSONText inspects the raw JSON of a value (a string, or a whole
// object) for text PostgreSQL cannot store or that encoding/json would
// silently alter: invalid UTF-8, the NUL character, lone UTF-16 surrogates.
// It returns a phrase completing "<label> ..." or "".
func checkJSONText(raw []byte) string {
	if !utf8.Valid(raw) {
		return "contains bytes that are not valid UTF-8 text"
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' || i+1 >= len(raw) {
			continue
		}
		if raw[i+1] != 'u' {
			i++ // skip the escaped character, which may itself be a backslash
			continue
		}
		c, ok := hex4(raw, i+2)
		if !ok {
			return "contains an invalid escape sequence"
		}
		i += 5
		switch {
		case c == 0:
			return "contains a NUL character (U+0000), which cannot be stored"
		case c >= 0xDC00 && c <= 0xDFFF:
			return "contains an unpaired UTF-16 surrogate, which is not valid text"
		case c >= 0xD800 && c <= 0xDBFF:
			if i+6 >= len(raw) || raw[i+1] != '\\' || raw[i+2] != 'u' {
				return "contains an unpaired UTF-16 surrogate, which is not valid text"
			}
			lo, ok := hex4(raw, i+3)
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return "contains an unpaired UTF-16 surrogate, which is not valid text"
			}
			i += 6
		}
	}
	return ""
}

func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[at:at+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	return rune(n), true
}

// id reads a required UUID field.
func (o *obj) id(name, label string) string {
	s, p := o.str(name, label, true)
	if p != given {
		return ""
	}
	if !IsUUID(s) {
		o.fail(invalid(joinPath(o.path, name), "%s %s is not a valid id; ids are lowercase UUIDs such as 123e4567-e89b-12d3-a456-426614174000.", label, quote(s)))
		return ""
	}
	return s
}

// IsUUID reports whether s is a UUID in the canonical lowercase 8-4-4-4-12
// form (any version). Only one spelling is accepted because ids are TEXT
// keys: "ABC…" and "abc…" would be two different rows. The nil UUID is
// refused because it is what a forgotten assignment produces.
func IsUUID(s string) bool {
	if len(s) != 36 || s == "00000000-0000-0000-0000-000000000000" {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// number reads a JSON number. lit is the number as sent, for messages that
// name the value the user typed rather than a float's rendering of it.
func (o *obj) number(name, label string, required bool) (v float64, lit string, p presence) {
	if o.err != nil {
		return 0, "", absent
	}
	raw, p := o.raw(name)
	if p != given {
		if required {
			o.missing(name, label)
		}
		return 0, "", p
	}
	var n json.Number
	if c := raw[0]; c != '-' && (c < '0' || c > '9') || json.Unmarshal(raw, &n) != nil {
		o.wrongType(name, label, "a number", raw)
		return 0, "", absent
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil && !math.IsInf(f, 0) {
		o.wrongType(name, label, "a number", raw)
		return 0, "", absent
	}
	return f, string(n), given
}

// boolean reads an optional true/false field.
func (o *obj) boolean(name, label string) (bool, presence) {
	if o.err != nil {
		return false, absent
	}
	raw, p := o.raw(name)
	if p != given {
		return false, p
	}
	switch string(raw) {
	case "true":
		return true, given
	case "false":
		return false, given
	}
	o.wrongType(name, label, "true or false", raw)
	return false, absent
}

// timestamp reads an RFC 3339 date-time, in UTC, truncated to the
// millisecond because the columns are TIMESTAMP(3): both sides then store
// the very same instant.
func (o *obj) timestamp(name, label string, required bool) (time.Time, presence) {
	s, p := o.str(name, label, required)
	if p != given {
		return time.Time{}, p
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		o.fail(invalid(joinPath(o.path, name), "%s %s is not a date and time in RFC 3339 form, such as 2026-01-05T14:00:00Z.", label, quote(s)))
		return time.Time{}, absent
	}
	return ms(t), given
}

// object reads a nested object with its own known keys.
func (o *obj) object(name, label string, known []string, required bool) (*obj, presence) {
	if o.err != nil {
		return nil, absent
	}
	raw, p := o.raw(name)
	if p != given {
		if required {
			o.missing(name, label)
		}
		return nil, p
	}
	if raw[0] != '{' {
		o.wrongType(name, label, "an object", raw)
		return nil, absent
	}
	sub, r := decodeObject(raw, joinPath(o.path, name), label, known)
	if r != nil {
		o.fail(r)
		return nil, absent
	}
	return sub, given
}

// jsonValue reads free-form JSON (result data, medical history) and returns
// it re-encoded canonically (keys sorted, no insignificant space), so the
// workstation and the server store byte-identical JSON. allowArray admits a
// list besides an object.
func (o *obj) jsonValue(name, label string, allowArray bool) (json.RawMessage, presence) {
	if o.err != nil {
		return nil, absent
	}
	raw, p := o.raw(name)
	if p != given {
		return nil, p
	}
	if raw[0] != '{' && !(allowArray && raw[0] == '[') {
		want := "an object"
		if allowArray {
			want = "an object or a list"
		}
		o.wrongType(name, label, want, raw)
		return nil, absent
	}
	if msg := checkJSONText(raw); msg != "" {
		o.fail(invalid(joinPath(o.path, name), "%s: the text %s.", label, msg))
		return nil, absent
	}
	c, err := canonicalJSON(raw)
	if err != nil {
		o.fail(invalid(joinPath(o.path, name), "%s is not valid JSON (%s).", label, jsonErr(err)))
		return nil, absent
	}
	if n := unstorableNumber(c); n != "" {
		o.fail(invalid(joinPath(o.path, name), "%s: the number %s is too large or too precise to be stored.", label, clip(n)))
		return nil, absent
	}
	return c, given
}

// unstorableNumber returns the first number of a valid JSON value that
// PostgreSQL's jsonb cannot hold, or "": its numeric type keeps at most
// 131,072 digits before the decimal point and a display scale (the digits
// written after it, less the exponent) of at most 16,383, and refuses an
// exponent beyond ±(2³¹−1)/2 outright. The workstation must refuse such a
// number as the server's database would.
func unstorableNumber(raw []byte) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		n, ok := tok.(json.Number)
		if !ok {
			continue
		}
		mant, exp, hasExp := strings.Cut(strings.ToLower(string(n)), "e")
		var e int64
		if hasExp {
			if e, err = strconv.ParseInt(exp, 10, 64); err != nil || e >= math.MaxInt32/2 || e <= -math.MaxInt32/2 {
				return string(n)
			}
		}
		intDigits, fracDigits, _ := strings.Cut(strings.TrimPrefix(mant, "-"), ".")
		if int64(len(fracDigits))-e > 16383 {
			return string(n)
		}
		digits := intDigits + fracDigits
		significant := strings.TrimLeft(digits, "0")
		if significant == "" {
			continue // zero: no digits before the point
		}
		if int64(len(intDigits))+e-int64(len(digits)-len(significant)) > 131072 {
			return string(n)
		}
	}
}

func canonicalJSON(raw []byte) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return json.RawMessage(bytes.TrimRight(buf.Bytes(), "\n")), nil
}

// quote renders a user-supplied value for a message: quoted, escaped, and
// shortened so a pasted essay does not become the error.
func quote(s string) string {
	return strconv.Quote(clip(s))
}

// clip shortens a value for a message.
func clip(s string) string {
	const max = 40
	if utf8.RuneCountInString(s) > max {
		r := []rune(s)
		s = string(r[:max]) + "…"
	}
	return s
}

// thousands formats n with comma separators: 10,000 reads better than 10000.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// ms puts a time in UTC and drops sub-millisecond digits (TIMESTAMP(3)).
// PostgreSQL would round them instead, which could move an instant forward.
func ms(t time.Time) time.Time {
	return t.UTC().Truncate(time.Millisecond)
}
