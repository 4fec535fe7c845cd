package syncproto

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"wardsync/workflow"
)

// The scanner below exists because encoding/json alone is too forgiving for a
// wire contract: it matches member names case-insensitively, keeps the last of
// two members with the same name, cannot tell a missing member from a zero
// one, and recurses as deep as the input nests. One pass over the bytes checks
// the grammar, the nesting depth and duplicate names, and keeps a small tree
// of the levels the frame schema describes; encoding/json only runs on input
// that already passed.

type jsonKind byte

const (
	kindObject jsonKind = '{'
	kindArray  jsonKind = '['
	kindString jsonKind = '"'
	kindNumber jsonKind = '0'
	kindTrue   jsonKind = 't'
	kindFalse  jsonKind = 'f'
	kindNull   jsonKind = 'n'
)

func (k jsonKind) String() string {
	switch k {
	case kindObject:
		return "an object"
	case kindArray:
		return "an array"
	case kindString:
		return "a string"
	case kindNumber:
		return "a number"
	case kindTrue, kindFalse:
		return "a boolean"
	default:
		return "null"
	}
}

// treeDepth is how deep the tree is kept: the frame (1), its arrays (2) and
// their element objects (3). Deeper values (args, row) are opaque to the
// schema, so only their spans are kept.
const treeDepth = 3

type node struct {
	kind       jsonKind
	start, end int  // span in the input, quotes included for strings
	escaped    bool // a string holding escapes
	spaced     bool // a container holding insignificant whitespace
	members    []member
	elems      []node
	// first and count locate an indexed row's members in the scanner's
	// rows (rowindex.go).
	first, count int32
}

type member struct {
	name []byte // decoded; aliases the input unless it held escapes
	val  node
}

type scanner struct {
	data   []byte
	pos    int
	spaces int // whitespace bytes skipped so far
	// index asks for the members of every object at rowDepth, recorded in
	// rows (rowindex.go).
	index bool
	rows  []RowMember
}

// scanFrame checks data (already known to be valid UTF-8 and within the size
// limit) and returns the tree of its top-level object.
func scanFrame(data []byte) (node, *workflow.Rejection) {
	n, _, err := scanFrameIndexed(data, false)
	return n, err
}

// scanFrameIndexed is scanFrame that, when index is set, also returns the
// members of the objects at rowDepth.
func scanFrameIndexed(data []byte, index bool) (node, []RowMember, *workflow.Rejection) {
	s := scanner{data: data, index: index}
	n, err := s.frame()
	return n, s.rows, err
}

func (s *scanner) frame() (node, *workflow.Rejection) {
	data := s.data
	s.skipSpace()
	switch {
	case s.pos == len(data):
		return node{}, workflow.Reject(workflow.CodeProtocolError, "frame is empty")
	case data[s.pos] != '{':
		return node{}, workflow.Reject(workflow.CodeProtocolError, "frame must be a JSON object")
	}
	n, err := s.value(1, true)
	if err != nil {
		return node{}, err
	}
	if s.skipSpace(); s.pos != len(data) {
		return node{}, s.syntax("unexpected data after the frame object")
	}
	return n, nil
}

// checkRawObject applies the frame rules to a raw value that Encode is about
// to embed at the given depth, so the peer's Decode will not refuse it.
// It returns what is wrong, or "".
func checkRawObject(raw []byte, depth int) string {
	if !utf8.Valid(raw) {
		return "must be valid UTF-8"
	}
	s := scanner{data: raw}
	s.skipSpace()
	if s.pos == len(raw) || raw[s.pos] != '{' {
		return "must be a JSON object"
	}
	if _, err := s.value(depth, false); err != nil {
		return "must be a valid JSON object (" + err.Message + ")"
	}
	if s.skipSpace(); s.pos != len(raw) {
		return "must be a single JSON object"
	}
	return ""
}

func (s *scanner) syntax(what string) *workflow.Rejection {
	if s.pos >= len(s.data) {
		return workflow.Reject(workflow.CodeProtocolError, "frame is not valid JSON: %s at the end of the input", what)
	}
	return workflow.Reject(workflow.CodeProtocolError, "frame is not valid JSON: %s at byte %d", what, s.pos)
}

func (s *scanner) unexpected() *workflow.Rejection {
	if s.pos >= len(s.data) {
		return s.syntax("unexpected end")
	}
	r, _ := utf8.DecodeRune(s.data[s.pos:])
	return s.syntax("unexpected character " + quoteRune(r))
}

