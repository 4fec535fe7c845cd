package postgres

import (
	"strconv"
	"strings"
)

// filter gathers the conditions of a listing's WHERE clause and their
// arguments, numbering the placeholders as they come.
type filter struct {
	conds []string
	args  []any
}

// arg adds v to the arguments and returns its placeholder.
func (f *filter) arg(v any) string {
	f.args = append(f.args, v)
	return "$" + strconv.Itoa(len(f.args))
}

// where adds a condition.
func (f *filter) where(cond string) { f.conds = append(f.conds, cond) }

// equal adds "column = v" unless v is empty (not filtered on).
func (f *filter) equal(column, v string) {
	if v != "" {
		f.where(column + " = " + f.arg(v))
	}
}

// clause is the WHERE clause, "" without conditions.
func (f *filter) clause() string {
	if len(f.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(f.conds, " AND ")
}
