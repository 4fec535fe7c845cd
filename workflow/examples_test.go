package workflow

import (
	"encoding/json"
	"slices"
	"testing"
)

// Every act has an example, naming only arguments the act takes, and
// every row it leaves open is filled: the conformance suite and the
// hostile tests build their cases from it, and would otherwise miss the
// act or send a placeholder.
func TestEveryActHasAnExample(t *testing.T) {
	for _, name := range Names() {
		args, ok := Example(name, func(r Ref) string { return "row of " + r.Table })
		if !ok {
			t.Errorf("%s has no example (examples.go)", name)
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(args, &m); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for k := range m {
			if !slices.Contains(ArgNames(name), k) {
				t.Errorf("%s: the example's argument %q is not one the act takes (%v)", name, k, ArgNames(name))
			}
		}
		newOwn := false
		for _, r := range ExampleRefs(name) {
			if r.Table == TableUsers && !r.Role.Valid() {
				t.Errorf("%s: a user with no role", name)
			}
			newOwn = newOwn || r.New && r.Table == acts[name].table
		}
		if newOwn != Creates(name) {
			t.Errorf("%s: Creates says %v, but its example makes a new row of its own table: %v", name, Creates(name), newOwn)
		}
	}
	for name := range examples {
		if _, ok := acts[name]; !ok {
			t.Errorf("example of %s, which is no act", name)
		}
	}
}