func quoteRune(r rune) string {
	b, _ := json.Marshal(string(r))
	return string(b)
}

func (s *scanner) peek() byte {
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

func (s *scanner) skipSpace() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
			s.spaces++
		default:
			return
		}
	}
}

// value scans one value at the given depth (1 for the frame object).
func (s *scanner) value(depth int, build bool) (node, *workflow.Rejection) {
	s.skipSpace()
	start := s.pos
	switch c := s.peek(); {
	case c == '{':
		return s.object(depth, build)
	case c == '[':
		return s.array(depth, build)
	case c == '"':
		escaped, err := s.str()
		if err != nil {
			return node{}, err
		}
		return node{kind: kindString, start: start, end: s.pos, escaped: escaped}, nil
	case c == '-' || c >= '0' && c <= '9':
		if err := s.number(); err != nil {
			return node{}, err
		}
		return node{kind: kindNumber, start: start, end: s.pos}, nil
	case c == 't':
		return s.literal("true", kindTrue)
	case c == 'f':
		return s.literal("false", kindFalse)
	case c == 'n':
		return s.literal("null", kindNull)
	default:
		return node{}, s.unexpected()
	}
}

func (s *scanner) literal(lit string, k jsonKind) (node, *workflow.Rejection) {
	start := s.pos
	if !bytes.HasPrefix(s.data[s.pos:], []byte(lit)) {
		return node{}, s.unexpected()
	}
	s.pos += len(lit)
	return node{kind: k, start: start, end: s.pos}, nil
}

func tooDeep() *workflow.Rejection {
	return workflow.Reject(workflow.CodeProtocolError, "frame nests JSON deeper than %d levels", MaxDepth)
}

func (s *scanner) object(depth int, build bool) (node, *workflow.Rejection) {
	n, spaces, empty, err := s.open(depth, kindObject, '}')
	if err != nil || empty {
		return n, err
	}
	var names nameSet
	record := s.index && depth == rowDepth
	if record {
		if s.rows == nil {
			// Sized for the rest of the frame at one member in 32 bytes
			// (an appointment's are 40), not grown by copying.
			s.rows = make([]RowMember, 0, (len(s.data)-s.pos)/32+1)
		}
		n.first = int32(len(s.rows))
	}
	for {
		s.skipSpace()
		if s.peek() != '"' {
			if s.pos >= len(s.data) {
				return node{}, s.unexpected()
			}
			return node{}, s.syntax("expected a member name")
		}
		nameStart := s.pos
		escaped, err := s.str()
		if err != nil {
			return node{}, err
		}
		nameEnd := s.pos
		name := s.name(nameStart, nameEnd, escaped)
		if !names.add(name) {
			return node{}, workflow.Reject(workflow.CodeProtocolError,
				"frame repeats the member name %s in one object (byte %d)", quoteString(string(name)), nameStart)
		}
		s.skipSpace()
		if s.peek() != ':' {
			return node{}, s.syntax("expected ':'")
		}
		s.pos++
		v, err := s.value(depth+1, build && depth+1 <= treeDepth)
		if err != nil {
			return node{}, err
		}
		if record {
			s.rows = append(s.rows, RowMember{
				NameStart: int32(nameStart - n.start), NameEnd: int32(nameEnd - n.start),
				ValueStart: int32(v.start - n.start), ValueEnd: int32(v.end - n.start),
				NameEscaped: escaped, ValueEscaped: v.escaped,
			})
			n.count++
		}
		if build {
			if n.members == nil {
				n.members = make([]member, 0, 8)
			}
			n.members = append(n.members, member{name: name, val: v})
		}
		closed, err := s.next(&n, '}', spaces)
		if err != nil {
			return node{}, err
		}
		if closed {
			return n, nil
		}
	}
}

func (s *scanner) array(depth int, build bool) (node, *workflow.Rejection) {
	n, spaces, empty, err := s.open(depth, kindArray, ']')
	if err != nil || empty {
		return n, err
	}
	for {
		v, err := s.value(depth+1, build && depth+1 <= treeDepth)
		if err != nil {
			return node{}, err
		}
		if build {
			n.elems = append(n.elems, v)
		}
		closed, err := s.next(&n, ']', spaces)
		if err != nil {
			return node{}, err
		}
		if closed {
			return n, nil
		}
	}
}

