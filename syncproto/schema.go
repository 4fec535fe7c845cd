package syncproto

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"time"

	"wardsync/workflow"
)

// The schema is read from the frame structs' JSON tags, so the struct is the
// only place a field is declared: a member without ",omitempty" is required,
// one with it is optional (and may be null, meaning absent).

type fieldKind int

const (
	fieldString fieldKind = iota
	fieldInt
	fieldBool
	fieldTime
	fieldRawObject
	fieldStringArray
	fieldObjectArray
)

type fieldSpec struct {
	name     string
	index    int // of the struct field
	kind     fieldKind
	optional bool
	pointer  bool        // *time.Time
	bits     int         // for fieldInt
	elem     *objectSpec // for fieldObjectArray
}

type objectSpec struct {
	fields []*fieldSpec
	index  map[string]int
}

var (
	timeType = reflect.TypeFor[time.Time]()
	rawType  = reflect.TypeFor[json.RawMessage]()
)

func specOf(t reflect.Type) *objectSpec {
	spec := &objectSpec{index: map[string]int{}}
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue // not on the wire (what Changes keeps of its rows)
		}
		name, opts, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			panic("syncproto: field " + t.Name() + "." + sf.Name + " has no JSON name")
		}
		f := &fieldSpec{name: name, index: i, optional: opts == "omitempty"}
		ft := sf.Type
		if ft.Kind() == reflect.Pointer {
			ft, f.pointer = ft.Elem(), true
		}
		switch {
		case ft == timeType:
			f.kind = fieldTime
		case ft == rawType && !f.pointer:
			f.kind = fieldRawObject
		case f.pointer:
			panic("syncproto: unsupported pointer field " + t.Name() + "." + sf.Name)
		case ft.Kind() == reflect.String:
			f.kind = fieldString
		case ft.Kind() == reflect.Int || ft.Kind() == reflect.Int64:
			f.kind, f.bits = fieldInt, ft.Bits()
		case ft.Kind() == reflect.Bool:
			f.kind = fieldBool
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.String:
			f.kind = fieldStringArray
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct && ft.Elem() != timeType:
			f.kind, f.elem = fieldObjectArray, specOf(ft.Elem())
		default:
			panic("syncproto: unsupported field type " + sf.Type.String())
		}
		spec.index[name] = len(spec.fields)
		spec.fields = append(spec.fields, f)
	}
	return spec
}

type frameSpec struct {
	spec *objectSpec
	new  func() Frame
}

var frameSpecs = map[string]frameSpec{
	TypeHello:      {specOf(reflect.TypeFor[Hello]()), func() Frame { return new(Hello) }},
	TypePush:       {specOf(reflect.TypeFor[Push]()), func() Frame { return new(Push) }},
	TypePull:       {specOf(reflect.TypeFor[Pull]()), func() Frame { return new(Pull) }},
	TypeReport:     {specOf(reflect.TypeFor[Report]()), func() Frame { return new(Report) }},
	TypeWelcome:    {specOf(reflect.TypeFor[Welcome]()), func() Frame { return new(Welcome) }},
	TypePushResult: {specOf(reflect.TypeFor[PushResult]()), func() Frame { return new(PushResult) }},
	TypeChanges:    {specOf(reflect.TypeFor[Changes]()), func() Frame { return new(Changes) }},
	TypePoke:       {specOf(reflect.TypeFor[Poke]()), func() Frame { return new(Poke) }},
	TypeError:      {specOf(reflect.TypeFor[Error]()), func() Frame { return new(Error) }},
}

// schemaCheck matches a scanned frame against its spec and, in the same
// walk, stores each member into the frame struct. Decoding from the tree
// instead of handing the bytes to encoding/json again halves the work on a
// 1 MiB page and leaves a single parser to trust.
type schemaCheck struct {
	data  []byte
	frame string
	// arena holds the copies of raw members (a page's rows, a push's
	// args): one allocation per frame instead of one per row. Each copy is
	// capped, so appending to one never writes over the next.
	arena []byte
}

// keep returns a copy of raw that does not alias the frame's bytes (the
// caller may reuse them).
func (c *schemaCheck) keep(raw []byte) json.RawMessage {
	if cap(c.arena)-len(c.arena) < len(raw) {
		// The raw members all lie in the frame, so the rest of it bounds them.
		c.arena = make([]byte, 0, max(len(raw), len(c.data)-len(c.arena)))
	}
	start := len(c.arena)
	c.arena = append(c.arena, raw...)
	return c.arena[start:len(c.arena):len(c.arena)]
}

// loc is a member's JSON path, built only when an error needs it: the
// schema nests one level (frame, array, element), so a list name and index
// say everything.
type loc struct {
	list string // "mutations" for a member of mutations[idx]; "" at the top
	idx  int
	name string // "" for the element itself
}

func (l loc) String() string {
	if l.list == "" {
		return l.name
	}
	s := l.list + "[" + strconv.Itoa(l.idx) + "]"
	if l.name != "" {
		s += "." + l.name
	}
	return s
}

func (c *schemaCheck) path(l loc) string { return c.frame + "." + l.String() }

func (c *schemaCheck) protocol(format string, a ...any) *workflow.Rejection {
	return workflow.Reject(workflow.CodeProtocolError, format, a...)
}

