package workflow

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"testing"
)

// TestCodesListed checks that Codes lists every code codes.go declares,
// once, so that a generated list or a UI lookup built from it misses none.
func TestCodesListed(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "codes.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	declared := map[Code]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if vs, ok := n.(*ast.ValueSpec); ok && len(vs.Values) == 1 {
			if lit, ok := vs.Values[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				s, _ := strconv.Unquote(lit.Value)
				declared[Code(s)] = true
			}
		}
		return true
	})
	listed := map[Code]bool{}
	for _, c := range Codes {
		if listed[c] {
			t.Errorf("%s listed twice", c)
		}
		listed[c] = true
		if !declared[c] {
			t.Errorf("%s listed but not declared in codes.go", c)
		}
	}
	for c := range declared {
		if !listed[c] {
			t.Errorf("%s declared in codes.go but not in Codes", c)
		}
	}
	if len(declared) < 19 {
		t.Fatalf("only %d codes found in codes.go", len(declared))
	}
}