// open starts an object or an array at its opening byte. spaces is the
// scanner's count of white space there (for closes); empty says the
// container closed at once, n complete.
func (s *scanner) open(depth int, kind jsonKind, closing byte) (n node, spaces int, empty bool, err *workflow.Rejection) {
	if depth > MaxDepth {
		return node{}, 0, false, tooDeep()
	}
	n = node{kind: kind, start: s.pos}
	spaces = s.spaces
	s.pos++
	s.skipSpace()
	return n, spaces, s.closes(&n, closing, spaces), nil
}

// next reads what follows a member or an element: a comma, or the
// closing byte (closed, n complete).
func (s *scanner) next(n *node, closing byte, spaces int) (closed bool, err *workflow.Rejection) {
	s.skipSpace()
	if s.closes(n, closing, spaces) {
		return true, nil
	}
	switch {
	case s.peek() == ',':
		s.pos++
		return false, nil
	case s.pos >= len(s.data):
		return false, s.unexpected()
	}
	return false, s.syntax("expected ',' or '" + string(closing) + "'")
}

// closes consumes the container's closing byte if it comes next, and
// records where n ends and whether white space stood inside it (spaces is
// the scanner's count at the opening byte).
func (s *scanner) closes(n *node, closing byte, spaces int) bool {
	if s.peek() != closing {
		return false
	}
	s.pos++
	n.end, n.spaced = s.pos, s.spaces != spaces
	return true
}

// str scans a string starting at its opening quote and reports whether it
// holds escapes.
func (s *scanner) str() (escaped bool, err *workflow.Rejection) {
	s.pos++
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			return escaped, nil
		case c == '\\':
			escaped = true
			s.pos++
			switch s.peek() {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.pos++
			case 'u':
				s.pos++
				for range 4 {
					if !isHex(s.peek()) {
						return escaped, s.syntax(`invalid \u escape`)
					}
					s.pos++
				}
			default:
				return escaped, s.syntax("invalid escape")
			}
		case c < 0x20:
			return escaped, s.syntax("control character in a string")
		default:
			s.pos++
		}
	}
	return escaped, s.syntax("unterminated string")
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (s *scanner) number() *workflow.Rejection {
	if s.peek() == '-' {
		s.pos++
	}
	switch c := s.peek(); {
	case c == '0':
		s.pos++
	case c >= '1' && c <= '9':
		for isDigit(s.peek()) {
			s.pos++
		}
	default:
		return s.syntax("invalid number")
	}
	if s.peek() == '.' {
		s.pos++
		if !isDigit(s.peek()) {
			return s.syntax("invalid number")
		}
		for isDigit(s.peek()) {
			s.pos++
		}
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.pos++
		if c := s.peek(); c == '+' || c == '-' {
			s.pos++
		}
		if !isDigit(s.peek()) {
			return s.syntax("invalid number")
		}
		for isDigit(s.peek()) {
			s.pos++
		}
	}
	return nil
}

// name returns a member name as encoding/json would see it, so that a name
// spelled with escapes cannot slip past the duplicate and schema checks.
func (s *scanner) name(start, end int, escaped bool) []byte {
	if !escaped {
		return s.data[start+1 : end-1]
	}
	var name string
	if err := json.Unmarshal(s.data[start:end], &name); err != nil {
		// Unreachable: str accepted the literal. Keep the raw spelling.
		return s.data[start:end]
	}
	return []byte(name)
}

func quoteString(v string) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// nameSet detects a repeated member name without allocating for the small
// objects that make up most frames; large ones fall back to a map. Small
// is up to 32 members: every row of a page is such an object, and an
// appointment's 20 columns each sent a row to the map (its allocation and
// hashing were 8 % of an initial sync's station CPU).
type nameSet struct {
	small [32][]byte
	n     int
	big   map[string]struct{}
}

func (s *nameSet) add(name []byte) bool {
	if s.big == nil {
		for _, x := range s.small[:s.n] {
			if bytes.Equal(x, name) {
				return false
			}
		}
		if s.n < len(s.small) {
			s.small[s.n] = name
			s.n++
			return true
		}
		s.big = make(map[string]struct{}, 2*len(s.small))
		for _, x := range s.small {
			s.big[string(x)] = struct{}{}
		}
	}
	if _, ok := s.big[string(name)]; ok {
		return false
	}
	s.big[string(name)] = struct{}{}
	return true
}
