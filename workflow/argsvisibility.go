package workflow

import (
	"fmt"
	"strings"
)

// Need to know applies to the audit log too: an act's arguments are the
// columns it writes, so whoever may not read a column may not read the
// argument that carries it (an ADMIN reads that a prescription was
// written, by whom and when, not its text). ArgColumn says which column an
// argument writes; RedactArgs hides the rest behind a sentence.

// argColumns maps the arguments that are not a column of the act's own
// table under the same name.
var argColumns = map[string]map[string][2]string{
	"patient.merge": {
		"survivorId": {TablePatients, "id"},
		"loserId":    {TablePatients, "id"},
	},
}

// bookkeepingArgs are the arguments of bookkeeping acts, which write no
// seed column: rejected.close's rejected act id and the reason the ward
// wrote for the administrators who resolve rejected acts.
var bookkeepingArgs = map[string]map[string]bool{
	CloseRejected: {"id": true, "reason": true},
}

// ArgColumn says which seed column the argument arg of act name writes or
// names; ok is false for an unknown act or an argument that is no column
// (a rejected act may carry anything).
func ArgColumn(name, arg string) (table, column string, ok bool) {
	if m, found := argColumns[name]; found {
		if tc, found := m[arg]; found {
			return tc[0], tc[1], true
		}
	}
	a := acts[name]
	if a == nil {
		return "", "", false
	}
	for _, c := range schema[a.table] {
		if c.name == arg {
			return a.table, arg, true
		}
	}
	return "", "", false
}

// CanReadArg reports whether role may read the argument arg of act name.
func CanReadArg(role Role, name, arg string) bool {
	if bookkeepingArgs[name][arg] {
		return roleBit(role) != setNone
	}
	table, column, ok := ArgColumn(name, arg)
	return ok && canRead(role, table, column)
}

// HiddenArg is what stands in place of an argument role may not read.
func HiddenArg(role Role, name, arg string) string {
	if table, column, ok := ArgColumn(name, arg); ok {
		return fmt.Sprintf("hidden (role %s may not read %s.%s)", role, table, column)
	}
	return fmt.Sprintf("hidden (role %s may not read %s, which is no column of %s)", role, quote(arg), quote(name))
}

// RedactArgs returns a copy of args with every argument role may not read
// replaced by HiddenArg's sentence.
func RedactArgs(role Role, name string, args map[string]any) map[string]any {
	if args == nil {
		return nil
	}
	out := make(map[string]any, len(args))
	for k, v := range args {
		if CanReadArg(role, name, k) {
			out[k] = v
		} else {
			out[k] = HiddenArg(role, name, k)
		}
	}
	return out
}

// ArgNames lists the arguments act name takes (nil for an unknown act).
func ArgNames(name string) []string {
	if a := acts[name]; a != nil {
		return append([]string(nil), a.args...)
	}
	return nil
}

// RedactMessage is a rejection's sentence as role may read it. A
// VALIDATION_FAILED sentence quotes the refused value ("Temperature 51.5 °C
// is above 45 °C."), so when its field is an argument role may not read,
// the sentence is replaced by the one saying so; the code and the field's
// name stay.
func RedactMessage(role Role, name, field, message string) string {
	if field == "" || message == "" {
		return message
	}
	arg := field
	if i := strings.IndexAny(arg, ".["); i >= 0 {
		arg = arg[:i]
	}
	if CanReadArg(role, name, arg) {
		return message
	}
	return HiddenArg(role, name, arg)
}
