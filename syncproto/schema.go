package syncproto

import (
	"encoding/json"
	"fmt"
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
	kind     fieldKind
	optional bool
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
		name, opts, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			panic("syncproto: field " + t.Name() + "." + sf.Name + " has no JSON name")
		}
		f := &fieldSpec{name: name, optional: opts == "omitempty"}
		ft := sf.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case ft == timeType:
			f.kind = fieldTime
		case ft == rawType:
			f.kind = fieldRawObject
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

// schemaCheck holds the state of matching a scanned frame against its spec.
type schemaCheck struct {
	data  []byte
	frame string
}

func (c *schemaCheck) path(p string) string { return c.frame + "." + p }

func (c *schemaCheck) protocol(format string, a ...any) *workflow.Rejection {
	return workflow.Reject(CodeProtocolError, format, a...)
}

func (c *schemaCheck) invalid(field, format string, a ...any) *workflow.Rejection {
	r := workflow.Reject(CodeValidationFailed, c.path(field)+" "+format, a...)
	r.Field = field
	return r
}

// object matches n against spec. prefix is the JSON path of n ("" for the
// frame, "mutations[2]." for an element).
func (c *schemaCheck) object(spec *objectSpec, n node, prefix string, top bool) *workflow.Rejection {
	seen := make([]bool, len(spec.fields))
	for _, m := range n.members {
		if top && m.name == "type" {
			continue
		}
		i, ok := spec.index[m.name]
		if !ok {
			where := c.frame
			if prefix != "" {
				where = c.path(strings.TrimSuffix(prefix, "."))
			}
			return c.protocol("%s has unknown field %s", where, quoteString(m.name))
		}
		seen[i] = true
		if err := c.field(spec.fields[i], m.val, prefix+m.name); err != nil {
			return err
		}
	}
	for i, f := range spec.fields {
		if !seen[i] && !f.optional {
			return c.protocol("%s is missing", c.path(prefix+f.name))
		}
	}
	return nil
}

func (c *schemaCheck) field(f *fieldSpec, v node, path string) *workflow.Rejection {
	if v.kind == kindNull {
		if f.optional {
			return nil
		}
		return c.protocol("%s must be %s, not null", c.path(path), f.want())
	}
	if !f.accepts(v.kind) {
		return c.protocol("%s must be %s, not %s", c.path(path), f.want(), v.kind)
	}
	raw := c.data[v.start:v.end]
	switch f.kind {
	case fieldInt:
		if _, err := strconv.ParseInt(string(raw), 10, f.bits); err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return c.invalid(path, "is out of range: %s", clip(string(raw)))
			}
			return c.invalid(path, "must be an integer, got %s", clip(string(raw)))
		}
	case fieldTime:
		var t time.Time
		if err := t.UnmarshalJSON(raw); err != nil {
			return c.invalid(path, "must be an RFC 3339 time such as \"2025-03-14T09:26:53Z\", got %s", clip(string(raw)))
		}
	case fieldStringArray:
		for i, e := range v.elems {
			if e.kind != kindString {
				return c.protocol("%s[%d] must be a string, not %s", c.path(path), i, e.kind)
			}
		}
	case fieldObjectArray:
		for i, e := range v.elems {
			elemPath := fmt.Sprintf("%s[%d]", path, i)
			if e.kind != kindObject {
				return c.protocol("%s must be an object, not %s", c.path(elemPath), e.kind)
			}
			if err := c.object(f.elem, e, elemPath+".", false); err != nil {
				return err
			}
		}
	}
	return nil
}

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
