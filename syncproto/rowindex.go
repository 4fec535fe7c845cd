package syncproto

// A page of the snapshot is a thousand rows, and the workstation's store
// reads each row's members again to write them: it walked every row a
// second time, checking the grammar the frame's scan had just checked.
// DecodeFromServer keeps what its scan found out about each row (where
// each member's name and value lie), so that the store converts the values
// without scanning the row again.

// rowDepth is where a change's row sits in a frame: the frame (1), its
// changes array (2), a change (3), its row (4).
const rowDepth = 4

// RowMember locates one member of a change's row, in bytes from the start
// of the row. The row is valid JSON (grammar, UTF-8, nesting, no repeated
// name), so a string without escapes is its bytes between the quotes.
type RowMember struct {
	NameStart, NameEnd   int32 // the name, quotes included
	ValueStart, ValueEnd int32 // the value's JSON text
	// NameEscaped and ValueEscaped say that the name, or a string value,
	// holds escapes.
	NameEscaped, ValueEscaped bool
}

// rowIndex is the members of a page's rows, one span of members per change.
type rowIndex struct {
	members []RowMember
	rows    []indexedRow
}

type indexedRow struct {
	row          []byte // the Row it describes; nil when the row is not indexed
	text         string // the same bytes, a slice of one string of the frame
	first, count int32
}

// RowMembers returns the members of Changes[i].Row in the order they were
// sent, and true, when the page came from DecodeFromServer and its i-th row
// is as decoded. Otherwise (a page built in memory, a row replaced or
// compacted since, a delete) it returns false and the row must be read
// as any JSON would.
func (f *Changes) RowMembers(i int) ([]RowMember, bool) {
	r, ok := f.indexed(i)
	if !ok {
		return nil, false
	}
	return f.index.members[r.first : r.first+r.count : r.first+r.count], true
}

// RowText is Changes[i].Row as a string, when RowMembers(i) holds, and ""
// otherwise. The rows of a page are slices of one string of the frame: a
// reader that keeps the row's text values as strings makes one copy of
// the page, not one of each row.
func (f *Changes) RowText(i int) string {
	r, _ := f.indexed(i)
	return r.text
}

func (f *Changes) indexed(i int) (indexedRow, bool) {
	if f.index == nil || i < 0 || i >= len(f.index.rows) || i >= len(f.Changes) {
		return indexedRow{}, false
	}
	r, row := f.index.rows[i], f.Changes[i].Row
	// The same bytes, not merely equal ones: the spans hold for them.
	if len(r.row) == 0 || len(row) != len(r.row) || &row[0] != &r.row[0] {
		return indexedRow{}, false
	}
	return r, true
}

// indexRows records in f where each row's members lie: root is the frame's
// tree and members what the scan recorded at rowDepth. A row with white
// space was compacted by the decoding, so its spans no longer hold and it
// is left out.
func (f *Changes) indexRows(data []byte, root node, members []RowMember) {
	var list node
	for _, m := range root.members {
		if string(m.name) == "changes" {
			list = m.val
		}
	}
	if len(list.elems) != len(f.Changes) {
		return // not reached: the schema built Changes from these elements
	}
	ix := &rowIndex{members: members, rows: make([]indexedRow, len(f.Changes))}
	var text string // the frame, once a row is indexed
	for i, el := range list.elems {
		for _, m := range el.members {
			if string(m.name) != "row" || m.val.kind != kindObject || m.val.spaced {
				continue
			}
			if text == "" {
				text = string(data)
			}
			ix.rows[i] = indexedRow{row: f.Changes[i].Row, text: text[m.val.start:m.val.end],
				first: m.val.first, count: m.val.count}
		}
	}
	f.index = ix
}