func (c *schemaCheck) invalid(l loc, format string, a ...any) *workflow.Rejection {
	field := l.String()
	r := workflow.Reject(workflow.CodeValidationFailed, c.frame+"."+field+" "+format, a...)
	r.Field = field
	return r
}

// object matches n against spec and fills dst, a struct. at locates n: the
// zero loc for the frame, {list, idx} for an element.
func (c *schemaCheck) object(spec *objectSpec, n node, at loc, dst reflect.Value) *workflow.Rejection {
	var seenBuf [16]bool
	var seen []bool
	if len(spec.fields) > len(seenBuf) {
		seen = make([]bool, len(spec.fields))
	} else {
		seen = seenBuf[:len(spec.fields)]
	}
	top := at.list == ""
	for _, m := range n.members {
		if top && string(m.name) == "type" {
			continue
		}
		i, ok := spec.index[string(m.name)]
		if !ok {
			where := c.frame
			if !top {
				where = c.path(at)
			}
			return c.protocol("%s has unknown field %s", where, quoteString(string(m.name)))
		}
		seen[i] = true
		f := spec.fields[i]
		if err := c.field(f, m.val, loc{list: at.list, idx: at.idx, name: f.name}, dst.Field(f.index)); err != nil {
			return err
		}
	}
	for i, f := range spec.fields {
		if !seen[i] && !f.optional {
			at.name = f.name
			return c.protocol("%s is missing", c.path(at))
		}
	}
	return nil
}

func (c *schemaCheck) field(f *fieldSpec, v node, at loc, dst reflect.Value) *workflow.Rejection {
	if v.kind == kindNull {
		if f.optional {
			return nil // null means absent: dst keeps its zero value
		}
		return c.protocol("%s must be %s, not null", c.path(at), f.want())
	}
	if !f.accepts(v.kind) {
		return c.protocol("%s must be %s, not %s", c.path(at), f.want(), v.kind)
	}
	raw := c.data[v.start:v.end]
	switch f.kind {
	case fieldString:
		dst.SetString(c.str(v))
	case fieldBool:
		dst.SetBool(v.kind == kindTrue)
	case fieldInt:
		n, err := strconv.ParseInt(string(raw), 10, f.bits)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return c.invalid(at, "is out of range: %s", clip(string(raw)))
			}
			return c.invalid(at, "must be an integer, got %s", clip(string(raw)))
		}
		dst.SetInt(n)
	case fieldTime:
		var t time.Time
		if err := t.UnmarshalJSON(raw); err != nil {
			return c.invalid(at, "must be an RFC 3339 time such as \"2025-03-14T09:26:53Z\", got %s", clip(string(raw)))
		}
		// One Go value per instant, as the database keeps it: UTC, to the
		// millisecond of TIMESTAMP(3).
		t = canonicalTime(t)
		if f.pointer {
			dst.Set(reflect.ValueOf(&t))
		} else {
			dst.Set(reflect.ValueOf(t))
		}
	case fieldRawObject:
		var out json.RawMessage
		if v.spaced {
			// Compact, so that equal frames hold equal bytes.
			var buf bytes.Buffer
			buf.Grow(len(raw))
			_ = json.Compact(&buf, raw)
			out = buf.Bytes()
		} else {
			out = c.keep(raw)
		}
		dst.SetBytes(out)
	case fieldStringArray:
		arr := reflect.MakeSlice(dst.Type(), len(v.elems), len(v.elems))
		for i, e := range v.elems {
			if e.kind != kindString {
				return c.protocol("%s must be a string, not %s", c.path(loc{list: f.name, idx: i}), e.kind)
			}
			arr.Index(i).SetString(c.str(e))
		}
		dst.Set(arr)
	case fieldObjectArray:
		arr := reflect.MakeSlice(dst.Type(), len(v.elems), len(v.elems))
		for i, e := range v.elems {
			el := loc{list: f.name, idx: i}
			if e.kind != kindObject {
				return c.protocol("%s must be an object, not %s", c.path(el), e.kind)
			}
			if err := c.object(f.elem, e, el, arr.Index(i)); err != nil {
				return err
			}
		}
		dst.Set(arr)
	}
	return nil
}

// str returns the value of a scanned string.
func (c *schemaCheck) str(v node) string {
	raw := c.data[v.start:v.end]
	if !v.escaped {
		return string(raw[1 : len(raw)-1])
	}
	var s string
	_ = json.Unmarshal(raw, &s) // cannot fail: the scanner accepted it
	return s
}

func canonicalTime(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

func (f *fieldSpec) accepts(k jsonKind) bool {
	switch f.kind {
	case fieldString, fieldTime:
		return k == kindString
	case fieldInt:
		return k == kindNumber
	case fieldBool:
		return k == kindTrue || k == kindFalse
	case fieldRawObject:
		return k == kindObject
	default:
		return k == kindArray
	}
}

func (f *fieldSpec) want() string {
	switch f.kind {
	case fieldString:
		return "a string"
	case fieldTime:
		return "an RFC 3339 time string"
	case fieldInt:
		return "an integer"
	case fieldBool:
		return "true or false"
	case fieldRawObject:
		return "an object"
	case fieldStringArray:
		return "an array of strings"
	default:
		return "an array of objects"
	}
}

// clip keeps an echoed value short: messages end up in logs and dashboards.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}
