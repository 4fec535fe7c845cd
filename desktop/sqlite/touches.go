package sqlite

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"wardsync/workflow"
)

// An act's touches are the replicated rows its mutator read (found or not)
// and the rows its effect wrote, as "table/id" keys; a read of rows chosen
// by another column (a prescription's result, a patient's records) is the
// wildcard "table/*". A pull's rebase uses them to replay only the queued
// acts a page can affect (see rebaseSome).

const wildcard = "*"

func touchKey(table, id string) string { return table + "/" + id }

func splitTouch(k string) (table, id string) {
	table, id, _ = strings.Cut(k, "/")
	return table, id
}

// touchSet is a set of touch keys.
type touchSet map[string]struct{}

func (s touchSet) add(table, id string) { s[touchKey(table, id)] = struct{}{} }

func (s touchSet) sorted() []string {
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// touches are what one run of an act read and wrote.
type touches struct {
	Reads  []string `json:"reads"`
	Writes []string `json:"writes"`
}

// touched builds an act's touches from its reads and its effect.
func touched(reads touchSet, eff workflow.Effect) touches {
	w := touchSet{}
	for _, op := range eff.Ops {
		w.add(op.Table, op.ID)
	}
	return touches{Reads: reads.sorted(), Writes: w.sorted()}
}

// encode renders the touches as the outbox stores them.
func (x touches) encode() string {
	b, _ := json.Marshal(x)
	return string(b)
}

// subset says whether every key of a (sorted) is in b (sorted).
func subset(a, b []string) bool {
	for _, k := range a {
		if _, ok := slices.BinarySearch(b, k); !ok {
			return false
		}
	}
	return true
}

// union merges two sorted key lists.
func union(a, b []string) []string {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}

func decodeTouches(stored string) (touches, error) {
	var x touches
	if err := json.Unmarshal([]byte(stored), &x); err != nil {
		return x, fmt.Errorf("sqlite: outbox touches %q: %w", stored, err)
	}
	return x, nil
}

// reach is what a selective rebase rebuilds: rows (table/id), each reset
// to the server's version and rebuilt by replaying every queued act that
// touches it, and whole tables (a replayed act read rows of it chosen by
// another column, so every act touching that table is replayed too).
type reach struct {
	rows    touchSet
	tables  map[string]bool // table → it holds a row of rows
	allOf   map[string]bool // table → every row of it counts
	changed bool
}

func newReach() *reach {
	return &reach{rows: touchSet{}, tables: map[string]bool{}, allOf: map[string]bool{}}
}

func (r *reach) addRow(table, id string) {
	k := touchKey(table, id)
	if _, ok := r.rows[k]; !ok {
		r.rows[k] = struct{}{}
		r.tables[table] = true
		r.changed = true
	}
}

func (r *reach) has(k string) bool {
	table, id := splitTouch(k)
	if r.allOf[table] {
		return true
	}
	if id == wildcard {
		return r.tables[table]
	}
	_, ok := r.rows[k]
	return ok
}

// meets says whether an act with these touches reads or writes a row of r.
func (r *reach) meets(x touches) bool {
	for _, k := range x.Reads {
		if r.has(k) {
			return true
		}
	}
	for _, k := range x.Writes {
		if r.has(k) {
			return true
		}
	}
	return false
}

// take adds the rows an act wrote (the rows its replay may change).
func (r *reach) take(x touches) {
	for _, k := range x.Writes {
		table, id := splitTouch(k)
		r.addRow(table, id)
	}
}

// takeRead adds a row (or a table, for a wildcard) an affected act read
// that a later act writes: the act must read it as it was at its turn.
func (r *reach) takeRead(k string) {
	table, id := splitTouch(k)
	if id != wildcard {
		r.addRow(table, id)
		return
	}
	if !r.allOf[table] {
		r.allOf[table] = true
		r.changed = true
	}
}
